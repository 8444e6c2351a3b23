"""SimulatedExecutor: pre-checks, actions, read-back verification and revert on the simulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from qs_tui.clock import ManualClock
from qs_tui.models import ActionKind
from qs_tui.remediation import SimulatedExecutor
from qs_tui.sim.cluster import MAX_HOSTS_PER_REGION, Simulation
from qs_tui.sim.faults import FaultKind, FaultParams, FaultSpec
from qs_tui.topology import Topology
from tests.remediation.factories import make_option

START = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
TOPOLOGY = Topology(
    services=("api-gateway", "payment-service"),
    regions=("us-east-1", "eu-west-1"),
    hosts_per_region=2,
)


def _simulation(*, bad_deploy: bool = True) -> tuple[Simulation, ManualClock]:
    clock = ManualClock(START)
    faults = (
        [
            FaultSpec(
                kind=FaultKind.BAD_DEPLOY,
                service="payment-service",
                region="us-east-1",
                start="+1m",
                params=FaultParams(
                    introduces=FaultKind.ERROR_SPIKE, magnitude=0.2, version="2.4.0"
                ),
            )
        ]
        if bad_deploy
        else []
    )
    simulation = Simulation(
        clock=clock, topology=TOPOLOGY, seed=3, faults=faults, healthy_deploys=False
    )
    clock.advance(180)
    simulation.generate(clock.now())
    return simulation, clock


def test_rollback_goes_back_to_the_previous_version_and_is_verified() -> None:
    simulation, _ = _simulation()
    executor = SimulatedExecutor(simulation)
    previous = simulation.group("payment-service", "us-east-1").previous_version
    option = make_option(ActionKind.ROLLBACK, target_version=previous)

    checked, check_message = executor.precheck(option)
    ok, message, details = executor.apply(option)
    verified, verify_message = executor.verify(option, details)

    assert checked, check_message
    assert "2.4.0 is live" in check_message
    assert ok
    assert message == f"rolled back 2.4.0 -> {previous}"
    assert details["changed"] is True
    assert verified
    assert simulation.group("payment-service", "us-east-1").version == previous
    assert verify_message == f"payment-service in us-east-1 runs {previous}"
    assert not [f for f in simulation.active_faults() if f.service == "payment-service"]


def test_a_completed_rollback_is_already_done() -> None:
    simulation, _ = _simulation()
    executor = SimulatedExecutor(simulation)
    option = make_option(ActionKind.ROLLBACK)
    assert executor.already_done(option) is None
    executor.apply(option)

    previous = simulation.group("payment-service", "us-east-1").version

    assert executor.already_done(option) == f"already rolled back from 2.4.0 to {previous}"


def test_rollback_precheck_refuses_without_a_previous_version() -> None:
    simulation, _ = _simulation(bad_deploy=False)
    executor = SimulatedExecutor(simulation)

    ok, message = executor.precheck(make_option(ActionKind.ROLLBACK))

    assert not ok
    assert message.startswith("nothing to roll back")


def test_rollback_precheck_refuses_a_different_target_version() -> None:
    simulation, _ = _simulation()
    executor = SimulatedExecutor(simulation)

    ok, message = executor.precheck(make_option(ActionKind.ROLLBACK, target_version="1.0.0"))

    assert not ok
    assert "rolls back to 1.0.0 but the previous version" in message


def test_precheck_names_an_unknown_target() -> None:
    simulation, _ = _simulation()
    executor = SimulatedExecutor(simulation)

    ok, message = executor.precheck(make_option(ActionKind.RESTART, region="ap-south-1"))

    assert not ok
    assert message == "no payment-service in ap-south-1 on the simulated cluster"


def test_restart_is_verified_on_every_host_and_reverts_trivially() -> None:
    simulation, _ = _simulation()
    executor = SimulatedExecutor(simulation)
    option = make_option(ActionKind.RESTART)

    ok, _, details = executor.apply(option)
    verified, message = executor.verify(option, details)
    reverted, revert_message = executor.revert(option, details)

    assert ok and verified
    assert message == "all 2 hosts restarted"
    assert details["hosts"] == [
        "payment-service-use1-a",
        "payment-service-use1-b",
    ]
    assert reverted
    assert revert_message == "nothing to undo after a restart"


def test_scale_out_adds_a_host_and_is_not_revertible() -> None:
    simulation, _ = _simulation()
    executor = SimulatedExecutor(simulation)
    option = make_option(ActionKind.SCALE_OUT, service="api-gateway")

    ok, _, details = executor.apply(option)
    verified, message = executor.verify(option, details)
    reverted, revert_message = executor.revert(option, details)

    assert ok and verified
    assert message == "api-gateway-use1-c is serving (3 hosts)"
    assert not reverted
    assert "not revertible" in revert_message
    assert len(simulation.group("api-gateway", "us-east-1").hosts) == 3


def test_scale_out_precheck_refuses_at_the_host_limit() -> None:
    simulation, _ = _simulation()
    executor = SimulatedExecutor(simulation)
    option = make_option(ActionKind.SCALE_OUT, service="api-gateway")
    for _ in range(MAX_HOSTS_PER_REGION - TOPOLOGY.hosts_per_region):
        executor.apply(option)

    ok, message = executor.precheck(option)

    assert not ok
    assert message == f"already at the maximum of {MAX_HOSTS_PER_REGION} hosts"


def test_failover_drains_the_region_then_counts_as_done() -> None:
    simulation, _ = _simulation()
    executor = SimulatedExecutor(simulation)
    option = make_option(ActionKind.FAILOVER)

    checked, check_message = executor.precheck(option)
    ok, _, details = executor.apply(option)
    verified, message = executor.verify(option, details)

    assert checked
    assert check_message == "eu-west-1 can take the traffic"
    assert ok and verified
    assert message == "us-east-1 receives no traffic"
    assert executor.already_done(option) == "us-east-1 is already drained"
    assert simulation.group("payment-service", "eu-west-1").traffic_weight == pytest.approx(2.0)


def test_failover_precheck_refuses_when_no_other_region_serves() -> None:
    simulation, _ = _simulation()
    executor = SimulatedExecutor(simulation)
    executor.apply(make_option(ActionKind.FAILOVER, region="eu-west-1"))

    ok, message = executor.precheck(make_option(ActionKind.FAILOVER, region="us-east-1"))

    assert not ok
    assert message == "no other region serves payment-service to take the traffic"


def test_actions_land_in_the_telemetry_that_follows() -> None:
    simulation, clock = _simulation()
    executor = SimulatedExecutor(simulation)
    executor.apply(make_option(ActionKind.ROLLBACK))

    clock.advance(timedelta(minutes=1).total_seconds())
    documents = simulation.generate(clock.now())

    rollbacks = [d for d in documents["qs-deployments"] if d.get("author") == "qs-tui remediation"]
    assert len(rollbacks) == 1
    assert rollbacks[0]["service"] == "payment-service"
