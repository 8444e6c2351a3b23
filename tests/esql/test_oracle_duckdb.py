"""An independent oracle: the engine's STATS-style answers agree with hand-written DuckDB SQL.

A seeded dataset of 20,000 metric documents (timestamp, service, region, host, several
doubles with nulls, a request counter) is loaded into the test catalog and, separately, from
the same Python rows into DuckDB through a Parquet file. Each test runs one ES|QL query and
the SQL that computes the same thing, and compares them row by row: exact for counts, groups
and integers, 1e-9 relative for sums and averages, 1e-6 for least-squares slopes (regressed
by DuckDB's own `regr_slope`), and for MEDIAN/PERCENTILE, which Elasticsearch estimates with
a t-digest, the value must lie between DuckDB's exact quantiles one percentile either side.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from qs_tui.esql import EsqlResult, run_query
from qs_tui.esql.catalog import Catalog

ROW_COUNT = 20_000
SEED = 20261125
BASE = datetime(2026, 11, 24, 0, 0, 0, tzinfo=UTC)
WINDOW_START = BASE + timedelta(hours=6)
WINDOW_END = BASE + timedelta(hours=18)
NOW = BASE + timedelta(days=1)

SERVICES = ("api-gateway", "auth-service", "inventory-service", "payment-service")
REGIONS = ("eu-west-1", "us-east-1", "us-west-2")
HOSTS = ("h-1", "h-2", "h-3")

METRICS_MAPPING: dict[str, Any] = {
    "properties": {
        "@timestamp": {"type": "date"},
        "seq": {"type": "long"},
        "service": {"type": "keyword"},
        "region": {"type": "keyword"},
        "host": {"type": "keyword"},
        "cpu_percent": {"type": "double"},
        "memory_percent": {"type": "double"},
        "latency_ms": {"type": "double"},
        "error_rate": {"type": "double"},
        "requests": {"type": "long"},
    }
}


def generate_metrics(count: int = ROW_COUNT, seed: int = SEED) -> list[dict[str, Any]]:
    """Seeded metric documents over one day; memory leaks at a per-host rate; ~5% nulls."""
    rng = random.Random(seed)
    leak_per_hour = {
        (service, host): rng.uniform(-0.2, 1.5) for service in SERVICES for host in HOSTS
    }
    rows: list[dict[str, Any]] = []
    for seq in range(count):
        offset_ms = rng.randrange(0, 24 * 3600 * 1000)
        timestamp = BASE + timedelta(milliseconds=offset_ms)
        service, region, host = rng.choice(SERVICES), rng.choice(REGIONS), rng.choice(HOSTS)
        hours = offset_ms / 3_600_000
        memory = 40 + leak_per_hour[(service, host)] * hours + rng.gauss(0, 2)

        def maybe(value: float, null_share: float) -> float | None:
            return None if rng.random() < null_share else round(value, 3)

        rows.append(
            {
                "@timestamp": timestamp,
                "seq": seq,
                "service": service,
                "region": region,
                "host": f"{service}-{host}",
                "cpu_percent": maybe(
                    30 + 20 * math.sin(hours / 24 * 2 * math.pi) + rng.gauss(0, 5), 0.05
                ),
                "memory_percent": maybe(memory, 0.03),
                "latency_ms": maybe(rng.lognormvariate(4.0, 0.6), 0.05),
                "error_rate": maybe(abs(rng.gauss(0.02, 0.03)), 0.05),
                "requests": rng.randrange(50, 5000),
            }
        )
    return rows


@pytest.fixture(scope="module")
def metric_rows() -> list[dict[str, Any]]:
    """The seeded dataset shared by both sides."""
    return generate_metrics()


@pytest.fixture(scope="module")
def engine(build_catalog: Any, metric_rows: list[dict[str, Any]]) -> Callable[..., EsqlResult]:
    """Run ES|QL on the embedded engine over `metrics-oracle`, with `?start`/`?end` bound."""
    catalog: Catalog = build_catalog({"metrics-oracle": (METRICS_MAPPING, metric_rows)})

    def run(query: str) -> EsqlResult:
        params = {"start": es_date(WINDOW_START), "end": es_date(WINDOW_END)}
        return run_query(query, catalog, params=params, now=NOW)

    return run


@pytest.fixture(scope="module")
def sql(
    metric_rows: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], list[tuple[Any, ...]]]]:
    """Run SQL on DuckDB over table `m` (same rows; `ts_ms` is the timestamp in epoch ms)."""
    frame = pl.DataFrame(
        {
            "ts_ms": [int(r["@timestamp"].timestamp() * 1000) for r in metric_rows],
            **{
                name: [r[name] for r in metric_rows]
                for name in (
                    "seq",
                    "service",
                    "region",
                    "host",
                    "cpu_percent",
                    "memory_percent",
                    "latency_ms",
                    "error_rate",
                    "requests",
                )
            },
        },
        schema_overrides={"ts_ms": pl.Int64, "seq": pl.Int64, "requests": pl.Int64},
    )
    path: Path = tmp_path_factory.mktemp("oracle") / "metrics.parquet"
    frame.write_parquet(path)
    connection = duckdb.connect()
    connection.execute(f"CREATE TABLE m AS SELECT * FROM read_parquet('{path.as_posix()}')")
    start_ms = int(WINDOW_START.timestamp() * 1000)
    end_ms = int(WINDOW_END.timestamp() * 1000)

    def run(text: str) -> list[tuple[Any, ...]]:
        text = text.replace("$start", str(start_ms)).replace("$end", str(end_ms))
        return [tuple(row) for row in connection.execute(text).fetchall()]

    yield run
    connection.close()


def es_date(value: datetime) -> str:
    """A datetime as Elasticsearch prints dates (`2026-11-24T06:00:00.000Z`)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def epoch_ms(value: str) -> int:
    """Epoch milliseconds of a date as ES prints it (`2026-11-24T06:00:00.000Z`)."""
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


