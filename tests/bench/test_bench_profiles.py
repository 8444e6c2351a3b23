"""`bench scenarios --profile`: telemetry written in the ecs and otel shapes and read back through
those profiles scores as the qs shape does (same detections, root causes and actions; MTTR
within one sampling interval).

One bench run per profile over the three scenarios the issue names, shared by the tests.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest

from qs_tui.bench.scenarios import run_scenario_bench
from qs_tui.sim.scenario import SCENARIO_DIR, load_scenario

pytestmark = pytest.mark.slow

SCENARIOS = ("bad-deploy", "cascade", "memory-leak")
#: What must be identical per expected incident (MTTR is compared within one interval).
SAME = (
    "kind",
    "service",
    "region",
    "detected",
    "localized",
    "root_cause_correct",
    "action",
    "action_correct",
    "resolved",
)


#: History written before each scenario plays: the detectors' 30 min baseline and 10 min
#: window, with room to spare. The shipped files write 1-2 h; the comparison between shapes
#: does not need the longer past, and every query scans all of it, in each of nine runs.
HISTORY = "45m"
#: How each shipped scenario is shortened (same fault, same expectations): the fault starts
#: one minute in instead of five or ten quiet ones, and the run ends about three minutes after
#: the incident is resolved instead of the five quiet minutes that stop a run early. Those
#: quiet minutes are still played, only fewer of them, in every shape alike.
TRIMS: dict[str, dict[str, str]] = {
    "bad-deploy": {"fault_start": "+1m", "duration": "6m"},
    "cascade": {"fault_start": "+1m", "duration": "6m"},
    "memory-leak": {"duration": "4m"},
}


def _replace_once(text: str, pattern: str, line: str) -> str:
    replaced, count = re.subn(pattern, line, text, flags=re.MULTILINE)
    assert count == 1, f"{pattern} matches once in a shipped scenario"
    return replaced


def trimmed(text: str, *, fault_start: str | None = None, duration: str) -> str:
    """A shipped scenario's text with `HISTORY`, `duration` and (if given) its one fault's
    relative start replaced."""
    text = _replace_once(text, r'^history = "[^"]*"$', f'history = "{HISTORY}"')
    text = _replace_once(text, r'^duration = "[^"]*"$', f'duration = "{duration}"')
    if fault_start is not None:
        text = _replace_once(text, r'^start = "\+[^"]*"$', f'start = "{fault_start}"')
    return text


@pytest.fixture(scope="module")
def scenario_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three shipped scenarios, shortened as `TRIMS` says."""
    folder = tmp_path_factory.mktemp("scenarios")
    for name in SCENARIOS:
        text = (SCENARIO_DIR / f"{name}.toml").read_text(encoding="utf-8")
        (folder / f"{name}.toml").write_text(trimmed(text, **TRIMS[name]), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def results(scenario_dir: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """profile -> scenario -> the bench's result row."""
    by_profile: dict[str, dict[str, dict[str, Any]]] = {}
    for profile in ("qs", "ecs", "otel"):
        out = io.StringIO()
        rows = run_scenario_bench(directory=scenario_dir, out=out, profile=profile)
        by_profile[profile] = {row["scenario"]: row for row in rows}
        if profile != "qs":
            assert f"telemetry in the {profile} shape" in out.getvalue()
    return by_profile


def test_the_qs_baseline_passes_its_own_expectations(
    results: dict[str, dict[str, dict[str, Any]]],
) -> None:
    for name in SCENARIOS:
        row = results["qs"][name]
        assert row["detected"] and row["root_cause_correct"] and row["resolved"], name
        assert row["false_incidents"] == 0, name


@pytest.mark.parametrize("profile", ["ecs", "otel"])
@pytest.mark.parametrize("name", SCENARIOS)
def test_a_profile_scores_as_the_qs_shape(
    results: dict[str, dict[str, dict[str, Any]]], profile: str, name: str
) -> None:
    baseline, shaped = results["qs"][name], results[profile][name]
    interval_s = load_scenario(SCENARIO_DIR / f"{name}.toml").interval_seconds
    assert shaped["false_incidents"] == baseline["false_incidents"] == 0
    assert shaped["action"] == baseline["action"]
    assert len(shaped["expected_incidents"]) == len(baseline["expected_incidents"]) >= 1
    for want, got in zip(baseline["expected_incidents"], shaped["expected_incidents"], strict=True):
        assert {k: got[k] for k in SAME} == {k: want[k] for k in SAME}
        assert want["mttr_s"] is not None and got["mttr_s"] is not None
        assert abs(got["mttr_s"] - want["mttr_s"]) <= interval_s
        assert abs(got["detection_delay_s"] - want["detection_delay_s"]) <= interval_s
