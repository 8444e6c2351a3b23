"""The incident pipeline: the state machine with small stand-in agents, then end to end."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from qs_tui.agents.base import AgentContext, PipelineSettings
from qs_tui.agents.events import AgentSpoke, Event, IncidentChanged, MetricsSampled
from qs_tui.agents.guardian import Guardian
from qs_tui.agents.pipeline import Crew, Pipeline
from qs_tui.clock import ManualClock
from qs_tui.models import (
    ActionKind,
    Anomaly,
    AnomalyKind,
    Approval,
    ApprovalDecision,
    ExecutionReport,
    ExecutionStep,
    Hypothesis,
    Incident,
    IncidentState,
    Plan,
    RemediationOption,
    SignalCheck,
    StepStatus,
)
from qs_tui.remediation import SimulatedExecutor
from qs_tui.sim.cluster import Simulation
from qs_tui.store.base import StoreError
from qs_tui.store.embedded import EmbeddedStore
from qs_tui.topology import Topology

START = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def make_anomaly(
    service: str = "payment-service",
    region: str = "us-east-1",
    kind: AnomalyKind = AnomalyKind.MEMORY_LEAK,
    *,
    at: datetime = START,
    symptom_of: tuple[str, str, str] | None = None,
) -> Anomaly:
    return Anomaly(
        kind=kind,
        service=service,
        region=region,
        signal="memory_percent",
        detected_at=at,
        onset_at=at - timedelta(minutes=5),
        value=80.0,
        critical_threshold=95.0,
        time_to_critical_s=900.0,
        confidence=0.9,
        query="memory_leak",
        summary=f"{kind.value} on {service}/{region}",
        symptom_of=symptom_of,
    )


@dataclass
class StubCassandra:
    """Reports the anomalies in `current`; `healthy` says what check() answers per key."""

    clock: ManualClock
    current: list[Anomaly] = field(default_factory=list)
    healthy: dict[tuple[str, str, str], bool] = field(default_factory=dict)
    checks: list[tuple[str, datetime]] = field(default_factory=list)

    def detect(self) -> list[Anomaly]:
        now = self.clock.now()
        return [a.model_copy(update={"detected_at": now}) for a in self.current]

    def check(self, anomaly: Anomaly, *, since: datetime) -> SignalCheck:
        self.checks.append((anomaly.service, since))
        healthy = self.healthy.get(anomaly.key, False)
        return SignalCheck(
            healthy=healthy, value=50.0 if healthy else 90.0, samples=3, summary="checked"
        )


class StubArchaeologist:
    def investigate(self, incident: Incident) -> Hypothesis:
        return Hypothesis(
            incident_id=incident.id,
            cause=incident.kind.value,
            cause_kind="fault",
            root_service=incident.service,
            root_region=incident.region,
            evidence=[],
            confidence=0.7,
            summary="stub",
        )


@dataclass
class StubTactician:
    action: ActionKind = ActionKind.RESTART

    def plan(self, incident: Incident) -> Plan:
        option = RemediationOption(
            action=self.action,
            service=incident.service,
            region=incident.region,
            expected_recovery_s=60.0,
            risk=0.1,
            blast_radius="2 hosts",
            score=1.0,
            rationale="stub",
        )
        return Plan(
            incident_id=incident.id,
            options=[option],
            chosen=option,
            reason="stub",
            time_to_critical_s=incident.anomaly.time_to_critical_s,
            inaction_forecast="stub",
            requires_approval=self.action is not ActionKind.DO_NOTHING,
            approval_reason="production change",
        )


@dataclass
class StubDiplomat:
    """Answers with `decision` after `wait_polls` polls (None = never answers)."""

    clock: ManualClock
    decision: ApprovalDecision | None = ApprovalDecision.APPROVED
    wait_polls: int = 0
    polls: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def request(
        self, incident: Incident, plan: Plan, *, dry_run: ExecutionReport | None = None
    ) -> Any:
        return incident.id

    def withdraw(self, pending: Any, *, reason: str, by: str = "withdrawn") -> Approval:
        return Approval(
            incident_id=pending,
            decision=ApprovalDecision.REJECTED,
            by=by,
            at=self.clock.now(),
            note=reason,
        )

    def poll(self, pending: Any) -> Approval | None:
        count = self.polls.get(pending, 0) + 1
        self.polls[pending] = count
        if self.decision is None or count <= self.wait_polls:
            return None
        return Approval(incident_id=pending, decision=self.decision, by="test", at=self.clock.now())

    def notify(self, incident: Incident, text: str) -> None:
        self.notes.append(text)


@dataclass
class StubSurgeon:
    clock: ManualClock
    executed: list[str] = field(default_factory=list)
    undone: list[str] = field(default_factory=list)
    succeed: bool = True

    def execute(self, incident: Incident, plan: Plan, approval: Approval) -> ExecutionReport:
        self.executed.append(incident.id)
        now = self.clock.now()
        return ExecutionReport(
            incident_id=incident.id,
            action=plan.chosen.action,
            service=plan.chosen.service,
            region=plan.chosen.region,
            dry_run=approval.decision is ApprovalDecision.DRY_RUN,
            steps=[ExecutionStep(name="act", status=StepStatus.OK, at=now)],
            success=self.succeed,
            started_at=now,
            finished_at=now,
            summary=f"{plan.chosen.action.value} done",
        )

    def undo(self, report: ExecutionReport) -> ExecutionReport:
        self.undone.append(report.incident_id)
        return report.model_copy(update={"rolled_back": True, "summary": "undone"})


@dataclass
class Rig:
    pipeline: Pipeline
    clock: ManualClock
    store: EmbeddedStore
    cassandra: StubCassandra
    tactician: StubTactician
    diplomat: StubDiplomat
    surgeon: StubSurgeon
    events: list[Event]

    def tick(self, count: int = 1) -> None:
        for _ in range(count):
            self.clock.advance(10)
            self.pipeline.tick()

    def changes(self, incident_id: str) -> list[str]:
        return [
            e.incident.state.value
            for e in self.events
            if isinstance(e, IncidentChanged)
            and e.incident.id == incident_id
            and e.previous is not e.incident.state
        ]

    def incident(self, incident_id: str) -> Incident:
        return next(i for i in self.pipeline.incidents() if i.id == incident_id)


def make_rig(**overrides: Any) -> Rig:
    clock = ManualClock(START)
    store = EmbeddedStore(now=clock.now)
    store.ensure_templates()
    topology = Topology(
        services=("api-gateway", "payment-service"),
        regions=("us-east-1",),
        hosts_per_region=1,
        dependencies={"api-gateway": ("payment-service",)},
    )
    simulation = Simulation(clock=clock, topology=topology, seed=3, healthy_deploys=False)
    settings = PipelineSettings(detect_every_s=10, verify_timeout_s=60, cooldown_s=120, **overrides)
    events: list[Event] = []
    cassandra = StubCassandra(clock)
    tactician = StubTactician()
    diplomat = StubDiplomat(clock)
    surgeon = StubSurgeon(clock)

    def crew(context: AgentContext) -> Crew:
        return Crew(
            cassandra=cassandra,
            archaeologist=StubArchaeologist(),
            tactician=tactician,
            diplomat=diplomat,
            surgeon=surgeon,
            guardian=Guardian(context, cassandra=cassandra),
        )

    pipeline = Pipeline(
        store=store,
        source=simulation,
        clock=clock,
        sink=events.append,
        topology=topology,
        settings=settings,
        crew=crew,
    )
    return Rig(pipeline, clock, store, cassandra, tactician, diplomat, surgeon, events)


LEAK_KEY = ("payment-service", "us-east-1", "memory_leak")


def test_an_approved_incident_walks_every_state_to_resolved() -> None:
    rig = make_rig()
    rig.cassandra.current = [make_anomaly()]
    rig.tick()
    rig.cassandra.healthy[LEAK_KEY] = True
    rig.tick()
    assert rig.changes("INC-0001") == [
        "detected",
        "investigating",
        "planned",
        "awaiting_approval",
        "executing",
        "verifying",
        "resolved",
    ]
    incident = rig.incident("INC-0001")
    assert incident.verification is not None and incident.verification.recovered
    assert incident.verification.mttr_s == 10.0  # detected at the first tick, healthy a tick later
    assert rig.surgeon.executed == ["INC-0001"]
    assert incident.runbook is not None and "## Outcome" in incident.runbook
    stored = rig.store.esql(
        'FROM qs-incidents | WHERE incident_id == "INC-0001" | KEEP state, action, mttr_s'
    )
    assert stored.values == [["resolved", "restart", 10.0]]


def test_the_same_anomaly_on_later_passes_does_not_open_a_second_incident() -> None:
    rig = make_rig()
    rig.diplomat.decision = None  # keeps the first incident open
    rig.cassandra.current = [make_anomaly()]
    rig.tick(4)
    assert [i.id for i in rig.pipeline.incidents()] == ["INC-0001"]


def test_approval_is_polled_each_tick_without_blocking_other_incidents() -> None:
    rig = make_rig()
    rig.diplomat.wait_polls = 3
    rig.cassandra.current = [make_anomaly()]
    rig.tick()
    assert rig.incident("INC-0001").state is IncidentState.AWAITING_APPROVAL
    rig.cassandra.current.append(make_anomaly("api-gateway", kind=AnomalyKind.CPU_SATURATION))
    rig.tick()
    states = {i.id: i.state for i in rig.pipeline.incidents()}
    assert states == {
        "INC-0001": IncidentState.AWAITING_APPROVAL,
        "INC-0002": IncidentState.AWAITING_APPROVAL,
    }
    rig.tick(2)
    assert rig.incident("INC-0001").state is IncidentState.VERIFYING
    assert rig.diplomat.polls["INC-0001"] == 4


def test_a_rejected_plan_executes_nothing() -> None:
    rig = make_rig()
    rig.diplomat.decision = ApprovalDecision.REJECTED
    rig.cassandra.current = [make_anomaly()]
    rig.tick()
    incident = rig.incident("INC-0001")
    assert incident.state is IncidentState.REJECTED
    assert incident.approval is not None and incident.approval.decision == "rejected"
    assert rig.surgeon.executed == []


def test_a_rejected_problem_is_not_reraised_during_the_cooldown() -> None:
    rig = make_rig()
    rig.diplomat.decision = ApprovalDecision.REJECTED
    rig.cassandra.current = [make_anomaly()]
    rig.tick(6)  # 60 s, inside the 120 s cooldown
    assert len(rig.pipeline.incidents()) == 1
    rig.tick(7)
    assert len(rig.pipeline.incidents()) == 2


def test_a_fixed_problem_still_in_the_detection_window_is_not_reraised() -> None:
    rig = make_rig()
    rig.cassandra.current = [make_anomaly()]
    rig.cassandra.healthy[LEAK_KEY] = True
    rig.tick(2)
    assert rig.incident("INC-0001").state is IncidentState.RESOLVED
    rig.tick(5)  # the detector still fires, inside the 120 s cooldown
    assert len(rig.pipeline.incidents()) == 1
    notes = [
        e.text
        for e in rig.events
        if isinstance(e, AgentSpoke) and e.text.startswith("not raising memory_leak")
    ]
    assert len(notes) == 1 and "cooldown" in notes[0]


def test_no_recovery_before_the_timeout_undoes_the_action_and_reopens() -> None:
    rig = make_rig()
    rig.cassandra.current = [make_anomaly()]
    rig.tick(7)  # verify_timeout_s = 60
    first = rig.incident("INC-0001")
    assert first.state is IncidentState.ROLLED_BACK
    assert first.verification is not None and not first.verification.recovered
    assert rig.surgeon.undone == ["INC-0001"]
    reopened = rig.incident("INC-0002")
    assert reopened.anomaly.key == first.anomaly.key
    assert reopened.state is IncidentState.VERIFYING  # acted on again at once


def test_the_loop_guard_escalates_instead_of_acting_a_third_time() -> None:
    rig = make_rig(loop_guard_count=2)
    rig.cassandra.current = [make_anomaly()]
    rig.tick(16)
    states = [i.state for i in rig.pipeline.incidents()]
    assert states[:2] == [IncidentState.ROLLED_BACK, IncidentState.ROLLED_BACK]
    assert states[2] is IncidentState.ESCALATED
    assert len(rig.surgeon.executed) == 2
    assert "loop guard" in rig.incident("INC-0003").history[-1].reason


def test_a_failed_execution_ends_rolled_back() -> None:
    rig = make_rig()
    rig.surgeon.succeed = False
    rig.cassandra.current = [make_anomaly()]
    rig.tick()
    incident = rig.incident("INC-0001")
    assert incident.state is IncidentState.ROLLED_BACK
    assert "execution failed" in incident.history[-1].reason


def test_a_cascade_symptom_follows_its_root_and_is_not_remediated_itself() -> None:
    rig = make_rig()
    root = make_anomaly(kind=AnomalyKind.ERROR_SPIKE)
    symptom = make_anomaly("api-gateway", kind=AnomalyKind.ERROR_SPIKE, symptom_of=root.key)
    rig.cassandra.current = [symptom, root]  # order must not matter
    rig.tick()
    root_incident = rig.incident("INC-0001")
    symptom_incident = rig.incident("INC-0002")
    assert root_incident.service == "payment-service"
    assert root_incident.symptom_ids == ["INC-0002"]
    assert symptom_incident.root_incident_id == "INC-0001"
    assert symptom_incident.state is IncidentState.VERIFYING
    rig.cassandra.healthy = {root.key: True, symptom.key: True}
    rig.tick()
    assert rig.incident("INC-0002").state is IncidentState.RESOLVED
    assert "cleared by INC-0001" in rig.incident("INC-0002").history[-1].reason
    assert rig.surgeon.executed == ["INC-0001"]


def test_a_symptom_the_root_fix_does_not_clear_is_handled_on_its_own() -> None:
    rig = make_rig()
    root = make_anomaly(kind=AnomalyKind.ERROR_SPIKE)
    symptom = make_anomaly("api-gateway", kind=AnomalyKind.ERROR_SPIKE, symptom_of=root.key)
    rig.cassandra.current = [root, symptom]
    rig.tick()
    rig.cassandra.healthy = {root.key: True}
    rig.cassandra.current = []
    rig.tick(7)  # past the 60 s verification timeout for the symptom
    alone = rig.incident("INC-0002")
    assert alone.root_incident_id is None
    assert any(h.reason.startswith("not cleared by INC-0001") for h in alone.history)
    assert rig.surgeon.executed == ["INC-0001", "INC-0002"]


def test_a_rejected_root_takes_its_symptoms_with_it() -> None:
    rig = make_rig()
    rig.diplomat.decision = ApprovalDecision.REJECTED
    root = make_anomaly(kind=AnomalyKind.ERROR_SPIKE)
    symptom = make_anomaly("api-gateway", kind=AnomalyKind.ERROR_SPIKE, symptom_of=root.key)
    rig.cassandra.current = [root, symptom]
    rig.tick()
    assert rig.incident("INC-0002").state is IncidentState.REJECTED


def test_do_nothing_resolves_as_left_alone_only_when_the_signal_is_benign() -> None:
    rig = make_rig()
    rig.tactician.action = ActionKind.DO_NOTHING
    rig.cassandra.current = [make_anomaly()]
    rig.tick()
    assert rig.incident("INC-0001").state is IncidentState.VERIFYING
    rig.cassandra.healthy[LEAK_KEY] = True
    rig.tick()
    left_alone = rig.incident("INC-0001")
    assert left_alone.state is IncidentState.RESOLVED
    assert left_alone.history[-1].reason.startswith("left alone")
    assert left_alone.approval is None and rig.surgeon.executed == []

    rig = make_rig()
    rig.tactician.action = ActionKind.DO_NOTHING
    rig.cassandra.current = [make_anomaly()]
    rig.tick(8)
    assert rig.incident("INC-0001").state is IncidentState.ESCALATED


def test_a_dry_run_changes_nothing_and_comes_back_for_a_real_answer() -> None:
    rig = make_rig()
    rig.diplomat.decision = ApprovalDecision.DRY_RUN  # answers "dry run" every time
    rig.cassandra.current = [make_anomaly()]
    rig.tick()
    incident = rig.incident("INC-0001")
    # Asked again after the dry run; a second "dry run" is not a yes.
    assert rig.changes("INC-0001")[-3:] == ["executing", "awaiting_approval", "rejected"]
    assert incident.execution is not None and incident.execution.dry_run


def test_metrics_are_sampled_every_tick_with_service_states() -> None:
    rig = make_rig()
    rig.diplomat.decision = None
    rig.cassandra.current = [make_anomaly()]
    rig.tick()
    samples = [e for e in rig.events if isinstance(e, MetricsSampled)]
    assert len(samples) == 1
    series = samples[0].series[("payment-service", "us-east-1")]
    assert set(series) >= {"cpu_percent", "memory_percent", "error_rate"}
    assert samples[0].states[("payment-service", "us-east-1")] == "anomalous"
    assert samples[0].states[("api-gateway", "us-east-1")] == "healthy"
    rig.diplomat.decision = ApprovalDecision.APPROVED
    rig.tick()
    latest = [e for e in rig.events if isinstance(e, MetricsSampled)][-1]
    assert latest.states[("payment-service", "us-east-1")] == "remediating"


def test_run_until_stops_at_the_end_or_the_tick_limit() -> None:
    rig = make_rig()
    ticks = rig.pipeline.run_until(START + timedelta(minutes=1))
    assert ticks == 6 and rig.clock.now() == START + timedelta(minutes=1)
    assert rig.pipeline.run_until(START + timedelta(hours=1), max_ticks=3) == 3


def test_run_ticks_until_stopped() -> None:
    rig = make_rig()
    stop = threading.Event()

    def sink(event: Event) -> None:
        if isinstance(event, MetricsSampled):
            rig.clock.advance(10)
            if rig.pipeline.ticks >= 3:
                stop.set()

    rig.pipeline.sink = sink
    rig.pipeline.context.sink = sink
    rig.pipeline.run(stop, tick_wall_s=0.0)
    assert rig.pipeline.ticks == 3


def test_run_reports_a_store_failure_and_keeps_going() -> None:
    rig = make_rig()
    failures = {"left": 1}
    real_bulk = rig.store.bulk

    class FlakyStore:
        """The rig's store, whose first bulk write fails like an unreachable cluster."""

        def __getattr__(self, name: str) -> Any:
            return getattr(rig.store, name)

        def bulk(self, index: str, documents: Any) -> Any:
            if failures["left"]:
                failures["left"] -= 1
                raise StoreError("cannot reach the store", "is it running?")
            return real_bulk(index, documents)

    rig.pipeline.store = cast(Any, FlakyStore())
    stop = threading.Event()

    def sink(event: Event) -> None:
        rig.events.append(event)
        if isinstance(event, MetricsSampled) and rig.pipeline.ticks >= 2:
            stop.set()

    rig.pipeline.sink = sink
    rig.pipeline.context.sink = sink
    rig.clock.advance(10)
    rig.pipeline.run(stop, tick_wall_s=0.0)
    failed = [e for e in rig.events if isinstance(e, AgentSpoke) and e.level == "error"]
    assert len(failed) == 1 and "cannot reach the store" in failed[0].text
    assert rig.pipeline.ticks == 2


