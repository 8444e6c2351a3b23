"""Healthy telemetry: reproducible, chunk-independent, shaped by the day, self-consistent."""

from __future__ import annotations

import statistics
from datetime import timedelta

from qs_tui.clock import FrozenClock, ManualClock
from qs_tui.sim.cluster import Simulation
from qs_tui.sim.generator import daily_shape
from qs_tui.store.templates import BY_NAME, DEPLOYMENTS, LOGS, METRICS
from qs_tui.topology import Topology, generated_topology
from tests.sim.conftest import START
from tests.sim.fakes import RecordingStore

#: One host, for tests that need long spans of time.
SMALL = Topology(services=("api-gateway",), regions=("us-east-1",), hosts_per_region=1)


def backfill(seed: int, history: timedelta) -> RecordingStore:
    store = RecordingStore()
    Simulation(clock=FrozenClock(START), seed=seed).backfill(store, history)
    return store


def test_same_seed_same_documents() -> None:
    first = backfill(7, timedelta(minutes=30))
    second = backfill(7, timedelta(minutes=30))
    for index in (METRICS, LOGS, DEPLOYMENTS):
        assert first.documents(index) == second.documents(index)
    assert first.documents(METRICS)


def test_different_seed_different_noise() -> None:
    first = backfill(7, timedelta(minutes=10)).documents(METRICS)
    second = backfill(8, timedelta(minutes=10)).documents(METRICS)
    assert [d["cpu_percent"] for d in first] != [d["cpu_percent"] for d in second]


def test_output_does_not_depend_on_chunking() -> None:
    whole = RecordingStore()
    Simulation(clock=FrozenClock(START), seed=7).backfill(whole, timedelta(minutes=40))

    clock = ManualClock(START - timedelta(minutes=40))
    stepped = Simulation(clock=clock, seed=7, origin=START)
    pieces = RecordingStore()
    stepped.step(pieces)
    for seconds in (7, 60, 333, 10, 1990):
        clock.advance(seconds)
        stepped.step(pieces)
    assert clock.now() == START
    for index in (METRICS, LOGS):
        assert pieces.documents(index) == whole.documents(index)


def test_a_sample_depends_only_on_its_time_and_host() -> None:
    short = backfill(7, timedelta(minutes=5)).documents(METRICS)
    long = backfill(7, timedelta(minutes=50)).documents(METRICS)
    assert short == long[-len(short) :]


def test_metric_documents_have_exactly_the_mapped_fields() -> None:
    store = backfill(7, timedelta(minutes=2))
    for index in (METRICS, LOGS):
        fields = set(BY_NAME[index].properties)
        for document in store.documents(index):
            # `_id` is metadata (the deterministic document id), not a field.
            assert set(document) - {"_id"} == fields
            assert document["_id"].startswith(document["host"] + "/")
    document = store.documents(METRICS)[0]
    assert document["@timestamp"].endswith(".000Z")
    assert 0 <= document["error_rate"] <= 1
    assert all(0 < document[f] <= 100 for f in ("cpu_percent", "memory_percent", "disk_percent"))


def test_one_sample_per_host_per_interval() -> None:
    metrics = backfill(7, timedelta(minutes=10)).documents(METRICS)
    assert len(metrics) == 24 * (60 + 1)
    stamps = sorted({d["@timestamp"] for d in metrics})
    assert stamps[0] == "2026-11-25T13:50:00.000Z"
    assert stamps[-1] == "2026-11-25T14:00:00.000Z"


def test_traffic_follows_the_local_day() -> None:
    # 20:00 UTC is 15:00 in us-east-1 (peak); 17:00 UTC is 03:00 in ap-southeast-2 (night).
    assert daily_shape(START.replace(hour=20), "us-east-1") > 0.99
    assert daily_shape(START.replace(hour=17), "ap-southeast-2") < 0.36
    store = RecordingStore()
    Simulation(clock=FrozenClock(START.replace(hour=8)), topology=SMALL, seed=7).backfill(
        store, timedelta(hours=24)
    )
    metrics = [d for d in store.documents(METRICS) if d["host"] == "api-gateway-use1-a"]
    by_hour: dict[str, list[float]] = {}
    for document in metrics:
        by_hour.setdefault(document["@timestamp"][11:13], []).append(document["requests_per_s"])
    peak = statistics.mean(by_hour["20"])  # 15:00 local
    trough = statistics.mean(by_hour["08"])  # 03:00 local
    assert peak > 2.2 * trough


def test_cpu_follows_requests_and_latency_follows_cpu() -> None:
    store = RecordingStore()
    Simulation(clock=FrozenClock(START.replace(hour=22)), topology=SMALL, seed=7).backfill(
        store, timedelta(hours=20)
    )
    host = [d for d in store.documents(METRICS) if d["host"] == "api-gateway-use1-a"]
    requests = [d["requests_per_s"] for d in host]
    cpu = [d["cpu_percent"] for d in host]
    assert statistics.correlation(requests, cpu) > 0.9
    busy = [d["latency_p95_ms"] for d in host if d["cpu_percent"] > 40]
    idle = [d["latency_p95_ms"] for d in host if d["cpu_percent"] < 20]
    assert statistics.mean(busy) > statistics.mean(idle)


def test_log_volume_follows_traffic_and_errors() -> None:
    store = backfill(7, timedelta(hours=1))
    logs = store.documents(LOGS)
    levels = {d["level"] for d in logs}
    assert {"INFO", "ERROR"} <= levels
    info_by_service: dict[str, int] = {}
    for document in logs:
        if document["level"] == "INFO":
            info_by_service[document["service"]] = info_by_service.get(document["service"], 0) + 1
    # api-gateway serves the most requests per host, payment-service the fewest.
    assert info_by_service["api-gateway"] > info_by_service["payment-service"]
    errors = [d for d in logs if d["level"] == "ERROR"]
    assert all(d["error_code"] and d["message"].startswith(d["error_code"]) for d in errors)
    assert all(len(d["trace_id"]) == 32 for d in logs)
    assert all(d["error_code"] is None for d in logs if d["level"] == "INFO")


def test_healthy_deploys_bump_versions_with_faker_authors() -> None:
    store = RecordingStore()
    topology = Topology(services=("api-gateway", "auth-service"), hosts_per_region=1)
    Simulation(clock=FrozenClock(START), topology=topology, seed=7, interval_s=60).backfill(
        store, timedelta(days=3)
    )
    deploys = store.documents(DEPLOYMENTS)
    assert deploys
    for document in deploys:
        assert len(document["commit"]) == 7
        int(document["commit"], 16)
        assert document["author"]
        major, minor, patch = document["version"].split(".")
        assert document["previous_version"] == f"{major}.{minor}.{int(patch) - 1}"
    # A release rolls out region by region with the same commit.
    first = deploys[0]
    same = [
        d for d in deploys if d["version"] == first["version"] and d["service"] == first["service"]
    ]
    assert len({d["region"] for d in same}) == 3
    assert len({d["commit"] for d in same}) == 1


def test_a_generated_fifty_service_estate_runs() -> None:
    topology = generated_topology(50, seed=5, regions=("us-east-1", "ap-southeast-2"))
    simulation = Simulation(clock=FrozenClock(START), topology=topology, seed=5)
    documents = simulation.generate(START)
    assert len(documents[METRICS]) == 50 * 2 * 2
    assert {d["service"] for d in documents[METRICS]} == set(topology.services)
