"""Records are never lost, overwritten or duplicated: incident ids are unique across runs and
processes, audit writes are retried and queued while the store is down, a run whose audit
trail is incomplete says so and fails, and telemetry failures are retried without ending the
run."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from qs_tui.agents.base import PipelineSettings
from qs_tui.agents.records import RecordWriter
from qs_tui.config import Settings
from qs_tui.esql.catalog import EsqlResult
from qs_tui.headless import EXIT_ERROR, EXIT_OK, run_headless
from qs_tui.store.base import BulkResult, Document, DocumentExists, EsqlParams, Health, StoreError
from qs_tui.store.embedded import EmbeddedStore
from qs_tui.store.templates import DECISIONS, INCIDENTS, METRICS
from tests.scenario_texts import LEAKING_SERVICE_ONLY, quick_leak
from tests.store.conftest import API_KEY, settings_for
from tests.store.fake_es import FakeElasticsearch

# A short leak on the leaking service alone, played for 4 min: the incident is resolved
# within about a minute, and the tests count records, not what a bigger estate or five quiet
# minutes more would add.
LEAK = quick_leak("quick-leak", topology=LEAKING_SERVICE_ONLY, duration="4m")
#: Hosts in `LEAK`'s estate (one service in one region on two hosts).
HOSTS = 2

#: No waiting between retries: the tests count attempts, not seconds.
QUICK = PipelineSettings(record_retry_delays_s=(0.0, 0.0))


@pytest.fixture
def leak_file(tmp_path: Path) -> Path:
    path = tmp_path / "quick-leak.toml"
    path.write_text(LEAK, encoding="utf-8")
    return path


def headless(
    scenario: Path, *, settings: Settings, store: Any = None, json_lines: bool = False
) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = run_headless(
        scenario=str(scenario),
        speed=None,
        approve="auto",
        json_lines=json_lines,
        out=out,
        err=err,
        stdin=io.StringIO(""),
        settings=settings,
        pipeline_settings=QUICK,
        store=store,
    )
    return status, out.getvalue(), err.getvalue()


def incidents_and_decisions(store: Any) -> tuple[list[str], dict[str, int]]:
    """Incident ids stored, and how many decisions each incident has."""
    ids = store.esql(f"FROM {INCIDENTS} | KEEP incident_id | SORT incident_id").values
    counts = store.esql(
        f"FROM {DECISIONS} | WHERE incident_id IS NOT NULL AND decision IS NOT NULL"
        " | STATS n = COUNT(*) BY incident_id | SORT incident_id"
    ).values
    return [row[0] for row in ids], {row[1]: row[0] for row in counts}


# ---- unique ids across runs --------------------------------------------------------------


def test_three_runs_on_one_data_dir_leave_three_incidents_with_their_decisions(
    leak_file: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    settings = Settings.load(env={"QS_DATA_DIR": str(data)}, env_file=None)
    outs = []
    for _ in range(3):
        status, out, _ = headless(leak_file, settings=settings)
        assert status == EXIT_OK, out
        outs.append(out)
    for number, out in enumerate(outs, start=1):
        assert f"recorded INC-000{number} (resolved" in out
    store = EmbeddedStore(data_dir=data)
    ids, decisions = incidents_and_decisions(store)
    store.close()
    assert ids == ["INC-0001", "INC-0002", "INC-0003"]
    # Every run's incident keeps its own, whole audit trail (none merged into INC-0001).
    assert set(decisions) == set(ids)
    assert len(set(decisions.values())) == 1 and decisions["INC-0001"] >= 6


def test_three_runs_on_one_cluster_leave_three_incidents_with_their_decisions(
    leak_file: Path,
) -> None:
    with FakeElasticsearch(engine=True) as server:
        settings = settings_for(server.url, ELASTIC_API_KEY=API_KEY)
        for _ in range(3):
            status, out, _ = headless(leak_file, settings=settings)
            assert status == EXIT_OK, out
        ids, decisions = incidents_and_decisions(server._engine)
    assert ids == ["INC-0001", "INC-0002", "INC-0003"]
    assert set(decisions) == set(ids)
    assert len(set(decisions.values())) == 1


class StaleSearch:
    """A store whose searches lag behind its writes, as a cluster's do before a refresh:
    writes go to `store`, ES|QL reads `view`. Two processes racing for the next incident
    number see exactly this."""

    supports_fixed_now = True

    def __init__(self, store: EmbeddedStore, view: EmbeddedStore) -> None:
        self.store, self.view = store, view

    def esql(
        self, query: str, *, params: EsqlParams = None, now: datetime | None = None
    ) -> EsqlResult:
        if INCIDENTS in query:
            return self.view.esql(query, params=params, now=now)
        return self.store.esql(query, params=params, now=now)

    def bulk(self, index: str, documents: Iterable[Document]) -> BulkResult:
        return self.store.bulk(index, documents)

    def index(
        self, index: str, document: Document, *, doc_id: str | None = None, create: bool = False
    ) -> str:
        return self.store.index(index, document, doc_id=doc_id, create=create)

    def ensure_templates(self, *, telemetry: bool = True) -> list[str]:
        self.view.ensure_templates(telemetry=telemetry)
        return self.store.ensure_templates(telemetry=telemetry)

    def refresh(self, index: str | None = None) -> None:
        self.store.refresh(index)

    def health(self) -> Health:
        return self.store.health()

    def close(self) -> None:
        """The test reads the store afterwards."""


def test_a_number_another_process_just_took_is_skipped_not_overwritten(
    leak_file: Path,
) -> None:
    store = EmbeddedStore()
    store.ensure_templates()
    # Another process claimed INC-0001 and INC-0002 a moment ago; searches do not show it yet.
    for taken in ("INC-0001", "INC-0002"):
        store.index(INCIDENTS, {"incident_id": taken, "state": "detected"}, doc_id=taken)
    racing = StaleSearch(store, EmbeddedStore())
    status, out, _ = headless(leak_file, settings=Settings(), store=racing)
    assert status == EXIT_OK, out
    assert "recorded INC-0003 (resolved" in out
    states = dict(store.esql(f"FROM {INCIDENTS} | KEEP incident_id, state").values)
    assert states == {"INC-0001": "detected", "INC-0002": "detected", "INC-0003": "resolved"}
    with pytest.raises(DocumentExists):
        store.index(INCIDENTS, {"incident_id": "INC-0003"}, doc_id="INC-0003", create=True)


# ---- failure injection -----------------------------------------------------------------------


class Flaky(EmbeddedStore):
    """An embedded store whose single-document writes fail while `failing(index, doc)` says
    so (a cluster down for a moment), counting every refused attempt."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = 0
        self.down_for: dict[str, int] = {}
        self.always_down: set[str] = set()
        self.bulk_calls = 0
        self.failing_bulk_calls: range = range(0)

    def index(
        self, index: str, document: Document, *, doc_id: str | None = None, create: bool = False
    ) -> str:
        key = f"{index}:{document.get('decision') or ('record' if 'runbook' in document else '')}"
        if key in self.always_down or self.down_for.get(key, 0) > 0:
            if key in self.down_for:
                self.down_for[key] -= 1
            self.refused += 1
            raise StoreError("cannot reach the store", "connection refused")
        return super().index(index, document, doc_id=doc_id, create=create)

    def bulk(self, index: str, documents: Iterable[Document]) -> BulkResult:
        if index == METRICS:
            self.bulk_calls += 1
            if self.bulk_calls in self.failing_bulk_calls:
                raise StoreError("cannot reach the store", "connection refused")
        return super().bulk(index, documents)

    def close(self) -> None:
        """Kept open: the test reads what the run left behind."""


