"""Retention: the embedded store drops telemetry older than its window, and nothing else."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from qs_tui.cli import main
from qs_tui.clock import ManualClock
from qs_tui.config import Settings
from qs_tui.sim.cluster import Simulation
from qs_tui.store.embedded import EmbeddedStore
from qs_tui.store.factory import open_store
from qs_tui.store.retention import DEFAULT_RETENTION, PRUNE_EVERY, is_telemetry
from qs_tui.store.templates import DECISIONS, DEPLOYMENTS, INCIDENTS, LOGS, METRICS
from qs_tui.topology import Topology

T0 = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)


def metric(at: datetime, host: str = "auth-euw1-1") -> dict[str, Any]:
    return {
        "@timestamp": at,
        "service": "auth-service",
        "region": "eu-west-1",
        "host": host,
        "cpu_percent": 50.0,
    }


def fill(store: EmbeddedStore, hours: int) -> None:
    """One metric sample and one log line per hour, plus records that must survive."""
    store.ensure_templates()
    store.bulk(METRICS, [metric(T0 + timedelta(hours=h)) for h in range(hours)])
    store.bulk(
        LOGS,
        [
            {"@timestamp": T0 + timedelta(hours=h), "service": "auth-service", "message": "ok"}
            for h in range(hours)
        ],
    )
    store.bulk(
        "metrics-system.cpu-default", [metric(T0 + timedelta(hours=h)) for h in range(hours)]
    )
    store.index(INCIDENTS, {"@timestamp": T0, "incident_id": "INC-0001", "title": "old"})
    store.index(DECISIONS, {"@timestamp": T0, "agent": "cassandra", "decision": "detected"})
    store.index(DEPLOYMENTS, {"@timestamp": T0, "service": "auth-service", "version": "1.0.0"})


def oldest(store: EmbeddedStore, index: str) -> str:
    return str(store.esql(f"FROM {index} | STATS oldest = MIN(@timestamp)").values[0][0])


def test_telemetry_names() -> None:
    for name in (METRICS, LOGS, "metrics-system.cpu-default", "logs-apm.error-default"):
        assert is_telemetry(name)
    assert is_telemetry("traces-apm-default")
    for name in (INCIDENTS, DECISIONS, DEPLOYMENTS, "qs-metrics-archive", "notes"):
        assert not is_telemetry(name)


def test_old_telemetry_is_dropped_and_records_are_kept() -> None:
    store = EmbeddedStore(retention=timedelta(hours=24))
    fill(store, hours=48)
    now = T0 + timedelta(hours=48)
    dropped = store.expire(now)
    # 24 hours of metric samples and of log lines go: hours 0..23 are before now - 24h.
    assert dropped == 48
    assert store.count(METRICS) == 24
    assert store.count(LOGS) == 24
    assert oldest(store, METRICS) == "2026-11-26T00:00:00.000Z"
    for index in (INCIDENTS, DECISIONS, DEPLOYMENTS):
        assert store.count(index) == 1
    # Not a data stream (created by a plain write): a user's own index is never touched.
    assert store.count("metrics-system.cpu-default") == 48


def test_telemetry_data_streams_of_other_shapes_are_expired() -> None:
    store = EmbeddedStore(retention=timedelta(hours=2))
    mapping = {"properties": {"@timestamp": {"type": "date"}, "host": {"type": "keyword"}}}
    store.create_index("metrics-system.cpu-default", mapping, data_stream=True)
    store.create_index("notes-default", mapping, data_stream=True)
    for index in ("metrics-system.cpu-default", "notes-default"):
        store.bulk(index, [metric(T0 + timedelta(hours=h)) for h in range(6)])
    assert store.expire(T0 + timedelta(hours=6)) == 4
    assert store.count("metrics-system.cpu-default") == 2
    assert store.count("notes-default") == 6


def test_expiry_is_coarse_and_follows_the_clock_it_is_given() -> None:
    clock = ManualClock(T0 + timedelta(hours=30))
    store = EmbeddedStore(now=clock.now, retention=timedelta(hours=24))
    fill(store, hours=48)
    assert store.expire() == 2 * 6  # the store's own clock: hours 0..5 of metrics and logs
    # Within PRUNE_EVERY of the last pass nothing is rewritten, even if it is due.
    clock.advance((PRUNE_EVERY - timedelta(minutes=1)).total_seconds())
    assert store.expire() == 0
    clock.advance(60)
    assert store.expire() == 2 * 1
    # `keep` widens the window (a simulated run's seeded history stays).
    assert store.expire(T0 + timedelta(hours=40), keep=timedelta(hours=36)) == 2 * 0
    assert store.count(METRICS) == 48 - 7


def test_no_retention_keeps_everything() -> None:
    store = EmbeddedStore(retention=None)
    fill(store, hours=48)
    assert store.expire(T0 + timedelta(days=30)) == 0
    assert store.count(METRICS) == 48


def test_a_persisted_store_drops_what_it_persisted(tmp_path: Path) -> None:
    store = EmbeddedStore(data_dir=tmp_path, retention=timedelta(hours=12))
    fill(store, hours=48)
    assert store.expire(T0 + timedelta(hours=48)) == 2 * 36
    store.close()
    reopened = EmbeddedStore(data_dir=tmp_path)
    assert reopened.count(METRICS) == 12
    assert reopened.count(LOGS) == 12
    assert oldest(reopened, METRICS) == "2026-11-26T12:00:00.000Z"
    assert reopened.count(INCIDENTS) == 1
    reopened.close()


def test_the_simulation_expires_on_the_pipelines_clock() -> None:
    """The simulated source asks the store to expire at its clock's now (the pipeline's),
    not the store's wall clock: scenarios in the past keep their telemetry."""
    clock = ManualClock(T0)
    topology = Topology(services=("api-gateway",), regions=("us-east-1",), hosts_per_region=1)
    simulation = Simulation(clock=clock, topology=topology, interval_s=600)
    store = EmbeddedStore(retention=timedelta(hours=3))  # wall clock: days after T0
    store.ensure_templates()
    simulation.backfill(store, timedelta(hours=1))
    for _ in range(12):  # twelve simulated hours
        clock.advance(3600)
        simulation.step(store)
    # Samples every 10 minutes; the window is 3 h plus at most one pruning step of slack.
    assert 3 * 6 <= store.count(METRICS) <= 4 * 6 + 1
    assert oldest(store, METRICS) >= "2026-11-25T08:00:00.000Z"


def test_qs_retention_reaches_the_store(tmp_path: Path) -> None:
    settings = Settings.load(env={"QS_RETENTION": "90m"}, env_file=None)
    assert settings.retention == timedelta(minutes=90)
    assert Settings.load(env={}, env_file=None).retention == DEFAULT_RETENTION
    store = open_store(settings, kind="embedded")
    assert isinstance(store, EmbeddedStore)
    assert store.retention == timedelta(minutes=90)
    store.close()


@pytest.mark.parametrize("value", ["1 day", "0", "-2h", "24"])
def test_a_bad_qs_retention_is_a_one_line_error(
    value: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QS_RETENTION", value)
    out, err = io.StringIO(), io.StringIO()
    assert main(["esql", "ROW a = 1"], out=out, err=err) == 1
    lines = err.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: invalid settings: QS_RETENTION (in the environment): ")
    assert "Traceback" not in err.getvalue()
