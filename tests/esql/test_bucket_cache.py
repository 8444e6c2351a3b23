"""Time buckets kept between queries (`qs_tui.esql.buckets`): same answers as a fresh engine.

The queries read like a schema profile's source part: a window on `@timestamp`, then
`STATS … BY @timestamp = BUCKET(@timestamp, 10 seconds), host`, then the canonical query.
Values are multiples of 1/4, so every sum is exact whatever order rows are added in.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from qs_tui.esql import EsqlResult, IndexData, run_query
from qs_tui.esql.buckets import BUCKETS
from tests.esql.tables import MemoryCatalog, typed_index

START = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HOSTS = ("h1", "h2", "h3")

QUERY = """FROM m-*
| WHERE @timestamp >= TO_DATETIME(?start) AND @timestamp < TO_DATETIME(?end){extra}
| STATS cpu = AVG(cpu), p95 = PERCENTILE(latency, 95.0),
        fails = SUM(requests) WHERE outcome == "failure"
     BY @timestamp = BUCKET(@timestamp, 10 seconds), host
| STATS cpu = AVG(cpu), p95 = MAX(p95), fails = SUM(fails), buckets = COUNT(*) BY host
| SORT host
"""


def _ms(instant: datetime) -> int:
    return (instant - EPOCH) // timedelta(milliseconds=1)


def _index(name: str, rows: list[dict[str, Any]], types: dict[str, str]) -> IndexData:
    rows = sorted(rows, key=lambda row: row["@timestamp"])
    return replace(typed_index(name, types, rows), sorted_by="@timestamp")


def _hosts_cpu(shift: float = 0.0) -> IndexData:
    """One cpu document per host every 5 s for 10 minutes (two per bucket)."""
    rows = [
        {"@timestamp": START + timedelta(seconds=5 * step), "host": host,
         "cpu": (step % 7) * 0.25 + number + shift}
        for step in range(120)
        for number, host in enumerate(HOSTS)
    ]  # fmt: skip
    return _index("m-cpu", rows, {"@timestamp": "date", "host": "keyword", "cpu": "double"})


def _traces() -> IndexData:
    """Two transactions per host every 10 s: a success and a failure, as the ecs shape."""
    rows = [
        {"@timestamp": START + timedelta(seconds=10 * step, milliseconds=250), "host": host,
         "outcome": outcome, "requests": step % 5 + (2 if outcome == "failure" else 20),
         "latency": 100.0 + step % 9 * 0.5}
        for step in range(60)
        for host in HOSTS
        for outcome in ("success", "failure")
    ]  # fmt: skip
    types = {
        "@timestamp": "date",
        "host": "keyword",
        "outcome": "keyword",
        "requests": "long",
        "latency": "double",
    }
    return _index("m-traces", rows, types)


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    BUCKETS.clear()
    yield
    BUCKETS.clear()


def _run(catalog: MemoryCatalog, start: datetime, end: datetime, *, extra: str = "") -> EsqlResult:
    params = {"start": start.isoformat(), "end": end.isoformat()}
    return run_query(QUERY.format(extra=extra), catalog, params=params)


def _fresh(catalog: MemoryCatalog, start: datetime, end: datetime, *, extra: str = "") -> Any:
    """The answer of an engine that kept nothing."""
    BUCKETS.clear()
    body = _run(catalog, start, end, extra=extra).to_body()
    BUCKETS.clear()
    return body


def _minutes(value: float) -> datetime:
    return START + timedelta(minutes=value)


def test_overlapping_windows_aggregate_only_the_new_buckets_and_answer_as_fresh() -> None:
    catalog = MemoryCatalog.of(_hosts_cpu(), _traces())
    windows = [(_minutes(0), _minutes(6)), (_minutes(1), _minutes(7)), (_minutes(0.5), _minutes(5))]
    expected = [_fresh(catalog, start, end) for start, end in windows]

    answers = [_run(catalog, start, end).to_body() for start, end in windows]

    assert answers == expected
    # The second window only added its last minute; the third lay inside what was kept.
    assert BUCKETS.computed == [
        (_ms(_minutes(0)), _ms(_minutes(6))),
        (_ms(_minutes(6)), _ms(_minutes(7))),
    ]
    assert answers[0] != answers[1]  # the windows really differ


def test_new_data_is_never_answered_from_buckets_of_the_old() -> None:
    catalog = MemoryCatalog.of(_hosts_cpu(), _traces())
    before = _run(catalog, _minutes(0), _minutes(5)).to_body()
    catalog.add(_hosts_cpu(shift=10.0))  # a write: the store hands out a new frame

    after = _run(catalog, _minutes(0), _minutes(5)).to_body()

    assert after == _fresh(catalog, _minutes(0), _minutes(5))
    assert after != before
    assert after["values"][0][0] == pytest.approx(before["values"][0][0] + 10.0)  # h1 cpu


def test_a_window_off_the_bucket_edges_is_aggregated_as_usual() -> None:
    catalog = MemoryCatalog.of(_hosts_cpu(), _traces())
    start, end = _minutes(0) + timedelta(seconds=15), _minutes(5) + timedelta(seconds=5)
    expected = _fresh(catalog, start, end)

    answer = _run(catalog, start, end).to_body()

    # Its first and last buckets hold part of their rows: nothing is kept or reused.
    assert answer == expected
    assert BUCKETS.computed == []


def test_another_condition_beside_the_window_is_kept_apart() -> None:
    catalog = MemoryCatalog.of(_hosts_cpu(), _traces())
    narrowed = ' AND host != "h2"'
    expected_all = _fresh(catalog, _minutes(0), _minutes(4))
    expected_narrowed = _fresh(catalog, _minutes(0), _minutes(4), extra=narrowed)

    everything = _run(catalog, _minutes(0), _minutes(4)).to_body()
    narrowed_answer = _run(catalog, _minutes(0), _minutes(4), extra=narrowed).to_body()

    assert everything == expected_all
    assert narrowed_answer == expected_narrowed
    assert [row[-1] for row in narrowed_answer["values"]] == ["h1", "h3"]
    assert len(BUCKETS.computed) == 2  # one aggregation per condition, none shared


def test_kept_buckets_do_not_keep_old_data_alive() -> None:
    catalog = MemoryCatalog.of(_hosts_cpu(), _traces())
    _run(catalog, _minutes(0), _minutes(5))
    frame = weakref.ref(catalog.indices["m-cpu"].frame)

    catalog.add(_hosts_cpu(shift=1.0))
    gc.collect()

    assert frame() is None
    # The buckets of the data that went are dropped by the next query, whatever it asks.
    _run(catalog, _minutes(0), _minutes(5), extra=' AND host != "h2"')
    assert len(BUCKETS) == 1
