"""Actions that do not cause the next incident: the Tactician's load forecast, the scale-out it
pairs with a failover, and linking an incident to the action that caused it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from qs_tui.agents.base import AgentContext
from qs_tui.agents.events import ApprovalRequested, Event
from qs_tui.agents.pipeline import Pipeline, default_crew
from qs_tui.agents.tactician import RegionCapacity, Tactician, forecast_load
from qs_tui.bench.scoring import (
    EXIT_OK,
    EXIT_UNRESOLVED,
    caused_by_own_actions,
    exit_status,
    false_incidents,
    match_expected,
)
from qs_tui.models import ActionKind, AnomalyKind, IncidentState
from qs_tui.remediation.simulated import SimulatedExecutor

# ---- the forecast, with numbers ---------------------------------------------------------


def test_a_region_at_45_percent_taking_as_much_again_goes_to_90_percent() -> None:
    now = RegionCapacity(hosts=2, rps_per_host=200.0, cpu=45.0, latency_ms=60.0)
    forecast = forecast_load("api-gateway", "eu-central-1", now, 400.0, max_added_hosts=0)
    assert forecast.rps_before == 400.0
    assert forecast.rps_after == 800.0
    assert forecast.cpu_after_alone == 90.0
    assert forecast.cpu_after == 90.0
    assert forecast.added_hosts == 0
    assert not forecast.within_capacity
    # M/M/1: 60 ms x (1 - 0.45) / (1 - 0.90) = 330 ms.
    assert forecast.latency_after_ms == pytest.approx(330.0)
    assert forecast.summary.startswith("eu-central-1 goes from 45% to ~90% CPU (400 -> ~800")
    assert "over the 75% ceiling" in forecast.summary


def test_the_forecast_adds_the_fewest_hosts_that_bring_the_region_under_the_ceiling() -> None:
    now = RegionCapacity(hosts=2, rps_per_host=200.0, cpu=45.0)
    forecast = forecast_load("api-gateway", "eu-central-1", now, 400.0)
    # 3 hosts: 800 / 3 = 267 req/s each, 45% x 267 / 200 = 60%; 2 would be 90%.
    assert forecast.added_hosts == 1
    assert forecast.cpu_after == 60.0
    assert forecast.cpu_after_alone == 90.0
    assert forecast.within_capacity
    assert "with 1 more host first: ~60%" in forecast.summary


def test_a_quiet_region_takes_the_traffic_without_help() -> None:
    now = RegionCapacity(hosts=2, rps_per_host=70.0, cpu=20.0, latency_ms=48.0)
    forecast = forecast_load("api-gateway", "eu-central-1", now, 140.0)
    assert forecast.added_hosts == 0
    assert forecast.cpu_after == 40.0
    assert forecast.within_capacity
    assert forecast.latency_after_ms == pytest.approx(48.0 * 0.8 / 0.6)


def test_when_scaling_out_cannot_make_room_the_forecast_says_so() -> None:
    now = RegionCapacity(hosts=1, rps_per_host=200.0, cpu=70.0)
    forecast = forecast_load("api-gateway", "eu-central-1", now, 2000.0, max_added_hosts=4)
    # 2200 req/s over 5 hosts: 440 each, 70% x 2.2 = 154%, shown capped at 100%.
    assert forecast.added_hosts == 4
    assert forecast.cpu_after == 100.0
    assert not forecast.within_capacity


# ---- the Tactician on the two-region scenarios ------------------------------------------


def _approving(events: list[Event]) -> Any:
    from qs_tui.agents.diplomat import approve_all

    def sink(event: Event) -> None:
        events.append(event)
        if isinstance(event, ApprovalRequested):
            approve_all(event)

    return sink


def _pipeline(world: Any, events: list[Event], *, ceiling: float | None = None) -> Pipeline:
    def crew(context: AgentContext) -> Any:
        built = default_crew(context, executor=SimulatedExecutor(world.simulation))
        if ceiling is not None:
            built.tactician = Tactician(context, capacity_ceiling=ceiling)
        return built

    return Pipeline(
        store=world.store,
        source=world.simulation,
        clock=world.clock,
        sink=_approving(events),
        topology=world.topology,
        crew=crew,
    )


def test_at_the_peak_failover_is_paired_with_a_scale_out_and_causes_nothing(
    scenario_world: Any,
) -> None:
    world = scenario_world("failover-no-headroom", history="35m")
    events: list[Event] = []
    pipeline = _pipeline(world, events)
    pipeline.run_until(world.now + timedelta(minutes=8), step_s=30)
    incidents = pipeline.incidents()
    assert [(i.kind, i.service, i.region) for i in incidents] == [
        (AnomalyKind.ERROR_SPIKE, "api-gateway", "eu-north-1")
    ]
    first = incidents[0]
    assert first.state is IncidentState.RESOLVED
    assert first.plan is not None
    chosen = first.plan.chosen
    assert chosen.action is ActionKind.FAILOVER
    assert [(p.action, p.region) for p in chosen.prepare] == [
        (ActionKind.SCALE_OUT, "eu-central-1")
    ]
    [forecast] = chosen.forecast
    assert forecast.region == "eu-central-1"
    assert forecast.cpu_after_alone > 85.0  # alone, the move would saturate the region
    assert forecast.within_capacity and forecast.added_hosts == 1
    assert len(world.simulation.group("api-gateway", "eu-central-1").hosts) == 3
    assert first.execution is not None
    assert [s.name for s in first.execution.steps if s.status.value == "ok"] == [
        "pre-check api-gateway/eu-central-1",
        "pre-check api-gateway/eu-north-1",
        "scale_out api-gateway/eu-central-1",
        "verify api-gateway/eu-central-1",
        "failover api-gateway/eu-north-1",
        "verify api-gateway/eu-north-1",
    ]
    assert first.execution.summary.endswith("after scale_out api-gateway/eu-central-1")
    assert not first.consequence_ids
    matches = match_expected(world.scenario, incidents, world.topology)
    assert caused_by_own_actions(incidents) == []
    assert exit_status(incidents, matches) == (
        EXIT_OK,
        "every incident resolved or correctly left alone",
    )


def test_an_incident_our_failover_causes_is_linked_to_it(scenario_world: Any) -> None:
    # No capacity ceiling: the Tactician fails over alone, as it did before forecasting.
    world = scenario_world("failover-no-headroom", history="35m")
    events: list[Event] = []
    pipeline = _pipeline(world, events, ceiling=100.0)
    pipeline.run_until(world.now + timedelta(minutes=3), step_s=30)
    incidents = {i.id: i for i in pipeline.incidents()}
    first = incidents["INC-0001"]
    assert first.plan is not None and not first.plan.chosen.prepare
    caused = [i for i in incidents.values() if i.caused_by is not None]
    assert caused, "the saturated receiving region raised no incident"
    consequence = caused[0]
    assert consequence.region == "eu-central-1" and consequence.service == "api-gateway"
    assert consequence.caused_by is not None
    assert consequence.caused_by.incident_id == "INC-0001"
    assert consequence.caused_by.action is ActionKind.FAILOVER
    assert consequence.caused_by.region == "eu-north-1"
    assert consequence.id in first.consequence_ids
    assert first.verification is not None
    assert f"but the action caused {consequence.id}" in first.verification.summary
    # Scored as a failure of its own, not as a new, independent (false) incident.
    everything = pipeline.incidents()
    matches = match_expected(world.scenario, everything, world.topology)
    assert [i.id for i in caused_by_own_actions(everything)] == [consequence.id]
    assert consequence.id not in [i.id for i in false_incidents(everything, matches)]
    status, why = exit_status(everything, matches)
    assert status == EXIT_UNRESOLVED
    assert why.startswith(f"incidents caused by our own actions: {consequence.id} ")
    assert "caused by INC-0001's failover" in why


def test_when_no_scale_out_makes_room_a_human_decides_with_the_forecast(
    scenario_world: Any,
) -> None:
    # A 30% ceiling: eu-central-1 at ~47% cannot take eu-north-1's traffic even with four
    # more hosts, so no auto-approval may carry the failover out.
    world = scenario_world("failover-no-headroom", history="35m")
    events: list[Event] = []
    pipeline = _pipeline(world, events, ceiling=30.0)
    pipeline.run_until(world.now + timedelta(minutes=3), step_s=30)
    plan = pipeline.incidents()[0].plan
    assert plan is not None
    assert plan.chosen.action is ActionKind.FAILOVER
    [forecast] = plan.chosen.forecast
    assert forecast.added_hosts == 4 and not forecast.within_capacity
    assert plan.requires_approval
    assert "would overload the estate even after scaling out" in plan.approval_reason
    assert f"eu-central-1 goes from {forecast.cpu_before:.0f}% to" in plan.approval_reason
    assert "over capacity" in plan.chosen.rationale