def assert_rows_match(
    actual: Sequence[Sequence[Any]], expected: Sequence[Sequence[Any]], *, rel: float = 1e-9
) -> None:
    """Same number of rows and, cell by cell, equal values (floats within `rel`)."""
    assert len(actual) == len(expected), (len(actual), len(expected))
    for index, (got, want) in enumerate(zip(actual, expected, strict=True)):
        assert len(got) == len(want), (index, got, want)
        for cell, reference in zip(got, want, strict=True):
            if isinstance(reference, float) and cell is not None:
                assert isinstance(cell, float), (index, got, want)
                assert math.isclose(cell, reference, rel_tol=rel, abs_tol=1e-9), (index, got, want)
            else:
                assert cell == reference, (index, got, want)


def columns(result: EsqlResult) -> list[tuple[str, str]]:
    """`(name, type)` of each result column."""
    return [(c.name, c.type) for c in result.columns]


WINDOW = "WHERE @timestamp >= TO_DATETIME(?start) AND @timestamp < TO_DATETIME(?end)"


def test_global_aggregates_in_time_window(engine: Any, sql: Any) -> None:
    result = engine(
        f"FROM metrics-oracle | {WINDOW} | STATS n = COUNT(*), n_cpu = COUNT(cpu_percent),"
        " total = SUM(requests), avg_cpu = AVG(cpu_percent), lo = MIN(latency_ms),"
        " hi = MAX(latency_ms)"
    )
    assert columns(result) == [
        ("n", "long"),
        ("n_cpu", "long"),
        ("total", "long"),
        ("avg_cpu", "double"),
        ("lo", "double"),
        ("hi", "double"),
    ]
    expected = sql(
        "SELECT count(*), count(cpu_percent), sum(requests)::BIGINT, avg(cpu_percent),"
        " min(latency_ms), max(latency_ms) FROM m WHERE ts_ms >= $start AND ts_ms < $end"
    )
    assert_rows_match(result.values, expected)


