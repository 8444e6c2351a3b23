"""Approvals in the pipeline: a dry run comes back for a real answer, late answers time out,
and leaving closes what waits for a human, with a record."""

from __future__ import annotations

from qs_tui.agents.diplomat import Diplomat, PendingApproval, answer_approval
from qs_tui.agents.events import ApprovalRequested
from qs_tui.models import ApprovalDecision, IncidentState
from qs_tui.store.templates import DECISIONS, INCIDENTS
from tests.agents.test_diplomat import FakeMonotonic
from tests.agents.test_pipeline import Rig, make_anomaly, make_rig


def with_real_diplomat() -> tuple[Rig, FakeMonotonic]:
    """The stub crew, but the real Diplomat on a hand-moved wall clock (timeout 120 s)."""
    rig = make_rig(approval_timeout_s=120)
    monotonic = FakeMonotonic()
    rig.pipeline.crew.diplomat = Diplomat(rig.pipeline.context, monotonic=monotonic)
    rig.cassandra.current = [make_anomaly()]
    rig.tick()
    return rig, monotonic


def requests(rig: Rig) -> list[ApprovalRequested]:
    return [e for e in rig.events if isinstance(e, ApprovalRequested)]


def recorded_states(rig: Rig) -> dict[str, str]:
    rig.store.refresh()
    result = rig.store.esql(f"FROM {INCIDENTS} | KEEP incident_id, state")
    return {row[0]: row[1] for row in result.values}


def diplomat_decisions(rig: Rig) -> list[str]:
    rig.store.refresh()
    result = rig.store.esql(
        f'FROM {DECISIONS} | WHERE agent == "Diplomat" AND decision IS NOT NULL'
        " | SORT sequence | KEEP decision"
    )
    return [row[0] for row in result.values]


def test_after_a_dry_run_the_plan_comes_back_with_its_findings_and_a_yes_executes() -> None:
    rig, _ = with_real_diplomat()
    (first,) = requests(rig)
    assert answer_approval(first.future, ApprovalDecision.DRY_RUN, by="keyboard")

    rig.tick()

    incident = rig.incident("INC-0001")
    assert incident.state is IncidentState.AWAITING_APPROVAL  # not escalated: asked again
    second = requests(rig)[-1]
    assert second is not first
    assert second.dry_run is not None and second.dry_run.dry_run
    assert second.dry_run == incident.execution
    assert rig.surgeon.executed == ["INC-0001"]  # the dry run only

    assert answer_approval(second.future, ApprovalDecision.APPROVED, by="keyboard")
    rig.tick()

    assert rig.changes("INC-0001")[-4:] == [
        "executing",
        "awaiting_approval",
        "executing",
        "verifying",
    ]
    executed = rig.incident("INC-0001").execution
    assert executed is not None and not executed.dry_run
    assert diplomat_decisions(rig) == [
        "approval_requested",
        "dry_run",
        "approval_requested",
        "approved",
    ]


def test_after_a_dry_run_a_no_executes_nothing() -> None:
    rig, _ = with_real_diplomat()
    answer_approval(requests(rig)[0].future, ApprovalDecision.DRY_RUN, by="keyboard")
    rig.tick()
    answer_approval(requests(rig)[-1].future, ApprovalDecision.REJECTED, by="keyboard")
    rig.tick()

    assert rig.incident("INC-0001").state is IncidentState.REJECTED
    assert rig.surgeon.executed == ["INC-0001"]  # the dry run only


def test_an_answer_after_the_deadline_is_not_executed_even_before_the_next_tick() -> None:
    rig, monotonic = with_real_diplomat()
    monotonic.value += 121  # the deadline passed while the pipeline was between ticks

    assert not answer_approval(requests(rig)[0].future, ApprovalDecision.APPROVED, by="keyboard")
    rig.tick()

    incident = rig.incident("INC-0001")
    assert incident.state is IncidentState.REJECTED
    assert incident.approval is not None
    assert incident.approval.decision is ApprovalDecision.TIMED_OUT
    assert rig.surgeon.executed == []


def test_leaving_during_the_countdown_rejects_and_records_the_incident() -> None:
    rig, _ = with_real_diplomat()

    closed = rig.pipeline.leave(by="operator left", reason="the war room closed")

    assert [i.id for i in closed] == ["INC-0001"]
    incident = rig.incident("INC-0001")
    assert incident.state is IncidentState.REJECTED
    assert incident.approval is not None
    assert incident.approval.by == "operator left"
    assert incident.history[-1].reason == (
        "plan rejected by operator left (the war room closed); nothing executed"
    )
    assert recorded_states(rig) == {"INC-0001": "rejected"}
    assert diplomat_decisions(rig) == ["approval_requested", "rejected"]
    assert rig.surgeon.executed == []


def test_yes_then_leaving_keeps_the_yes_on_record_but_executes_nothing() -> None:
    rig, _ = with_real_diplomat()
    pending = rig.pipeline._tracked["INC-0001"].pending
    assert isinstance(pending, PendingApproval)
    assert answer_approval(pending.future, ApprovalDecision.APPROVED, by="keyboard")

    rig.pipeline.leave(by="operator left", reason="the war room closed")

    incident = rig.incident("INC-0001")
    assert incident.state is IncidentState.ESCALATED
    assert incident.approval is not None and incident.approval.approved
    assert incident.approval.by == "keyboard"
    assert "approved by keyboard, but the war room closed before it ran" in (
        incident.history[-1].reason
    )
    assert recorded_states(rig) == {"INC-0001": "escalated"}
    assert diplomat_decisions(rig) == ["approval_requested", "approved"]
    assert rig.surgeon.executed == []


def test_leaving_with_nothing_waiting_closes_nothing() -> None:
    rig = make_rig()
    assert rig.pipeline.leave() == []
