"""On every built-in profile, the live source and discovery read back what the simulator wrote
in that profile's shape: the same hosts, services and regions, and each host's latest reading
equal to the one written in the `qs` shape (canonical units; ECS keeps percentages at 0.1 %)."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

import pytest

from qs_tui.clock import FrozenClock
from qs_tui.live import Estate, LiveSource, discover
from qs_tui.sim.scenario import load_scenario
from qs_tui.sim.seed import seed
from qs_tui.store.embedded import EmbeddedStore
from qs_tui.topology import default_topology

SIGNALS = (
    "cpu_percent",
    "memory_percent",
    "disk_percent",
    "error_rate",
    "latency_p95_ms",
    "requests_per_s",
)


@cache
def _read_back(shape: str) -> tuple[Estate, dict[str, dict[str, Any]]]:
    """Three minutes of the healthy estate written in `shape`, discovered and read live."""
    scenario = load_scenario("healthy")
    store = EmbeddedStore()
    seed(store, scenario, history=timedelta(minutes=3), shape=shape)
    store.refresh()
    clock = FrozenClock(scenario.start_time)
    step = LiveSource(store, clock, shape).step(store)
    assert step.failure is None
    return discover(store, shape, clock.now()), step.latest


@pytest.mark.parametrize("shape", ["qs", "ecs", "otel"])
def test_the_estate_is_the_one_the_simulator_wrote(shape: str) -> None:
    estate, _latest = _read_back(shape)
    expected = default_topology()
    assert set(estate.topology.services) == set(expected.services)
    assert set(estate.topology.regions) == set(expected.regions)
    assert {h.name for h in estate.hosts} == {h.name for h in expected.hosts()}
    assert estate.topology.hosts_per_region == expected.hosts_per_region


@pytest.mark.parametrize("shape", ["ecs", "otel"])
def test_each_hosts_latest_reading_equals_the_qs_shapes(shape: str) -> None:
    _estate, latest = _read_back(shape)
    _qs_estate, canonical = _read_back("qs")
    assert set(latest) == set(canonical) and len(latest) == 24
    for host, reading in latest.items():
        assert reading["@timestamp"] == canonical[host]["@timestamp"]
        assert (reading["service"], reading["region"]) == (
            canonical[host]["service"],
            canonical[host]["region"],
        )
        for signal in SIGNALS:
            want = canonical[host][signal]
            # ECS stores percentages as scaled_float fractions (3 decimals): 0.1 point.
            assert reading[signal] == pytest.approx(want, rel=1e-3, abs=0.06), (host, signal)