def test_group_by_two_keys(engine: Any, sql: Any) -> None:
    result = engine(
        "FROM metrics-oracle | STATS avg_cpu = AVG(cpu_percent), max_mem = MAX(memory_percent),"
        " n = COUNT(*) BY service, region | SORT service, region"
    )
    assert columns(result) == [
        ("avg_cpu", "double"),
        ("max_mem", "double"),
        ("n", "long"),
        ("service", "keyword"),
        ("region", "keyword"),
    ]
    expected = sql(
        "SELECT avg(cpu_percent), max(memory_percent), count(*), service, region FROM m"
        " GROUP BY service, region ORDER BY service, region"
    )
    assert len(expected) == len(SERVICES) * len(REGIONS)
    assert_rows_match(result.values, expected)


def test_least_squares_slope_by_group_in_time_window(engine: Any, sql: Any) -> None:
    result = engine(
        f"FROM metrics-oracle | {WINDOW} AND memory_percent IS NOT NULL"
        ' | EVAL t = TO_DOUBLE(DATE_DIFF("seconds", TO_DATETIME(?start), @timestamp))'
        " | STATS n = COUNT(*), sx = SUM(t), sy = SUM(memory_percent),"
        " sxy = SUM(t * memory_percent), sxx = SUM(t * t) BY service, host"
        " | EVAL slope = (n * sxy - sx * sy) / (n * sxx - sx * sx)"
        " | KEEP service, host, n, slope | SORT service, host"
    )
    assert columns(result) == [
        ("service", "keyword"),
        ("host", "keyword"),
        ("n", "long"),
        ("slope", "double"),
    ]
    expected = sql(
        "SELECT service, host, count(*),"
        " regr_slope(memory_percent, ((ts_ms - $start) // 1000)::DOUBLE) FROM m"
        " WHERE ts_ms >= $start AND ts_ms < $end AND memory_percent IS NOT NULL"
        " GROUP BY service, host ORDER BY service, host"
    )
    assert len(expected) == len(SERVICES) * len(HOSTS)
    assert_rows_match(result.values, expected, rel=1e-6)


def test_bucket_by_five_minutes(engine: Any, sql: Any) -> None:
    result = engine(
        "FROM metrics-oracle | WHERE @timestamp >= TO_DATETIME(?start)"
        " AND @timestamp < TO_DATETIME(?start) + 1 hour"
        " | STATS avg_cpu = AVG(cpu_percent), n = COUNT(*)"
        " BY bucket = BUCKET(@timestamp, 5 minutes) | SORT bucket"
    )
    assert columns(result) == [("avg_cpu", "double"), ("n", "long"), ("bucket", "date")]
    expected = sql(
        "SELECT avg(cpu_percent), count(*), (ts_ms // 300000) * 300000 AS b FROM m"
        " WHERE ts_ms >= $start AND ts_ms < $start + 3600000 GROUP BY b ORDER BY b"
    )
    assert len(expected) == 12
    actual = [[avg, n, epoch_ms(bucket)] for avg, n, bucket in result.values]
    assert_rows_match(actual, expected)


def test_date_trunc_hourly_max(engine: Any, sql: Any) -> None:
    result = engine(
        "FROM metrics-oracle | EVAL hour = DATE_TRUNC(1 hour, @timestamp)"
        " | STATS peak = MAX(cpu_percent) BY hour | SORT hour"
    )
    assert columns(result) == [("peak", "double"), ("hour", "date")]
    expected = sql(
        "SELECT max(cpu_percent), (ts_ms // 3600000) * 3600000 AS h FROM m GROUP BY h ORDER BY h"
    )
    assert len(expected) == 24
    assert_rows_match([[peak, epoch_ms(hour)] for peak, hour in result.values], expected)


