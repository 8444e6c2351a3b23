"""Executor: STATS ... BY, aggregates, BUCKET, and an independent polars oracle."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from qs_tui.esql import EsqlExecutionError, EsqlResult, run_query
from tests.esql.tables import MemoryCatalog, typed_index

NOW = datetime(2026, 11, 25, 16, 0, 0, tzinfo=UTC)
START = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


METRIC_TYPES = {
    "@timestamp": "date",
    "service": "keyword",
    "region": "keyword",
    "memory_percent": "double",
    "requests": "integer",
    "tags": "keyword",
}


def metric_rows() -> list[dict[str, Any]]:
    rows = [
        {"@timestamp": START, "service": "api", "region": "us", "memory_percent": 10.0,
         "requests": 5, "tags": ["a", "b"]},
        {"@timestamp": START + timedelta(minutes=3), "service": "api", "region": "us",
         "memory_percent": 20.0, "requests": 7, "tags": "a"},
        {"@timestamp": START + timedelta(minutes=7), "service": "api", "region": "eu",
         "memory_percent": 30.0, "requests": None, "tags": None},
        {"@timestamp": START + timedelta(minutes=11), "service": "db", "region": "us",
         "memory_percent": None, "requests": 2, "tags": ["c"]},
        {"@timestamp": START + timedelta(minutes=12), "service": None, "region": "eu",
         "memory_percent": 50.0, "requests": 1, "tags": None},
    ]  # fmt: skip
    return rows


CATALOG = MemoryCatalog.of(typed_index("metrics", METRIC_TYPES, metric_rows()))


def run(query: str, catalog: MemoryCatalog = CATALOG, **params: Any) -> EsqlResult:
    return run_query(query, catalog, params=params or None, now=NOW)


def columns(result: EsqlResult) -> list[tuple[str, str]]:
    return [(column.name, column.type) for column in result.columns]


def test_stats_without_by_gives_one_row_with_documented_types() -> None:
    result = run(
        "FROM metrics | STATS n = COUNT(*), c = COUNT(memory_percent), s = SUM(requests), "
        "a = AVG(requests), lo = MIN(@timestamp), hi = MAX(service)"
    )
    assert columns(result) == [
        ("n", "long"),
        ("c", "long"),
        ("s", "long"),
        ("a", "double"),
        ("lo", "date"),
        ("hi", "keyword"),
    ]
    assert result.values == [[5, 4, 15, 3.75, "2026-11-25T12:00:00.000Z", "db"]]


def test_stats_output_is_aggregates_then_groups_sorted_with_null_group() -> None:
    result = run("FROM metrics | STATS total = SUM(requests) BY service")
    assert columns(result) == [("total", "long"), ("service", "keyword")]
    assert result.values == [[12, "api"], [2, "db"], [1, None]]


def test_stats_unnamed_aggregate_is_named_by_its_text() -> None:
    result = run("FROM metrics | STATS AVG(memory_percent), COUNT(*) BY region")
    assert columns(result) == [
        ("AVG(memory_percent)", "double"),
        ("COUNT(*)", "long"),
        ("region", "keyword"),
    ]
    assert result.values == [[40.0, 2, "eu"], [15.0, 3, "us"]]


def test_stats_several_groups() -> None:
    result = run("FROM metrics | STATS n = COUNT(*) BY service, region")
    assert result.values == [
        [1, "api", "eu"],
        [2, "api", "us"],
        [1, "db", "us"],
        [1, None, "eu"],
    ]


def test_stats_group_name_shadows_an_aggregate_of_the_same_name() -> None:
    result = run("FROM metrics | STATS region = COUNT(*) BY region")
    assert columns(result) == [("region", "keyword")]
    assert result.values == [["eu"], ["us"]]


def test_stats_only_groups_gives_distinct_values() -> None:
    result = run("FROM metrics | STATS BY region")
    assert columns(result) == [("region", "keyword")]
    assert result.values == [["eu"], ["us"]]


def test_stats_per_aggregate_where() -> None:
    result = run(
        'FROM metrics | STATS us = COUNT(*) WHERE region == "us", all = COUNT(*), '
        "big = SUM(requests) WHERE requests > 4"
    )
    assert result.values == [[3, 5, 12]]


def test_stats_over_expressions_and_expressions_over_aggregates() -> None:
    result = run(
        "FROM metrics | STATS s = SUM(requests * 2), d = AVG(memory_percent) * 2, "
        "r = ROUND(AVG(requests), 1), spread = MAX(requests) - MIN(requests)"
    )
    assert columns(result) == [
        ("s", "long"),
        ("d", "double"),
        ("r", "double"),
        ("spread", "integer"),
    ]
    assert result.values == [[30, 55.0, 3.8, 6]]


def test_stats_on_empty_input() -> None:
    no_by = run(
        'FROM metrics | WHERE service == "none" | STATS n = COUNT(*), s = SUM(requests), '
        "a = AVG(requests), v = VALUES(service)"
    )
    by = run('FROM metrics | WHERE service == "none" | STATS n = COUNT(*) BY region')
    assert no_by.values == [[0, None, None, None]]
    assert by.values == []


def test_stats_multi_valued_group_puts_row_in_each_group() -> None:
    result = run("FROM metrics | STATS n = COUNT(*) BY tags")
    assert result.values == [[2, "a"], [1, "b"], [1, "c"], [2, None]]


def test_count_counts_every_value_of_multi_valued_fields() -> None:
    result = run("FROM metrics | STATS c = COUNT(tags), d = COUNT_DISTINCT(tags)")
    assert result.values == [[4, 3]]


def test_median_percentile_std_dev_and_mad() -> None:
    result = run(
        "FROM metrics | STATS m = MEDIAN(memory_percent), p = PERCENTILE(memory_percent, 50), "
        "sd = STD_DEV(requests), mad = MEDIAN_ABSOLUTE_DEVIATION(memory_percent)"
    )
    assert columns(result) == [
        ("m", "double"),
        ("p", "double"),
        ("sd", "double"),
        ("mad", "double"),
    ]
    median, percentile, std_dev, mad = result.values[0]
    assert median == 25.0
    assert percentile == 25.0
    # Population standard deviation of 5, 7, 2, 1.
    assert std_dev == pytest.approx(((1.25**2 + 3.25**2 + 1.75**2 + 2.75**2) / 4) ** 0.5)
    assert mad == 10.0


def test_values_top_and_weighted_avg() -> None:
    result = run(
        'FROM metrics | STATS v = VALUES(region), t = TOP(requests, 2, "desc"), '
        'one = TOP(requests, 1, "asc"), w = WEIGHTED_AVG(memory_percent, requests)'
    )
    assert columns(result) == [
        ("v", "keyword"),
        ("t", "integer"),
        ("one", "integer"),
        ("w", "double"),
    ]
    # ES computes WEIGHTED_AVG as SUM(number * weight) / SUM(weight): a weight whose number
    # is null still counts in the total weight.
    assert result.values == [[["eu", "us"], [7, 5], 1, (50 + 140 + 50) / 15]]


def test_bucket_by_time_span() -> None:
    result = run("FROM metrics | STATS n = COUNT(*) BY b = BUCKET(@timestamp, 5 minutes)")
    assert columns(result) == [("n", "long"), ("b", "date")]
    assert result.values == [
        [2, "2026-11-25T12:00:00.000Z"],
        [1, "2026-11-25T12:05:00.000Z"],
        [2, "2026-11-25T12:10:00.000Z"],
    ]


def test_bucket_unnamed_group_is_named_by_its_text() -> None:
    result = run("FROM metrics | STATS n = COUNT(*) BY BUCKET(@timestamp, 1 hour)")
    assert columns(result) == [("n", "long"), ("BUCKET(@timestamp, 1 hour)", "date")]
    assert result.values == [[5, "2026-11-25T12:00:00.000Z"]]


def test_bucket_auto_ranges_pick_a_round_interval() -> None:
    dates = run(
        "FROM metrics | STATS n = COUNT(*) BY b = BUCKET(@timestamp, 4, ?start, ?end)",
        start="2026-11-25T12:00:00Z",
        end="2026-11-25T12:15:00Z",
    )
    numbers = run("FROM metrics | STATS n = COUNT(*) BY b = BUCKET(requests, 3, 0, 10)")
    # 15 minutes in at most 4 buckets: 5-minute buckets (3 steps) are the finest that fit.
    assert dates.values == [
        [2, "2026-11-25T12:00:00.000Z"],
        [1, "2026-11-25T12:05:00.000Z"],
        [2, "2026-11-25T12:10:00.000Z"],
    ]
    # (10 - 0) / 3 = 3.33 rounds up to a width of 5.
    assert numbers.values == [[2, 0.0], [2, 5.0], [1, None]]


def test_aggregate_outside_stats_is_an_error() -> None:
    with pytest.raises(EsqlExecutionError) as caught:
        run("FROM metrics | EVAL x = AVG(requests)")
    assert "AVG(requests)" in caught.value.message
    assert (caught.value.line, caught.value.column) == (1, 25)


def test_stats_without_aggregate_function_is_an_error() -> None:
    with pytest.raises(EsqlExecutionError) as caught:
        run("FROM metrics | STATS x = requests + 1")
    assert caught.value.message == (
        "column [requests] must appear in the STATS BY clause or be used in an aggregate function"
    )


def test_overflow_inside_aggregate_argument_warns_once() -> None:
    result = run("ROW a = 2147483647 | STATS s = SUM(a * 2), n = COUNT(*)")
    assert result.values == [[None, 1]]
    assert result.warnings[1] == "Line 1:36: java.lang.ArithmeticException: integer overflow"


DETECTION_QUERY = """FROM metrics | WHERE @timestamp >= ?start AND @timestamp < ?end
| EVAL t = DATE_DIFF("seconds", ?start, @timestamp)
| STATS n = COUNT(*), sx = SUM(t), sy = SUM(memory_percent), sxy = SUM(t * memory_percent),
        sxx = SUM(t * t) BY service, region
