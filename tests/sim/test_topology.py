"""Topology: hosts, names, the dependency graph, generated estates."""

from __future__ import annotations

import pytest

from qs_tui.topology import (
    Topology,
    default_topology,
    generated_topology,
    host_name,
    region_code,
)


def test_default_topology_has_24_named_hosts() -> None:
    topology = default_topology()
    hosts = topology.hosts()
    assert len(hosts) == 4 * 3 * 2
    names = {host.name for host in hosts}
    assert "payment-service-use1-a" in names
    assert "api-gateway-euw1-b" in names
    assert "inventory-service-usw2-a" in names


@pytest.mark.parametrize(
    ("region", "code"),
    [
        ("us-east-1", "use1"),
        ("us-west-2", "usw2"),
        ("eu-west-1", "euw1"),
        ("ap-southeast-2", "apse2"),
    ],
)
def test_region_codes(region: str, code: str) -> None:
    assert region_code(region) == code


def test_host_names_go_past_z() -> None:
    assert host_name("api-gateway", "us-east-1", 2) == "api-gateway-use1-c"
    assert host_name("api-gateway", "us-east-1", 27) != host_name("api-gateway", "us-east-1", 1)


def test_dependency_graph_and_dependents() -> None:
    topology = default_topology()
    assert set(topology.callees("api-gateway")) == {
        "auth-service",
        "payment-service",
        "inventory-service",
    }
    assert "payment-service" in topology.callers("inventory-service")
    assert topology.dependents("inventory-service") == {"api-gateway": 1, "payment-service": 1}
    chain = Topology(
        services=("a", "b", "c"),
        dependencies={"a": ("b",), "b": ("c",)},
    )
    assert chain.dependents("c") == {"b": 1, "a": 2}


def test_cycles_and_unknown_services_are_rejected() -> None:
    with pytest.raises(ValueError, match="dependency cycle: a -> b -> a"):
        Topology(services=("a", "b"), dependencies={"a": ("b",), "b": ("a",)})
    with pytest.raises(ValueError, match="unknown service 'zz'"):
        Topology(services=("a",), dependencies={"a": ("zz",)})


def test_generated_topology_scales_to_50_services_as_a_dag() -> None:
    topology = generated_topology(50, seed=3)
    assert len(topology.services) == 50
    assert len(set(topology.services)) == 50
    assert topology.services[0] == "api-gateway"
    # Every service but the entry point is reachable: someone calls it.
    for service in topology.services[1:]:
        assert topology.callers(service), service
    assert len(topology.hosts()) == 50 * 3 * 2


def test_generated_topology_is_seeded() -> None:
    assert generated_topology(20, seed=1) == generated_topology(20, seed=1)
    assert generated_topology(20, seed=1).services != generated_topology(20, seed=2).services
    with pytest.raises(ValueError):
        generated_topology(51, seed=1)