@pytest.mark.parametrize("percentile", [5, 50, 95, 99])
def test_percentiles_within_t_digest_tolerance(engine: Any, sql: Any, percentile: int) -> None:
    function = "MEDIAN(latency_ms)" if percentile == 50 else f"PERCENTILE(latency_ms, {percentile})"
    result = engine(f"FROM metrics-oracle | STATS p = {function} BY service | SORT service")
    assert columns(result) == [("p", "double"), ("service", "keyword")]
    low, high = max(percentile - 1, 0) / 100, min(percentile + 1, 100) / 100
    bounds = sql(
        f"SELECT quantile_cont(latency_ms, {low}), quantile_cont(latency_ms, {high}), service"
        " FROM m GROUP BY service ORDER BY service"
    )
    assert [row[1] for row in result.values] == [row[2] for row in bounds]
    for (value, service), (lower, upper, _) in zip(result.values, bounds, strict=True):
        assert lower <= value <= upper, (service, percentile, lower, value, upper)


def test_count_distinct_and_values(engine: Any, sql: Any) -> None:
    result = engine(
        "FROM metrics-oracle | STATS hosts = COUNT_DISTINCT(host),"
        " listed = MV_COUNT(VALUES(host)) BY region | SORT region"
    )
    assert columns(result) == [("hosts", "long"), ("listed", "integer"), ("region", "keyword")]
    expected = sql(
        "SELECT count(DISTINCT host), count(DISTINCT host)::INTEGER, region FROM m"
        " GROUP BY region ORDER BY region"
    )
    assert_rows_match(result.values, expected)


def test_std_dev_and_weighted_avg(engine: Any, sql: Any) -> None:
    result = engine(
        "FROM metrics-oracle | WHERE latency_ms IS NOT NULL AND cpu_percent IS NOT NULL"
        " | STATS sd = STD_DEV(latency_ms), w = WEIGHTED_AVG(latency_ms, requests)"
        " BY service | SORT service"
    )
    assert columns(result) == [("sd", "double"), ("w", "double"), ("service", "keyword")]
    expected = sql(
        "SELECT stddev_pop(latency_ms), sum(latency_ms * requests) / sum(requests), service"
        " FROM m WHERE latency_ms IS NOT NULL AND cpu_percent IS NOT NULL"
        " GROUP BY service ORDER BY service"
    )
    assert_rows_match(result.values, expected)


def test_filters_with_in_like_not_and_nulls(engine: Any, sql: Any) -> None:
    result = engine(
        'FROM metrics-oracle | WHERE service IN ("api-gateway", "auth-service")'
        ' AND host LIKE "*-h-1" AND cpu_percent IS NOT NULL AND NOT (error_rate > 0.05)'
        " | STATS n = COUNT(*), s = SUM(cpu_percent) BY service | SORT service"
    )
    assert columns(result) == [("n", "long"), ("s", "double"), ("service", "keyword")]
    expected = sql(
        "SELECT count(*), sum(cpu_percent), service FROM m"
        " WHERE service IN ('api-gateway', 'auth-service') AND host LIKE '%-h-1'"
        " AND cpu_percent IS NOT NULL AND NOT (error_rate > 0.05)"
        " GROUP BY service ORDER BY service"
    )
    assert len(expected) == 2
    assert_rows_match(result.values, expected)


def test_per_aggregate_where(engine: Any, sql: Any) -> None:
    result = engine(
        "FROM metrics-oracle | STATS errors = COUNT(*) WHERE error_rate > 0.05,"
        " total = COUNT(*), slow = AVG(latency_ms) WHERE latency_ms > 100 BY service"
        " | SORT service"
    )
    assert columns(result) == [
        ("errors", "long"),
        ("total", "long"),
        ("slow", "double"),
        ("service", "keyword"),
    ]
    expected = sql(
        "SELECT count(*) FILTER (WHERE error_rate > 0.05), count(*),"
        " avg(latency_ms) FILTER (WHERE latency_ms > 100), service FROM m"
        " GROUP BY service ORDER BY service"
    )
    assert_rows_match(result.values, expected)