| EVAL slope = (n * sxy - sx * sy) / (n * sxx - sx * sx) | SORT slope DESC | LIMIT 50"""


def test_detection_query_agrees_with_a_hand_written_polars_oracle() -> None:
    generator = random.Random(7)
    rows = [
        {
            "@timestamp": START + timedelta(seconds=10 * i),
            "service": generator.choice(["api", "auth", "pay"]),
            "region": generator.choice(["us", "eu"]),
            "memory_percent": 40 + 0.01 * i + generator.random(),
            "requests": generator.randint(0, 100),
        }
        for i in range(3000)
    ]
    index = typed_index("metrics", METRIC_TYPES, rows)
    result = run(
        DETECTION_QUERY,
        MemoryCatalog.of(index),
        start="2026-11-25T12:00:00Z",
        end="2026-11-25T20:00:00Z",
    )
    frame = index.frame.filter(pl.col("@timestamp") < START + timedelta(hours=8))
    frame = frame.with_columns(
        ((pl.col("@timestamp") - START).dt.total_seconds()).cast(pl.Int64).alias("t")
    )
    oracle = frame.group_by("service", "region").agg(
        n=pl.len(),
        sx=pl.col("t").sum(),
        sy=pl.col("memory_percent").sum(),
        sxy=(pl.col("t") * pl.col("memory_percent")).sum(),
        sxx=(pl.col("t") * pl.col("t")).sum(),
    )
    oracle = oracle.with_columns(
        slope=(pl.col("n") * pl.col("sxy") - pl.col("sx") * pl.col("sy"))
        / (pl.col("n") * pl.col("sxx") - pl.col("sx") ** 2)
    ).sort("slope", descending=True)
    assert columns(result) == [
        ("n", "long"),
        ("sx", "long"),
        ("sy", "double"),
        ("sxy", "double"),
        ("sxx", "long"),
        ("service", "keyword"),
        ("region", "keyword"),
        ("slope", "double"),
    ]
    assert result.warnings == []
    expected = oracle.select("n", "sx", "sy", "sxy", "sxx", "service", "region", "slope").rows()
    assert len(result.values) == len(expected) == 6
    for got, want in zip(result.values, expected, strict=True):
        assert got[:2] == list(want[:2])
        assert got[2:4] == pytest.approx(list(want[2:4]), rel=1e-12)
        assert got[4:7] == list(want[4:7])
        assert got[7] == pytest.approx(want[7], rel=1e-9)
        assert 0.0009 < got[7] < 0.0011  # the injected trend: 0.01 per 10 seconds