def test_an_agent_error_escalates_that_incident_only() -> None:
    rig = make_rig()

    class Broken(StubTactician):
        def plan(self, incident: Incident) -> Plan:
            raise RuntimeError("no options")

    rig.pipeline.crew.tactician = Broken()
    rig.cassandra.current = [make_anomaly()]
    rig.tick()
    incident = rig.incident("INC-0001")
    assert incident.state is IncidentState.ESCALATED
    assert "no options" in incident.history[-1].reason


def test_incidents_can_be_read_while_ticking() -> None:
    rig = make_rig()
    rig.cassandra.current = [make_anomaly()]
    seen: list[int] = []
    future: Future[None] = Future()

    def reader() -> None:
        for _ in range(50):
            seen.append(len(rig.pipeline.incidents()))
        future.set_result(None)

    thread = threading.Thread(target=reader)
    thread.start()
    rig.tick(3)
    thread.join()
    future.result(timeout=5)
    assert all(count in (0, 1) for count in seen)


def test_decision_timing_is_measured_per_incident() -> None:
    rig = make_rig()
    rig.cassandra.current = [make_anomaly()]
    rig.tick()
    timings = rig.pipeline.decision_timings()
    assert [t.incident_id for t in timings] == ["INC-0001"]
    assert timings[0].seconds >= 0


