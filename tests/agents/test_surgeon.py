"""The Surgeon: checked, verified, revertible workflows; dry runs; idempotent re-runs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from qs_tui.agents.base import AgentContext, PipelineSettings
from qs_tui.agents.events import AgentSpoke, Event
from qs_tui.agents.surgeon import Surgeon
from qs_tui.clock import ManualClock
from qs_tui.models import (
    ActionKind,
    AgentName,
    ApprovalDecision,
    ExecutionReport,
    RemediationOption,
    StepStatus,
)
from qs_tui.remediation import Details, SimulatedExecutor, WebhookExecutor
from qs_tui.store.embedded import EmbeddedStore
from qs_tui.store.templates import DECISIONS
from qs_tui.topology import Topology
from tests.agents.conftest import World, make_world
from tests.remediation.factories import make_approval, make_incident, make_option, make_plan
from tests.remediation.local_server import Reply, scripted_server

START = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


class CountingExecutor(SimulatedExecutor):
    """The simulated executor, counting the actions it really carries out."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.applied: list[tuple[str, str]] = []

    def apply(
        self, option: RemediationOption, *, incident_id: str = ""
    ) -> tuple[bool, str, Details]:
        self.applied.append((option.action.value, option.region))
        return super().apply(option, incident_id=incident_id)


class ScriptedExecutor:
    """An executor whose steps succeed or fail as told, recording every call in order."""

    name = "scripted"

    def __init__(
        self,
        *,
        fail_apply_on: int | None = None,
        fail_verify_on: int | None = None,
        fail_precheck_in: str | None = None,
        raise_on_apply: bool = False,
        revert_ok: bool = True,
    ) -> None:
        self.calls: list[str] = []
        self.fail_apply_on = fail_apply_on
        self.fail_verify_on = fail_verify_on
        self.fail_precheck_in = fail_precheck_in
        self.raise_on_apply = raise_on_apply
        self.revert_ok = revert_ok
        self._applies = 0
        self._verifies = 0

    def precheck(self, option: RemediationOption, *, incident_id: str = "") -> tuple[bool, str]:
        self.calls.append(f"precheck {option.region}")
        if option.region == self.fail_precheck_in:
            return False, f"{option.region} is frozen"
        return True, "looks fine"

    def already_done(self, option: RemediationOption, *, incident_id: str = "") -> str | None:
        return None

    def apply(
        self, option: RemediationOption, *, incident_id: str = ""
    ) -> tuple[bool, str, Details]:
        self._applies += 1
        self.calls.append(f"apply {option.region}")
        if self.raise_on_apply:
            raise ConnectionError("automation API went away")
        if self._applies == self.fail_apply_on:
            return False, "node pool exhausted", {}
        return True, f"done in {option.region}", {"n": self._applies}

    def verify(self, option: RemediationOption, details: Details) -> tuple[bool, str]:
        self._verifies += 1
        self.calls.append(f"verify {option.region}")
        if self._verifies == self.fail_verify_on:
            return False, "no new pods"
        return True, "confirmed"

    def revert(
        self, option: RemediationOption, details: Details, *, incident_id: str = ""
    ) -> tuple[bool, str]:
        self.calls.append(f"revert {option.region} {details['n']}")
        return self.revert_ok, "undone" if self.revert_ok else "cannot undo"


def _context(settings: PipelineSettings | None = None) -> tuple[AgentContext, list[Event]]:
    events: list[Event] = []
    clock = ManualClock(START)
    store = EmbeddedStore(now=clock.now)
    store.ensure_templates()
    context = AgentContext(
        store=store,
        clock=clock,
        sink=events.append,
        topology=Topology(),
        settings=settings or PipelineSettings(),
    )
    return context, events


def _decisions(context: AgentContext) -> list[str]:
    context.store.refresh()
    result = context.store.esql(
        f"FROM {DECISIONS} | WHERE agent == ?agent AND decision IS NOT NULL"
        " | SORT sequence | KEEP decision",
        params={"agent": AgentName.SURGEON.value},
    )
    # The audit records of calls to a real system are tested in test_surgeon_policy.py.
    return [row[0] for row in result.values if not str(row[0]).startswith("real_call_")]


def _statuses(report: ExecutionReport) -> list[tuple[str, StepStatus]]:
    return [(s.name, s.status) for s in report.steps]


@pytest.fixture(scope="module")
def deployed() -> World:
    """bad-deploy: payment-service 2.4.0 is live everywhere (a module-wide world, read-only)."""
    world = make_world("bad-deploy", history="5m")
    world.advance(11 * 60)
    return world


