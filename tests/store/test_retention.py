"""Retention: the embedded store drops telemetry older than its window, and nothing else."""

from __future__ import annotations

import ctypes
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from qs_tui.cli import main
from qs_tui.clock import ManualClock
from qs_tui.config import Settings
from qs_tui.esql import run_query
from qs_tui.esql.catalog import IndexData
from qs_tui.esql.timerange import TimeRange
from qs_tui.sim.cluster import Simulation
from qs_tui.store.embedded import ID, EmbeddedStore
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


# -- reading a time window of a sorted data stream ------------------------------------------


class Unsorted:
    """The same indices, not marked as sorted: the engine filters every row (the reference)."""

    def __init__(self, store: EmbeddedStore) -> None:
        self.store = store

    def resolve(self, pattern: str) -> list[IndexData]:
        return [replace(index, sorted_by=None) for index in self.store.resolve(pattern)]


class Claimed:
    """One index whose frame is claimed sorted by `@timestamp`, whether it is or not."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame

    def resolve(self, pattern: str) -> list[IndexData]:
        types = {"@timestamp": "date", "n": "long"}
        return [IndexData("t", self.frame, types, sorted_by="@timestamp")]


def sample_store() -> EmbeddedStore:
    """Two hosts every 10 s over two hours, written host by host (so out of time order)."""
    store = EmbeddedStore(retention=None)
    store.ensure_templates()
    for host in ("a-1", "b-1"):
        store.bulk(
            METRICS,
            [
                metric(T0 + timedelta(seconds=10 * i), host=host) | {"cpu_percent": float(i % 97)}
                for i in range(720)
            ],
        )
    return store


def test_a_data_stream_is_kept_in_time_order() -> None:
    store = sample_store()
    (index,) = store.resolve(METRICS)
    assert index.sorted_by == "@timestamp"
    assert index.frame["@timestamp"].is_sorted()
    assert index.frame.height == 1440
    store.create_index("notes", {"properties": {"@timestamp": {"type": "date"}}})
    store.bulk("notes", [{"@timestamp": T0 + timedelta(hours=1)}, {"@timestamp": T0}])
    (notes,) = store.resolve("notes")
    assert notes.sorted_by is None  # not a data stream: written order is kept
    assert notes.frame["@timestamp"].to_list()[0] == T0 + timedelta(hours=1)


WINDOW_QUERIES = [
    # The query library's shape: a half-open window from parameters.
    "FROM qs-metrics | WHERE @timestamp >= TO_DATETIME(?start) AND @timestamp < TO_DATETIME(?end)"
    " | STATS n = COUNT(*), s = SUM(cpu_percent) BY host | SORT host",
    # Inclusive and exclusive bounds, both sides, the field on the right.
    "FROM qs-metrics | WHERE ?start < @timestamp AND TO_DATETIME(?end) >= @timestamp"
    " | KEEP @timestamp, host, cpu_percent",
    'FROM qs-metrics | WHERE @timestamp > ?start AND @timestamp <= ?end AND host == "a-1"'
    " | KEEP @timestamp, cpu_percent",
    # Two lower bounds: the tighter one wins.
    "FROM qs-metrics | WHERE @timestamp >= ?start AND @timestamp >= ?end | STATS n = COUNT(*)",
    # Relative to NOW() (which carries microseconds) and with date arithmetic.
    "FROM qs-metrics | WHERE @timestamp >= NOW() - 30 minutes | STATS n = COUNT(*)",
    "FROM qs-metrics | WHERE @timestamp < TO_DATETIME(?start) + 1 minute | STATS n = COUNT(*)",
    # Not a window: OR, a column on both sides, a warning per row, no WHERE at all.
    "FROM qs-metrics | WHERE @timestamp < ?start OR cpu_percent > 90 | STATS n = COUNT(*)",
    "FROM qs-metrics | WHERE @timestamp >= @timestamp | STATS n = COUNT(*)",
    "FROM qs-metrics | WHERE @timestamp >= ?start AND TO_INTEGER(host) > 0 | STATS n = COUNT(*)",
    "FROM qs-metrics | SORT @timestamp DESC | LIMIT 3 | KEEP @timestamp, host",
    # A window that is empty, and one past everything held.
    "FROM qs-metrics | WHERE @timestamp >= ?end AND @timestamp < ?start | STATS n = COUNT(*)",
    "FROM qs-metrics, qs-logs METADATA _index | WHERE @timestamp >= ?end"
    " | STATS n = COUNT(*) BY _index | SORT _index",
]


@pytest.mark.parametrize("query", WINDOW_QUERIES)
@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-11-25T00:30:00.000Z", "2026-11-25T01:00:00.000Z"),  # on sample instants
        ("2026-11-25T00:30:05.000Z", "2026-11-25T01:00:05.123Z"),  # between them
        ("2026-11-24T00:00:00.000Z", "2026-11-26T00:00:00.000Z"),  # everything
    ],
)
def test_reading_a_window_answers_as_filtering_every_row(query: str, start: str, end: str) -> None:
    store = sample_store()
    store.bulk(LOGS, [{"@timestamp": T0 + timedelta(minutes=m), "message": "x"} for m in range(90)])
    now = datetime(2026, 11, 25, 1, 15, 0, 123456, tzinfo=UTC)
    params = {"start": start, "end": end}
    windowed = run_query(query, store, params=params, now=now)
    reference = run_query(query, Unsorted(store), params=params, now=now)
    assert windowed.columns == reference.columns
    assert windowed.values == reference.values
    assert windowed.warnings == reference.warnings


def test_only_the_window_of_a_sorted_index_is_read() -> None:
    """A frame claimed sorted whose last row is early: a full scan finds it, reading only the
    window (by binary search over the sorted part) does not. So the window is what is read."""
    instants = [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2), T0]
    frame = pl.DataFrame(
        {"@timestamp": instants, "n": [0, 1, 2, 3], "_id": ["0", "1", "2", "3"]},
        schema={"@timestamp": pl.Datetime("ms", "UTC"), "n": pl.Int64, "_id": pl.String},
    )
    query = "FROM t | WHERE @timestamp < ?end | KEEP n"
    params = {"end": "2026-11-25T00:01:00.000Z"}
    assert run_query(query, Claimed(frame), params=params).values == [[0]]
    unsorted = replace(Claimed(frame).resolve("t")[0], sorted_by=None)
    assert run_query(query, SimpleCatalog(unsorted), params=params).values == [[0], [3]]


class SimpleCatalog:
    def __init__(self, index: IndexData) -> None:
        self.index = index

    def resolve(self, pattern: str) -> list[IndexData]:
        return [self.index]


def test_time_range_bounds() -> None:
    start, end = T0, T0 + timedelta(hours=1)
    frame = pl.DataFrame(
        {"@timestamp": [T0 + timedelta(minutes=m) for m in range(0, 121, 30)] + [None]},
        schema={"@timestamp": pl.Datetime("ms", "UTC")},
    )
    half_open = TimeRange(start, True, end, False)
    assert half_open.slice(frame)["@timestamp"].to_list() == [T0, T0 + timedelta(minutes=30)]
    closed = TimeRange(start, False, end, True)
    assert closed.slice(frame)["@timestamp"].to_list() == [
        T0 + timedelta(minutes=30),
        T0 + timedelta(hours=1),
    ]
    assert TimeRange(upper=start).slice(frame).height == 0
    assert TimeRange(lower=start).slice(frame).height == 5  # the null row is never in range
    assert half_open.narrowed(">", start) == TimeRange(start, False, end, False)
    assert half_open.narrowed("<=", end + timedelta(1)) == half_open


def test_the_query_library_answers_the_same_from_a_window() -> None:
    """Every library query over simulated telemetry with a leak, windowed and scanned."""
    from qs_tui.queries import bind_params, load_query
    from qs_tui.sim.faults import FaultSpec

    clock = ManualClock(T0 + timedelta(hours=3))
    topology = Topology(
        services=("api-gateway", "payment-service"), regions=("us-east-1",), hosts_per_region=2
    )
    leak = FaultSpec.model_validate(
        {"kind": "memory_leak", "service": "payment-service", "start": "-40m"}
    )
    simulation = Simulation(clock=clock, topology=topology, interval_s=30, faults=[leak])
    store = EmbeddedStore(now=clock.now, retention=None)
    store.ensure_templates()
    simulation.backfill(store, timedelta(hours=3))
    end = clock.now()
    values = {
        "baseline_start": end - timedelta(minutes=40),
        "baseline_end": end - timedelta(minutes=10),
        "start": end - timedelta(minutes=10),
        "onset": end - timedelta(minutes=30),
        "end": end,
        "threshold": 50,
        "service": "payment-service",
        "region": "us-east-1",
        "text": "payment memory",
        "incident_id": "INC-0001",
    }
    names = sorted(path.stem for path in (Path(__file__).parents[2] / "esql").glob("*.esql"))
    assert "memory_leak" in names and "investigate_error_logs" in names
    answered = 0
    for name in names:
        text = load_query(name).text
        params = bind_params({key: value for key, value in values.items() if f"?{key}" in text})
        windowed = store.esql(text, params=params)
        reference = run_query(text, Unsorted(store), params=params, now=end)
        assert windowed.columns == reference.columns, name
        assert windowed.warnings == reference.warnings, name
        # The same rows, groups and counts; sums may differ in the last bits, as polars adds
        # a few rows in another grouping than many (so do a cluster's shards), and a
        # least-squares slope (a difference of large sums) magnifies that.
        assert windowed.values == [
            [
                pytest.approx(cell, rel=1e-6, abs=1e-9) if isinstance(cell, float) else cell
                for cell in row
            ]
            for row in reference.values
        ], name
        answered += bool(windowed.values)
    assert answered >= 8  # most queries find something in this telemetry


# The Arrow C data interface (https://arrow.apache.org/docs/format/CDataInterface.html): the
# structs a polars chunk is exported into, read here only to count a column's buffers.
class _ArrowSchema(ctypes.Structure):
    _fields_ = [
        ("format", ctypes.c_char_p),
        ("name", ctypes.c_char_p),
        ("metadata", ctypes.c_char_p),
        ("flags", ctypes.c_int64),
        ("n_children", ctypes.c_int64),
        ("children", ctypes.c_void_p),
        ("dictionary", ctypes.c_void_p),
        ("release", ctypes.CFUNCTYPE(None, ctypes.c_void_p)),
        ("private_data", ctypes.c_void_p),
    ]


class _ArrowArray(ctypes.Structure):
    _fields_ = [
        ("length", ctypes.c_int64),
        ("null_count", ctypes.c_int64),
        ("offset", ctypes.c_int64),
        ("n_buffers", ctypes.c_int64),
        ("n_children", ctypes.c_int64),
        ("buffers", ctypes.c_void_p),
        ("children", ctypes.c_void_p),
        ("dictionary", ctypes.c_void_p),
        ("release", ctypes.CFUNCTYPE(None, ctypes.c_void_p)),
        ("private_data", ctypes.c_void_p),
    ]


def text_buffers(series: pl.Series) -> int:
    """How many data buffers hold a text column's long strings (Arrow's string view, format
    `vu`: validity, views, one buffer per data buffer, then their sizes)."""
    count = 0
    for chunk in series.get_chunks():
        array, schema = _ArrowArray(), _ArrowSchema()
        chunk._export_arrow_to_c(ctypes.addressof(array), ctypes.addressof(schema))
        try:
            assert schema.format == b"vu", schema.format
            count += array.n_buffers - 3
        finally:
            array.release(ctypes.addressof(array))
            schema.release(ctypes.addressof(schema))
    return count


def most_text_buffers(*, history: timedelta, hours: int) -> tuple[dict[str, int], int]:
    """Write `hours` of telemetry every five minutes after `history`, with a 3 h retention;
    the most buffers each long text column of `qs-metrics` held after a write, and the most
    it may hold: the compacted ones and one per write since expiry last ran."""
    clock = ManualClock(T0)
    topology = Topology(services=("payment-service",), regions=("us-east-1",), hosts_per_region=2)
    simulation = Simulation(clock=clock, topology=topology, interval_s=300)
    store = EmbeddedStore(retention=timedelta(hours=3))
    store.ensure_templates()
    simulation.backfill(store, history)
    step = timedelta(minutes=5)
    held: dict[str, int] = {}
    for _ in range(hours * 12):
        clock.advance(step.total_seconds())
        simulation.step(store)
        (metrics,) = store.resolve(METRICS)
        for column in (ID, "host", "service"):
            assert len(metrics.frame[column][0]) > 12, "short strings are inlined: not measured"
            held[column] = max(held.get(column, 0), text_buffers(metrics.frame[column]))
    return held, 1 + PRUNE_EVERY // step


def test_text_kept_after_expiry_is_not_spread_over_every_write() -> None:
    """Telemetry written a tick at a time leaves each write's long strings in buffers of its
    own, which polars shares instead of copying when rows are dropped. After each expiry
    what is kept sits in a few buffers per column, so a column holds at most the buffers of
    the writes since the last expiry, not of every write in the window (which grew the
    process for a whole retention window in `bench soak`)."""
    held, most = most_text_buffers(history=timedelta(hours=3), hours=6)
    assert all(count <= most for count in held.values()), (held, most)


def test_text_is_compacted_while_the_window_fills() -> None:
    """A store that starts empty has nothing to drop for a whole window; its text is
    compacted at each expiry pass all the same."""
    held, most = most_text_buffers(history=timedelta(minutes=5), hours=3)
    assert all(count <= most for count in held.values()), (held, most)
