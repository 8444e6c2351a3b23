"""The estate found in a team's data: services, regions, hosts, who calls whom, and changes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from qs_tui.clock import ManualClock
from qs_tui.live import (
    EstateError,
    EstateWatcher,
    TopologyConfigError,
    discover,
    discover_estate,
    load_dependencies,
    topology_file,
)
from qs_tui.profiles import query_text
from qs_tui.store.embedded import EmbeddedStore
from tests.live.conftest import ANCHOR, ECS, EcsCluster
from tests.store.conftest import API_KEY, elastic_store_for


def _host_sample(host: str, service: str, region: str, minutes_ago: float) -> dict[str, object]:
    """One canonical (qs-shaped) metric sample."""
    return {
        "@timestamp": ANCHOR - timedelta(minutes=minutes_ago),
        "service": service,
        "region": region,
        "host": host,
        "cpu_percent": 20.0,
        "memory_percent": 40.0,
        "disk_percent": 30.0,
        "error_rate": 0.001,
        "latency_p95_ms": 40.0,
        "requests_per_s": 100.0,
    }


def _qs_store(*samples: dict[str, object]) -> EmbeddedStore:
    store = EmbeddedStore()
    store.ensure_templates()
    store.bulk("qs-metrics", samples)
    store.refresh()
    return store


# ---- at the HTTP boundary, on ECS-shaped data ---------------------------------------------


def test_the_estate_and_its_service_map_are_found_in_ecs_data(ecs_cluster: EcsCluster) -> None:
    estate = discover(ecs_cluster.store, ECS, ANCHOR)

    topology = estate.topology
    # Callers before callees, as the agents expect.
    assert topology.services == ("frontend", "checkout", "payment")
    assert topology.regions == ("eu-west-1", "us-east-1")
    assert {(h.name, h.service, h.region) for h in estate.hosts} == {
        ("frontend-use1-a", "frontend", "us-east-1"),
        ("checkout-use1-a", "checkout", "us-east-1"),
        ("checkout-use1-b", "checkout", "us-east-1"),
        ("payment-use1-a", "payment", "us-east-1"),
        ("payment-euw1-a", "payment", "eu-west-1"),
    }  # legacy-batch last reported two hours ago: not part of the estate
    assert topology.hosts_per_region == 2  # checkout's two hosts in us-east-1
    # From APM exit spans: checkout:8080 and payment.shop.svc:8443 name services; postgresql
    # is not a watched service.
    assert estate.dependencies_from == "apm"
    assert dict(topology.graph) == {
        "frontend": ("checkout",),
        "checkout": ("payment",),
        "payment": (),
    }
    assert topology.dependents("payment") == {"checkout": 1, "frontend": 2}


def test_discovery_sends_one_stats_by_service_region_host_and_one_service_map_query(
    ecs_cluster: EcsCluster,
) -> None:
    discover_estate(ecs_cluster.store, ECS, ANCHOR)

    sent = [r.body for r in ecs_cluster.fake.requests_to("POST", "/_query")]
    assert sent[0]["query"] == query_text("estate_hosts", ECS)
    assert (
        "STATS samples = COUNT(*), last_seen = MAX(@timestamp) BY service, region, host"
        in (sent[0]["query"])
    )
    assert sent[0]["params"] == [{"start": "2026-11-25T13:00:00Z"}, {"end": "2026-11-25T14:00:00Z"}]
    assert sent[1]["query"].startswith("FROM traces-apm*")
    assert "span.destination.service.resource" in sent[1]["query"]
    assert len(sent) == 2
    writes = [r for r in ecs_cluster.fake.requests[ecs_cluster.loaded :] if r.path != "/_query"]
    assert [f"{r.method} {r.path}" for r in writes if r.method != "GET"] == []


def test_a_store_that_refuses_is_a_one_line_estate_error(ecs_cluster: EcsCluster) -> None:
    ecs_cluster.fake.script("POST", "/_query", status=403, fixture="error_security_403.json")
    with pytest.raises(EstateError) as raised:
        discover(ecs_cluster.store, ECS, ANCHOR)
    message = str(raised.value)
    assert message.startswith("cannot discover the estate: permission denied: ")
    assert "\n" not in message and API_KEY not in message


# ---- dependencies from the topology file ----------------------------------------------------


def test_without_a_service_map_the_dependencies_come_from_the_topology_file(
    tmp_path: Path,
) -> None:
    store = _qs_store(
        _host_sample("web-1", "web", "us-east-1", 1),
        _host_sample("api-1", "api", "us-east-1", 1),
        _host_sample("db-proxy-1", "db-proxy", "us-east-1", 1),
    )
    config = tmp_path / "qs.toml"
    config.write_text(
        "[topology.dependencies]\n"
        'web = ["api"]\n'
        'api = ["db-proxy", "redis"]  # redis sends no metrics: not a watched service\n',
        encoding="utf-8",
    )
    estate = discover(store, None, ANCHOR, topology_file=config)

    assert estate.dependencies_from == "config"
    assert estate.topology.services == ("web", "api", "db-proxy")
    assert dict(estate.topology.graph) == {"web": ("api",), "api": ("db-proxy",), "db-proxy": ()}


def test_without_a_service_map_or_a_file_there_are_no_made_up_dependencies() -> None:
    # Service names the simulator's default graph knows: the live estate must not borrow it.
    store = _qs_store(
        _host_sample("gw-1", "api-gateway", "us-east-1", 1),
        _host_sample("pay-1", "payment-service", "us-east-1", 1),
    )
    estate = discover(store, None, ANCHOR)
    assert estate.dependencies_from == "none"
    assert all(callees == () for callees in estate.topology.graph.values())


def test_a_dependency_cycle_keeps_the_first_edges_and_names_the_one_left_out(
    tmp_path: Path,
) -> None:
    store = _qs_store(
        _host_sample("a-1", "a", "r", 1),
        _host_sample("b-1", "b", "r", 1),
    )
    config = tmp_path / "deps.toml"
    config.write_text('[topology.dependencies]\na = ["b"]\nb = ["a"]\n', encoding="utf-8")
    estate = discover(store, None, ANCHOR, topology_file=config)
    assert dict(estate.topology.graph) == {"a": ("b",), "b": ()}
    assert estate.dropped_edges == ("b -> a",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[topology.dependencies]\nweb = "api"\n',
            ":2: topology.dependencies.web: expected a list",
        ),
        ("[topology.dependencies]\nweb = [\n", ":2: invalid TOML"),
        ('[topology.dependencies]\nweb = ["api",, ]\n', ":2: invalid TOML"),
        ('[topology]\ndependencies = ["web"]\n', ":2: topology.dependencies: not a table"),
    ],
)
def test_a_bad_topology_file_names_the_file_and_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    config = tmp_path / "qs.toml"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(TopologyConfigError) as raised:
        load_dependencies(config)
    assert str(raised.value).startswith(f"{config}{expected}"), str(raised.value)
    assert "\n" not in str(raised.value)


def test_the_topology_file_is_qs_topology_or_else_qs_toml_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert topology_file(None) is None
    (tmp_path / "qs.toml").write_text("", encoding="utf-8")
    assert topology_file(None) == Path("qs.toml")
    chosen = tmp_path / "estate.toml"
    chosen.write_text("", encoding="utf-8")
    assert topology_file(chosen) == chosen
    with pytest.raises(TopologyConfigError, match="QS_TOPOLOGY: no such file"):
        topology_file(tmp_path / "missing.toml")


def test_a_host_that_moved_within_the_hour_belongs_where_it_reported_last() -> None:
    store = _qs_store(
        _host_sample("node-7", "search", "us-east-1", 10),
        _host_sample("node-7", "cart", "us-east-1", 2),  # sorts first, and is the newer
        _host_sample("node-8", "search", "us-east-1", 1),
    )
    estate = discover(store, None, ANCHOR)
    assert {(h.name, h.service) for h in estate.hosts} == {("node-7", "cart"), ("node-8", "search")}


def test_an_estate_with_no_recent_metrics_is_an_error_that_says_so() -> None:
    store = _qs_store(_host_sample("old-1", "old", "us-east-1", 90))
    with pytest.raises(EstateError, match="no host sent metrics in the last hour"):
        discover_estate(store, None, ANCHOR)


# ---- refreshing -------------------------------------------------------------------------------


def test_the_watcher_rediscovers_when_due_and_reports_what_changed() -> None:
    store = _qs_store(
        _host_sample("web-1", "web", "us-east-1", 1),
        _host_sample("web-2", "web", "us-east-1", 1),
    )
    clock = ManualClock(ANCHOR)
    heard: list[str] = []
    watcher = EstateWatcher(
        store, clock, None, refresh_s=300, on_change=lambda change: heard.append(change.text)
    )
    assert watcher.poll() == [] and watcher.topology is not None
    assert watcher.topology.services == ("web",)

    # A new service starts reporting; web-2 stops (its last sample ages past the hour).
    clock.advance(60 * 61)
    store.bulk(
        "qs-metrics",
        [
            _host_sample("web-1", "web", "us-east-1", -61),
            _host_sample("cart-1", "cart", "eu-west-1", -61),
        ],
    )
    store.refresh()

    changes = watcher.poll()

    assert [(c.kind, c.subject) for c in changes] == [
        ("service-seen", "cart"),
        ("region-seen", "eu-west-1"),
        ("host-seen", "cart-1"),
        ("host-gone", "web-2"),
    ]
    assert heard == [c.text for c in changes]
    assert "host gone: web-2 (web, us-east-1" in heard[-1]
    assert watcher.topology is not None and watcher.topology.services == ("cart", "web")


def test_the_watcher_waits_for_its_refresh_interval_on_the_sources_clock() -> None:
    store = _qs_store(_host_sample("web-1", "web", "us-east-1", 1))
    clock = ManualClock(ANCHOR)
    watcher = EstateWatcher(store, clock, None, refresh_s=120)
    watcher.poll()
    store.bulk("qs-metrics", [_host_sample("api-1", "api", "us-east-1", 0)])
    store.refresh()
    clock.advance(119)
    assert watcher.poll() == [] and watcher.topology is not None
    assert watcher.topology.services == ("web",)
    clock.advance(1)
    assert [c.subject for c in watcher.poll()] == ["api", "api-1"]


def test_a_failed_refresh_keeps_the_last_estate_and_says_why() -> None:
    store = _qs_store(_host_sample("web-1", "web", "us-east-1", 1))
    clock = ManualClock(ANCHOR)
    watcher = EstateWatcher(store, clock, None, refresh_s=60)
    watcher.poll()
    known = watcher.topology
    clock.advance(3600)  # nothing reported for an hour
    assert watcher.poll() == []
    assert watcher.topology == known
    assert watcher.failure is not None and "no host sent metrics" in watcher.failure


def test_an_unreachable_cluster_is_a_watcher_failure_not_an_exception() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    store = elastic_store_for(url, ELASTIC_API_KEY=API_KEY)
    try:
        watcher = EstateWatcher(store, ManualClock(ANCHOR), ECS)
        assert watcher.poll() == []
    finally:
        store.close()
    assert watcher.topology is None
    assert watcher.failure is not None
    assert watcher.failure.startswith(f"cannot discover the estate: cannot reach {url}: ")


def test_a_live_pipeline_plans_on_the_estate_its_source_finds_again() -> None:
    from qs_tui.agents.events import AgentSpoke, Event
    from qs_tui.agents.pipeline import Pipeline
    from qs_tui.live import LiveSource
    from qs_tui.remediation.advisory import AdvisoryExecutor

    store = _qs_store(_host_sample("web-1", "web", "us-east-1", 1))
    clock = ManualClock(ANCHOR)
    watcher = EstateWatcher(store, clock, None, refresh_s=300)
    watcher.poll()
    assert watcher.topology is not None
    heard: list[Event] = []
    pipeline = Pipeline(
        store=store,
        source=LiveSource(store, clock, None, watcher=watcher),
        clock=clock,
        sink=heard.append,
        topology=watcher.topology,
        executor=AdvisoryExecutor(None),
    )
    pipeline.tick()
    assert pipeline.topology.services == ("web",)

    # Six minutes later a new service reports: the next due discovery hands it over once.
    clock.advance(6 * 60)
    store.bulk("qs-metrics", [_host_sample("cart-1", "cart", "us-east-1", -6)])
    store.refresh()
    pipeline.tick()

    assert pipeline.topology.services == ("cart", "web")
    assert pipeline.context.topology is pipeline.topology
    said = [e.text for e in heard if isinstance(e, AgentSpoke) and e.text.startswith("estate:")]
    assert len(said) == 2 and "cart" in said[0] and "cart-1" in said[1]
    clock.advance(10)
    pipeline.tick()  # within the refresh interval: nothing found again, nothing said again
    assert len([e for e in heard if isinstance(e, AgentSpoke) and "estate:" in e.text]) == 2
