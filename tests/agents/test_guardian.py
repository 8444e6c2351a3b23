"""Guardian: verification on the raising signal, records and runbooks, cooldown, loop guard."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from qs_tui.agents.base import AgentContext, PipelineSettings
from qs_tui.agents.events import AgentSpoke, Event
from qs_tui.agents.guardian import Guardian, format_duration
from qs_tui.clock import ManualClock
from qs_tui.models import (
    ActionKind,
    Anomaly,
    AnomalyKind,
    Evidence,
    ExecutionReport,
    Hypothesis,
    Incident,
    IncidentState,
    SignalCheck,
)
from qs_tui.store.embedded import EmbeddedStore
from qs_tui.topology import Topology

START = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


@dataclass
class StubChecker:
    """Answers check() from a list of (healthy, value) readings, one per call."""

    readings: list[tuple[bool, float | None]]
    calls: list[datetime] = field(default_factory=list)

    def check(self, anomaly: Anomaly, *, since: datetime) -> SignalCheck:
        self.calls.append(since)
        healthy, value = self.readings[min(len(self.calls), len(self.readings)) - 1]
        return SignalCheck(
            healthy=healthy,
            value=value,
            samples=0 if value is None else 6,
            summary="healthy" if healthy else "still climbing",
        )


@dataclass
class Setup:
    guardian: Guardian
    clock: ManualClock
    store: EmbeddedStore
    checker: StubChecker
    events: list[Event]


def make_guardian(
    readings: list[tuple[bool, float | None]] | None = None, **settings: Any
) -> Setup:
    clock = ManualClock(START)
    store = EmbeddedStore(now=clock.now)
    store.ensure_templates()
    events: list[Event] = []
    context = AgentContext(
        store=store,
        clock=clock,
        sink=events.append,
        topology=Topology(services=("payment-service",), regions=("us-east-1",)),
        settings=PipelineSettings(
            verify_timeout_s=120, cooldown_s=300, loop_guard_count=2, **settings
        ),
    )
    checker = StubChecker(readings or [(True, 40.0)])
    return Setup(Guardian(context, cassandra=checker), clock, store, checker, events)


def make_incident(
    *,
    incident_id: str = "INC-0001",
    state: IncidentState = IncidentState.VERIFYING,
    finished_at: datetime = START,
) -> Incident:
    anomaly = Anomaly(
        kind=AnomalyKind.MEMORY_LEAK,
        service="payment-service",
        region="us-east-1",
        signal="memory_percent",
        detected_at=START - timedelta(seconds=40),
        onset_at=START - timedelta(minutes=20),
        value=78.0,
        baseline=45.0,
        critical_threshold=100.0,
        slope_per_s=0.013,
        time_to_critical_s=1700.0,
        confidence=0.97,
        query="memory_leak",
        params={"start": "2026-11-25T13:50:00Z", "end": "2026-11-25T14:00:00Z"},
        summary="memory on payment-service-use1-a climbs 0.8 %/min; OOM in ~28 min",
    )
    execution = ExecutionReport(
        incident_id=incident_id,
        action=ActionKind.RESTART,
        service="payment-service",
        region="us-east-1",
        dry_run=False,
        steps=[],
        success=True,
        started_at=finished_at,
        finished_at=finished_at,
        summary="restarted 2 hosts",
    )
    hypothesis = Hypothesis(
        incident_id=incident_id,
        cause="memory_leak",
        cause_kind="fault",
        root_service="payment-service",
        root_region="us-east-1",
        evidence=[Evidence(kind="metric", summary="memory climbs linearly", weight=0.6)],
        confidence=0.8,
        summary="a leak with no deploy to blame",
    )
    incident = Incident(
        id=incident_id,
        kind=AnomalyKind.MEMORY_LEAK,
        service="payment-service",
        region="us-east-1",
        state=IncidentState.DETECTED,
        opened_at=anomaly.detected_at,
        anomaly=anomaly,
        hypothesis=hypothesis,
        execution=execution,
    )
    return incident.moved(state, finished_at, "test")


def test_recovery_reports_mttr_from_detection() -> None:
    setup = make_guardian([(False, 85.0), (True, 41.5)])
    incident = make_incident()
    setup.clock.advance(30)
    assert setup.guardian.verify(incident) is None
    setup.clock.advance(30)
    verification = setup.guardian.verify(incident)
    assert verification is not None and verification.recovered
    assert verification.checks == 2
    assert verification.last_value == 41.5
    assert verification.mttr_s == 100.0  # detected 40 s before the action, healthy 60 s after
    assert setup.checker.calls == [START, START]  # judged on the window since the action
    lines = [e.text for e in setup.events if isinstance(e, AgentSpoke)]
    assert any("MTTR 1m40s" in line for line in lines)


def test_a_check_without_samples_is_not_a_recovery() -> None:
    setup = make_guardian([(True, None)])
    setup.clock.advance(10)
    assert setup.guardian.verify(make_incident()) is None


def test_no_recovery_within_the_timeout_fails_the_verification() -> None:
    setup = make_guardian([(False, 88.0)])
    incident = make_incident()
    setup.clock.advance(119)
    assert setup.guardian.verify(incident) is None
    setup.clock.advance(1)
    verification = setup.guardian.verify(incident)
    assert verification is not None and not verification.recovered
    assert verification.mttr_s is None
    assert "still unhealthy (88)" in verification.summary


def test_record_writes_one_document_per_incident_and_replaces_it() -> None:
    setup = make_guardian()
    incident = make_incident()
    setup.guardian.record(incident)
    resolved = incident.moved(IncidentState.RESOLVED, START, "recovered")
    setup.guardian.record(resolved)
    setup.store.refresh()
    result = setup.store.esql(
        "FROM qs-incidents | KEEP incident_id, state, action, root_cause, confidence, kind"
    )
    assert result.values == [
        [
            "INC-0001",
            "resolved",
            None,
            "memory_leak: a leak with no deploy to blame",
            0.8,
            "memory_leak",
        ]
    ]


def test_past_incidents_are_found_by_full_text_search() -> None:
    setup = make_guardian()
    setup.guardian.record(make_incident().moved(IncidentState.RESOLVED, START, "recovered"))
    setup.store.refresh()
    found = setup.store.esql(
        'FROM qs-incidents METADATA _score | WHERE MATCH(runbook, "leak") | KEEP incident_id'
    )
    assert found.values == [["INC-0001"]]


def test_the_runbook_tells_symptoms_evidence_action_outcome_and_how_to_check(
    tmp_path: Path,
) -> None:
    setup = make_guardian(runbook_dir=str(tmp_path / "runbooks"))
    incident = make_incident().moved(IncidentState.RESOLVED, START, "recovered")
    runbook = setup.guardian.runbook(incident)
    for heading in ("## Symptoms", "## Evidence", "## Action", "## Outcome", "## How to check"):
        assert heading in runbook
    assert "memory climbs linearly" in runbook
    assert "qs-tui esql @esql/memory_leak.esql --param end=2026-11-25T14:00:00Z" in runbook
    setup.guardian.record(incident)
    written = (tmp_path / "runbooks" / "INC-0001.md").read_text(encoding="utf-8")
    assert written == runbook


def test_cooldown_after_a_remediation_then_free_again() -> None:
    setup = make_guardian()
    setup.guardian.note_remediation(make_incident())
    allowed, why = setup.guardian.may_act("payment-service", "us-east-1")
    assert not allowed and why.startswith("cooldown") and "5m00s left" in why
    assert setup.guardian.may_act("payment-service", "eu-west-1")[0]
    setup.clock.advance(300)
    assert setup.guardian.may_act("payment-service", "us-east-1")[0]


def test_clearing_the_cooldown_after_a_failed_fix() -> None:
    setup = make_guardian()
    setup.guardian.note_remediation(make_incident())
    setup.guardian.clear_cooldown("payment-service", "us-east-1")
    assert setup.guardian.may_act("payment-service", "us-east-1")[0]


def test_the_loop_guard_counts_remediations_of_a_service_within_its_window() -> None:
    setup = make_guardian(loop_guard_window_s=1000)
    guardian = setup.guardian
    guardian.note_remediation(make_incident(incident_id="INC-0001"))
    setup.clock.advance(400)
    guardian.note_remediation(make_incident(incident_id="INC-0002", finished_at=setup.clock.now()))
    setup.clock.advance(400)
    allowed, why = guardian.may_act("payment-service", "us-east-1")
    assert not allowed and why.startswith("loop guard") and "INC-0001" in why
    assert guardian.loop_guard_tripped("payment-service")
    setup.clock.advance(300)  # the first remediation leaves the window
    assert guardian.may_act("payment-service", "us-east-1")[0]


def test_lasting_fixes_in_other_regions_do_not_trip_the_loop_guard() -> None:
    setup = make_guardian()
    guardian = setup.guardian
    for number, region in enumerate(("us-east-1", "us-west-2", "eu-west-1"), start=1):
        incident = make_incident(incident_id=f"INC-000{number}")
        incident = incident.model_copy(update={"region": region})
        guardian.note_remediation(incident)
        guardian.note_recovered(incident)
    assert guardian.recent_remediations("payment-service") == []
    again = make_incident(incident_id="INC-0004")
    guardian.note_remediation(again)  # us-east-1 needed acting on again: the first fix failed
    assert [r.incident_id for r in guardian.recent_remediations("payment-service")] == [
        "INC-0001",
        "INC-0004",
    ]
    assert guardian.loop_guard_tripped("payment-service")


def test_symptoms_and_dry_runs_do_not_count_towards_the_loop_guard() -> None:
    setup = make_guardian()
    symptom = make_incident().model_copy(update={"root_incident_id": "INC-0009"})
    setup.guardian.note_remediation(symptom)
    setup.guardian.note_remediation(symptom)
    assert setup.guardian.recent_remediations("payment-service") == []
    incident = make_incident()
    assert incident.execution is not None
    dry = incident.model_copy(
        update={"execution": incident.execution.model_copy(update={"dry_run": True})}
    )
    setup.guardian.note_remediation(dry)
    assert setup.guardian.recent_remediations("payment-service") == []


def test_format_duration() -> None:
    assert [format_duration(s) for s in (42, 154, 3720, -5)] == ["42s", "2m34s", "1h02m", "-5s"]