def _fresh_world() -> World:
    world = make_world("bad-deploy", history="5m")
    world.advance(11 * 60)
    return world


def test_a_rollback_on_the_simulated_cluster_is_checked_done_and_verified() -> None:
    world = _fresh_world()
    group = world.simulation.group("payment-service", "us-east-1")
    assert group.version == "2.4.0"
    previous = group.previous_version
    surgeon = Surgeon(world.context, executor=SimulatedExecutor(world.simulation))
    incident = make_incident(world.now)
    option = make_option(target_version=previous)

    report = surgeon.execute(incident, make_plan(option), make_approval(world.now))

    assert report.success
    assert not report.dry_run
    assert _statuses(report) == [
        ("pre-check payment-service/us-east-1", StepStatus.OK),
        ("rollback payment-service/us-east-1", StepStatus.OK),
        ("verify payment-service/us-east-1", StepStatus.OK),
    ]
    assert report.steps[1].detail == f"rolled back 2.4.0 -> {previous}"
    assert report.summary == (
        f"rollback of payment-service in us-east-1 (to {previous}) done and verified"
    )
    assert world.simulation.group("payment-service", "us-east-1").version == previous
    assert world.simulation.group("payment-service", "eu-west-1").version == "2.4.0"
    assert _decisions(world.context) == ["executed"]
    lines = [e.text for e in world.events if isinstance(e, AgentSpoke)]
    assert lines[0] == (
        f"executing: roll back payment-service in us-east-1 (to {previous}), "
        "approved by keyboard, via the simulated executor"
    )
    assert lines[1] == (
        f"rollback payment-service/us-east-1: rolled back 2.4.0 -> {previous}; "
        f"verified: payment-service in us-east-1 runs {previous}"
    )


def test_a_fleet_wide_rollback_goes_region_by_region() -> None:
    world = _fresh_world()
    surgeon = Surgeon(world.context, executor=SimulatedExecutor(world.simulation))

    report = surgeon.execute(
        make_incident(world.now), make_plan(make_option(region="all")), make_approval(world.now)
    )

    assert report.success
    assert report.summary == (
        "rollback of payment-service in every region done and verified in 3 of 3 regions"
    )
    assert [s.name for s in report.steps if s.name.startswith("rollback")] == [
        "rollback payment-service/us-east-1",
        "rollback payment-service/us-west-2",
        "rollback payment-service/eu-west-1",
    ]
    versions = {
        g["version"]
        for g in world.simulation.snapshot()["groups"]
        if g["service"] == "payment-service"
    }
    assert "2.4.0" not in versions
    assert not [f for f in world.simulation.active_faults() if f.service == "payment-service"]


def test_a_rerun_reports_already_rolled_back_without_acting_again() -> None:
    world = _fresh_world()
    executor = CountingExecutor(world.simulation)
    surgeon = Surgeon(world.context, executor=executor)
    incident = make_incident(world.now)
    plan = make_plan(make_option())
    surgeon.execute(incident, plan, make_approval(world.now))

    again = surgeon.execute(incident, plan, make_approval(world.now))
    fresh = Surgeon(world.context, executor=executor).execute(
        incident, plan, make_approval(world.now)
    )

    assert executor.applied == [("rollback", "us-east-1")]
    assert again.success
    assert again.steps[0].status is StepStatus.SKIPPED
    assert again.summary.startswith("already done at 2026-11-25T15:11:00Z: rollback of")
    assert fresh.success
    assert _statuses(fresh) == [
        ("pre-check payment-service/us-east-1", StepStatus.OK),
        ("rollback payment-service/us-east-1", StepStatus.SKIPPED),
    ]
    assert fresh.summary.startswith("already rolled back from 2.4.0 to ")
    assert fresh.summary.endswith("; nothing to do")


