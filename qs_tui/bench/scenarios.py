"""`qs-tui bench scenarios`: every scenario file through the pipeline, scored against [expected]."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from qs_tui.agents.base import PipelineSettings
from qs_tui.agents.events import ApprovalRequested, Event
from qs_tui.bench.scoring import caused_by_own_actions, false_incidents
from qs_tui.headless import ScenarioRun, play_scenario
from qs_tui.models import AnomalyKind
from qs_tui.profiles import load_profile
from qs_tui.sim.faults import FaultKind
from qs_tui.sim.scenario import SCENARIO_DIR, Scenario, ScenarioError, load_scenario

#: What the benchmark is judged on (printed with PASS/FAIL under the table).
TARGET_ROOT_CAUSE_RATE = 0.9
TARGET_LEAK_LEAD_S = 300.0
TARGET_MEDIAN_MTTR_S = 180.0
TARGET_DECISION_WALL_S = 1.0

#: Scenarios longer than this (simulated seconds) are watched with `LONG_DETECT_EVERY_S`
#: between detection passes, so a simulated day takes minutes, not an hour, of wall time.
#: The detectors' windows (10 min) are still longer than the cadence, so every sample is
#: examined by at least one pass.
LONG_SCENARIO_S = 6 * 3600.0
LONG_DETECT_EVERY_S = 300.0


def _auto_approve(event: Event) -> None:
    if isinstance(event, ApprovalRequested):
        from qs_tui.agents.diplomat import approve_all

        approve_all(event)


def bench_settings(scenario: Scenario) -> PipelineSettings:
    """The pipeline settings a scenario is benchmarked with (defaults; a coarser detection
    cadence for scenarios longer than `LONG_SCENARIO_S`)."""
    defaults = PipelineSettings()
    if scenario.duration_span.total_seconds() > LONG_SCENARIO_S:
        return defaults.model_copy(
            update={"detect_every_s": max(defaults.detect_every_s, LONG_DETECT_EVERY_S)}
        )
    return defaults


def _is_leak(run: ScenarioRun, index: int) -> bool:
    expected = run.scenario.expected.incidents[index]
    if expected.kind in (FaultKind.MEMORY_LEAK,):
        return True
    match = run.matches[index]
    return any(i.kind is AnomalyKind.MEMORY_LEAK for i in match.localized)


def score_run(run: ScenarioRun) -> dict[str, Any]:
    """The benchmark's figures for one finished run (see `run_scenario_bench`)."""
    scenario = run.scenario
    incidents = run.incidents
    watch_from = scenario.start_time
    expected_rows: list[dict[str, Any]] = []
    for index, match in enumerate(run.matches):
        first_seen = min((i.opened_at for i in match.related), default=None)
        began = max(match.fault_start, watch_from)
        delay = (first_seen - began).total_seconds() if first_seen is not None else None
        first = match.first
        lead = first.anomaly.time_to_critical_s if first is not None else None
        final = match.final
        mttr = (
            final.verification.mttr_s
            if final is not None and final.verification is not None
            else None
        )
        expected_rows.append(
            {
                "kind": str(match.expected.kind),
                "service": match.expected.service,
                "region": match.expected.region,
                "detected": match.detected,
                "detection_delay_s": delay,
                "lead_time_s": lead,
                "leak": _is_leak(run, index),
                "localized": bool(match.localized),
                "root_cause_correct": match.root_cause_correct,
                "root_cause": (
                    final.hypothesis.cause if final is not None and final.hypothesis else None
                ),
                "action": ",".join(dict.fromkeys(match.actions)) or None,
                "action_correct": match.action_correct,
                "resolved": match.resolved,
                "mttr_s": mttr,
            }
        )
    spurious = false_incidents(incidents, run.matches)
    caused = caused_by_own_actions(incidents)
    timings = [t.seconds for t in run.pipeline.decision_timings()]
    passes = run.pipeline.detection_pass_timings()
    has_faults = bool(expected_rows)

    def all_of(key: str) -> bool | None:
        return all(bool(row[key]) for row in expected_rows) if has_faults else None

    def worst(key: str) -> float | None:
        values = [row[key] for row in expected_rows if row[key] is not None]
        return max(values) if values else None

    leads = [row["lead_time_s"] for row in expected_rows if row["lead_time_s"] is not None]
    return {
        "scenario": scenario.name,
        "expected": len(expected_rows),
        "detected": all_of("detected"),
        "detection_delay_s": worst("detection_delay_s"),
        "lead_time_s": min(leads) if leads else None,
        "localized": all_of("localized"),
        "root_cause_correct": all_of("root_cause_correct"),
        "action": ";".join(str(row["action"]) for row in expected_rows) or None,
        "action_correct": all_of("action_correct"),
        "resolved": all_of("resolved"),
        "mttr_s": worst("mttr_s"),
        "false_incidents": len(spurious),
        "false_incident_ids": [i.id for i in spurious],
        "caused_incidents": len(caused),
        "caused_incident_ids": [i.id for i in caused],
        "incidents": len(incidents),
        "decision_wall_s": max(timings) if timings else None,
        "detect_pass_wall_s": statistics.median(passes) if passes else None,
        "detect_every_s": run.pipeline.settings.detect_every_s,
        "wall_s": round(run.wall_s + run.backfill_wall_s, 3),
        "pipeline_wall_s": round(run.wall_s, 3),
        "simulated_s": (
            (run.ended_at or scenario.start_time) - scenario.start_time
        ).total_seconds(),
        "stopped_early": run.stopped_early,
        "expected_incidents": expected_rows,
    }


