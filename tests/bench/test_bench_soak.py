"""`qs-tui bench soak`: the figures it prints and writes, never how fast they are."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from qs_tui.bench.soak import SOAK_STEP_S, SOAK_WINDOW, current_rss_bytes, soak_scenario
from qs_tui.cli import main
from qs_tui.store.retention import DEFAULT_RETENTION

GROWTH = re.compile(r"growth: detection pass (\d+\.\d\d)x, memory (\d+\.\d\d)x")
FIGURES = re.compile(
    r"(start|end): detection pass \d+\.\d ms \(median of (\d+)\), memory \d+\.\d MB "
    r"\(median of (\d+)\), over the (first|last) "
)


def test_bench_soak_prints_start_end_and_growth(tmp_path: Path) -> None:
    report = tmp_path / "soak.json"
    out, err = io.StringIO(), io.StringIO()
    # Six minutes: twelve ticks, three minutes measured at each end.
    assert main(["bench", "soak", "--hours", "0.1", "--json", str(report)], out=out, err=err) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("soak: 0.1 simulated hours of the default estate (4 services x 3 ")
    assert "after 1d of history, retention 1d" in lines[0]
    figures = [FIGURES.match(line) for line in lines[1:3]]
    assert [m.group(1) for m in figures if m] == ["start", "end"]
    ticks = round(0.1 * 3600 / SOAK_STEP_S)
    for match in figures:
        assert match is not None
        assert int(match.group(2)) == ticks // 2  # one pass per tick in each half
        assert int(match.group(3)) == ticks // 2  # and one memory sample
    last = GROWTH.fullmatch(lines[-1])
    assert last is not None, lines[-1]

    result = json.loads(report.read_text(encoding="utf-8"))
    assert result["ticks"] == ticks
    start, end = result["start"], result["end"]
    for figure in (start, end):
        assert figure["detect_pass_s"] > 0
        assert figure["rss_bytes"] > 0
    # The printed ratios are the figures' end ÷ start.
    assert float(last.group(1)) == round(end["detect_pass_s"] / start["detect_pass_s"], 2)
    assert float(last.group(2)) == round(end["rss_bytes"] / start["rss_bytes"], 2)
    # The store started with a full retention window and kept it, no more.
    per_interval = 24  # hosts of the default estate, one sample every 10 s
    held = result["documents"]["qs-metrics"]
    window = DEFAULT_RETENTION + timedelta(hours=1)  # plus one pruning step at most
    assert per_interval * 24 * 360 <= held <= per_interval * window.total_seconds() / 10
    assert "Traceback" not in err.getvalue()


def test_a_long_soak_injects_leaks_outside_the_measured_hours() -> None:
    scenario = soak_scenario(24)
    offsets = [fault.offset for fault in scenario.faults]
    assert offsets == [timedelta(hours=h) for h in (2, 8, 14, 20)]
    assert {fault.service for fault in scenario.faults} == {
        "api-gateway",
        "auth-service",
        "payment-service",
        "inventory-service",
    }
    assert all(
        SOAK_WINDOW < offset < scenario.duration_span - SOAK_WINDOW - timedelta(hours=1)
        for offset in offsets
    )
    assert scenario.history_span == DEFAULT_RETENTION
    assert soak_scenario(1).faults == []


def test_memory_is_read_as_it_is_now() -> None:
    size = 64 * 1024 * 1024
    held = b"x" * size  # written, so every page is resident
    holding = current_rss_bytes()
    del held  # a block this large is its own mapping, handed back to the system when freed
    assert holding - current_rss_bytes() >= 0.9 * size


@pytest.mark.parametrize("hours", ["0", "-1", "nan", "inf", "721", "a day"])
def test_bad_hours_are_a_one_line_error(hours: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["bench", "soak", "--hours", hours], out=out, err=err) == 1
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), lines
    assert "--hours" in lines[0]