@pytest.mark.parametrize(
    ("decision", "settings"),
    [
        (ApprovalDecision.DRY_RUN, PipelineSettings()),
        (ApprovalDecision.APPROVED, PipelineSettings(dry_run=True)),
    ],
)
def test_a_dry_run_walks_the_steps_and_changes_nothing(
    deployed: World, decision: ApprovalDecision, settings: PipelineSettings
) -> None:
    context = AgentContext(
        store=deployed.store,
        clock=deployed.clock,
        sink=deployed.events.append,
        topology=deployed.topology,
        settings=settings,
    )
    executor = CountingExecutor(deployed.simulation)
    surgeon = Surgeon(context, executor=executor)

    report = surgeon.execute(
        make_incident(deployed.now),
        make_plan(make_option(region="all")),
        make_approval(deployed.now, decision),
    )

    assert report.success
    assert report.dry_run
    assert executor.applied == []
    assert deployed.simulation.group("payment-service", "us-west-2").version == "2.4.0"
    assert [s.status for s in report.steps].count(StepStatus.DRY_RUN) == 6
    by_name = {step.name: step for step in report.steps}
    assert by_name["rollback payment-service/us-east-1"].detail == (
        "would roll back payment-service in us-east-1"
    )
    assert report.summary.startswith("dry run: would roll back payment-service in us-east-1; ")
    assert report.summary.endswith("pre-checks passed; nothing changed")
    assert surgeon.undo(report).summary.endswith("a dry run changed nothing")


@pytest.mark.parametrize("decision", [ApprovalDecision.REJECTED, ApprovalDecision.TIMED_OUT])
def test_without_approval_nothing_is_executed(deployed: World, decision: ApprovalDecision) -> None:
    executor = CountingExecutor(deployed.simulation)
    surgeon = Surgeon(deployed.context, executor=executor)

    report = surgeon.execute(
        make_incident(deployed.now),
        make_plan(make_option()),
        make_approval(deployed.now, decision, by="timeout"),
    )

    assert not report.success
    assert executor.applied == []
    assert _statuses(report) == [("approval", StepStatus.SKIPPED)]
    assert report.summary == f"not approved ({decision.value} by timeout)"


def test_a_plan_for_another_incident_is_refused() -> None:
    context, _ = _context()
    executor = ScriptedExecutor()

    report = Surgeon(context, executor=executor).execute(
        make_incident(START, incident_id="inc-1"),
        make_plan(make_option(), incident_id="inc-2"),
        make_approval(START, incident_id="inc-1"),
    )

    assert not report.success
    assert executor.calls == []
    assert "not for incident inc-1" in report.summary


def test_a_step_failing_midway_reverts_the_completed_ones_in_reverse() -> None:
    context, events = _context()
    executor = ScriptedExecutor(fail_apply_on=3)
    surgeon = Surgeon(context, executor=executor)
    plan = make_plan(make_option(ActionKind.SCALE_OUT, region="all"))

    report = surgeon.execute(make_incident(START), plan, make_approval(START))

    assert executor.calls == [
        "precheck us-east-1",
        "precheck us-west-2",
        "precheck eu-west-1",
        "apply us-east-1",
        "verify us-east-1",
        "apply us-west-2",
        "verify us-west-2",
        "apply eu-west-1",
        "revert us-west-2 2",
        "revert us-east-1 1",
    ]
    assert not report.success
    assert report.rolled_back
    assert _statuses(report)[-3:] == [
        ("scale_out payment-service/eu-west-1", StepStatus.FAILED),
        ("revert scale_out payment-service/us-west-2", StepStatus.ROLLED_BACK),
        ("revert scale_out payment-service/us-east-1", StepStatus.ROLLED_BACK),
    ]
    assert report.summary == (
        "scale_out payment-service/eu-west-1 failed: node pool exhausted; "
        "2 completed step(s) reverted"
    )
    assert any(isinstance(e, AgentSpoke) and e.level == "error" for e in events)
    assert _decisions(context) == ["failed"]
    assert surgeon.undo(report).summary.endswith("already reverted what it could (see its steps)")
    assert executor.calls[-1] == "revert us-east-1 1"


def test_a_failure_skips_the_targets_not_reached() -> None:
    context, _ = _context()
    executor = ScriptedExecutor(fail_apply_on=1)

    report = Surgeon(context, executor=executor).execute(
        make_incident(START), make_plan(make_option(region="all")), make_approval(START)
    )

    assert executor.calls[-1] == "apply us-east-1"
    assert [s.status for s in report.steps[-2:]] == [StepStatus.SKIPPED, StepStatus.SKIPPED]
    assert report.summary.endswith("nothing had changed")
    assert not report.rolled_back


def test_a_change_that_does_not_take_effect_is_reverted_too() -> None:
    context, _ = _context()
    executor = ScriptedExecutor(fail_verify_on=2)

    report = Surgeon(context, executor=executor).execute(
        make_incident(START), make_plan(make_option(region="all")), make_approval(START)
    )

    assert executor.calls[-3:] == ["verify us-west-2", "revert us-west-2 2", "revert us-east-1 1"]
    assert not report.success
    assert report.rolled_back
    assert "did not take effect: no new pods" in report.summary


