"""`qs-tui bench scenarios`: runs scenario files and scores them against [expected]."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from qs_tui.bench.scenarios import run_scenario_bench
from qs_tui.sim.scenario import ScenarioError
from tests.scenario_texts import LEAKING_SERVICE_ONLY, quick_leak

# Both on the leaking service's estate alone: the test is about scoring and the report, and
# a run's cost grows with the estate and the time played. The leak plays 4 min (resolved in
# about one); the quiet one 5 min (it is never stopped early).
LEAK = quick_leak("leak", topology=LEAKING_SERVICE_ONLY, duration="4m")

QUIET = f"""
name = "quiet"
seed = 11
start = 2026-11-25T10:00:00Z
history = "45m"
duration = "5m"
expected = "none"
{LEAKING_SERVICE_ONLY}"""

KEYS = {
    "scenario",
    "detected",
    "detection_delay_s",
    "lead_time_s",
    "localized",
    "root_cause_correct",
    "action",
    "resolved",
    "mttr_s",
    "false_incidents",
    "wall_s",
}


def test_the_bench_scores_every_scenario_and_writes_json(tmp_path: Path) -> None:
    (tmp_path / "leak.toml").write_text(LEAK, encoding="utf-8")
    (tmp_path / "quiet.toml").write_text(QUIET, encoding="utf-8")
    report = tmp_path / "bench.json"
    out = io.StringIO()
    results = run_scenario_bench(directory=tmp_path, json_path=report, out=out)
    assert [r["scenario"] for r in results] == ["leak", "quiet"]
    assert json.loads(report.read_text(encoding="utf-8")) == json.loads(
        json.dumps(results, default=str)
    )
    leak, quiet = results
    assert set(leak) >= KEYS and set(quiet) >= KEYS
    assert leak["detected"] and leak["localized"] and leak["root_cause_correct"]
    assert leak["action"] == "restart" and leak["resolved"]
    assert leak["lead_time_s"] > 300 and 0 < leak["mttr_s"] <= 180
    assert leak["detection_delay_s"] is not None and leak["false_incidents"] == 0
    assert quiet["detected"] is None and quiet["false_incidents"] == 0
    assert quiet["simulated_s"] == 300.0  # a no-fault scenario runs its whole duration
    text = out.getvalue()
    assert "PASS  0 false incidents on no-fault scenarios" in text
    assert "PASS  every fault detected and localised" in text


def test_an_empty_directory_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no scenario files"):
        run_scenario_bench(directory=tmp_path, json_path=None, out=io.StringIO())
