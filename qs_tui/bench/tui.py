"""`qs-tui bench tui`: the war room streaming a large estate at 1 Hz, headless: CPU and latency."""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from datetime import timedelta
from typing import Any, TextIO

from qs_tui.sim.scenario import Scenario

#: Regions the benchmark's estate spreads over (the first `regions` of them).
BENCH_REGIONS: tuple[str, ...] = (
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "ap-southeast-2",
    "eu-central-1",
    "ap-northeast-1",
)
#: Simulated seconds per wall second: with a 10 s sample interval, one sample a second.
BENCH_SPEED = 10.0
#: History written before measuring (enough for the detectors' baseline window).
BENCH_HISTORY = timedelta(minutes=40)
#: Terminal size the app is laid out at.
BENCH_SIZE = (120, 40)
#: Longest the measuring window is stretched while waiting for its first update.
STRETCH_MIN_S = 60.0


def bench_scenario(*, services: int, regions: int, seed: int = 5) -> Scenario:
    """A quiet estate of `services` generated services in `regions` regions (2 hosts each).

    Raises:
        ValueError: for more regions than `BENCH_REGIONS` holds.
    """
    if not 1 <= regions <= len(BENCH_REGIONS):
        raise ValueError(f"regions must be between 1 and {len(BENCH_REGIONS)}, got {regions}")
    return Scenario.model_validate(
        {
            "name": f"bench-{services}x{regions}",
            "description": "A quiet large estate for measuring the war room.",
            "seed": seed,
            "start": "2026-11-25T04:00:00Z",
            "history": "1h",
            "duration": "6h",
            "interval": "10s",
            "topology": {
                "generated": services,
                "regions": list(BENCH_REGIONS[:regions]),
                "hosts_per_region": 2,
            },
            "expected": "none",
        }
    )


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))
    return ordered[index]


async def _measure(scenario: Scenario, *, seconds: float) -> dict[str, Any]:
    from qs_tui.ui.app import make_app

    app = make_app(scenario=scenario, speed=BENCH_SPEED, history=BENCH_HISTORY)
    started = time.monotonic()
    async with app.run_test(size=BENCH_SIZE) as pilot:
        await pilot.pause()
        first_paint_s = time.monotonic() - started
        await app.wait_ready()
        ready_s = time.monotonic() - started
        await pilot.pause(2.0)  # let the first ticks settle (mounting the rows, first draw)
        latencies_before = len(app.message_latencies)
        messages_before = app.metrics_messages
        wall_before = time.monotonic()
        process_before = time.process_time()
        ui_before = time.thread_time()  # run_test drives the app on this thread
        await pilot.pause(seconds)
        # A window without a single update measures nothing: on a starved machine, stretch
        # it until one arrives (bounded, in case the pipeline stopped).
        stretch_until = time.monotonic() + max(STRETCH_MIN_S, 10 * seconds)
        while (
            app.metrics_messages == messages_before
            and app.failure is None
            and time.monotonic() < stretch_until
        ):
            await pilot.pause(0.1)
        ui_cpu_s = time.thread_time() - ui_before
        process_cpu_s = time.process_time() - process_before
        wall_s = time.monotonic() - wall_before
        messages = app.metrics_messages - messages_before
        latencies = list(app.message_latencies)[latencies_before:]
        rows = len(app.services.rows)
        drawn = len(app.services.visible_rows())
        await pilot.press("q")
    return {
        "services": len(scenario.build_topology().services),
        "regions": len(scenario.build_topology().regions),
        "rows": rows,
        "rows_on_screen": drawn,
        "seconds": round(wall_s, 2),
        "updates": messages,
        "updates_per_s": round(messages / wall_s, 2) if wall_s else 0.0,
        "first_paint_s": round(first_paint_s, 3),
        "ready_s": round(ready_s, 3),
        "process_cpu_percent": round(100 * process_cpu_s / wall_s, 1) if wall_s else 0.0,
        "ui_thread_cpu_percent": round(100 * ui_cpu_s / wall_s, 1) if wall_s else 0.0,
        "pipeline_cpu_percent": (
            round(100 * (process_cpu_s - ui_cpu_s) / wall_s, 1) if wall_s else 0.0
        ),
        "latency_ms_p50": round(1000 * _percentile(latencies, 0.5), 2),
        "latency_ms_p95": round(1000 * _percentile(latencies, 0.95), 2),
        "latency_ms_max": round(1000 * max(latencies, default=0.0), 2),
        "latency_ms_mean": round(1000 * statistics.fmean(latencies), 2) if latencies else 0.0,
    }


def run_tui_bench(
    *,
    services: int = 50,
    regions: int = 3,
    seconds: float = 20.0,
    out: TextIO | None = None,
) -> dict[str, Any]:
    """Run the war room headless on `services` x `regions` streaming at 1 Hz and measure it.

    Measures, over `seconds` of steady streaming (longer if no update arrived by then): the
    process CPU time as % of one core (UI thread and pipeline worker together, and the UI
    thread alone), how many updates arrived per second, and the message latency from the
    worker posting a `MetricsSampled` to the UI handling it. Prints a summary to `out`
    (default stdout) and returns the numbers.
    """
    stream = out or sys.stdout
    scenario = bench_scenario(services=services, regions=regions)
    result = asyncio.run(_measure(scenario, seconds=seconds))
    stream.write(
        f"war room, {result['services']} services x {result['regions']} regions "
        f"({result['rows']} rows, {result['rows_on_screen']} on screen at "
        f"{BENCH_SIZE[0]}x{BENCH_SIZE[1]}), {result['seconds']} s at "
        f"{result['updates_per_s']} updates/s\n"
        f"  first paint        {result['first_paint_s']:.2f} s"
        f" (history written by {result['ready_s']:.2f} s)\n"
        f"  CPU, whole process {result['process_cpu_percent']:.1f} % of one core\n"
        f"  CPU, UI thread     {result['ui_thread_cpu_percent']:.1f} %"
        f"  (pipeline worker {result['pipeline_cpu_percent']:.1f} %)\n"
        f"  message latency    p50 {result['latency_ms_p50']:.1f} ms, "
        f"p95 {result['latency_ms_p95']:.1f} ms, max {result['latency_ms_max']:.1f} ms\n"
    )
    stream.flush()
    return result


__all__ = ["BENCH_REGIONS", "bench_scenario", "run_tui_bench"]
