"""End to end on the embedded store: seeded telemetry answers ES|QL the way agents will ask."""

from __future__ import annotations

from datetime import timedelta

import pytest

from qs_tui.clock import ManualClock
from qs_tui.sim.cluster import Simulation
from qs_tui.sim.scenario import load_scenario
from qs_tui.sim.seed import seed
from qs_tui.store.embedded import EmbeddedStore

SLOPE = """
FROM qs-metrics
| WHERE service == ?service AND region == ?region AND @timestamp >= ?start
| EVAL t = (TO_LONG(@timestamp) - TO_LONG(TO_DATETIME(?start))) / 60000.0
| STATS n = COUNT(*), sx = SUM(t), sy = SUM(memory_percent), sxy = SUM(t * memory_percent),
        sxx = SUM(t * t) BY host
| EVAL slope = (n * sxy - sx * sy) / (n * sxx - sx * sx)
| KEEP host, slope
| SORT host
"""


def test_leak_slope_and_deploy_are_visible_through_esql() -> None:
    scenario = load_scenario("leak-after-deploy")
    store = EmbeddedStore(now=lambda: scenario.start_time)
    counts = seed(store, scenario, history=timedelta(hours=1))
    assert counts["qs-metrics"] == 24 * 361
    params = {
        "service": "payment-service",
        "region": "us-east-1",
        "start": "2026-11-25T14:41:00.000Z",
    }
    rows = store.esql(SLOPE, params=params).records()
    assert [row["host"] for row in rows] == ["payment-service-use1-a", "payment-service-use1-b"]
    for row in rows:
        assert row["slope"] == pytest.approx(1.0, rel=0.15)  # the scenario's rate, % per minute
    deploys = store.esql(
        'FROM qs-deployments | WHERE service == "payment-service" AND version == "2.4.0"'
        " | KEEP @timestamp, region, previous_version"
    ).records()
    assert deploys == [
        {
            "@timestamp": "2026-11-25T14:40:00.000Z",
            "region": "us-east-1",
            "previous_version": "2.3.7",
        }
    ]


def test_rollback_shows_in_the_store_after_the_next_step() -> None:
    scenario = load_scenario("leak-after-deploy")
    clock = ManualClock(scenario.start_time)
    store = EmbeddedStore(now=clock.now)
    store.ensure_templates()
    simulation = Simulation.from_scenario(scenario, clock=clock)
    simulation.backfill(store, timedelta(minutes=30))
    assert simulation.apply_action("rollback", "payment-service", "us-east-1").changed
    clock.advance(15 * 60)
    simulation.step(store)
    params = {
        "service": "payment-service",
        "region": "us-east-1",
        "start": "2026-11-25T15:00:10.000Z",
    }
    for row in store.esql(SLOPE, params=params).records():
        assert abs(row["slope"]) < 0.3  # flat but for noise; it was 1.0 before
    versions = store.esql(
        'FROM qs-deployments | WHERE service == "payment-service" AND region == "us-east-1"'
        " | SORT @timestamp | KEEP version"
    ).values
    assert versions == [["2.4.0"], ["2.3.7"]]
