"""A headless live view: stream a scenario's telemetry at the clock's pace and print a table."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from qs_tui.clock import AcceleratedClock, Clock
from qs_tui.sim.cluster import Simulation, StepResult
from qs_tui.sim.scenario import Scenario
from qs_tui.store.base import Store

_CLEAR = "\x1b[H\x1b[J"


def summarise(latest: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per service/region figures from the newest sample of each host.

    CPU, memory and disk are averaged over hosts; error rate and p95 latency take the worst
    host (what an on-call engineer looks at); requests are summed.
    """
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for document in latest.values():
        groups.setdefault((document["service"], document["region"]), []).append(document)
    rows = []
    for (service, region), documents in groups.items():
        count = len(documents)
        rows.append(
            {
                "service": service,
                "region": region,
                "hosts": count,
                "cpu_percent": sum(d["cpu_percent"] for d in documents) / count,
                "memory_percent": max(d["memory_percent"] for d in documents),
                "error_rate": max(d["error_rate"] for d in documents),
                "latency_p95_ms": max(d["latency_p95_ms"] for d in documents),
                "requests_per_s": sum(d["requests_per_s"] for d in documents),
                "disk_percent": max(d["disk_percent"] for d in documents),
            }
        )
    rows.sort(key=lambda row: (row["service"], row["region"]))
    return rows


def render_table(
    simulation: Simulation, result: StepResult, totals: dict[str, int], *, speed: float
) -> str:
    """The live table as text: one line per service/region plus a header and active faults."""
    faults = simulation.active_faults()
    flagged = {(f.service, f.region) for f in faults}
    header = f"QuantumState simulator  {result.until:%Y-%m-%d %H:%M:%S}Z  x{speed:g}  " + "  ".join(
        f"{index}={count:,}" for index, count in totals.items()
    )
    lines = [
        header,
        f"{'service/region':<34}{'hosts':>6}{'cpu%':>8}{'mem%':>8}{'err%':>8}"
        f"{'p95 ms':>9}{'req/s':>9}{'disk%':>8}",
    ]
    for row in summarise(result.latest):
        mark = (
            "!"
            if (row["service"], row["region"]) in flagged or ((row["service"], "all") in flagged)
            else " "
        )
        name = f"{row['service']}/{row['region']}"
        lines.append(
            f"{mark}{name:<33}{row['hosts']:>6}{row['cpu_percent']:>8.1f}"
            f"{row['memory_percent']:>8.1f}{row['error_rate'] * 100:>8.2f}"
            f"{row['latency_p95_ms']:>9.0f}{row['requests_per_s']:>9.0f}{row['disk_percent']:>8.1f}"
        )
    if faults:
        lines.append(
            "active faults: " + ", ".join(f"{f.kind} {f.service}/{f.region}" for f in faults)
        )
    else:
        lines.append("active faults: none")
    return "\n".join(lines)


def run_live(
    store: Store,
    scenario: Scenario,
    *,
    speed: float = 1.0,
    out: TextIO | None = None,
    stop_after: float | None = None,
    clock: Clock | None = None,
    sleep: Callable[[float], object] = time.sleep,
    refresh_s: float = 1.0,
    backfill: bool = True,
) -> dict[str, int]:
    """Backfill, then stream telemetry at the clock's pace, printing a table every refresh.

    Args:
        store: where telemetry goes.
        scenario: what to play.
        speed: simulated seconds per wall second.
        out: where the table goes (default stdout); a terminal gets a refreshing screen.
        stop_after: stop after this many wall seconds at `speed` (i.e. once
            `stop_after * speed` simulated seconds have run); None runs until Ctrl-C.
        clock: the clock (default: accelerated from the scenario start at `speed`).
        sleep: how to wait between refreshes (tests pass one that moves a manual clock).
        refresh_s: wall seconds between refreshes.
        backfill: write the scenario's history first.

    Returns:
        Documents written per index.
    """
    stream = out if out is not None else sys.stdout
    own_clock: AcceleratedClock | None = None
    if clock is None:
        own_clock = AcceleratedClock(scenario.start_time, speed=speed)
        clock = own_clock
    simulation = Simulation.from_scenario(scenario, clock=clock)
    store.ensure_templates()
    totals: dict[str, int] = {}
    if backfill:
        # The live run starts at the scenario start however long writing the history takes.
        if own_clock is not None:
            own_clock.pause()
        totals.update(simulation.backfill(store, scenario.history_span))
        if own_clock is not None:
            own_clock.resume()
    started = clock.now()
    interactive = stream.isatty()
    try:
        while True:
            result = simulation.step(store)
            for index, count in result.written.items():
                totals[index] = totals.get(index, 0) + count
            table = render_table(simulation, result, totals, speed=speed)
            stream.write(
                (_CLEAR if interactive else "") + table + "\n" + ("" if interactive else "\n")
            )
            stream.flush()
            elapsed = (clock.now() - started).total_seconds()
            if stop_after is not None and elapsed >= stop_after * speed:
                break
            sleep(refresh_s)
    except KeyboardInterrupt:
        stream.write("stopped\n")
    return totals
