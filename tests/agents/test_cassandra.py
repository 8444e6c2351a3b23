"""Cassandra on replayed scenarios: every fault found and localised, nothing on healthy days."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from qs_tui.agents.cassandra import Cassandra, DetectionTuning
from qs_tui.agents.events import AgentSpoke
from qs_tui.models import AgentName, Anomaly, AnomalyKind
from qs_tui.sim.durations import parse_duration
from qs_tui.sim.faults import ALL
from qs_tui.sim.scenario import ExpectedIncident, load_scenario, scenario_names
from qs_tui.store.templates import DECISIONS
from tests.agents.conftest import World, make_world

#: Enough history for the 30-minute baseline and the 30-minute leak fit.
HISTORY = "70m"
STEP_S = 30
FAULT_SCENARIOS = [n for n in scenario_names() if not load_scenario(n).expected.none]


def _matches(anomaly: Anomaly, expected: ExpectedIncident) -> bool:
    if anomaly.symptom_of is not None or anomaly.service != expected.service:
        return False
    if expected.region not in (ALL, anomaly.region):
        return False
    # A cascade shows as errors and latency at its root; what matters is where it starts.
    return expected.kind.value == "cascade" or anomaly.kind.value == expected.kind.value


def _run_until_found(
    world: World, cassandra: Cassandra, *, limit: timedelta
) -> tuple[dict[int, tuple[datetime, Anomaly]], list[Anomaly]]:
    """Detect every STEP_S until each expected incident has a matching root (or `limit`)."""
    expected = world.scenario.expected.incidents
    found: dict[int, tuple[datetime, Anomaly]] = {}
    roots: list[Anomaly] = []
    end = world.now + limit
    while True:
        for anomaly in cassandra.detect():
            if anomaly.symptom_of is None:
                roots.append(anomaly)
            for index, incident in enumerate(expected):
                if index not in found and _matches(anomaly, incident):
                    found[index] = (world.now, anomaly)
        if len(found) == len(expected) or world.now >= end:
            return found, roots
        world.advance(STEP_S)


def _fault_start(world: World, index: int) -> datetime:
    faults = sorted(world.simulation.faults(), key=lambda f: f.start)
    return faults[min(index, len(faults) - 1)].start


@pytest.mark.parametrize("name", FAULT_SCENARIOS)
def test_every_fault_scenario_is_detected_and_localised(name: str) -> None:
    world = make_world(name, history=HISTORY)
    cassandra = Cassandra(world.context)
    last_start = max(f.start for f in world.simulation.faults())
    limit = max(timedelta(0), last_start - world.now) + timedelta(minutes=10)

    found, roots = _run_until_found(world, cassandra, limit=limit)

    expected = world.scenario.expected.incidents
    assert sorted(found) == list(range(len(expected))), f"missed in {name}: {roots}"
    for index, incident in enumerate(expected):
        detected_at, anomaly = found[index]
        # Detection delay counts from the fault's start, or from the replay's start when the
        # fault was already underway.
        began = max(_fault_start(world, index), world.scenario.start_time)
        if incident.detect_within is not None:
            assert detected_at - began <= parse_duration(incident.detect_within), anomaly
        if anomaly.kind in (AnomalyKind.MEMORY_LEAK, AnomalyKind.DISK_FILL):
            assert anomaly.time_to_critical_s is not None
            assert anomaly.time_to_critical_s >= 300, "must warn at least 5 minutes ahead"
        assert 0.0 < anomaly.confidence <= 1.0
    # No root cause anywhere else: every other finding is linked to one of the expected ones.
    for root in roots:
        assert any(_matches(root, incident) for incident in expected), root


def test_healthy_hour_has_no_anomaly() -> None:
    world = make_world("healthy", history="45m")
    cassandra = Cassandra(world.context)
    seen: list[Anomaly] = []
    for _ in range(30):
        seen += cassandra.detect()
        world.advance(120)
    assert seen == []
    assert not [e for e in world.events if isinstance(e, AgentSpoke)]


def test_five_minutes_of_data_are_not_stretched_into_a_half_hour_climb() -> None:
    # A store that has held telemetry for five minutes (a war room just started, a team that
    # just began shipping data): the 15- and 30-minute leak windows see five minutes of
    # samples, and their slope times the whole window would be a climb that never happened.
    world = make_world("healthy", history="5m")
    cassandra = Cassandra(world.context)
    seen: list[Anomaly] = []
    for _ in range(6):
        seen += cassandra.detect()
        world.advance(60)
    assert seen == []


@pytest.mark.slow
def test_healthy_day_has_no_anomaly_sampled_every_20_minutes() -> None:
    world = make_world("healthy-24h", history="45m")
    cassandra = Cassandra(world.context)
    seen: list[Anomaly] = []
    passes = 0
    while world.now < world.scenario.start_time + timedelta(hours=24):
        world.advance(1200)
        seen += cassandra.detect()
        passes += 1
    assert passes == 72
    assert seen == []


def test_leak_prediction_is_numeric_and_explained() -> None:
    world = make_world("memory-leak", history=HISTORY)
    cassandra = Cassandra(world.context)

    (leak,) = cassandra.detect()

    assert leak.key == ("payment-service", "us-east-1", "memory_leak")
    assert leak.host is not None and leak.host.startswith("payment-service-use1-")
    assert leak.slope_per_s is not None
    # The scenario leaks 0.8 %/min; the fit includes the healthy wobble on top.
    assert 0.6 <= leak.slope_per_s * 60 <= 1.1
    assert leak.time_to_critical_s is not None
    ttc = leak.time_to_critical_s
    assert ttc == pytest.approx((100 - leak.value) / leak.slope_per_s)
    assert leak.confidence > 0.9
    # The fault began 25 minutes before the start: the onset comes from the fitted line.
    fault_start = world.simulation.faults()[0].start
    assert abs((leak.onset_at - fault_start).total_seconds()) <= 300
    assert "%/min" in leak.summary and "r²=" in leak.summary and "OOM in" in leak.summary
    assert "[2 hosts affected]" in leak.summary
    assert set(leak.params) == {"start", "end"}


LIVE_LEAK = """
name = "live-leak"
seed = 3
start = 2026-11-25T10:00:00Z
history = "45m"
healthy_deploys = false