def test_a_failed_precheck_stops_before_anything_changes() -> None:
    context, _ = _context()
    executor = ScriptedExecutor(fail_precheck_in="us-west-2")

    report = Surgeon(context, executor=executor).execute(
        make_incident(START), make_plan(make_option(region="all")), make_approval(START)
    )

    assert executor.calls == ["precheck us-east-1", "precheck us-west-2"]
    assert not report.success
    assert report.summary == (
        "pre-check failed for payment-service/us-west-2: us-west-2 is frozen; nothing changed"
    )


def test_an_executor_that_raises_is_a_failed_step() -> None:
    context, _ = _context()

    report = Surgeon(context, executor=ScriptedExecutor(raise_on_apply=True)).execute(
        make_incident(START), make_plan(make_option()), make_approval(START)
    )

    assert not report.success
    assert report.steps[-1].status is StepStatus.FAILED
    assert report.steps[-1].detail == "action raised ConnectionError: automation API went away"


def test_a_revert_that_fails_is_reported_and_not_called_rolled_back() -> None:
    context, _ = _context()
    executor = ScriptedExecutor(fail_apply_on=2, revert_ok=False)

    report = Surgeon(context, executor=executor).execute(
        make_incident(START), make_plan(make_option(region="all")), make_approval(START)
    )

    assert not report.rolled_back
    assert report.steps[-1].status is StepStatus.FAILED
    assert report.summary.endswith("some completed steps could not be reverted")


def test_undo_reverts_a_completed_action() -> None:
    context, _ = _context()
    executor = ScriptedExecutor()
    surgeon = Surgeon(context, executor=executor)
    done = surgeon.execute(
        make_incident(START), make_plan(make_option(region="all")), make_approval(START)
    )

    undone = surgeon.undo(done)

    assert undone.success and undone.rolled_back
    assert executor.calls[-3:] == ["revert eu-west-1 3", "revert us-west-2 2", "revert us-east-1 1"]
    assert [s.status for s in undone.steps] == [StepStatus.ROLLED_BACK] * 3
    assert _decisions(context) == ["executed", "undone"]


def test_undo_on_the_simulator_says_which_actions_cannot_be_reverted() -> None:
    world = _fresh_world()
    surgeon = Surgeon(world.context, executor=SimulatedExecutor(world.simulation))
    restart = surgeon.execute(
        make_incident(world.now, incident_id="inc-r"),
        make_plan(make_option(ActionKind.RESTART), incident_id="inc-r"),
        make_approval(world.now, incident_id="inc-r"),
    )
    rollback = surgeon.execute(
        make_incident(world.now), make_plan(make_option()), make_approval(world.now)
    )

    undo_restart = surgeon.undo(restart)
    undo_rollback = surgeon.undo(rollback)

    assert undo_restart.success
    assert undo_restart.steps[0].detail == "nothing to undo after a restart"
    assert not undo_rollback.success
    assert not undo_rollback.rolled_back
    assert "not revertible" in undo_rollback.steps[0].detail
    assert undo_rollback.summary == (
        "could not fully undo the rollback of payment-service in us-east-1; "
        "left as it is for a human"
    )


def test_doing_nothing_is_a_successful_no_op() -> None:
    context, _ = _context()
    executor = ScriptedExecutor()

    report = Surgeon(context, executor=executor).execute(
        make_incident(START),
        make_plan(make_option(ActionKind.DO_NOTHING)),
        make_approval(START),
    )

    assert report.success
    assert executor.calls == []
    assert _statuses(report) == [("no action", StepStatus.OK)]


def test_the_webhook_executor_drives_a_real_endpoint() -> None:
    context, _ = _context()
    with scripted_server(
        Reply(200, {"ok": True, "message": "restart possible"}),
        Reply(200, {"ok": True, "message": "restarted 2 pods", "details": {"pods": 2}}),
    ) as server:
        surgeon = Surgeon(context, executor=WebhookExecutor(server.url, timeout_s=5))

        report = surgeon.execute(
            make_incident(START),
            make_plan(make_option(ActionKind.RESTART)),
            make_approval(START),
        )

    assert report.success
    assert [r.json()["dry_run"] for r in server.received] == [True, False]
    assert report.steps[1].detail == "restarted 2 pods"
    assert report.steps[2].detail == f"confirmed by {server.url}"
