"""`qs-tui seed`: write a scenario's backfill into a store, in batches, with progress.

A seed marks itself in the `qs-seed` index: `started` before the first batch and `complete`
after the last, so a seed killed halfway is visible (`qs-tui doctor` says so) and a re-run,
which skips the samples already there, completes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from qs_tui.clock import FrozenClock, iso_instant
from qs_tui.esql.errors import EsqlError
from qs_tui.sim.cluster import DEFAULT_BATCH_SIZE, Simulation
from qs_tui.sim.durations import DurationError, format_duration, parse_duration
from qs_tui.sim.scenario import Scenario
from qs_tui.store.base import Store, StoreError

__all__ = ["SEED_INDEX", "DurationError", "SeedStatus", "parse_duration", "seed", "seed_status"]

#: Where a seed records that it started and that it completed (one document, id `seed`).
SEED_INDEX = "qs-seed"
_MARKER_ID = "seed"


@dataclass(frozen=True)
class SeedStatus:
    """The last seed's marker.

    Attributes:
        state: `started` (never finished: killed or failed) or `complete`.
        scenario: the scenario it wrote.
        history: how much history it was writing.
    """

    state: str
    scenario: str
    history: str

    @property
    def complete(self) -> bool:
        """Whether the last seed finished."""
        return self.state == "complete"


def seed(
    store: Store,
    scenario: Scenario,
    *,
    history: timedelta | None = None,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    shape: str = "qs",
) -> dict[str, int]:
    """Install the index templates and write `history` of telemetry ending at the scenario start.

    Faults whose offsets fall inside the history (negative `start`, e.g. `-30m`) show in the
    data; later ones belong to the live run. Samples the store already holds are not written
    again (see `Simulation.backfill`), so seeding twice leaves each sample once and re-running
    an interrupted seed completes it.

    Args:
        store: where to write.
        scenario: what to simulate.
        history: how much to write (default: the scenario's `history`).
        progress: called after each batch with (metric documents done so far, skipped ones
            included, metric documents in total).
        batch_size: metric documents per bulk request.
        shape: whose documents to write: `qs`, `ecs` or `otel` (`qs_tui.sim.shapes`).

    Returns:
        Documents written per index.
    """
    store.ensure_templates()
    simulation = Simulation.from_scenario(
        scenario, clock=FrozenClock(scenario.start_time), shape=shape
    )
    span = scenario.history_span if history is None else history
    marker: dict[str, Any] = {
        "@timestamp": iso_instant(scenario.start_time),
        "scenario": scenario.name,
        "history": format_duration(span),
        "shape": shape,
    }
    store.index(SEED_INDEX, marker | {"state": "started"}, doc_id=_MARKER_ID)
    counts = simulation.backfill(store, span, batch_size=batch_size, progress=progress)
    store.index(
        SEED_INDEX,
        marker | {"state": "complete", "skipped_samples": simulation.backfill_skipped},
        doc_id=_MARKER_ID,
    )
    return counts


def seed_status(store: Store) -> SeedStatus | None:
    """The last seed's marker, or None when the store was never seeded (or cannot say)."""
    try:
        result = store.esql(f"FROM {SEED_INDEX} | KEEP state, scenario, history | LIMIT 1")
    except (StoreError, EsqlError):
        return None
    for record in result.records():
        return SeedStatus(
            state=str(record.get("state")),
            scenario=str(record.get("scenario")),
            history=str(record.get("history")),
        )
    return None
