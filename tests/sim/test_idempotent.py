"""Telemetry is written once: restarts, re-seeds and resumed seeds leave each host/timestamp
sample once; an interrupted seed is visible until a re-run completes it; the embedded store's
telemetry stays bounded over a long run."""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path

import pytest

from qs_tui.clock import ManualClock, iso_instant
from qs_tui.config import Settings
from qs_tui.doctor import run_doctor
from qs_tui.sim.cluster import Simulation
from qs_tui.sim.scenario import load_scenario
from qs_tui.sim.seed import seed, seed_status
from qs_tui.store.base import BulkResult, Document, Store, StoreError
from qs_tui.store.embedded import EmbeddedStore
from qs_tui.store.retention import DEFAULT_RETENTION
from qs_tui.store.templates import LOGS, METRICS
from qs_tui.topology import Topology

HOSTS = 24  # the default estate: 4 services x 3 regions x 2 hosts


def sample_counts(store: Store) -> tuple[int, int]:
    """(distinct host/timestamp pairs, the most copies of any one pair)."""
    result = store.esql(
        "FROM qs-metrics | STATS copies = COUNT(*) BY host, @timestamp"
        " | STATS pairs = COUNT(*), worst = MAX(copies)"
    )
    pairs, worst = result.values[0]
    return int(pairs), int(worst or 0)


def play(store: Store, *, minutes: int) -> Simulation:
    """One run of the memory-leak scenario: 30 minutes of history, then `minutes` live."""
    scenario = load_scenario("memory-leak")
    clock = ManualClock(scenario.start_time)
    simulation = Simulation.from_scenario(scenario, clock=clock)
    store.ensure_templates()
    simulation.backfill(store, timedelta(minutes=30))
    for _ in range(minutes * 6):
        clock.advance(10)
        simulation.step(store)
    return simulation


def test_restarts_on_a_persisted_store_leave_each_sample_once(tmp_path: Path) -> None:
    skipped = []
    for _ in range(3):
        store = EmbeddedStore(data_dir=tmp_path / "data")
        simulation = play(store, minutes=5)
        skipped.append(simulation.backfill_skipped)
        store.close()
    store = EmbeddedStore(data_dir=tmp_path / "data")
    # 30 minutes of history (181 intervals) and 5 live minutes (30), once each.
    assert sample_counts(store) == (HOSTS * (181 + 30), 1)
    # The first run wrote the history; the restarts found it there and skipped it.
    assert skipped == [0, HOSTS * 181, HOSTS * 181]
    (logs,) = store.resolve(LOGS)
    assert logs.frame.height > 0 and not logs.frame["_id"].is_duplicated().any()
    store.close()


def test_seeding_twice_leaves_each_sample_once() -> None:
    scenario = load_scenario("memory-leak")
    store = EmbeddedStore()
    first = seed(store, scenario, history=timedelta(minutes=20), batch_size=500)
    second = seed(store, scenario, history=timedelta(minutes=20), batch_size=500)
    assert first[METRICS] == HOSTS * 121
    assert second[METRICS] == 0
    assert sample_counts(store) == (HOSTS * 121, 1)
    status = seed_status(store)
    assert status is not None and status.complete


class FailingAfter(EmbeddedStore):
    """An embedded store whose metric writes fail after `allowed` successful ones (a seed
    killed halfway: everything before that point is durable)."""

    def __init__(self, allowed: int, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.allowed = allowed

    def bulk(self, index: str, documents: Iterable[Document]) -> BulkResult:
        if index == METRICS:
            if self.allowed == 0:
                raise StoreError("cannot reach the store", "connection lost")
            self.allowed -= 1
        return super().bulk(index, documents)


def test_an_interrupted_seed_shows_in_doctor_and_a_re_run_completes_it(tmp_path: Path) -> None:
    scenario = load_scenario("memory-leak")
    data = tmp_path / "data"
    history = timedelta(minutes=20)
    broken = FailingAfter(2, data_dir=data)
    with pytest.raises(StoreError, match="connection lost"):
        seed(broken, scenario, history=history, batch_size=24 * 30)
    partial, _ = sample_counts(broken)
    broken.close()
    assert 0 < partial < HOSTS * 121

    out = io.StringIO()
    run_doctor(Settings.load(env={"QS_DATA_DIR": str(data)}, env_file=None), out=out)
    assert "warn  seed: seed incomplete:" in out.getvalue()
    assert "re-run qs-tui seed" in out.getvalue()

    store = EmbeddedStore(data_dir=data)
    counts = seed(store, scenario, history=history, batch_size=24 * 30)
    assert counts[METRICS] == HOSTS * 121 - partial  # only what was missing
    assert sample_counts(store) == (HOSTS * 121, 1)
    store.close()
    out = io.StringIO()
    run_doctor(Settings.load(env={"QS_DATA_DIR": str(data)}, env_file=None), out=out)
    assert "ok    seed: complete (scenario memory-leak, 20m)" in out.getvalue()


def test_a_long_run_keeps_the_embedded_store_bounded() -> None:
    scenario = load_scenario("healthy")
    clock = ManualClock(scenario.start_time)
    # A small estate sampled every minute keeps two simulated days quick to generate.
    topology = Topology(services=("api-gateway",), regions=("us-east-1",), hosts_per_region=2)
    simulation = Simulation(clock=clock, topology=topology, interval_s=60)
    store = EmbeddedStore(now=clock.now)
    store.ensure_templates()
    simulation.backfill(store, timedelta(minutes=10))
    per_day = 2 * 24 * 60
    largest = 0
    # Two simulated days, ten minutes per step: the second day is all past the retention
    # window, so an unpruned store would hold twice what is allowed.
    for _ in range(2 * 24 * 6):
        clock.advance(600)
        simulation.step(store)
        largest = max(largest, store.count(METRICS))
    # The retention window plus at most one pruning step (an hour) of slack, however long
    # it runs: without pruning it would hold two days.
    assert timedelta(hours=24) == DEFAULT_RETENTION
    assert per_day < largest <= per_day + 2 * 70
    assert store.count(METRICS) <= per_day + 2 * 70
    oldest = store.esql("FROM qs-metrics | STATS oldest = MIN(@timestamp)").values[0][0]
    assert oldest >= iso_instant(clock.now() - DEFAULT_RETENTION - timedelta(hours=1))
    assert store.count(LOGS) > 0


def test_seeding_a_cluster_twice_leaves_each_sample_once() -> None:
    from tests.store.conftest import API_KEY, elastic_store_for
    from tests.store.fake_es import FakeElasticsearch

    scenario = load_scenario("memory-leak")
    with FakeElasticsearch(engine=True) as server:
        for expected in (HOSTS * 61, 0):
            store = elastic_store_for(server.url, ELASTIC_API_KEY=API_KEY)
            counts = seed(store, scenario, history=timedelta(minutes=10))
            assert counts[METRICS] == expected
            store.close()
        engine = server._engine
        assert sample_counts(engine) == (HOSTS * 61, 1)
        status = seed_status(engine)
        assert status is not None and status.complete
    # The second seed found the history there and sent no metrics at all.
    bulk_bodies = [r.body for r in server.requests_to("PUT", "/_bulk")]
    metric_ops = [
        line
        for body in bulk_bodies
        for line in body
        if line.get("create", {}).get("_index") == METRICS
    ]
    assert len(metric_ops) == HOSTS * 61
