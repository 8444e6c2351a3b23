"""The Archaeologist names the root cause of each scenario's fault and shows its evidence."""

from __future__ import annotations

import pytest

from qs_tui.agents.archaeologist import Archaeologist, confidence_from, deviations
from qs_tui.agents.events import AgentSpoke
from qs_tui.models import AnomalyKind, Evidence, Hypothesis
from qs_tui.queries import load_query
from qs_tui.store.templates import DECISIONS, INCIDENTS
from tests.agents.conftest import World
from tests.agents.scenario_facts import (
    make_anomaly,
    make_incident,
    minutes,
    shared_world_at_detection,
    world_at_detection,
)


def _investigate(world: World, **anomaly_options: object) -> Hypothesis:
    fault = world.simulation.faults()[0]
    anomaly = make_anomaly(fault, at=world.now, **anomaly_options)  # type: ignore[arg-type]
    return Archaeologist(world.context).investigate(make_incident(anomaly))


def _lines(world: World) -> list[str]:
    return [event.text for event in world.events if isinstance(event, AgentSpoke)]


@pytest.mark.parametrize(
    ("scenario", "history", "cause", "cause_kind", "service", "region"),
    [
        ("memory-leak", "45m", "memory_leak", "fault", "payment-service", "us-east-1"),
        ("leak-after-deploy", "1h", "deploy v2.4.0", "deploy", "payment-service", "us-east-1"),
        ("bad-deploy", "45m", "deploy v2.4.0", "deploy", "payment-service", "us-east-1"),
        ("error-spike", "45m", "error_spike", "fault", "auth-service", "eu-west-1"),
        (
            "latency-regression",
            "45m",
            "latency_regression",
            "fault",
            "inventory-service",
            "us-west-2",
        ),
        ("cpu-saturation", "45m", "cpu_saturation", "capacity", "api-gateway", "us-east-1"),
        ("disk-fill", "1h", "disk_fill", "fault", "inventory-service", "eu-west-1"),
        ("traffic-drop", "45m", "traffic_drop", "fault", "api-gateway", "us-west-2"),
        ("cascade", "45m", "cascade", "fault", "inventory-service", "us-east-1"),
        ("deploy-cascade", "45m", "deploy v3.9.0", "deploy", "inventory-service", "eu-west-1"),
    ],
)
def test_names_the_root_cause_of_each_fault_scenario(
    scenario: str, history: str, cause: str, cause_kind: str, service: str, region: str
) -> None:
    world = shared_world_at_detection(scenario, history=history)

    hypothesis = _investigate(world)

    assert hypothesis.cause == cause
    assert hypothesis.cause_kind == cause_kind
    assert (hypothesis.root_service, hypothesis.root_region) == (service, region)
    assert {item.kind for item in hypothesis.evidence} >= {"metric", "logs", "deploy"}
    assert 0.01 <= hypothesis.confidence <= 0.99


def test_a_bad_deploy_is_named_with_its_previous_version_and_explained() -> None:
    world, _ = world_at_detection("bad-deploy")

    hypothesis = _investigate(world)

    suspect = hypothesis.suspect_deploy
    assert suspect is not None
    assert (suspect.version, suspect.previous_version) == ("2.4.0", "2.3.7")
    assert suspect.author == "Jordan Reyes"
    deploy = next(item for item in hypothesis.evidence if item.kind == "deploy")
    # 2.4.0 went to every region and every region is sick: that strengthens the blame.
    assert set(deploy.data["also_unhealthy"]) == {"us-west-2", "eu-west-1"}
    lines = _lines(world)
    assert any(line.startswith("suspect: payment-service 2.4.0 (from 2.3.7)") for line in lines)
    assert any("E_UPSTREAM_5XX" in line for line in lines)


def test_logs_point_at_the_cache_in_a_cache_latency_regression() -> None:
    world = shared_world_at_detection("latency-regression")

    hypothesis = _investigate(world)

    logs = next(item for item in hypothesis.evidence if item.kind == "logs")
    assert logs.data["dominant"] == "cache"
    assert logs.data["rate_after_per_min"] > 5 * logs.data["rate_before_per_min"]
    assert logs.weight > 0


def test_logs_and_cpu_reveal_saturation_behind_a_latency_anomaly() -> None:
    world = shared_world_at_detection("cpu-saturation")
    fault = world.simulation.faults()[0]
    latency = make_anomaly(fault, at=world.now, kind=AnomalyKind.LATENCY_REGRESSION)

    hypothesis = Archaeologist(world.context).investigate(make_incident(latency))

    assert hypothesis.cause == "cpu_saturation"
    assert hypothesis.cause_kind == "capacity"
    underlying = next(item for item in hypothesis.evidence if "underlying" in item.data)
    assert underlying.data == {"underlying": "cpu_saturation", "signature": "saturation"}
    assert underlying.summary.startswith("the latency_regression comes from cpu_saturation")


def test_deviations_name_what_is_abnormal() -> None:
    healthy = {"base_errors": 0.004, "errors": 0.005, "latency_ratio": 1.1, "rps_change": -0.1}
    sick = {
        "base_errors": 0.004,
        "errors": 0.25,
        "latency_ratio": 2.0,
        "base_cpu": 40.0,
        "cpu": 95.0,
        "rps_change": -0.8,
    }

    assert deviations(healthy) == ()
    assert deviations(sick) == (
        "error rate 0.250 (baseline 0.004)",
        "latency x2.0",
        "cpu 95% (baseline 40%)",
        "traffic -80%",
    )


