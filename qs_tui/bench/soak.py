"""`qs-tui bench soak`: many simulated hours at full speed; does a detection pass or memory grow?

The default estate plays for `--hours` on a manual clock through the whole pipeline (the
simulator, the six agents, approvals granted), with a memory leak injected every few hours in
the middle so incidents are opened, fixed and recorded along the way. The store starts with a
full retention window of history, as a war room that has been watching for a day would: what
is measured is whether anything grows beyond that (telemetry past retention, caches, the
engine's scan), not the window filling up.

Start and end are measured the same way: the median detection-pass wall time and the median
process memory (RSS) sampled after each tick, over the first and the last simulated hour (half
the run each when it is shorter than two hours).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

from qs_tui.agents.base import PipelineSettings
from qs_tui.agents.events import ApprovalRequested, Event
from qs_tui.sim.durations import format_duration
from qs_tui.sim.scenario import Scenario
from qs_tui.store.retention import DEFAULT_RETENTION
from qs_tui.topology import default_topology

#: Where the simulated day starts (a fixed instant: runs are reproducible).
SOAK_START = "2026-11-25T00:00:00Z"
#: Simulated time per tick: one detection pass per tick, at the pipeline's default cadence.
SOAK_STEP_S = PipelineSettings().detect_every_s
#: The measuring windows at the start and at the end.
SOAK_WINDOW = timedelta(hours=1)
#: A memory leak starts this long after the start and then every `LEAK_EVERY`, on the next
#: service in turn, while it can be fixed before the last measuring window begins.
FIRST_LEAK = timedelta(hours=2)
LEAK_EVERY = timedelta(hours=6)
#: Room left after a leak's start for detection, the restart and its verification.
LEAK_ROOM = timedelta(hours=2)


def soak_scenario(hours: float, *, seed: int = 7) -> Scenario:
    """The default estate for `hours` simulated hours after a day of history, with leaks."""
    topology = default_topology()
    duration = timedelta(hours=hours)
    faults: list[dict[str, Any]] = []
    offset = FIRST_LEAK
    while offset + LEAK_ROOM <= duration - SOAK_WINDOW:
        service = topology.services[len(faults) % len(topology.services)]
        region = topology.regions[len(faults) % len(topology.regions)]
        faults.append(
            {
                "kind": "memory_leak",
                "service": service,
                "region": region,
                "start": f"+{format_duration(offset)}",
                "params": {"rate": 0.8},
            }
        )
        offset += LEAK_EVERY
    return Scenario.model_validate(
        {
            "name": "soak",
            "description": "The default estate for many hours, a memory leak now and then.",
            "seed": seed,
            "start": SOAK_START,
            "history": format_duration(DEFAULT_RETENTION),
            "duration": f"{round(duration.total_seconds())}s",
            "faults": faults,
            "expected": {"none": True},  # the figures are what is judged, not the incidents
        }
    )


def current_rss_bytes() -> int:
    """This process's resident memory now: `/proc/self/statm` on Linux (proc(5)), else the
    peak resident size `getrusage` reports (kilobytes on Linux, bytes on macOS)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            resident_pages = int(statm.read().split()[1])
        import os

        return resident_pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)


