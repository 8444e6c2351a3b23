"""Reading what the simulator wrote: metric series, means and slopes."""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

from qs_tui.clock import Clock
from qs_tui.sim.cluster import Simulation
from qs_tui.sim.faults import FaultSpec
from qs_tui.store.templates import METRICS
from tests.sim.fakes import RecordingStore


def simulation(clock: Clock, *faults: dict[str, Any], seed: int = 7) -> Simulation:
    """A default-topology simulation with `faults` (as scenario tables) and no routine deploys."""
    specs = [FaultSpec.model_validate(fault) for fault in faults]
    return Simulation(clock=clock, seed=seed, faults=specs, healthy_deploys=False)


def when(document: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(document["@timestamp"].replace("Z", "+00:00"))


def series(
    store: RecordingStore,
    field: str,
    **where: Any,
) -> list[tuple[datetime, float]]:
    """(time, value) of one metric, filtered by `host`, `service`, `region` and `since`/`until`."""
    host: str | None = where.get("host")
    service: str | None = where.get("service")
    region: str | None = where.get("region")
    since: datetime | None = where.get("since")
    until: datetime | None = where.get("until")
    points = []
    for document in store.documents(METRICS):
        if host is not None and document["host"] != host:
            continue
        if service is not None and document["service"] != service:
            continue
        if region is not None and document["region"] != region:
            continue
        at = when(document)
        if since is not None and at < since:
            continue
        if until is not None and at >= until:
            continue
        points.append((at, float(document[field])))
    return points


def mean(points: list[tuple[datetime, float]]) -> float:
    return statistics.mean(value for _, value in points)


def slope_per_minute(points: list[tuple[datetime, float]]) -> float:
    """Least-squares slope of the values against minutes."""
    origin = points[0][0]
    minutes = [(at - origin).total_seconds() / 60 for at, _ in points]
    values = [value for _, value in points]
    return statistics.linear_regression(minutes, values).slope