def test_a_deploy_long_before_onset_is_not_blamed() -> None:
    world, _ = world_at_detection("leak-after-deploy", history="1h")
    fault = world.simulation.faults()[0]

    # Same data, but the leak is said to start 25 minutes after the 2.4.0 deploy.
    late = fault.start + minutes(25)
    hypothesis = _investigate(world, onset=late)

    assert hypothesis.cause == "memory_leak"
    assert hypothesis.suspect_deploy is None
    deploy = next(item for item in hypothesis.evidence if item.kind == "deploy")
    # Acquitted, the deploy still leaves some doubt about the fault hypothesis.
    assert deploy.weight < 0
    assert deploy.data["minutes_before_onset"] == 25.0
    assert "too weakly tied to the onset to blame" in deploy.summary


def test_a_symptom_points_at_the_upstream_root() -> None:
    world, fault = world_at_detection("cascade")
    symptom = make_anomaly(
        fault,
        at=world.now,
        service="payment-service",
        onset=fault.start + minutes(3),
        symptom_of=("inventory-service", "us-east-1", "error_spike"),
    )

    hypothesis = Archaeologist(world.context).investigate(
        make_incident(symptom, incident_id="inc-2", root_incident_id="inc-1")
    )

    assert (hypothesis.root_service, hypothesis.root_region) == ("inventory-service", "us-east-1")
    assert hypothesis.cause_kind == "dependency"
    assert hypothesis.cause == "cascade"
    assert any(item.kind == "topology" and item.weight > 0 for item in hypothesis.evidence)


def test_time_travel_finds_the_upstream_service_failing_at_onset() -> None:
    world, fault = world_at_detection("cascade")
    # No link from detection: the state at onset alone must reveal the upstream failure.
    symptom = make_anomaly(
        fault,
        at=world.now,
        service="payment-service",
        onset=fault.start + minutes(4),
    )

    hypothesis = Archaeologist(world.context).investigate(make_incident(symptom))

    assert hypothesis.root_service == "inventory-service"
    topology = next(item for item in hypothesis.evidence if item.kind == "topology")
    assert topology.query == "investigate_service_health"
    assert "already failing at onset" in topology.summary


def test_state_at_onset_says_the_rest_of_the_estate_was_healthy() -> None:
    world = shared_world_at_detection("error-spike")

    hypothesis = _investigate(world)

    state = next(item for item in hypothesis.evidence if item.kind == "state_at_onset")
    assert state.data["unhealthy"] == []
    assert "the other 11 service/regions were healthy" in state.summary


def test_stronger_detection_gives_higher_confidence() -> None:
    world = shared_world_at_detection("error-spike")

    weak = _investigate(world, confidence=0.3)
    strong = _investigate(world, confidence=0.95)

    assert strong.confidence > weak.confidence


def test_more_evidence_gives_higher_confidence() -> None:
    base = [Evidence(kind="metric", summary="m", weight=0.3)]
    more = [*base, Evidence(kind="logs", summary="l", weight=0.2)]
    stronger = [*base, Evidence(kind="logs", summary="l", weight=0.4)]
    against = [*base, Evidence(kind="deploy", summary="d", weight=-0.2)]

    assert confidence_from(against) < confidence_from(base) < confidence_from(more)
    assert confidence_from(more) < confidence_from(stronger)


def test_a_past_similar_incident_raises_confidence() -> None:
    world, _ = world_at_detection("memory-leak")
    before = _investigate(world)
    world.store.index(
        INCIDENTS,
        {
            "@timestamp": "2026-11-20T10:00:00.000Z",
            "incident_id": "inc-past-7",
            "service": "payment-service",
            "region": "us-east-1",
            "kind": "memory_leak",
            "state": "resolved",
            "title": "memory leak on payment-service in us-east-1",
            "summary": "memory_percent climbed towards OOM on payment-service",
            "root_cause": "memory_leak",
            "action": "restart",
            "mttr_s": 150.0,
        },
    )
    world.store.refresh()

    after = _investigate(world)

    assert before.similar_incidents == []
    assert after.similar_incidents == ["inc-past-7"]
    assert after.confidence > before.confidence
    similar = next(item for item in after.evidence if item.kind == "similar_incident")
    assert similar.data["action"] == "restart"
    assert "resolved by restart in 2.5 min" in similar.summary


def test_the_hypothesis_goes_to_the_audit_trail() -> None:
    world, _ = world_at_detection("traffic-drop")

    hypothesis = _investigate(world)

    world.store.refresh()
    rows = world.store.esql(
        f'FROM {DECISIONS} | WHERE agent == "Archaeologist" AND decision IS NOT NULL'
        " | KEEP decision, confidence"
    ).values
    assert rows == [["hypothesis", hypothesis.confidence]]


@pytest.mark.parametrize(
    "name",
    [
        "investigate_error_logs",
        "investigate_deploys",
        "investigate_similar_incidents",
        "investigate_service_health",
    ],
)
def test_each_query_file_documents_its_parameters(name: str) -> None:
    query = load_query(name)

    assert query.params
    for param in query.params:
        assert f"?{param}" in query.description