@dataclass
class _Samples:
    """RSS after each tick, by simulated seconds since the start."""

    step_s: float
    total_s: float
    window_s: float
    err: TextIO | None
    ticks: int = 0
    rss: list[tuple[float, int]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def __call__(self) -> None:
        self.ticks += 1
        elapsed = self.ticks * self.step_s
        if elapsed <= self.window_s or elapsed > self.total_s - self.window_s:
            self.rss.append((elapsed, current_rss_bytes()))
        hour = 3600.0
        if self.err is not None and elapsed % hour < self.step_s and elapsed >= hour:
            wall = time.monotonic() - self.started
            self.err.write(
                f"soak: {elapsed / hour:.0f}/{self.total_s / hour:g} simulated hours, "
                f"{wall:.0f} s wall\n"
            )
            self.err.flush()


def _ratio(end: float, start: float) -> float:
    return end / start if start > 0 else float("nan")


def run_soak_bench(
    *,
    hours: float,
    out: TextIO,
    err: TextIO | None = None,
    json_path: Path | None = None,
) -> dict[str, Any]:
    """Play `hours` simulated hours and print start/end detection-pass time and memory.

    The last line printed is `growth: detection pass 1.12x, memory 1.05x` (end ÷ start).

    Args:
        hours: simulated hours to play after the history (more than 0).
        out: where the figures go.
        err: where progress goes, once per simulated hour (None: nowhere).
        json_path: also write the figures there as JSON.

    Returns:
        The figures: `start`/`end` (`detect_pass_s`, `rss_bytes`), `growth`, `wall_s`, ...
    """
    from qs_tui.agents.diplomat import approve_all
    from qs_tui.headless import play_scenario

    def approve(event: Event) -> None:
        if isinstance(event, ApprovalRequested):
            approve_all(event)

    if hours <= 0:
        raise ValueError(f"hours must be more than 0, got {hours:g}")
    scenario = soak_scenario(hours)
    topology = default_topology()
    total_s = scenario.duration_span.total_seconds()
    window_s = min(SOAK_WINDOW.total_seconds(), total_s / 2)
    out.write(
        f"soak: {hours:g} simulated hours of the default estate ({len(topology.services)} "
        f"services x {len(topology.regions)} regions x {topology.hosts_per_region} hosts) after "
        f"{scenario.history} of history, retention {format_duration(DEFAULT_RETENTION)}, a "
        f"detection pass every {SOAK_STEP_S:g} s, {len(scenario.faults)} memory leaks\n"
    )
    out.flush()
    samples = _Samples(step_s=SOAK_STEP_S, total_s=total_s, window_s=window_s, err=err)
    started = time.monotonic()
    run = play_scenario(
        scenario,
        sink=approve,
        stop_early=False,
        step_s=SOAK_STEP_S,
        human_turn=samples,  # after every tick, with the simulated clock held
    )
    wall_s = time.monotonic() - started
    passes = run.pipeline.detection_pass_timings()
    # One pass per tick (the step is the detection cadence): pass i ends tick i + 1.
    at = [SOAK_STEP_S * (i + 1) for i in range(len(passes))]
    if len(passes) != samples.ticks and passes:
        at = [total_s * (i + 1) / len(passes) for i in range(len(passes))]

    def figures(first: bool) -> dict[str, Any]:
        def inside(elapsed: float) -> bool:
            return elapsed <= window_s if first else elapsed > total_s - window_s

        times = [seconds for seconds, when in zip(passes, at, strict=True) if inside(when)]
        rss = [value for when, value in samples.rss if inside(when)]
        return {
            "detect_pass_s": statistics.median(times) if times else None,
            "detect_passes": len(times),
            "rss_bytes": statistics.median(rss) if rss else None,
            "rss_samples": len(rss),
        }

    start, end = figures(True), figures(False)
    incidents = run.pipeline.incidents()
    documents = run.store.health().detail.get("documents", {})
    counts = {index: int(documents.get(index, 0)) for index in ("qs-metrics", "qs-logs")}
    run.store.close()
    growth = {
        "detect_pass": _ratio(end["detect_pass_s"] or 0.0, start["detect_pass_s"] or 0.0),
        "memory": _ratio(end["rss_bytes"] or 0.0, start["rss_bytes"] or 0.0),
    }
    result: dict[str, Any] = {
        "hours": hours,
        "history": scenario.history,
        "retention_s": DEFAULT_RETENTION.total_seconds(),
        "step_s": SOAK_STEP_S,
        "window_s": window_s,
        "ticks": samples.ticks,
        "start": start,
        "end": end,
        "growth": growth,
        "incidents": len(incidents),
        "resolved": sum(1 for i in incidents if i.state.value == "resolved"),
        "documents": counts,
        "wall_s": round(wall_s, 3),
    }
    span = format_duration(timedelta(seconds=window_s))
    if window_s < SOAK_WINDOW.total_seconds():
        span += " (half the run)"
    for name, figure, which in (("start", start, "first"), ("end", end, "last")):
        out.write(
            f"{name}: detection pass {_seconds(figure['detect_pass_s'])} (median of "
            f"{figure['detect_passes']}), memory {_megabytes(figure['rss_bytes'])} (median of "
            f"{figure['rss_samples']}), over the {which} {span}\n"
        )
    out.write(
        f"incidents: {result['incidents']} opened, {result['resolved']} resolved; store holds "
        + ", ".join(f"{index} {count:,}" for index, count in counts.items())
        + f"; {samples.ticks} ticks in {wall_s:.1f} s wall\n"
    )
    out.write(
        f"growth: detection pass {growth['detect_pass']:.2f}x, memory {growth['memory']:.2f}x\n"
    )
    out.flush()
    if json_path is not None:
        json_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f} ms"


def _megabytes(value: float | None) -> str:
    return "-" if value is None else f"{value / 1e6:.1f} MB"


__all__ = ["current_rss_bytes", "run_soak_bench", "soak_scenario"]
