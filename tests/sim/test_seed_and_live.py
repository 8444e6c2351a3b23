"""`seed()` writes a scenario's backfill in batches; `run_live()` streams and prints a table."""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import timedelta

import pytest

from qs_tui.clock import ManualClock
from qs_tui.sim.cluster import Simulation, SimulationError
from qs_tui.sim.live import run_live, summarise
from qs_tui.sim.scenario import load_scenario
from qs_tui.sim.seed import seed
from qs_tui.store.base import BulkResult, Document, StoreError
from qs_tui.store.templates import DEPLOYMENTS, LOGS, METRICS
from tests.sim.fakes import RecordingStore


def test_seed_writes_history_in_batches_with_progress() -> None:
    scenario = load_scenario("leak-after-deploy")
    store = RecordingStore()
    calls: list[tuple[int, int]] = []
    counts = seed(
        store,
        scenario,
        history=timedelta(minutes=30),
        progress=lambda done, total: calls.append((done, total)),
        batch_size=1000,
    )
    assert store.templates_installed == 1
    assert store.refreshes == 1
    metrics = store.documents(METRICS)
    assert counts[METRICS] == len(metrics) == 24 * 181
    assert counts[LOGS] == len(store.documents(LOGS)) > 0
    # The bad deploy at -20m is inside the history: its deployment is there.
    payment = [d for d in store.documents(DEPLOYMENTS) if d["service"] == "payment-service"]
    assert [(d["version"], d["region"]) for d in payment] == [("2.4.0", "us-east-1")]
    assert max(len(batch) for index, batch in store.calls if index == METRICS) <= 1000
    assert len(calls) > 1
    assert calls[-1] == (24 * 181, 24 * 181)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    last = max(d["@timestamp"] for d in metrics)
    assert last == "2026-11-25T15:00:00.000Z"


def test_seed_defaults_to_the_scenario_history() -> None:
    scenario = load_scenario("healthy")
    store = RecordingStore()
    counts = seed(store, scenario)
    assert counts[METRICS] == 24 * (2 * 360 + 1)


def test_run_live_streams_and_prints_a_table() -> None:
    scenario = load_scenario("memory-leak")
    clock = ManualClock(scenario.start_time)
    store = RecordingStore()
    out = io.StringIO()
    totals = run_live(
        store,
        scenario,
        speed=60,
        out=out,
        stop_after=3,
        clock=clock,
        sleep=lambda seconds: clock.advance(seconds * 60),
        backfill=False,
    )
    text = out.getvalue()
    tables = text.strip().split("\n\n")
    assert len(tables) == 4  # at 0, 60, 120 and 180 simulated seconds
    assert "2026-11-25 14:03:00Z" in tables[-1]
    assert "!payment-service/us-east-1" in text
    assert " auth-service/eu-west-1" in text
    assert "active faults: memory_leak payment-service/us-east-1" in text
    assert totals[METRICS] == 24 * 19
    assert "\x1b[" not in text  # not a terminal: no screen control codes


def test_summarise_takes_the_worst_host_for_errors_and_latency() -> None:
    base = {"service": "a", "region": "r", "cpu_percent": 10.0, "memory_percent": 50.0,
            "requests_per_s": 5.0, "disk_percent": 30.0}  # fmt: skip
    rows = summarise(
        {
            "a-1": {**base, "error_rate": 0.01, "latency_p95_ms": 100.0, "cpu_percent": 20.0},
            "a-2": {**base, "error_rate": 0.2, "latency_p95_ms": 50.0},
        }
    )
    assert rows == [
        {"service": "a", "region": "r", "hosts": 2, "cpu_percent": 15.0, "memory_percent": 50.0,
         "error_rate": 0.2, "latency_p95_ms": 100.0, "requests_per_s": 10.0,
         "disk_percent": 30.0}
    ]  # fmt: skip


class RejectingStore(RecordingStore):
    """Rejects every log line, as a store with a bad mapping would."""

    def bulk(self, index: str, documents: Iterable[Document]) -> BulkResult:
        result = super().bulk(index, documents)
        if index == LOGS:
            return BulkResult(written=0, errors=["document 0: field [level] rejected"])
        return result


def test_seed_stops_with_a_store_error_when_documents_are_rejected() -> None:
    scenario = load_scenario("healthy")
    with pytest.raises(StoreError, match=r"rejected simulated documents.*field \[level\]"):
        seed(RejectingStore(), scenario, history=timedelta(minutes=5))


def test_backfill_must_come_first() -> None:
    scenario = load_scenario("healthy")
    simulation = Simulation.from_scenario(scenario, clock=ManualClock(scenario.start_time))
    simulation.step(RecordingStore())
    with pytest.raises(SimulationError, match="before the first step"):
        simulation.backfill(RecordingStore(), timedelta(minutes=5))