[[faults]]
kind = "memory_leak"
service = "auth-service"
region = "eu-west-1"
host = "auth-service-euw1-b"
start = "+2m"
params = { rate = 4.0 }

[[expected.incidents]]
kind = "memory_leak"
service = "auth-service"
region = "eu-west-1"
root_cause = "memory_leak"
actions = ["restart"]
"""


def test_a_fast_leak_that_starts_live_is_predicted_before_the_oom(tmp_path: Path) -> None:
    path = tmp_path / "live-leak.toml"
    path.write_text(LIVE_LEAK, encoding="utf-8")
    world = make_world(str(path))
    cassandra = Cassandra(world.context)
    fault_start = world.simulation.faults()[0].start

    leak = _detect_kind(world, cassandra, AnomalyKind.MEMORY_LEAK)
    detected_at = world.now
    assert leak.host == "auth-service-euw1-b"
    assert leak.time_to_critical_s is not None and leak.time_to_critical_s >= 300
    assert abs((leak.onset_at - fault_start).total_seconds()) <= 120
    # The refit over [onset, now) sees the real climb of 4 %/min, not a diluted one.
    assert leak.slope_per_s is not None and 3.0 <= leak.slope_per_s * 60 <= 5.0

    peak = 0.0
    while peak < 99.9:
        world.advance(30)
        peak = world.store.esql(
            'FROM qs-metrics | WHERE host == "auth-service-euw1-b" '
            "| STATS peak = MAX(memory_percent) | LIMIT 1"
        ).values[0][0]
    assert world.now - detected_at >= timedelta(minutes=5), "warned too late"
    lead_s = (world.now - detected_at).total_seconds()
    assert lead_s == pytest.approx(leak.time_to_critical_s, abs=180)


def test_a_new_finding_is_spoken_and_recorded_once() -> None:
    world = make_world("memory-leak", history=HISTORY)
    cassandra = Cassandra(world.context)

    cassandra.detect()
    world.advance(STEP_S)
    again = cassandra.detect()

    assert [a.kind for a in again] == [AnomalyKind.MEMORY_LEAK]
    spoken = [e for e in world.events if isinstance(e, AgentSpoke)]
    assert len(spoken) == 1
    assert spoken[0].agent is AgentName.CASSANDRA
    assert spoken[0].data["kind"] == "memory_leak"
    assert spoken[0].level == "warn"
    decisions = world.store.esql(
        f'FROM {DECISIONS} | WHERE agent == "Cassandra" AND decision IS NOT NULL'
        " | KEEP decision, message, confidence"
    ).records()
    assert len(decisions) == 1
    assert decisions[0]["decision"] == "detected"
    assert decisions[0]["message"].startswith("memory on payment-service-use1-")
    assert decisions[0]["confidence"] > 0.9


def test_a_restart_makes_the_leak_check_healthy() -> None:
    world = make_world("memory-leak", history=HISTORY)
    cassandra = Cassandra(world.context)
    (leak,) = cassandra.detect()
    world.advance(60)
    still = cassandra.check(leak, since=world.now - timedelta(minutes=5))
    assert not still.healthy and still.samples > 0 and "still climbing" in still.summary

    result = world.simulation.apply_action("restart", "payment-service", "us-east-1")
    assert result.ok
    restarted = world.now
    world.advance(120)

    after = cassandra.check(leak, since=restarted)
    assert after.healthy, after.summary
    assert after.value is not None and after.value < leak.value - 10


def test_a_check_without_samples_is_not_healthy() -> None:
    world = make_world("memory-leak", history=HISTORY)
    cassandra = Cassandra(world.context)
    (leak,) = cassandra.detect()
    check = cassandra.check(leak, since=world.now)
    assert (check.healthy, check.value, check.samples) == (False, None, 0)


def _detect_kind(world: World, cassandra: Cassandra, kind: AnomalyKind) -> Anomaly:
    for _ in range(30):
        for anomaly in cassandra.detect():
            if anomaly.kind is kind and anomaly.symptom_of is None:
                return anomaly
        world.advance(STEP_S)
    raise AssertionError(f"no {kind} found")


def test_a_failover_clears_an_error_spike_without_raising_a_traffic_drop() -> None:
    world = make_world("error-spike", history="45m")
    cassandra = Cassandra(world.context)
    world.advance(6 * 60)
    spike = _detect_kind(world, cassandra, AnomalyKind.ERROR_SPIKE)
    assert spike.key == ("auth-service", "eu-west-1", "error_spike")
    assert spike.baseline is not None and spike.value - spike.baseline >= 0.05
    assert "req/s per host" in spike.summary

    assert world.simulation.apply_action("failover", "auth-service", "eu-west-1").ok
    moved = world.now
    for _ in range(6):
        world.advance(STEP_S)
        after = cassandra.detect()
        # The drained region lost its traffic to the other regions on purpose.
        assert not [a for a in after if a.kind is AnomalyKind.TRAFFIC_DROP]

    check = cassandra.check(spike, since=moved)
    assert check.healthy, check.summary


def test_a_failover_restores_a_traffic_drop() -> None:
    world = make_world("traffic-drop", history="45m")
    cassandra = Cassandra(world.context)
    world.advance(5 * 60)
    drop = _detect_kind(world, cassandra, AnomalyKind.TRAFFIC_DROP)
    assert drop.key == ("api-gateway", "us-west-2", "traffic_drop")
    assert drop.baseline is not None and drop.value < 0.6 * drop.baseline
    fault_start = world.simulation.faults()[0].start
    assert abs((drop.onset_at - fault_start).total_seconds()) <= 60

    before = cassandra.check(drop, since=world.now - timedelta(minutes=1))
    assert not before.healthy
    assert world.simulation.apply_action("failover", "api-gateway", "us-west-2").ok
    moved = world.now
    world.advance(180)
    after = cassandra.check(drop, since=moved)
    assert after.healthy, after.summary


def test_flushing_the_cache_clears_a_latency_regression() -> None:
    world = make_world("latency-regression", history="45m")
    cassandra = Cassandra(world.context)
    world.advance(5 * 60)
    slow = _detect_kind(world, cassandra, AnomalyKind.LATENCY_REGRESSION)
    assert slow.baseline is not None and slow.value >= 1.5 * slow.baseline
    assert not cassandra.check(slow, since=world.now - timedelta(minutes=1)).healthy

    assert world.simulation.apply_action("flush_cache", "inventory-service", "us-west-2").ok
    flushed = world.now
    world.advance(120)
    assert cassandra.check(slow, since=flushed).healthy


def test_cpu_saturation_names_the_host_and_latency_is_its_symptom() -> None:
    world = make_world("cpu-saturation", history="45m")
    cassandra = Cassandra(world.context)
    world.advance(4 * 60)
    found = {a.kind: a for a in cassandra.detect()}
    cpu = found[AnomalyKind.CPU_SATURATION]
    assert cpu.symptom_of is None
    assert cpu.host is not None and cpu.host.startswith("api-gateway-use1-")
    latency = found[AnomalyKind.LATENCY_REGRESSION]
    assert latency.symptom_of == cpu.key

    assert world.simulation.apply_action("scale_out", "api-gateway", "us-east-1").ok
    assert world.simulation.apply_action("scale_out", "api-gateway", "us-east-1").ok
    scaled = world.now
    world.advance(180)
    assert cassandra.check(cpu, since=scaled).healthy


def test_a_restart_empties_a_filling_disk() -> None:
    world = make_world("disk-fill", history=HISTORY)
    cassandra = Cassandra(world.context)
    (disk,) = cassandra.detect()
    assert disk.key == ("inventory-service", "eu-west-1", "disk_fill")
    assert disk.host == "inventory-service-euw1-a"
    assert disk.time_to_critical_s is not None
    # The scenario fills the disk 90 minutes after a start 40 minutes ago.
    assert disk.time_to_critical_s == pytest.approx(50 * 60, rel=0.1)

    assert world.simulation.apply_action("restart", "inventory-service", "eu-west-1").ok
    restarted = world.now
    world.advance(120)
    assert cassandra.check(disk, since=restarted).healthy


def test_a_cascade_links_its_symptoms_to_the_earliest_upstream_root() -> None:
    world = make_world("cascade", history="45m")
    cassandra = Cassandra(world.context)
    world.advance(13 * 60)

    anomalies = cassandra.detect()

    roots = [a for a in anomalies if a.symptom_of is None]
    assert [(a.service, a.region) for a in roots] == [("inventory-service", "us-east-1")]
    root = roots[0]
    symptoms = {a.service for a in anomalies if a.symptom_of == root.key}
    assert {"payment-service", "api-gateway"} <= symptoms
    assert all(a.onset_at >= root.onset_at for a in anomalies)
    # Roots come first, so a pipeline opening incidents in order opens the root's first.
    assert anomalies[0] == root


def test_tuning_thresholds_decide_what_counts() -> None:
    world = make_world("error-spike", history="45m")
    world.advance(7 * 60)
    lenient = Cassandra(world.context)
    strict = Cassandra(world.context, tuning=DetectionTuning(error_min_delta=0.5))
    assert any(a.kind is AnomalyKind.ERROR_SPIKE for a in lenient.detect())
    assert not any(a.kind is AnomalyKind.ERROR_SPIKE for a in strict.detect())
