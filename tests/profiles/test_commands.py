"""`qs-tui queries`: the rendered query library, printed or written one file per query."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from qs_tui.cli import main
from qs_tui.esql.parser import parse
from qs_tui.queries import QUERY_DIR, all_queries

SHOP = Path(__file__).parent / "shop.toml"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _no_profile_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("QS_PROFILE", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env of the checkout


def test_queries_prints_every_query_with_its_header() -> None:
    status, out, err = run("queries", "--profile", "qs")
    assert status == 0, err
    for query in all_queries():
        marker = f"// ===== {query.name}.esql (profile qs) =====\n"
        assert marker + query.text in out


def test_queries_out_writes_one_file_per_query_exactly_as_rendered(tmp_path: Path) -> None:
    target = tmp_path / "rendered"
    # --profile is global: before the command as well as after it.
    status, out, err = run("--profile", str(SHOP), "queries", "--out", str(target))
    assert status == 0, err
    names = sorted(path.name for path in target.iterdir())
    assert names == sorted(path.name for path in QUERY_DIR.glob("*.esql"))
    assert out == f"wrote {len(names)} queries for profile shop to {target}\n"
    leak = (target / "memory_leak.esql").read_text(encoding="utf-8")
    assert "FROM metrics-system.cpu-shop, traces-apm-shop\n" in leak
    assert "BY @timestamp = BUCKET(@timestamp, 10 seconds)" in leak
    for query in all_queries(target):
        parse(query.text, params=dict.fromkeys(query.params, "2026-01-01T00:00:00Z"))
    # The agents' own indices are never mapped.
    assert (target / "incident_last_number.esql").read_text(encoding="utf-8") == (
        QUERY_DIR / "incident_last_number.esql"
    ).read_text(encoding="utf-8")


def test_qs_profile_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QS_PROFILE", str(SHOP))
    status, out, _ = run("queries")
    assert status == 0
    assert "(profile shop)" in out


def test_an_unknown_profile_is_one_clear_line() -> None:
    status, out, err = run("queries", "--profile", "nope")
    assert status == 1
    assert out == ""
    assert err == (
        "error: unknown schema profile 'nope': give a built-in one (ecs, otel, qs) "
        "or a profile TOML file's path\n"
    )
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_bad_profile_file_names_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        SHOP.read_text(encoding="utf-8").replace('agg = "max"', 'agg = "maximum"'),
        encoding="utf-8",
    )
    status, out, err = run("queries", "--profile", str(bad))
    assert status == 1
    assert out == ""
    assert err.startswith(f"error: {bad}:19: metrics.signals.memory_percent.agg: ")
    assert err.count("\n") == 1
