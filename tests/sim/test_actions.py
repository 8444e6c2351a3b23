"""Remediation closes the loop: the telemetry after an action reflects it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from qs_tui.clock import ManualClock
from qs_tui.sim.faults import FaultSpec
from qs_tui.store.templates import DEPLOYMENTS, LOGS
from tests.sim.conftest import START
from tests.sim.fakes import RecordingStore
from tests.sim.reading import mean, series, simulation, slope_per_minute, when

LEAK_HOST = "payment-service-use1-a"
BAD_LEAK = {
    "kind": "bad_deploy",
    "service": "payment-service",
    "region": "us-east-1",
    "start": "-20m",
    "params": {"introduces": "memory_leak", "rate": 1.0, "version": "2.4.0"},
}
PLAIN_LEAK = {
    "kind": "memory_leak",
    "service": "payment-service",
    "region": "us-east-1",
    "start": "-20m",
    "params": {"rate": 1.0},
}


def advance(clock: ManualClock, store: RecordingStore, sim: object, minutes: float) -> None:
    clock.advance(minutes * 60)
    sim.step(store)  # type: ignore[attr-defined]


def test_restart_clears_memory_but_the_leak_returns_while_the_deploy_is_live(
    clock: ManualClock, store: RecordingStore
) -> None:
    sim = simulation(clock, BAD_LEAK)
    sim.backfill(store, timedelta(minutes=30))
    high = series(store, "memory_percent", host=LEAK_HOST)[-1][1]
    result = sim.apply_action("restart", "payment-service", "us-east-1")
    assert result.ok
    assert result.changed
    assert result.removed_faults == ()
    assert "will return" in result.message
    advance(clock, store, sim, 10)
    after = series(store, "memory_percent", host=LEAK_HOST, since=START + timedelta(seconds=10))
    assert after[0][1] < high - 15  # memory cleared
    assert slope_per_minute(after) == pytest.approx(1.0, rel=0.15)  # and growing again
    assert [f.kind.value for f in sim.active_faults()] == ["memory_leak"]
    restarts = [d for d in store.documents(LOGS) if "restarted by remediation" in d["message"]]
    assert {d["host"] for d in restarts} == {"payment-service-use1-a", "payment-service-use1-b"}


def test_rollback_stops_the_leak_and_writes_a_deployment(
    clock: ManualClock, store: RecordingStore
) -> None:
    sim = simulation(clock, BAD_LEAK)
    previous = sim.group("payment-service", "us-east-1").version
    sim.backfill(store, timedelta(minutes=30))
    result = sim.apply_action("rollback", "payment-service", "us-east-1")
    assert result.ok
    assert result.changed
    assert result.removed_faults == ("f1-bad_deploy-payment-service",)
    assert result.details == {"version": previous, "previous_version": "2.4.0"}
    advance(clock, store, sim, 15)
    after = series(store, "memory_percent", host=LEAK_HOST, since=START + timedelta(seconds=10))
    assert abs(slope_per_minute(after)) < 0.1
    assert mean(after) < 65
    rollback = store.documents(DEPLOYMENTS)[-1]
    assert rollback["version"] == previous
    assert rollback["previous_version"] == "2.4.0"
    assert when(rollback) == START
    assert sim.active_faults() == []
    # A restart after the rollback does not bring anything back.
    sim.apply_action("restart", "payment-service", "us-east-1")
    advance(clock, store, sim, 10)
    later = series(store, "memory_percent", host=LEAK_HOST, since=START + timedelta(minutes=16))
    assert abs(slope_per_minute(later)) < 0.1


def test_rollback_is_idempotent(clock: ManualClock, store: RecordingStore) -> None:
    sim = simulation(clock, BAD_LEAK)
    sim.backfill(store, timedelta(minutes=30))
    first = sim.apply_action("rollback", "payment-service", "us-east-1")
    second = sim.apply_action("rollback", "payment-service", "us-east-1")
    assert first.changed
    assert second.ok
    assert not second.changed
    assert "already rolled back" in second.message
    sim.step(store)
    assert len([d for d in store.documents(DEPLOYMENTS) if d["version"] != "2.4.0"]) == 1


def test_rollback_with_nothing_to_roll_back_fails_cleanly(clock: ManualClock) -> None:
    sim = simulation(clock)
    result = sim.apply_action("rollback", "auth-service", "us-east-1")
    assert not result.ok
    assert "nothing to roll back" in result.message


def test_restart_removes_a_leak_without_a_deploy(clock: ManualClock, store: RecordingStore) -> None:
    sim = simulation(clock, PLAIN_LEAK)
    sim.backfill(store, timedelta(minutes=30))
    result = sim.apply_action("restart", "payment-service", "us-east-1")
    assert result.removed_faults == ("f1-memory_leak-payment-service",)
    advance(clock, store, sim, 15)
    after = series(store, "memory_percent", host=LEAK_HOST, since=START + timedelta(seconds=10))
    assert abs(slope_per_minute(after)) < 0.1
    assert sim.active_faults() == []


def test_restart_of_one_region_leaves_the_others_leaking(
    clock: ManualClock, store: RecordingStore
) -> None:
    everywhere = {**PLAIN_LEAK, "region": "all"}
    sim = simulation(clock, everywhere)
    sim.backfill(store, timedelta(minutes=30))
    result = sim.apply_action("restart", "payment-service", "us-east-1")
    assert result.removed_faults == ()  # still leaking in the other regions
    assert result.details["cleared_in_region"] == ["f1-memory_leak-payment-service"]
    advance(clock, store, sim, 10)
    since = START + timedelta(seconds=10)
    east = series(store, "memory_percent", host="payment-service-use1-a", since=since)
    west = series(store, "memory_percent", host="payment-service-usw2-a", since=since)
    assert abs(slope_per_minute(east)) < 0.1
    assert slope_per_minute(west) > 0.7
    assert len(sim.active_faults()) == 1


def test_scale_out_adds_a_host_and_lowers_cpu(clock: ManualClock, store: RecordingStore) -> None:
    clock.set(START.replace(hour=19))
    hot = {
        "kind": "cpu_saturation",
        "service": "api-gateway",
        "region": "us-east-1",
        "start": "+0m",
        "params": {"magnitude": 2.5},
    }
    sim = simulation(clock, hot)
    sim.backfill(store, timedelta(minutes=10))
    advance(clock, store, sim, 10)
    at = clock.now()
    where = {"service": "api-gateway", "region": "us-east-1"}
    cpu_before = mean(series(store, "cpu_percent", **where, since=at - timedelta(minutes=5)))
    latency_before = mean(series(store, "latency_p95_ms", **where, since=at - timedelta(minutes=5)))
    for _ in range(2):
        result = sim.apply_action("scale_out", "api-gateway", "us-east-1")
        assert result.changed
    assert result.details == {"added": "api-gateway-use1-d", "hosts": 4}
    advance(clock, store, sim, 5)
    after = {"since": at + timedelta(seconds=10)}
    assert {h for _, h in [(0, d["host"]) for d in store.documents("qs-metrics")]} >= {
        "api-gateway-use1-c",
        "api-gateway-use1-d",
    }
    cpu_after = mean(series(store, "cpu_percent", **where, **after))
    latency_after = mean(series(store, "latency_p95_ms", **where, **after))
    assert cpu_after < cpu_before * 0.7
    assert latency_after < latency_before / 2


def test_failover_drains_a_region_into_the_others(
    clock: ManualClock, store: RecordingStore
) -> None:
    spike = {
        "kind": "error_spike",
        "service": "auth-service",
        "region": "eu-west-1",
        "start": "-10m",
        "params": {"magnitude": 0.3},
    }
    sim = simulation(clock, spike)
    sim.backfill(store, timedelta(minutes=20))
    before = {"until": START}
    after = {"since": START + timedelta(seconds=10)}
    west_before = mean(
        series(store, "requests_per_s", service="auth-service", region="us-west-2", **before)
    )
    result = sim.apply_action("failover", "auth-service", "eu-west-1")
    assert result.changed
    assert result.details == {"weights": {"us-east-1": 1.5, "us-west-2": 1.5}}
    assert not sim.apply_action("failover", "auth-service", "eu-west-1").changed
    advance(clock, store, sim, 10)
    drained = series(store, "requests_per_s", service="auth-service", region="eu-west-1", **after)
    assert max(v for _, v in drained) < 1
    errors = series(store, "error_rate", service="auth-service", region="eu-west-1", **after)
    assert max(v for _, v in errors) == 0
    west_after = mean(
        series(store, "requests_per_s", service="auth-service", region="us-west-2", **after)
    )
    assert west_after / west_before == pytest.approx(1.5, rel=0.15)


def test_failover_needs_a_region_left(clock: ManualClock) -> None:
    sim = simulation(clock)
    assert sim.apply_action("failover", "auth-service", "us-east-1").ok
    assert sim.apply_action("failover", "auth-service", "us-west-2").ok
    last = sim.apply_action("failover", "auth-service", "eu-west-1")
    assert not last.ok
    assert "no other region" in last.message
    assert not sim.apply_action("failover", "auth-service", "all").ok


def test_flush_cache_fixes_cache_latency_but_not_code_latency(
    clock: ManualClock, store: RecordingStore
) -> None:
    cache = {
        "kind": "latency_regression",
        "service": "inventory-service",
        "region": "us-west-2",
        "start": "-10m",
        "params": {"magnitude": 4.0, "cause": "cache"},
    }
    code = {**cache, "region": "eu-west-1", "params": {"magnitude": 4.0, "cause": "code"}}
    sim = simulation(clock, cache, code)
    sim.backfill(store, timedelta(minutes=20))
    fixed = sim.apply_action("flush_cache", "inventory-service", "us-west-2")
    assert fixed.removed_faults == ("f1-latency_regression-inventory-service",)
    unfixed = sim.apply_action("flush_cache", "inventory-service", "eu-west-1")
    assert unfixed.removed_faults == ()
    advance(clock, store, sim, 10)
    after = {"since": START + timedelta(seconds=10)}
    west = mean(
        series(store, "latency_p95_ms", service="inventory-service", region="us-west-2", **after)
    )
    europe = mean(
        series(store, "latency_p95_ms", service="inventory-service", region="eu-west-1", **after)
    )
    assert europe > 3 * west


def test_bad_actions_and_targets_are_reported_not_raised(clock: ManualClock) -> None:
    sim = simulation(clock)
    assert "unknown action" in sim.apply_action("reboot", "auth-service", "us-east-1").message
    assert "unknown service" in sim.apply_action("restart", "nope", "us-east-1").message
    assert "unknown region" in sim.apply_action("restart", "auth-service", "mars-1").message


def test_actions_apply_at_the_clock_instant_and_split_the_timeline(
    clock: ManualClock, store: RecordingStore
) -> None:
    sim = simulation(clock, PLAIN_LEAK)
    sim.backfill(store, timedelta(minutes=30))
    clock.advance(5 * 60)  # five minutes pass before the restart, nothing stepped yet
    sim.apply_action("restart", "payment-service", "us-east-1")
    advance(clock, store, sim, 5)
    points = series(store, "memory_percent", host=LEAK_HOST, since=START)
    before_restart = [v for at, v in points if at <= START + timedelta(minutes=5)]
    after_restart = [v for at, v in points if at > START + timedelta(minutes=5)]
    # Memory kept growing until the restart instant, then dropped.
    assert before_restart[-1] > before_restart[0] + 3
    assert after_restart[0] < before_restart[-1] - 15


def test_injected_fault_starts_with_the_next_interval(
    clock: ManualClock, store: RecordingStore
) -> None:
    sim = simulation(clock)
    sim.backfill(store, timedelta(minutes=5))
    fault = sim.inject(
        FaultSpec.model_validate(
            {
                "kind": "error_spike",
                "service": "auth-service",
                "region": "us-east-1",
                "start": "-1h",
            }
        )
    )
    assert fault.start == START + timedelta(seconds=10)
    advance(clock, store, sim, 2)
    spike = series(
        store, "error_rate", service="auth-service", region="us-east-1", since=fault.start
    )
    assert min(v for _, v in spike) > 0.15
    with pytest.raises(ValueError, match="unknown service"):
        sim.inject(FaultSpec.model_validate({"kind": "error_spike", "service": "nope"}))


def test_snapshot_describes_the_cluster(clock: ManualClock, store: RecordingStore) -> None:
    sim = simulation(clock, BAD_LEAK)
    sim.backfill(store, timedelta(minutes=30))
    sim.apply_action("scale_out", "payment-service", "us-east-1")
    snapshot = sim.snapshot()
    group = next(
        g
        for g in snapshot["groups"]
        if g["service"] == "payment-service" and g["region"] == "us-east-1"
    )
    assert group["version"] == "2.4.0"
    assert group["hosts"][-1] == "payment-service-use1-c"
    assert snapshot["faults"][0]["active"] is True
    assert snapshot["faults"][0]["deploy_version"] == "2.4.0"
    assert LEAK_HOST in snapshot["latest"]


def test_a_scaled_out_host_starts_fresh_under_a_leak(
    clock: ManualClock, store: RecordingStore
) -> None:
    sim = simulation(clock, BAD_LEAK)
    sim.backfill(store, timedelta(minutes=30))
    sim.apply_action("scale_out", "payment-service", "us-east-1")
    advance(clock, store, sim, 5)
    fresh = series(store, "memory_percent", host="payment-service-use1-c")
    old = series(store, "memory_percent", host="payment-service-use1-a", since=fresh[0][0])
    assert fresh[0][1] < old[0][1] - 15
    assert slope_per_minute(fresh) == pytest.approx(1.0, rel=0.3)
