"""Incidents built from a scenario's facts, for testing the agents after Cassandra."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

from qs_tui.models import Anomaly, AnomalyKind, Incident, IncidentState
from qs_tui.sim.faults import Fault, FaultKind
from tests.agents.conftest import World, make_world

#: The signal and critical threshold of each anomaly kind (as Cassandra reports them).
SIGNALS: dict[AnomalyKind, tuple[str, float]] = {
    AnomalyKind.MEMORY_LEAK: ("memory_percent", 100.0),
    AnomalyKind.ERROR_SPIKE: ("error_rate", 0.05),
    AnomalyKind.LATENCY_REGRESSION: ("latency_p95_ms", 1000.0),
    AnomalyKind.CPU_SATURATION: ("cpu_percent", 95.0),
    AnomalyKind.DISK_FILL: ("disk_percent", 100.0),
    AnomalyKind.TRAFFIC_DROP: ("requests_per_s", 0.0),
}


def anomaly_kind(fault: Fault) -> AnomalyKind:
    """How Cassandra would classify the fault (a cascade shows as an error spike)."""
    if fault.kind is FaultKind.CASCADE:
        return AnomalyKind.ERROR_SPIKE
    return AnomalyKind(fault.kind.value)


def make_anomaly(
    fault: Fault,
    *,
    at: datetime,
    region: str | None = None,
    service: str | None = None,
    onset: datetime | None = None,
    confidence: float = 0.9,
    time_to_critical_s: float | None = None,
    symptom_of: tuple[str, str, str] | None = None,
    kind: AnomalyKind | None = None,
) -> Anomaly:
    """An anomaly as Cassandra would report `fault` at `at` (or as `kind`, if given)."""
    kind = kind or anomaly_kind(fault)
    signal, threshold = SIGNALS[kind]
    where = region or (fault.region if fault.region != "all" else "us-east-1")
    who = service or fault.service
    return Anomaly(
        kind=kind,
        service=who,
        region=where,
        host=fault.host,
        signal=signal,
        detected_at=at,
        onset_at=onset or fault.start,
        value=threshold * 0.8,
        baseline=threshold * 0.4,
        critical_threshold=threshold,
        time_to_critical_s=time_to_critical_s,
        confidence=confidence,
        query=kind.value,
        summary=f"{signal} on {who} in {where} is abnormal",
        symptom_of=symptom_of,
    )


def make_incident(
    anomaly: Anomaly,
    *,
    incident_id: str = "inc-1",
    root_incident_id: str | None = None,
    symptom_ids: list[str] | None = None,
) -> Incident:
    """A freshly detected incident around `anomaly`."""
    return Incident(
        id=incident_id,
        kind=anomaly.kind,
        service=anomaly.service,
        region=anomaly.region,
        state=IncidentState.INVESTIGATING,
        opened_at=anomaly.detected_at,
        anomaly=anomaly,
        root_incident_id=root_incident_id,
        symptom_ids=symptom_ids or [],
    )


def minutes(count: float) -> timedelta:
    """`count` minutes."""
    return timedelta(minutes=count)


def world_at_detection(
    scenario_name: str,
    *,
    history: str = "45m",
    after: timedelta = timedelta(minutes=6),
    fault_index: int = 0,
) -> tuple[World, Fault]:
    """A scenario's world `after` the fault began (or the scenario's start, if later)."""
    world = make_world(scenario_name, history=history)
    fault = world.simulation.faults()[fault_index]
    world.advance_to(max(world.now, fault.start) + after)
    world.store.refresh()
    return world, fault


@cache
def shared_world_at_detection(scenario_name: str, *, history: str = "45m") -> World:
    """`world_at_detection`, built once per test session: only for tests that read it.

    Investigating and planning add audit-trail documents and events but change nothing the
    agents read back, so tests that only check a hypothesis or a plan can share one world.
    """
    world, _ = world_at_detection(scenario_name, history=history)
    return world
