"""The Tactician picks the remediation that really fixes each scenario's fault."""

from __future__ import annotations

import pytest

from qs_tui.agents.archaeologist import Archaeologist
from qs_tui.agents.base import PipelineSettings
from qs_tui.agents.events import AgentSpoke
from qs_tui.agents.tactician import Tactician
from qs_tui.models import ActionKind, Incident, Plan
from qs_tui.sim.cluster import Simulation
from qs_tui.store.templates import INCIDENTS
from tests.agents.conftest import World
from tests.agents.scenario_facts import (
    make_anomaly,
    make_incident,
    minutes,
    shared_world_at_detection,
    world_at_detection,
)


def _investigated(
    world: World, *, time_to_critical_s: float | None = None, **incident: object
) -> Incident:
    fault = world.simulation.faults()[0]
    anomaly = make_anomaly(fault, at=world.now, time_to_critical_s=time_to_critical_s)
    opened = make_incident(anomaly, **incident)  # type: ignore[arg-type]
    hypothesis = Archaeologist(world.context).investigate(opened)
    return opened.model_copy(update={"hypothesis": hypothesis})


def _plan(world: World, **options: object) -> Plan:
    return Tactician(world.context).plan(_investigated(world, **options))  # type: ignore[arg-type]


def _apply(simulation: Simulation, plan: Plan) -> set[str]:
    """Carry the chosen action out on the simulated cluster; the faults it removed."""
    chosen = plan.chosen
    result = simulation.apply_action(chosen.action.value, chosen.service, chosen.region)
    assert result.ok, result.message
    return set(result.removed_faults)


@pytest.mark.parametrize(
    ("scenario", "history"),
    [
        ("memory-leak", "45m"),
        ("leak-after-deploy", "1h"),
        ("bad-deploy", "45m"),
        ("error-spike", "45m"),
        ("latency-regression", "45m"),
        ("cpu-saturation", "45m"),
        ("disk-fill", "1h"),
        ("traffic-drop", "45m"),
        ("cascade", "45m"),
        ("deploy-cascade", "45m"),
    ],
)
def test_picks_an_expected_action_for_each_fault_scenario(scenario: str, history: str) -> None:
    world = shared_world_at_detection(scenario, history=history)

    plan = _plan(world)

    expected = world.scenario.expected.incidents[0]
    assert plan.chosen.action.value in expected.actions
    assert plan.chosen.service == expected.service
    assert plan.chosen == max(plan.options, key=lambda option: option.score)
    assert {option.action for option in plan.options} == set(ActionKind)
    assert plan.requires_approval  # default policy: every production change asks a human


@pytest.mark.parametrize(
    ("scenario", "history"),
    [("memory-leak", "45m"), ("leak-after-deploy", "1h"), ("disk-fill", "1h"), ("cascade", "45m")],
)
def test_the_chosen_action_removes_the_simulated_fault(scenario: str, history: str) -> None:
    world, fault = world_at_detection(scenario, history=history)

    removed = _apply(world.simulation, _plan(world))

    assert fault.fault_id in removed


def test_a_bad_deploy_rolls_back_to_the_previous_version() -> None:
    world, _ = world_at_detection("bad-deploy")

    plan = _plan(world)

    assert plan.chosen.action is ActionKind.ROLLBACK
    assert plan.chosen.target_version == "2.3.7"
    assert "2.4.0" in plan.chosen.rationale
    by_action = {option.action: option for option in plan.options}
    assert by_action[ActionKind.RESTART].score < plan.chosen.score
    # 2.4.0 broke every region: there is nowhere healthy to fail over to.
    assert "no healthy region" in by_action[ActionKind.FAILOVER].rationale


def test_options_carry_recovery_risk_and_blast_radius_from_the_topology() -> None:
    world = shared_world_at_detection("cpu-saturation")

    plan = _plan(world)

    by_action = {option.action: option for option in plan.options}
    scale_out = by_action[ActionKind.SCALE_OUT]
    failover = by_action[ActionKind.FAILOVER]
    assert plan.chosen is not None and plan.chosen.action is ActionKind.SCALE_OUT
    assert scale_out.blast_radius_hosts == 0
    assert by_action[ActionKind.RESTART].blast_radius_hosts == world.topology.hosts_per_region
    restart_radius = by_action[ActionKind.RESTART].blast_radius
    assert restart_radius.startswith("2 hosts of api-gateway in us-east-1, restarted one at a time")
    assert " req/s)" in restart_radius  # the traffic it serves, from the health query
    assert failover.risk > scale_out.risk
    assert all(option.expected_recovery_s > 0 for option in plan.options)