def test_a_failed_executed_decision_is_queued_and_written_when_the_store_is_back(
    leak_file: Path,
) -> None:
    store = Flaky()
    # More failures than one write's retries: the record must wait in the queue.
    store.down_for[f"{DECISIONS}:executed"] = 4
    status, out, _ = headless(leak_file, settings=Settings(), store=store)
    assert status == EXIT_OK, out
    assert store.refused == 4
    assert "Surgeon's executed decision for INC-0001" in out and "queued" in out
    assert "the store is back: wrote" in out
    decisions = store.esql(
        f'FROM {DECISIONS} | WHERE incident_id == "INC-0001" | SORT sequence | KEEP agent, decision'
    ).values
    names = [decision for _, decision in decisions]
    assert names.count("executed") == 1
    # The trail keeps its order: what followed the failed write comes after it.
    assert names.index("executed") < names.index("recovered") < names.index("recorded")


def test_an_incident_record_that_cannot_be_written_fails_the_run(leak_file: Path) -> None:
    store = Flaky()
    store.always_down.add(f"{INCIDENTS}:record")
    status, out, _ = headless(leak_file, settings=Settings(), store=store)
    assert status == EXIT_ERROR
    assert "recorded INC-0001" not in out
    assert "INC-0001 (resolved, MTTR" in out and "is NOT recorded yet" in out
    assert "exit status 1: audit trail incomplete:" in out
    assert "records still queued" in out and "cannot reach the store" in out