def test_integer_division_and_modulo_on_long(engine: Any, sql: Any) -> None:
    result = engine(
        "FROM metrics-oracle | EVAL per_week = requests / 7, rest = requests % 7"
        " | STATS a = SUM(per_week), b = SUM(rest), c = MAX(per_week)"
    )
    assert columns(result) == [("a", "long"), ("b", "long"), ("c", "long")]
    expected = sql(
        "SELECT sum(requests // 7)::BIGINT, sum(requests % 7)::BIGINT, max(requests // 7) FROM m"
    )
    assert_rows_match(result.values, expected)


@pytest.mark.parametrize(
    ("order", "sql_order"),
    [
        pytest.param("latency_ms DESC, seq", "latency_ms DESC NULLS FIRST, seq", id="desc"),
        pytest.param("latency_ms ASC, seq", "latency_ms ASC NULLS LAST, seq", id="asc"),
        pytest.param(
            "latency_ms DESC NULLS LAST, seq", "latency_ms DESC NULLS LAST, seq", id="desc-nl"
        ),
        pytest.param(
            "latency_ms NULLS FIRST, seq DESC", "latency_ms ASC NULLS FIRST, seq DESC", id="asc-nf"
        ),
    ],
)
def test_sort_with_nulls_then_limit(engine: Any, sql: Any, order: str, sql_order: str) -> None:
    result = engine(f"FROM metrics-oracle | KEEP seq, latency_ms | SORT {order} | LIMIT 25")
    assert columns(result) == [("seq", "long"), ("latency_ms", "double")]
    expected = sql(f"SELECT seq, latency_ms FROM m ORDER BY {sql_order} LIMIT 25")
    assert_rows_match(result.values, expected)


def test_top_by_group(engine: Any, sql: Any) -> None:
    result = engine(
        'FROM metrics-oracle | STATS top3 = TOP(latency_ms, 3, "desc") BY region | SORT region'
    )
    assert columns(result) == [("top3", "double"), ("region", "keyword")]
    expected = sql(
        "SELECT list(latency_ms ORDER BY latency_ms DESC)[1:3], region FROM m"
        " WHERE latency_ms IS NOT NULL GROUP BY region ORDER BY region"
    )
    assert [row[1] for row in result.values] == [row[1] for row in expected]
    for (top3, _), (reference, _) in zip(result.values, expected, strict=True):
        assert top3 == list(reference)


def test_implicit_limit_of_1000_with_warning(engine: Any, sql: Any) -> None:
    result = engine("FROM metrics-oracle | KEEP seq | SORT seq")
    assert columns(result) == [("seq", "long")]
    assert result.values == [list(row) for row in sql("SELECT seq FROM m ORDER BY seq LIMIT 1000")]
    assert "No limit defined, adding default limit of [1000]" in result.warnings


def test_limit_never_returns_more_than_10000_rows(engine: Any) -> None:
    result = engine("FROM metrics-oracle | KEEP seq | SORT seq | LIMIT 20000")
    assert len(result.values) == 10_000
    assert result.values[-1] == [9_999]


def test_unnamed_bucket_group_is_named_by_its_text(engine: Any, sql: Any) -> None:
    result = engine(
        "FROM metrics-oracle | WHERE @timestamp >= TO_DATETIME(?start)"
        " AND @timestamp < TO_DATETIME(?start) + 15 minutes"
        " | STATS COUNT(*) BY BUCKET(@timestamp, 5 minutes) | SORT `BUCKET(@timestamp, 5 minutes)`"
    )
    assert columns(result) == [("COUNT(*)", "long"), ("BUCKET(@timestamp, 5 minutes)", "date")]
    expected = sql(
        "SELECT count(*), (ts_ms // 300000) * 300000 AS b FROM m"
        " WHERE ts_ms >= $start AND ts_ms < $start + 900000 GROUP BY b ORDER BY b"
    )
    assert [[n, epoch_ms(bucket)] for n, bucket in result.values] == [list(r) for r in expected]