def test_the_inaction_forecast_uses_time_to_critical() -> None:
    world, _ = world_at_detection("memory-leak")

    plan = _plan(world, time_to_critical_s=74 * 60.0)

    assert plan.time_to_critical_s == 74 * 60.0
    assert "reaches 100 in ~74 min: the process is OOM-killed" in plan.inaction_forecast
    lines = [e.text for e in world.events if isinstance(e, AgentSpoke) and e.agent == "Tactician"]
    assert lines[0] == f"if nothing is done: {plan.inaction_forecast}"


def test_less_time_to_critical_makes_doing_nothing_worse() -> None:
    world = shared_world_at_detection("memory-leak")

    relaxed = _plan(world, time_to_critical_s=3 * 3600.0)
    urgent = _plan(world, time_to_critical_s=300.0)

    def nothing(plan: Plan) -> float:
        return next(o.score for o in plan.options if o.action is ActionKind.DO_NOTHING)

    assert nothing(urgent) < nothing(relaxed)


def test_low_risk_auto_approval_only_when_enabled() -> None:
    enabled = PipelineSettings(auto_approve_low_risk=True, low_risk_threshold=0.2)
    world, _ = world_at_detection("cpu-saturation")
    world.context.settings = enabled

    plan = _plan(world)

    assert plan.chosen.action is ActionKind.SCALE_OUT
    assert plan.chosen.risk <= 0.2
    assert not plan.requires_approval
    assert "auto-approved by policy" in plan.approval_reason


def test_risky_plans_still_ask_when_auto_approval_is_enabled() -> None:
    world, _ = world_at_detection("bad-deploy")
    world.context.settings = PipelineSettings(auto_approve_low_risk=True, low_risk_threshold=0.1)

    plan = _plan(world)

    assert plan.chosen.action is ActionKind.ROLLBACK
    assert plan.requires_approval
    assert "above the low-risk threshold 0.10" in plan.approval_reason


def test_a_symptom_with_a_root_incident_waits_for_it() -> None:
    world, fault = world_at_detection("cascade")
    symptom = make_anomaly(
        fault,
        at=world.now,
        service="payment-service",
        onset=fault.start + minutes(3),
        symptom_of=("inventory-service", "us-east-1", "error_spike"),
    )
    incident = make_incident(symptom, incident_id="inc-2", root_incident_id="inc-1")
    hypothesis = Archaeologist(world.context).investigate(incident)

    plan = Tactician(world.context).plan(incident.model_copy(update={"hypothesis": hypothesis}))

    assert plan.chosen.action is ActionKind.DO_NOTHING
    assert (plan.chosen.service, plan.chosen.region) == ("payment-service", "us-east-1")
    assert not plan.requires_approval
    assert "nothing in production changes" in plan.approval_reason


def test_a_past_fix_raises_that_actions_score() -> None:
    world, _ = world_at_detection("error-spike")
    before = _plan(world)
    world.store.index(
        INCIDENTS,
        {
            "@timestamp": "2026-11-20T10:00:00.000Z",
            "incident_id": "inc-past-3",
            "service": "auth-service",
            "region": "eu-west-1",
            "kind": "error_spike",
            "state": "resolved",
            "title": "error spike on auth-service in eu-west-1",
            "summary": "error_rate spiked with upstream 5xx",
            "root_cause": "error_spike",
            "action": "restart",
            "mttr_s": 200.0,
        },
    )
    world.store.refresh()

    after = _plan(world)

    def restart(plan: Plan) -> float:
        return next(o.score for o in plan.options if o.action is ActionKind.RESTART)

    assert restart(after) > restart(before)
    assert "it fixed inc-past-3 before" in next(
        o.rationale for o in after.options if o.action is ActionKind.RESTART
    )


def test_planning_needs_a_hypothesis() -> None:
    world, fault = world_at_detection("error-spike")
    incident = make_incident(make_anomaly(fault, at=world.now))

    with pytest.raises(ValueError, match="no hypothesis"):
        Tactician(world.context).plan(incident)