def test_telemetry_failures_are_retried_and_the_run_ends_with_a_summary(
    leak_file: Path,
) -> None:
    store = Flaky()
    # The history is one metrics request; the five after the first live one fail.
    store.failing_bulk_calls = range(3, 8)
    status, out, _ = headless(leak_file, settings=Settings(), store=store)
    assert status == EXIT_OK, out
    assert "!! telemetry could not be written (cannot reach the store" in out
    assert "telemetry writes recovered" in out
    assert "== Incident summary" in out
    assert "note: telemetry could not be written on 5 ticks and was retried" in out

    store = Flaky()
    store.failing_bulk_calls = range(3, 8)
    status, out, _ = headless(leak_file, settings=Settings(), store=store, json_lines=True)
    summary = json.loads(out.splitlines()[-1])
    assert (status, summary["telemetry_failed_ticks"]) == (EXIT_OK, 5)
    # The samples of the failed ticks went with a later one: every interval from the first
    # of the 45 minutes of history (271 samples per host) to the end, once each.
    live = int(summary["simulated_s"] // 10)
    pairs, worst = store.esql(
        "FROM qs-metrics | STATS copies = COUNT(*) BY host, @timestamp"
        " | STATS pairs = COUNT(*), worst = MAX(copies)"
    ).values[0]
    assert (pairs, worst) == (HOSTS * (271 + live), 1)


# ---- the writer itself -----------------------------------------------------------------------


def test_the_queue_is_bounded_and_counts_what_it_drops() -> None:
    store = Flaky()
    store.always_down.add(f"{DECISIONS}:x")
    lines: list[tuple[str, str]] = []
    writer = RecordWriter(
        store, say=lambda text, level: lines.append((level, text)), retry_delays_s=(), max_queued=3
    )
    for number in range(5):
        document = {"decision": "x", "sequence": number}
        assert not writer.write(DECISIONS, document, what=f"record {number}")
    assert (writer.pending, writer.lost) == (3, 2)
    assert ("error", "audit queue full (3 records): dropped record 0") in lines
    store.always_down.clear()
    assert writer.flush() == 3
    stored = store.esql(f"FROM {DECISIONS} | KEEP sequence | SORT sequence").values
    assert [row[0] for row in stored] == [2, 3, 4]
    assert writer.problem() == (
        "audit trail incomplete: 2 records dropped from a full queue "
        "(last error: cannot reach the store: connection refused)"
    )


def test_leaving_writes_what_waited_in_the_audit_queue(leak_file: Path) -> None:
    from qs_tui.headless import play_scenario
    from qs_tui.sim.scenario import load_scenario

    store = Flaky()
    store.always_down.add(f"{DECISIONS}:detected")  # down for the whole run
    run = play_scenario(
        load_scenario(str(leak_file)), sink=lambda event: None, pipeline_settings=QUICK, store=store
    )
    count = f"FROM {DECISIONS} | STATS n = COUNT(*)"
    waiting = run.pipeline.unwritten_records
    written = store.esql(count).values[0][0]
    assert waiting >= 1
    store.always_down.clear()  # the store is back as the operator leaves

    run.pipeline.leave(by="operator left", reason="the war room closed")

    assert run.pipeline.unwritten_records == 0
    assert store.esql(count).values[0][0] >= written + waiting
    detected = store.esql(f'FROM {DECISIONS} | WHERE decision == "detected" | STATS n = COUNT(*)')
    assert detected.values[0][0] == 1