# ---- end to end, with the real six agents -----------------------------------------------


def test_a_leaking_deploy_is_found_rolled_back_and_audited(scenario_world: Any) -> None:
    world = scenario_world("leak-after-deploy", history="45m")
    events: list[Event] = []
    pipeline = Pipeline(
        store=world.store,
        source=world.simulation,
        executor=SimulatedExecutor(world.simulation),
        clock=world.clock,
        sink=_approving(events),
        topology=world.topology,
    )
    # Until every incident is closed (within 8 min): the rest of the 8 min adds nothing.
    pipeline.run_until(
        world.now + timedelta(minutes=8),
        step_s=30,
        stop_when=lambda running: (
            bool(running.incidents()) and all(i.state.terminal for i in running.incidents())
        ),
    )
    first = pipeline.incidents()[0]
    assert (first.service, first.region, first.kind) == (
        "payment-service",
        "us-east-1",
        AnomalyKind.MEMORY_LEAK,
    )
    assert first.state is IncidentState.RESOLVED
    assert first.plan is not None and first.plan.chosen.action is ActionKind.ROLLBACK
    assert first.hypothesis is not None and first.hypothesis.suspect_deploy is not None
    assert first.hypothesis.suspect_deploy.version == "2.4.0"
    assert world.simulation.group("payment-service", "us-east-1").version != "2.4.0"
    world.store.refresh()
    agents = world.store.esql(
        f'FROM qs-agent-decisions | WHERE incident_id == "{first.id}" | STATS n = COUNT(*) BY agent'
        " | SORT agent"
    )
    assert [row[1] for row in agents.values] == [
        "Archaeologist",
        "Diplomat",
        "Guardian",
        "Surgeon",
        "Tactician",
    ]
    # Cassandra decides before an incident exists, so her entries carry no incident id.
    detections = world.store.esql(
        'FROM qs-agent-decisions | WHERE agent == "Cassandra" | STATS n = COUNT(*)'
    )
    assert detections.values[0][0] >= 1