def _cell(value: Any, *, seconds: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if seconds and isinstance(value, int | float):
        return f"{value:.0f}s"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def totals(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Totals over all scenarios and whether each target is met."""
    rows = [row for result in results for row in result["expected_incidents"]]
    quiet = [r for r in results if r["expected"] == 0]
    root_rate = sum(r["root_cause_correct"] for r in rows) / len(rows) if rows else None
    leak_leads = [r["lead_time_s"] for r in rows if r["leak"]]
    mttrs = [r["mttr_s"] for r in rows if r["mttr_s"] is not None]
    decisions = [r["decision_wall_s"] for r in results if r["decision_wall_s"] is not None]
    summary: dict[str, Any] = {
        "scenarios": len(results),
        "expected_incidents": len(rows),
        "detected": sum(r["detected"] for r in rows),
        "localized": sum(r["localized"] for r in rows),
        "root_cause_rate": root_rate,
        "actions_correct": sum(r["action_correct"] for r in rows),
        "resolved": sum(r["resolved"] for r in rows),
        "false_incidents_no_fault": sum(r["false_incidents"] for r in quiet),
        "false_incidents_all": sum(r["false_incidents"] for r in results),
        "caused_by_own_actions": sum(r.get("caused_incidents", 0) for r in results),
        "min_leak_lead_time_s": min(
            (lead for lead in leak_leads if lead is not None), default=None
        ),
        "median_mttr_s": statistics.median(mttrs) if mttrs else None,
        "max_decision_wall_s": max(decisions) if decisions else None,
        "wall_s": round(sum(r["wall_s"] for r in results), 3),
    }
    summary["targets"] = {
        "every fault detected and localised": bool(rows)
        and summary["detected"] == len(rows)
        and summary["localized"] == len(rows),
        f"root cause right on >= {TARGET_ROOT_CAUSE_RATE:.0%}": root_rate is not None
        and root_rate >= TARGET_ROOT_CAUSE_RATE,
        "0 false incidents on no-fault scenarios": summary["false_incidents_no_fault"] == 0,
        "0 incidents caused by our own actions": summary["caused_by_own_actions"] == 0,
        f"leaks predicted >= {TARGET_LEAK_LEAD_S / 60:.0f} min before critical": all(
            lead is not None and lead >= TARGET_LEAK_LEAD_S for lead in leak_leads
        ),
        f"median MTTR <= {TARGET_MEDIAN_MTTR_S / 60:.0f} min": summary["median_mttr_s"] is not None
        and summary["median_mttr_s"] <= TARGET_MEDIAN_MTTR_S,
        f"detection -> decision <= {TARGET_DECISION_WALL_S:g} s wall": summary[
            "max_decision_wall_s"
        ]
        is not None
        and summary["max_decision_wall_s"] <= TARGET_DECISION_WALL_S,
    }
    return summary


_COLUMNS = (
    ("scenario", 20),
    ("detected", 9),
    ("delay", 7),
    ("lead", 7),
    ("localized", 10),
    ("cause ok", 9),
    ("action", 22),
    ("resolved", 9),
    ("mttr", 7),
    ("false", 6),
    ("caused", 7),
    ("decide", 8),
    ("wall", 7),
)


def _row(result: dict[str, Any]) -> str:
    decision = result["decision_wall_s"]
    cells = (
        result["scenario"],
        _cell(result["detected"]),
        _cell(result["detection_delay_s"], seconds=True),
        _cell(result["lead_time_s"], seconds=True),
        _cell(result["localized"]),
        _cell(result["root_cause_correct"]),
        _cell(result["action"]),
        _cell(result["resolved"]),
        _cell(result["mttr_s"], seconds=True),
        str(result["false_incidents"]),
        str(result.get("caused_incidents", 0)),
        "-" if decision is None else f"{decision:.2f}s",
        f"{result['wall_s']:.1f}s",
    )
    return " ".join(
        f"{cell:<{width}}" for cell, (_, width) in zip(cells, _COLUMNS, strict=True)
    ).rstrip()


def run_scenario_bench(
    *,
    directory: Path | None = None,
    json_path: Path | None = None,
    out: TextIO,
    profile: str = "qs",
) -> list[dict[str, Any]]:
    """Run every `*.toml` scenario in `directory` headless (auto approve, manual clock).

    Each run stops early once every expected incident is closed and things are quiet;
    scenarios that expect nothing run their whole duration. Detection delay counts from the
    fault's start, or from the start of the live run for faults already underway then.
    Lead time is the predicted time to critical when the incident was raised. MTTR is
    detection -> verified recovery, in simulated seconds.

    Args:
        directory: where the scenario files are (default: the shipped `fixtures/scenarios`).
        json_path: also write the list of results there as JSON.
        out: where the table goes.
        profile: the built-in profile (`qs`, `ecs`, `otel`) whose shape the simulator writes
            and through which the agents read it back.

    Returns:
        One dict per scenario with at least `scenario`, `detected`, `detection_delay_s`,
        `lead_time_s`, `localized`, `root_cause_correct`, `action`, `resolved`, `mttr_s`,
        `false_incidents`, `wall_s`.

    Raises:
        ScenarioError: a scenario file cannot be loaded (naming the file and field), or
            `directory` holds no scenario files.
    """
    folder = directory or SCENARIO_DIR
    paths = sorted(folder.glob("*.toml"))
    if not paths:
        raise ScenarioError("no scenario files (*.toml) in this folder", path=folder)
    scenarios = [load_scenario(path) for path in paths]
    schema = load_profile(profile)
    shaped = "" if profile == "qs" else f", telemetry in the {profile} shape"
    out.write(f"scenario benchmark: {len(scenarios)} scenarios from {folder}{shaped}\n")
    out.write(" ".join(f"{name:<{width}}" for name, width in _COLUMNS).rstrip() + "\n")
    out.flush()
    results: list[dict[str, Any]] = []
    for scenario in scenarios:
        settings = bench_settings(scenario)
        started = time.monotonic()
        run = play_scenario(
            scenario,
            sink=_auto_approve,
            pipeline_settings=settings,
            step_s=settings.detect_every_s,
            profile=schema,
        )
        result = score_run(run)
        result["wall_s"] = round(time.monotonic() - started, 3)
        run.store.close()
        results.append(result)
        out.write(_row(result) + "\n")
        out.flush()
    summary = totals(results)
    out.write(
        f"\ntotal: {summary['scenarios']} scenarios, {summary['expected_incidents']} expected "
        f"incidents: {summary['detected']} detected, {summary['localized']} localised, "
        f"root cause right {_percent(summary['root_cause_rate'])}, "
        f"{summary['actions_correct']} actions as expected, {summary['resolved']} resolved; "
        f"false incidents {summary['false_incidents_all']} "
        f"({summary['false_incidents_no_fault']} on no-fault scenarios); "
        f"caused by our own actions {summary['caused_by_own_actions']}; "
        f"min leak lead {_cell(summary['min_leak_lead_time_s'], seconds=True)}; "
        f"median MTTR {_cell(summary['median_mttr_s'], seconds=True)}; "
        f"max detection -> decision {_cell(summary['max_decision_wall_s'])} s wall; "
        f"{summary['wall_s']:.1f} s wall in all\n"
    )
    for target, met in summary["targets"].items():
        out.write(f"  {'PASS' if met else 'FAIL'}  {target}\n")
    out.flush()
    if json_path is not None:
        json_path.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    return results


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


__all__ = ["ScenarioError", "run_scenario_bench", "score_run", "totals"]
