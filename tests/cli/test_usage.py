"""`qs-tui`'s command line itself: where options go, what a mistake looks like, the help."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qs_tui.cli import build_parser, main

REPO = Path(__file__).resolve().parents[2]


def run(*argv: str) -> tuple[int, str, str]:
    """Run `qs-tui ARGV` in-process; return (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _no_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No cluster, no data dir and no .env: each test says what it sets."""
    for name in list(os.environ):
        if name.startswith(("ELASTIC_", "QS_", "SLACK_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


# -- global options before or after the command ---------------------------------------------


@pytest.mark.parametrize("where", ["before", "after"])
def test_data_dir_is_accepted_before_or_after_the_command(tmp_path: Path, where: str) -> None:
    data = tmp_path / "data"
    seed = ["seed", "--history", "5m"]
    option = ["--data-dir", str(data)]
    status, out, err = run(*(option + seed if where == "before" else seed + option))
    assert status == 0, err
    assert out.startswith("seeded scenario memory-leak")

    # What was seeded is there for a query that names the directory after the command.
    query = "FROM qs-metrics | STATS n = COUNT(*)"
    status, out, err = run("esql", query, "--format", "json", "--data-dir", str(data))
    assert status == 0, err
    assert json.loads(out)["values"][0][0] > 0


def test_env_file_is_accepted_after_the_command(tmp_path: Path) -> None:
    env = tmp_path / "custom.env"
    env.write_text("QS_STORE=elastic\n", encoding="utf-8")
    # The file is read (QS_STORE=elastic without a cluster is the error proving it).
    status, _, err = run("esql", "ROW a = 1", "--env-file", str(env))
    assert status == 1
    assert "no cluster configured" in err


def test_a_missing_env_file_named_on_purpose_is_an_error(tmp_path: Path) -> None:
    status, out, err = run("doctor", "--env-file", str(tmp_path / "prod.env"))
    assert (status, out) == (1, "")
    assert err == f"error: --env-file {tmp_path / 'prod.env'}: no such file\n"


def test_an_option_after_the_command_wins_over_one_before(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    argv = ["--data-dir", str(first), "seed", "--history", "5m", "--data-dir", str(second)]
    status, _, err = run(*argv)
    assert status == 0, err
    assert (second / "manifest.json").is_file()
    assert not first.exists()


def test_the_war_rooms_scenario_before_a_command_applies_to_it(tmp_path: Path) -> None:
    argv = ["--scenario", "healthy", "seed", "--history", "5m", "--data-dir", str(tmp_path)]
    status, out, err = run(*argv)
    assert status == 0, err
    assert out.startswith("seeded scenario healthy:")


# -- usage errors: exit 1, one line -------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["--bogus"], ["qs-tui:", "--bogus"]),
        (["seed", "--bogus"], ["qs-tui seed:", "--bogus"]),
        (["seed", "--history"], ["qs-tui seed:", "--history", "expected one argument"]),
        (["run", "--approve", "maybe"], ["qs-tui run:", "--approve", "'maybe'"]),
        (["esql"], ["qs-tui esql:", "QUERY"]),
        (["bench", "engine", "--docs", "many"], ["qs-tui bench engine:", "--docs", "'many'"]),
        (["nosuchcommand"], ["qs-tui:", "nosuchcommand"]),
    ],
)
def test_usage_errors_exit_1_with_one_error_line(argv: list[str], names: list[str]) -> None:
    status, out, err = run(*argv)
    assert status == 1
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert "usage:" not in err
    for name in names:
        assert name in err
    assert "--help" in err  # where to look next


def test_a_usage_error_is_status_1_for_the_real_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "qs_tui", "seed", "--bogus"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "error: qs-tui seed: unrecognized arguments: --bogus (see qs-tui seed --help)"
    ]


@pytest.mark.parametrize("argv", [["--help"], ["seed", "--help"], ["bench", "scenarios", "-h"]])
def test_help_still_works_and_exits_0(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(*argv)
    assert status == 0
    assert err == ""
    assert capsys.readouterr().out.startswith("usage: qs-tui")


# -- help text ----------------------------------------------------------------------------


def _parsers() -> list[argparse.ArgumentParser]:
    """The top-level parser and every command's, depth first."""
    found = []
    pending = [build_parser()]
    while pending:
        parser = pending.pop()
        found.append(parser)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                pending.extend(action.choices.values())
    return found


@pytest.mark.parametrize("parser", _parsers(), ids=lambda p: p.prog)
def test_every_command_and_option_has_help_and_a_readable_metavar(
    parser: argparse.ArgumentParser,
) -> None:
    assert parser.description, f"{parser.prog} has no description"
    for action in parser._actions:
        assert action.help and action.help != argparse.SUPPRESS, (
            f"{parser.prog} {action.option_strings or action.dest} has no help"
        )
        takes_value = action.nargs != 0 and not isinstance(
            action, argparse._SubParsersAction | argparse._HelpAction | argparse._VersionAction
        )
        if takes_value and action.choices is None:
            # Without an explicit metavar argparse shows the internal dest (`TOP_SCENARIO`).
            assert action.metavar is not None, f"{parser.prog} {action.option_strings}"
    text = parser.format_help()
    for internal in ("TOP_SCENARIO", "TOP_SPEED", "DATAS", "INDICES", "MAPPINGS", "PARAMS"):
        assert internal not in text


def test_help_lists_every_command_with_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    run("--help")
    text = capsys.readouterr().out
    for command in ("run", "live", "esql", "seed", "doctor", "bench"):
        assert f"    {command} " in text
    assert "before or after the command" in text


# -- the last resort ------------------------------------------------------------------------


def test_an_unusable_output_file_is_one_line_naming_it(tmp_path: Path) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "quiet.toml").write_text(
        'name = "quiet"\nhistory = "10m"\nduration = "2m"\n'
        '[topology]\nservices = ["api-gateway"]\nregions = ["us-east-1"]\n'
        "[expected]\nnone = true\n",
        encoding="utf-8",
    )
    missing = tmp_path / "missing" / "out.json"
    status, _, err = run("bench", "scenarios", "--dir", str(scenarios), "--json", str(missing))
    assert status == 1
    assert err == f"error: {missing}: No such file or directory\n"


def test_an_out_of_range_date_is_null_with_a_warning_not_a_panic() -> None:
    # polars panicked on this query (a PanicException is a BaseException, not an Exception);
    # Elasticsearch answers null with a warning, and so does the engine now.
    status, out, err = run("esql", "ROW a = 9223372036854775807::datetime")
    assert status == 0
    assert out.split() == ["a", "----", "null"]
    assert "out of [datetime] range" in err
    assert "Traceback" not in err and "panicked" not in err
