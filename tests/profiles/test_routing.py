"""The active profile travels with the agents: their queries read the profile's indices."""

from __future__ import annotations

from dataclasses import replace

import polars as pl
import pytest

from qs_tui.agents.cassandra import Cassandra
from qs_tui.config import Settings
from qs_tui.profiles import parse_profile
from qs_tui.store.embedded import EmbeddedStore
from tests.agents.conftest import make_world

# The simulator's metrics, as a team might store them: other index, other names, fractions.
TEAM = """\
name = "team"
[metrics]
indices = ["team-metrics"]
service = "svc"
region = "zone"
host = "node"
[metrics.signals.memory_percent]
field = "mem.used.pct"
scale = 100.0
[metrics.signals.cpu_percent]
field = "cpu.used.pct"
scale = 100.0
[metrics.signals.disk_percent]
field = "disk.used"
[metrics.signals.error_rate]
field = "errors"
[metrics.signals.latency_p95_ms]
field = "latency"
[metrics.signals.requests_per_s]
field = "rps"
"""


def test_cassandra_finds_the_leak_through_a_custom_profile() -> None:
    world = make_world("memory-leak", history="70m")
    (expected,) = Cassandra(world.context).detect()

    frame = world.store.resolve("qs-metrics")[0].frame
    team = frame.select(
        pl.col("@timestamp"),
        pl.col("service").alias("svc"),
        pl.col("region").alias("zone"),
        pl.col("host").alias("node"),
        (pl.col("memory_percent") / 100.0).alias("mem.used.pct"),
        (pl.col("cpu_percent") / 100.0).alias("cpu.used.pct"),
        pl.col("disk_percent").alias("disk.used"),
        pl.col("error_rate").alias("errors"),
        pl.col("latency_p95_ms").alias("latency"),
        pl.col("requests_per_s").alias("rps"),
    )
    store = EmbeddedStore(now=world.clock.now)
    store.bulk_frame("team-metrics", team)
    context = replace(world.context, store=store, profile=parse_profile(TEAM))
    assert store.indices() == ["team-metrics"]  # nothing to read but the team's own index

    (found,) = Cassandra(context).detect()

    assert found.key == expected.key == ("payment-service", "us-east-1", "memory_leak")
    assert found.host == expected.host
    assert found.slope_per_s == pytest.approx(expected.slope_per_s, rel=1e-6)


def test_settings_take_the_profile_from_qs_profile() -> None:
    assert Settings.load(env={}, env_file=None).profile == "qs"
    assert Settings.load(env={"QS_PROFILE": "ecs"}, env_file=None).profile == "ecs"
