"""The live source reads a team's telemetry at the HTTP boundary and never writes any."""

from __future__ import annotations

import socket
from datetime import timedelta
from typing import Any

import pytest

from qs_tui.agents.source import TelemetrySource
from qs_tui.clock import ManualClock
from qs_tui.live import LiveSource
from qs_tui.profiles import query_text
from qs_tui.sim.cluster import Simulation
from qs_tui.sim.scenario import load_scenario
from qs_tui.store.embedded import EmbeddedStore
from tests.live.conftest import ANCHOR, ECS, EcsCluster
from tests.store.conftest import API_KEY, elastic_store_for
from tests.store.fake_es import RecordedRequest

LIVE_HOSTS = {
    "frontend-use1-a",
    "checkout-use1-a",
    "checkout-use1-b",
    "payment-use1-a",
    "payment-euw1-a",
}


def _writes(requests: list[RecordedRequest]) -> list[str]:
    """Requests that would change data on a cluster (anything but reads and `_query`)."""
    reads = {("GET", "/"), ("HEAD", "/"), ("POST", "/_query")}
    return [f"{r.method} {r.path}" for r in requests if (r.method, r.path) not in reads]


def test_a_step_sends_the_rendered_queries_with_parameters_and_nothing_else(
    ecs_cluster: EcsCluster,
) -> None:
    source = LiveSource(ecs_cluster.store, ecs_cluster.clock, ECS)
    step = source.step(ecs_cluster.store)

    assert step.failure is None and (step.pending, step.dropped) == (0, 0)
    sent = ecs_cluster.fake.requests[ecs_cluster.loaded :]
    queries = [r.body for r in sent if r.path == "/_query"]
    assert [q["query"] for q in queries] == [
        query_text("metrics_newest_per_host", ECS),
        query_text("live_latest_samples", ECS),
    ]
    assert all("FROM metrics-system.cpu-*, metrics-system.memory-*" in q["query"] for q in queries)
    # Values travel as ES|QL named parameters, never in the query text.
    assert queries[0]["params"] == [
        {"start": "2026-11-25T13:55:00Z"},
        {"end": "2026-11-25T14:00:00Z"},
    ]
    assert "2026-11-25" not in queries[0]["query"]
    assert _writes(sent) == []


def test_latest_holds_each_live_hosts_newest_sample_in_canonical_columns(
    ecs_cluster: EcsCluster,
) -> None:
    source = LiveSource(ecs_cluster.store, ecs_cluster.clock, ECS)
    latest = source.step(ecs_cluster.store).latest

    # legacy-batch stopped reporting two hours ago: it has no latest reading.
    assert set(latest) == LIVE_HOSTS
    payment = latest["payment-use1-a"]
    assert (payment["service"], payment["region"]) == ("payment", "us-east-1")
    assert payment["@timestamp"].startswith("2026-11-25T14:00:00")
    # Fractions 0-1 in ECS, percentages in canonical columns.
    for signal in ("cpu_percent", "memory_percent", "disk_percent"):
        assert 1.0 < payment[signal] <= 100.0, (signal, payment[signal])
    # From APM transactions: one document per 10 s standing for 50 requests, 20-60 ms each.
    assert payment["requests_per_s"] == pytest.approx(5.0)
    assert 20.0 <= payment["latency_p95_ms"] <= 60.0
    assert 0.0 <= payment["error_rate"] <= 1.0


def test_steps_within_one_interval_read_the_store_once(ecs_cluster: EcsCluster) -> None:
    clock = ManualClock(ANCHOR)
    source = LiveSource(ecs_cluster.store, clock, ECS, interval_s=10)
    first = source.step(ecs_cluster.store)
    clock.advance(9)
    again = source.step(ecs_cluster.store)
    queries = ecs_cluster.fake.requests_to("POST", "/_query")
    assert again is first and len(queries) == 2
    clock.advance(1)
    source.step(ecs_cluster.store)
    assert len(ecs_cluster.fake.requests_to("POST", "/_query")) == 4
    assert _writes(ecs_cluster.fake.requests[ecs_cluster.loaded :]) == []


def test_a_403_becomes_a_one_line_failure_and_the_last_reading_stays(
    ecs_cluster: EcsCluster,
) -> None:
    clock = ManualClock(ANCHOR)
    source = LiveSource(ecs_cluster.store, clock, ECS)
    good = source.step(ecs_cluster.store)
    ecs_cluster.fake.script("POST", "/_query", status=403, fixture="error_security_403.json")
    clock.advance(10)

    failed = source.step(ecs_cluster.store)

    assert failed.failure is not None
    assert failed.failure.startswith("permission denied: ")
    assert "\n" not in failed.failure and "Traceback" not in failed.failure
    assert API_KEY not in failed.failure
    assert failed.latest == good.latest
    # A failed read is retried on the next step, not an interval later.
    recovered = source.step(ecs_cluster.store)
    assert recovered.failure is None and set(recovered.latest) == LIVE_HOSTS


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_a_cluster_that_is_down_becomes_a_one_line_failure() -> None:
    url = _closed_port_url()
    store = elastic_store_for(url, ELASTIC_API_KEY=API_KEY)
    try:
        source = LiveSource(store, ManualClock(ANCHOR), ECS)
        step = source.step(store)
    finally:
        store.close()
    assert step.failure is not None and step.failure.startswith(f"cannot reach {url}: ")
    assert "\n" not in step.failure and step.latest == {}


def test_on_the_qs_shape_latest_is_what_the_simulator_wrote() -> None:
    scenario = load_scenario("memory-leak")
    clock = ManualClock(scenario.start_time)
    store = EmbeddedStore()
    store.ensure_templates()
    simulation = Simulation.from_scenario(scenario, clock=clock)
    simulation.backfill(store, timedelta(minutes=5))
    written = simulation.step(store).latest
    store.refresh()

    source: TelemetrySource = LiveSource(store, clock, None)
    read = source.step(store).latest

    assert set(read) == set(written) and len(read) == 24
    for host, document in written.items():
        for column in ("service", "region", "cpu_percent", "memory_percent", "error_rate"):
            expected: Any = document[column]
            assert read[host][column] == pytest.approx(expected, rel=1e-3), (host, column)


def test_reading_the_live_source_loads_nothing_of_the_simulator() -> None:
    import subprocess
    import sys

    script = (
        "import sys, qs_tui.live\n"
        "print(sorted(m for m in sys.modules if m.startswith('qs_tui.sim')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_profile_can_be_named_as_the_session_names_it(ecs_cluster: EcsCluster) -> None:
    by_name = LiveSource(ecs_cluster.store, ecs_cluster.clock, "ecs")
    assert by_name.queries == LiveSource(ecs_cluster.store, ecs_cluster.clock, ECS).queries
    assert set(by_name.step(ecs_cluster.store).latest) == LIVE_HOSTS
