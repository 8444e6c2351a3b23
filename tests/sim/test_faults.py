"""Each fault shows in the metrics and the logs, with the size and timing it was given."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from itertools import pairwise

import pytest
from pydantic import ValidationError

from qs_tui.clock import FrozenClock, ManualClock
from qs_tui.sim.faults import FaultSpec
from qs_tui.store.templates import DEPLOYMENTS, LOGS
from tests.sim.conftest import START
from tests.sim.fakes import RecordingStore
from tests.sim.reading import mean, series, simulation, slope_per_minute, when


def test_memory_leak_grows_at_its_rate_on_its_hosts_only(store: RecordingStore) -> None:
    leak = {
        "kind": "memory_leak",
        "service": "payment-service",
        "region": "us-east-1",
        "start": "-30m",
        "params": {"rate": 0.6},
    }
    simulation(FrozenClock(START), leak).backfill(store, timedelta(hours=1))
    onset = START - timedelta(minutes=30)
    leaking = series(store, "memory_percent", host="payment-service-use1-a", since=onset)
    assert slope_per_minute(leaking) == pytest.approx(0.6, rel=0.1)
    before = series(store, "memory_percent", host="payment-service-use1-a", until=onset)
    assert abs(slope_per_minute(before)) < 0.1
    healthy = series(store, "memory_percent", host="payment-service-usw2-a", since=onset)
    assert abs(slope_per_minute(healthy)) < 0.1


def test_memory_leak_ends_in_oom_crash_and_restart(store: RecordingStore) -> None:
    leak = {
        "kind": "memory_leak",
        "service": "auth-service",
        "region": "eu-west-1",
        "host": "auth-service-euw1-b",
        "start": "-90m",
        "params": {"rate": 2.0},
    }
    simulation(FrozenClock(START), leak).backfill(store, timedelta(hours=2))
    memory = series(store, "memory_percent", host="auth-service-euw1-b")
    drops = [
        (earlier, later) for (_, earlier), (_, later) in pairwise(memory) if earlier - later > 20
    ]
    # About 50 points of headroom at 2 %/min: a crash every ~25 minutes over 90 minutes.
    assert 2 <= len(drops) <= 4
    assert all(earlier > 90 for earlier, _ in drops)
    crashes = [
        d for d in store.documents(LOGS) if d["error_code"] == "E_OOM" and d["level"] == "ERROR"
    ]
    assert crashes
    assert {d["host"] for d in crashes} == {"auth-service-euw1-b"}
    errors = series(store, "error_rate", host="auth-service-euw1-b")
    assert max(value for _, value in errors) > 0.5  # the crash interval fails requests


def test_error_spike_adds_its_magnitude_for_its_duration(store: RecordingStore) -> None:
    spike = {
        "kind": "error_spike",
        "service": "auth-service",
        "region": "eu-west-1",
        "start": "-40m",
        "params": {"magnitude": 0.25, "duration": "20m"},
    }
    simulation(FrozenClock(START), spike).backfill(store, timedelta(hours=1))
    onset, end = START - timedelta(minutes=40), START - timedelta(minutes=20)
    where = {"service": "auth-service", "region": "eu-west-1"}
    before = mean(series(store, "error_rate", **where, until=onset))
    during = mean(series(store, "error_rate", **where, since=onset, until=end))
    after = mean(series(store, "error_rate", **where, since=end))
    assert during - before == pytest.approx(0.25, abs=0.02)
    assert after == pytest.approx(before, abs=0.005)
    other = mean(series(store, "error_rate", service="auth-service", region="us-east-1"))
    assert other < 0.01
    codes = Counter(
        d["error_code"]
        for d in store.documents(LOGS)
        if d["level"] == "ERROR" and d["service"] == "auth-service" and d["region"] == "eu-west-1"
    )
    assert codes.most_common(1)[0][0] == "E_UPSTREAM_5XX"
    errors_during = [
        d
        for d in store.documents(LOGS)
        if d["level"] == "ERROR"
        and d["region"] == "eu-west-1"
        and d["service"] == "auth-service"
        and onset <= when(d) < end
    ]
    errors_before = [
        d
        for d in store.documents(LOGS)
        if d["level"] == "ERROR"
        and d["region"] == "eu-west-1"
        and d["service"] == "auth-service"
        and when(d) < onset
    ]
    assert len(errors_during) > 10 * max(1, len(errors_before))


def test_latency_regression_multiplies_p95(store: RecordingStore) -> None:
    slow = {
        "kind": "latency_regression",
        "service": "inventory-service",
        "region": "us-west-2",
        "start": "-20m",
        "params": {"magnitude": 4.0},
    }
    simulation(FrozenClock(START), slow).backfill(store, timedelta(minutes=40))
    onset = START - timedelta(minutes=20)
    where = {"service": "inventory-service", "region": "us-west-2"}
    before = mean(series(store, "latency_p95_ms", **where, until=onset))
    during = mean(series(store, "latency_p95_ms", **where, since=onset))
    assert during / before == pytest.approx(4.0, rel=0.1)
    warns = [
        d
        for d in store.documents(LOGS)
        if d["level"] == "WARN" and d["error_code"] == "E_DB_TIMEOUT"
    ]
    assert warns
    assert all(when(d) >= onset - timedelta(seconds=10) for d in warns)


def test_cpu_saturation_pins_cpu_and_raises_latency(store: RecordingStore) -> None:
    clock = FrozenClock(START.replace(hour=19))  # the afternoon peak in us-east-1
    hot = {
        "kind": "cpu_saturation",
        "service": "api-gateway",
        "region": "us-east-1",
        "start": "-20m",
        "params": {"magnitude": 2.5},
    }
    simulation(clock, hot).backfill(store, timedelta(minutes=40))
    onset = clock.now() - timedelta(minutes=20)
    where = {"service": "api-gateway", "region": "us-east-1"}
    cpu_before = mean(series(store, "cpu_percent", **where, until=onset))
    cpu_during = mean(series(store, "cpu_percent", **where, since=onset))
    assert cpu_before < 60
    assert cpu_during > 90
    latency_before = mean(series(store, "latency_p95_ms", **where, until=onset))
    latency_during = mean(series(store, "latency_p95_ms", **where, since=onset))
    assert latency_during > 3 * latency_before
    assert mean(series(store, "error_rate", **where, since=onset)) > 0.02


def test_disk_fill_reaches_full_at_time_to_full(store: RecordingStore) -> None:
    fill = {
        "kind": "disk_fill",
        "service": "inventory-service",
        "region": "eu-west-1",
        "host": "inventory-service-euw1-a",
        "start": "-60m",
        "params": {"time_to_full": "40m"},
    }
    simulation(FrozenClock(START), fill).backfill(store, timedelta(minutes=70))
    disk = series(store, "disk_percent", host="inventory-service-euw1-a")
    full_at = next(at for at, value in disk if value >= 100)
    expected = START - timedelta(minutes=20)
    assert abs((full_at - expected).total_seconds()) <= 60
    neighbour = series(store, "disk_percent", host="inventory-service-euw1-b")
    assert max(v for _, v in neighbour) - min(v for _, v in neighbour) < 1
    full_errors = [
        d
        for d in store.documents(LOGS)
        if d["error_code"] == "E_DISK_FULL" and d["level"] == "ERROR"
    ]
    assert full_errors
    assert all(when(d) >= full_at - timedelta(seconds=10) for d in full_errors)
    after_full = series(store, "error_rate", host="inventory-service-euw1-a", since=full_at)
    assert mean(after_full) > 0.3


def test_traffic_drop_is_regional(store: RecordingStore) -> None:
    drop = {
        "kind": "traffic_drop",
        "service": "all",
        "region": "us-west-2",
        "start": "-15m",
        "params": {"magnitude": 0.8},
    }
    simulation(FrozenClock(START), drop).backfill(store, timedelta(minutes=30))
    onset = START - timedelta(minutes=15)
    for service in ("api-gateway", "payment-service"):
        where = {"service": service, "region": "us-west-2"}
        before = mean(series(store, "requests_per_s", **where, until=onset))
        during = mean(series(store, "requests_per_s", **where, since=onset))
        assert during / before == pytest.approx(0.2, abs=0.05)
    east_before = mean(series(store, "requests_per_s", region="us-east-1", until=onset))
    east_during = mean(series(store, "requests_per_s", region="us-east-1", since=onset))
    assert east_during == pytest.approx(east_before, rel=0.1)


def test_cascade_reaches_dependents_later_and_weaker(clock: ManualClock) -> None:
    from qs_tui.sim.cluster import Simulation
    from qs_tui.topology import Topology

    chain = Topology(
        dependencies={
            "api-gateway": ("auth-service", "payment-service"),
            "payment-service": ("inventory-service",),
        }
    )
    cascade = FaultSpec.model_validate(
        {
            "kind": "cascade",
            "service": "inventory-service",
            "region": "us-east-1",
            "start": "+5m",
            "params": {"magnitude": 0.3, "delay": "3m", "attenuation": 0.6},
        }
    )
    sim = Simulation(clock=clock, topology=chain, seed=7, faults=[cascade], healthy_deploys=False)
    store = RecordingStore()
    sim.step(store)
    clock.advance(30 * 60)
    sim.step(store)

    def onset(service: str) -> tuple[datetime, float]:
        points = series(store, "error_rate", service=service, region="us-east-1")
        first = next(at for at, value in points if value > 0.05)
        level = mean([(at, v) for at, v in points if at >= first + timedelta(minutes=1)])
        return first, level

    root_at, root_level = onset("inventory-service")
    payment_at, payment_level = onset("payment-service")
    gateway_at, gateway_level = onset("api-gateway")
    assert root_at == START + timedelta(minutes=5)
    assert payment_at == root_at + timedelta(minutes=3)
    assert gateway_at == root_at + timedelta(minutes=6)
    assert root_level > payment_level > gateway_level
    auth = series(store, "error_rate", service="auth-service", region="us-east-1")
    assert max(v for _, v in auth) < 0.05  # not on the failing path
    west = series(store, "error_rate", service="payment-service", region="us-west-2")
    assert max(v for _, v in west) < 0.05
    upstream = [
        d
        for d in store.documents(LOGS)
        if d["service"] == "payment-service"
        and d["error_code"] == "E_UPSTREAM_5XX"
        and when(d) > payment_at
    ]
    assert any("inventory-service" in d["message"] for d in upstream)


def test_bad_deploy_writes_a_deployment_and_brings_its_fault(store: RecordingStore) -> None:
    deploy = {
        "kind": "bad_deploy",
        "service": "payment-service",
        "region": "all",
        "start": "-20m",
        "params": {
            "introduces": "error_spike",
            "magnitude": 0.15,
            "version": "2.4.0",
            "author": "Jordan Reyes",
        },
    }
    sim = simulation(FrozenClock(START), deploy)
    live_before = sim.group("payment-service", "us-east-1").version
    sim.backfill(store, timedelta(minutes=40))
    deployments = store.documents(DEPLOYMENTS)
    assert {d["region"] for d in deployments} == {"us-east-1", "us-west-2", "eu-west-1"}
    for document in deployments:
        assert document["version"] == "2.4.0"
        assert document["previous_version"] == live_before
        assert document["author"] == "Jordan Reyes"
        assert document["@timestamp"] == "2026-11-25T13:40:00.000Z"
    onset = START - timedelta(minutes=20)
    before = mean(series(store, "error_rate", service="payment-service", until=onset))
    after = mean(series(store, "error_rate", service="payment-service", since=onset))
    assert after - before == pytest.approx(0.15, abs=0.02)
    assert [f.deploy_version for f in sim.active_faults()] == ["2.4.0"]


def test_fault_specs_validate_their_parameters() -> None:
    with pytest.raises(ValidationError, match="only for traffic_drop"):
        FaultSpec.model_validate({"kind": "memory_leak", "service": "all"})
    with pytest.raises(ValidationError, match="unknown error code"):
        FaultSpec.model_validate(
            {"kind": "error_spike", "service": "a", "params": {"error_code": "E_NOPE"}}
        )
    with pytest.raises(ValidationError, match="introduces another kind"):
        FaultSpec.model_validate(
            {"kind": "bad_deploy", "service": "a", "params": {"introduces": "bad_deploy"}}
        )
    with pytest.raises(ValidationError, match="invalid duration"):
        FaultSpec.model_validate(
            {"kind": "error_spike", "service": "a", "params": {"duration": "5"}}
        )
    with pytest.raises(ValidationError, match="Extra inputs"):
        FaultSpec.model_validate({"kind": "error_spike", "service": "a", "params": {"magnitud": 1}})