def _approving(events: list[Event]) -> Any:
    from qs_tui.agents.diplomat import approve_all
    from qs_tui.agents.events import ApprovalRequested

    def sink(event: Event) -> None:
        events.append(event)
        if isinstance(event, ApprovalRequested):
            approve_all(event)

    return sink


def test_a_cascade_is_fixed_at_its_root_and_its_symptoms_close_with_it(
    scenario_world: Any,
) -> None:
    world = scenario_world("cascade", history="40m")
    events: list[Event] = []
    pipeline = Pipeline(
        store=world.store,
        source=world.simulation,
        executor=SimulatedExecutor(world.simulation),
        clock=world.clock,
        sink=_approving(events),
        topology=world.topology,
    )
    pipeline.run_until(world.now + timedelta(minutes=9), step_s=30)
    incidents = pipeline.incidents()
    roots = [i for i in incidents if i.root_incident_id is None]
    assert [(i.service, i.region) for i in roots] == [("inventory-service", "us-east-1")]
    root = roots[0]
    assert root.state is IncidentState.RESOLVED
    assert root.execution is not None and root.execution.action is ActionKind.RESTART
    assert len(incidents) >= 2 and root.symptom_ids  # at least one linked symptom
    for symptom in incidents[1:]:
        assert symptom.root_incident_id == root.id and symptom.id in root.symptom_ids
        assert symptom.state is IncidentState.RESOLVED
        assert symptom.execution == root.execution  # fixed by the root's action, not its own
    executed = [e for e in events if isinstance(e, IncidentChanged) and e.state == "executing"]
    assert [e.incident.id for e in executed] == [root.id]
