"""`qs-tui seed`: write a scenario's backfill into a store, in batches, with progress."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from qs_tui.sim.clock import FrozenClock
from qs_tui.sim.cluster import DEFAULT_BATCH_SIZE, Simulation
from qs_tui.sim.durations import DurationError, parse_duration
from qs_tui.sim.scenario import Scenario
from qs_tui.store.base import Store

__all__ = ["DurationError", "parse_duration", "seed"]


def seed(
    store: Store,
    scenario: Scenario,
    *,
    history: timedelta | None = None,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> dict[str, int]:
    """Install the index templates and write `history` of telemetry ending at the scenario start.

    Faults whose offsets fall inside the history (negative `start`, e.g. `-30m`) show in the
    data; later ones belong to the live run.

    Args:
        store: where to write.
        scenario: what to simulate.
        history: how much to write (default: the scenario's `history`).
        progress: called after each batch with (metric documents written so far, metric
            documents in total).
        batch_size: metric documents per bulk request.

    Returns:
        Documents written per index.
    """
    store.ensure_templates()
    simulation = Simulation.from_scenario(scenario, clock=FrozenClock(scenario.start_time))
    span = scenario.history_span if history is None else history
    return simulation.backfill(store, span, batch_size=batch_size, progress=progress)
