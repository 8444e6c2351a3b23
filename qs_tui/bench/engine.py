"""`qs-tui bench engine`: embedded store ingest, and the detection queries against DuckDB.

Generates seeded metric documents and measures bulk ingest into an in-memory
`EmbeddedStore`; then times each metrics query of the library (`esql/*.esql`) on the embedded
engine and the same aggregation as hand-written DuckDB SQL over the same rows, and checks that
both answers agree. Every timing is the best of three; DuckDB's load is not timed.

Last, end to end: the documents as an NDJSON file, answered by a whole `qs-tui esql --index
--mapping --data` process (start, load, query, print) against DuckDB's `read_json` and the
same aggregation in this process.
"""

from __future__ import annotations

import functools
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import polars as pl

from qs_tui.esql.errors import EsqlError
from qs_tui.queries import QueryFile, all_queries
from qs_tui.store.base import StoreError
from qs_tui.store.embedded import EmbeddedStore
from qs_tui.store.templates import METRICS, spec_for

#: The benchmark's clock: the data ends here, and `NOW()` is fixed to it.
END = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
INTERVAL_S = 10
SERVICES = ("api-gateway", "auth-service", "payment-service", "inventory-service")
REGIONS = ("us-east-1", "us-west-2", "eu-west-1")
HOSTS_PER_GROUP = 2
#: The current window of the baseline-vs-current queries.
CURRENT_WINDOW = timedelta(hours=1)
#: How many times each query runs; the best time counts.
REPEATS = 3
#: Relative tolerance when comparing the two answers (percentiles may be estimated).
TOLERANCE = 1e-6
PERCENTILE_TOLERANCE = 1e-2
_READS_METRICS = re.compile(rf"^\s*FROM\s+{re.escape(METRICS)}\b", re.MULTILINE | re.IGNORECASE)


class BenchError(StoreError):
    """The benchmark cannot run (a StoreError, so the command line prints it as one line)."""


@dataclass
class QueryTiming:
    """One query's timings and whether the engine and DuckDB agreed."""

    name: str
    engine_ms: float | None
    duckdb_ms: float | None = None
    rows: int = 0
    agree: bool | None = None
    detail: str = ""

    @property
    def ratio(self) -> float | None:
        """Engine time over DuckDB time (below 1: the engine was faster)."""
        if self.engine_ms is None or not self.duckdb_ms:
            return None
        return self.engine_ms / self.duckdb_ms


@dataclass
class Reference:
    """The DuckDB SQL for one query of the library, and which columns identify a row."""

    sql: str
    keys: tuple[str, ...]
    loose: frozenset[str] = field(default_factory=frozenset)


#: The end-to-end case: NDJSON file -> one `STATS ... BY BUCKET(...)` answer.
NDJSON_INDEX = "bench-metrics"
NDJSON_QUERY = (
    f"FROM {NDJSON_INDEX} | STATS avg_cpu = AVG(cpu_percent), max_memory = MAX(memory_percent), "
    "n = COUNT(*) BY hour = BUCKET(@timestamp, 1 hour) | SORT hour | LIMIT 10000"
)
NDJSON_REFERENCE = Reference(
    sql="""
    SELECT AVG(cpu_percent) AS avg_cpu, MAX(memory_percent) AS max_memory, COUNT(*) AS n,
           (epoch_ms("@timestamp") // 3600000) * 3600000 AS hour
    FROM read_json(?) GROUP BY hour ORDER BY hour LIMIT 10000
    """,
    keys=("hour",),
)

# Hand-written DuckDB SQL for the queries in esql/. Time is `ts_ms` (epoch milliseconds) and
# parameters are epoch milliseconds too; the SQL mirrors each query's ES|QL step by step.
_WINDOW = "ts_ms >= $start AND ts_ms < $end"
REFERENCES: dict[str, Reference] = {
    "memory_leak": Reference(
        sql=f"""
        WITH s AS (
          SELECT service, region, host, COUNT(*) AS n,
                 SUM(t) AS sx, SUM(memory_percent) AS sy, SUM(t * memory_percent) AS sxy,
                 SUM(t * t) AS sxx, SUM(memory_percent * memory_percent) AS syy,
                 MAX(memory_percent) AS peak
          FROM (SELECT *, CAST((ts_ms - $start) // 1000 AS DOUBLE) AS t FROM metrics
                WHERE {_WINDOW} AND memory_percent IS NOT NULL)
          GROUP BY service, region, host HAVING COUNT(*) >= 3
        ), f AS (
          SELECT *, n * sxx - sx * sx AS den, n * syy - sy * sy AS spread FROM s
        ), g AS (
          SELECT *, CASE WHEN den > 0 THEN (n * sxy - sx * sy) / den ELSE 0.0 END AS slope_per_s
          FROM f
        ), h AS (
          SELECT *, (sy - slope_per_s * sx) / n AS intercept,
                 CASE WHEN den > 0 AND spread > 0
                      THEN POW(n * sxy - sx * sy, 2) / (den * spread) ELSE 0.0 END AS r2,
                 CAST(($end - $start) // 1000 AS DOUBLE) AS window_s
          FROM g
        )
        SELECT n, sx, sy, sxy, sxx, syy, peak, service, region, host, slope_per_s, intercept,
               r2, intercept + slope_per_s * window_s AS projected_at_end,
               CASE WHEN slope_per_s > 0
                    THEN (100.0 - (intercept + slope_per_s * window_s)) / slope_per_s END
                 AS seconds_to_oom
        FROM h ORDER BY slope_per_s DESC, service, region, host LIMIT 500
        """,
        keys=("service", "region", "host"),
    ),
    "disk_fill": Reference(
        sql=f"""
        WITH s AS (
          SELECT service, region, host, COUNT(*) AS n,
                 SUM(t) AS sx, SUM(disk_percent) AS sy, SUM(t * disk_percent) AS sxy,
                 SUM(t * t) AS sxx, SUM(disk_percent * disk_percent) AS syy,
                 MAX(disk_percent) AS latest_max
          FROM (SELECT *, CAST((ts_ms - $start) // 1000 AS DOUBLE) AS t FROM metrics
                WHERE {_WINDOW} AND disk_percent IS NOT NULL)
          GROUP BY service, region, host HAVING COUNT(*) >= 3
        ), f AS (
          SELECT *, n * sxx - sx * sx AS den, n * syy - sy * sy AS spread FROM s
        ), g AS (
          SELECT *, CASE WHEN den > 0 THEN (n * sxy - sx * sy) / den ELSE 0.0 END AS slope_per_s,
                 CAST(($end - $start) // 1000 AS DOUBLE) AS window_s
          FROM f
        ), h AS (
          SELECT *, CASE WHEN den > 0 AND spread > 0
                         THEN POW(n * sxy - sx * sy, 2) / (den * spread) ELSE 0.0 END AS r2,
                 (sy - slope_per_s * sx) / n + slope_per_s * window_s AS projected_at_end
          FROM g
        )
        SELECT n, sx, sy, sxy, sxx, syy, latest_max, service, region, host, slope_per_s, r2,
               projected_at_end,
               CASE WHEN slope_per_s > 0 THEN (100.0 - projected_at_end) / slope_per_s END
                 AS seconds_to_full
        FROM h ORDER BY slope_per_s DESC, service, region, host LIMIT 500
        """,
        keys=("service", "region", "host"),
    ),
    "cpu_saturation": Reference(
        sql=f"""
        SELECT AVG(cpu_percent) AS avg_cpu, MAX(cpu_percent) AS peak_cpu, COUNT(*) AS samples,
               COUNT(*) FILTER (WHERE cpu_percent >= $threshold) AS hot_samples,
               service, region, host,
               CAST(COUNT(*) FILTER (WHERE cpu_percent >= $threshold) AS DOUBLE) / COUNT(*)
                 AS hot_share
        FROM metrics WHERE {_WINDOW} AND cpu_percent IS NOT NULL
        GROUP BY service, region, host
        ORDER BY hot_share DESC, avg_cpu DESC, service, region, host LIMIT 500
        """,
        keys=("service", "region", "host"),
    ),
    "error_spike": Reference(
        sql="""
        SELECT AVG(error_rate) FILTER (WHERE ts_ms < $start) AS baseline_rate,
               STDDEV_POP(error_rate) FILTER (WHERE ts_ms < $start) AS baseline_sd,
               AVG(error_rate) FILTER (WHERE ts_ms >= $start) AS current_rate,
               MAX(error_rate) FILTER (WHERE ts_ms >= $start) AS current_peak,
               SUM(requests_per_s) FILTER (WHERE ts_ms >= $start) AS current_requests,
               COUNT(error_rate) FILTER (WHERE ts_ms >= $start) AS samples,
               service, region,
               AVG(error_rate) FILTER (WHERE ts_ms >= $start)
                 - AVG(error_rate) FILTER (WHERE ts_ms < $start) AS delta,
               AVG(error_rate) FILTER (WHERE ts_ms >= $start)
                 / GREATEST(AVG(error_rate) FILTER (WHERE ts_ms < $start), 0.0001) AS ratio
        FROM metrics WHERE ts_ms >= $baseline_start AND ts_ms < $end
        GROUP BY service, region ORDER BY delta DESC, service, region LIMIT 500
        """,
        keys=("service", "region"),
    ),
    "latency_regression": Reference(
        sql="""
        SELECT QUANTILE_CONT(latency_p95_ms, 0.95) FILTER (WHERE ts_ms < $start) AS baseline_p95,
               QUANTILE_CONT(latency_p95_ms, 0.95) FILTER (WHERE ts_ms >= $start) AS current_p95,
               AVG(latency_p95_ms) FILTER (WHERE ts_ms >= $start) AS current_avg,
               COUNT(latency_p95_ms) FILTER (WHERE ts_ms >= $start) AS samples,
               service, region,
               QUANTILE_CONT(latency_p95_ms, 0.95) FILTER (WHERE ts_ms >= $start)
                 / GREATEST(QUANTILE_CONT(latency_p95_ms, 0.95) FILTER (WHERE ts_ms < $start),
                            1.0) AS ratio
        FROM metrics WHERE ts_ms >= $baseline_start AND ts_ms < $end
        GROUP BY service, region ORDER BY ratio DESC, service, region LIMIT 500
        """,
        keys=("service", "region"),
        loose=frozenset({"baseline_p95", "current_p95", "ratio"}),
    ),
    "traffic_drop": Reference(
        sql="""
        SELECT AVG(requests_per_s) FILTER (WHERE ts_ms < $start) AS baseline_rps,
               AVG(requests_per_s) FILTER (WHERE ts_ms >= $start) AS current_rps,
               COUNT(requests_per_s) FILTER (WHERE ts_ms >= $start) AS samples,
               region, service,
               (AVG(requests_per_s) FILTER (WHERE ts_ms >= $start)
                 - AVG(requests_per_s) FILTER (WHERE ts_ms < $start))
                 / GREATEST(AVG(requests_per_s) FILTER (WHERE ts_ms < $start), 0.001) AS change
        FROM metrics WHERE ts_ms >= $baseline_start AND ts_ms < $end
        GROUP BY region, service ORDER BY change ASC, region, service LIMIT 500
        """,
        keys=("region", "service"),
    ),
    "investigate_service_health": Reference(
        sql="""
        WITH s AS (
          SELECT AVG(error_rate) FILTER (WHERE ts_ms < $baseline_end) AS base_errors,
                 AVG(error_rate) FILTER (WHERE ts_ms >= $start) AS errors,
                 AVG(latency_p95_ms) FILTER (WHERE ts_ms < $baseline_end) AS base_latency,
                 AVG(latency_p95_ms) FILTER (WHERE ts_ms >= $start) AS latency,
                 AVG(cpu_percent) FILTER (WHERE ts_ms < $baseline_end) AS base_cpu,
                 AVG(cpu_percent) FILTER (WHERE ts_ms >= $start) AS cpu,
                 AVG(memory_percent) FILTER (WHERE ts_ms < $baseline_end) AS base_memory,
                 AVG(memory_percent) FILTER (WHERE ts_ms >= $start) AS memory,
                 AVG(requests_per_s) FILTER (WHERE ts_ms < $baseline_end) AS base_rps,
                 AVG(requests_per_s) FILTER (WHERE ts_ms >= $start) AS rps,
                 MAX(disk_percent) FILTER (WHERE ts_ms < $baseline_end) AS base_disk,
                 MAX(disk_percent) FILTER (WHERE ts_ms >= $start) AS disk,
                 COUNT(*) FILTER (WHERE ts_ms >= $start) AS samples,
                 service, region
          FROM metrics WHERE ts_ms >= $baseline_start AND ts_ms < $end
          GROUP BY service, region
        )
        SELECT *, errors - base_errors AS error_delta,
               latency / GREATEST(base_latency, 1.0) AS latency_ratio,
               (rps - base_rps) / GREATEST(base_rps, 0.001) AS rps_change
        FROM s ORDER BY service, region LIMIT 5000
        """,
        keys=("service", "region"),
    ),
    "capacity_by_region": Reference(
        sql=f"""
        SELECT COUNT(DISTINCT host) AS hosts, AVG(requests_per_s) AS rps,
               AVG(cpu_percent) AS cpu, AVG(latency_p95_ms) AS latency, service, region
        FROM metrics WHERE {_WINDOW}
        GROUP BY service, region ORDER BY service, region LIMIT 5000
        """,
        keys=("service", "region"),
    ),
    "metrics_timeline": Reference(
        sql=f"""
        SELECT AVG(cpu_percent) AS cpu, AVG(memory_percent) AS memory, AVG(error_rate) AS errors,
               AVG(latency_p95_ms) AS latency, AVG(requests_per_s) AS rps,
               MAX(disk_percent) AS disk, (ts_ms // 60000) * 60000 AS minute, service, region
        FROM metrics WHERE {_WINDOW}
        GROUP BY minute, service, region ORDER BY service, region, minute LIMIT 10000
        """,
        keys=("minute", "service", "region"),
    ),
}


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def generate_metrics(docs: int, *, seed: int) -> list[dict[str, Any]]:
    """`docs` metric documents as the simulator writes them, seeded and realistic.

    4 services x 3 regions x 2 hosts sample every 10 s until `END`, with a daily shape and
    noise; one host of payment-service in us-east-1 leaks memory over the whole period, and
    auth-service in eu-west-1 has an error spike in the last hour.
    """
    rng = random.Random(seed)
    series = [
        (service, region, f"{service}-{region}-{number}")
        for service in SERVICES
        for region in REGIONS
        for number in range(1, HOSTS_PER_GROUP + 1)
    ]
    ticks = math.ceil(docs / len(series))
    start = END - timedelta(seconds=INTERVAL_S * ticks)
    leak_host = series[SERVICES.index("payment-service") * len(REGIONS) * HOSTS_PER_GROUP][2]
    spike_from = ticks - int(CURRENT_WINDOW.total_seconds()) // INTERVAL_S
    documents: list[dict[str, Any]] = []
    for tick in range(ticks):
        moment = start + timedelta(seconds=INTERVAL_S * tick)
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        daily = 0.5 + 0.5 * math.sin(
            2 * math.pi * (moment.hour * 3600 + moment.minute * 60) / 86400
        )
        progress = tick / ticks
        for service, region, host in series:
            if len(documents) == docs:
                return documents
            noise = rng.random
            memory = 55.0 + 4.0 * noise()
            if host == leak_host:
                memory = 45.0 + 50.0 * progress + noise()
            error_rate = 0.004 + 0.004 * noise()
            if tick >= spike_from and service == "auth-service" and region == "eu-west-1":
                error_rate += 0.08
            documents.append(
                {
                    "@timestamp": stamp,
                    "service": service,
                    "region": region,
                    "host": host,
                    "cpu_percent": 25.0 + 50.0 * daily + 25.0 * noise(),
                    "memory_percent": memory,
                    "error_rate": error_rate,
                    "latency_p95_ms": 80.0 + 60.0 * daily + 40.0 * noise(),
                    "requests_per_s": 400.0 + 800.0 * daily + 100.0 * noise(),
                    "disk_percent": 30.0 + 20.0 * progress + noise(),
                }
            )
    return documents


def _params(query_params: Sequence[str], first: datetime) -> dict[str, Any]:
    """Values for a query's named parameters: the whole data set, or baseline vs last hour."""
    end = END
    start = end - CURRENT_WINDOW if "baseline_start" in query_params else first
    values: dict[str, Any] = {
        "start": start,
        "end": end,
        "baseline_start": first,
        "baseline_end": end - CURRENT_WINDOW,
        "onset": end - CURRENT_WINDOW,
        "threshold": 90.0,
        "service": "payment-service",
        "region": "us-east-1",
        "host": "payment-service-us-east-1-1",
    }
    return {name: values[name] for name in query_params if name in values}


def metric_queries() -> list[QueryFile]:
    """The library's queries over the metrics index: the detection queries this bench runs."""
    return [query for query in all_queries() if _READS_METRICS.search(query.text)]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# ---------------------------------------------------------------------------------------------
# Running and comparing
# ---------------------------------------------------------------------------------------------


def _best_of(run: Callable[[], Any]) -> tuple[float, Any]:
    best = math.inf
    answer: Any = None
    for _ in range(REPEATS):
        started = time.perf_counter()
        answer = run()
        best = min(best, time.perf_counter() - started)
    return best * 1000.0, answer


def _normalise(value: Any) -> Any:
    """Make engine and DuckDB cells comparable: dates as epoch millis, numbers as floats."""
    if isinstance(value, str) and len(value) == 24 and value.endswith("Z") and value[10] == "T":
        return _millis(datetime.fromisoformat(value))
    if isinstance(value, datetime):
        return _millis(value if value.tzinfo else value.replace(tzinfo=UTC))
    return value


def _close(left: Any, right: Any, tolerance: float) -> bool:
    if left is None or right is None:
        return left is right
    if isinstance(left, int | float) and isinstance(right, int | float):
        if math.isnan(float(left)) or math.isnan(float(right)):
            return math.isnan(float(left)) and math.isnan(float(right))
        return math.isclose(float(left), float(right), rel_tol=tolerance, abs_tol=1e-9)
    return bool(left == right)


def compare(
    engine: list[dict[str, Any]], duckdb: list[dict[str, Any]], reference: Reference
) -> tuple[bool, str]:
    """Whether two answers hold the same rows (matched by key columns) and close numbers."""
    if len(engine) != len(duckdb):
        return False, f"{len(engine)} rows from the engine, {len(duckdb)} from DuckDB"

    def keyed(rows: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
        return {tuple(_normalise(row.get(key)) for key in reference.keys): row for row in rows}

    left, right = keyed(engine), keyed(duckdb)
    if left.keys() != right.keys():
        missing = sorted(map(str, left.keys() ^ right.keys()))[:3]
        return False, f"different groups, e.g. {', '.join(missing)}"
    for key, row in left.items():
        other = right[key]
        if set(row) != set(other):
            return False, f"different columns: {sorted(set(row) ^ set(other))}"
        for column, value in row.items():
            tolerance = PERCENTILE_TOLERANCE if column in reference.loose else TOLERANCE
            if not _close(_normalise(value), _normalise(other[column]), tolerance):
                return False, f"{column} at {key}: engine {value!r}, DuckDB {other[column]!r}"
    return True, ""


def _duckdb_connection(frame: pl.DataFrame, folder: Path) -> Any:
    try:
        import duckdb
    except ImportError:
        raise BenchError(
            "DuckDB is not installed",
            "the engine benchmark compares against DuckDB: pip install 'qs-tui[bench]'",
        ) from None
    # Time as epoch milliseconds keeps the SQL free of time zone rules; loading through a
    # parquet file into a native table needs no pyarrow, and is not part of any timing.
    path = folder / "metrics.parquet"
    frame.with_columns(ts_ms=pl.col("@timestamp").dt.epoch("ms")).drop(
        "@timestamp", "_id"
    ).write_parquet(path)
    connection = duckdb.connect()
    connection.execute("CREATE TABLE metrics AS SELECT * FROM read_parquet(?)", [str(path)])
    return connection


def _duckdb_rows(connection: Any, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    used = {name: value for name, value in params.items() if f"${name}" in sql}
    cursor = connection.execute(sql, used)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@dataclass
class EndToEnd:
    """The NDJSON end-to-end case: whole `qs-tui esql` process against DuckDB's `read_json`."""

    docs: int
    file_mb: float
    process_s: float
    duckdb_s: float
    rows: int
    agree: bool
    detail: str
    process_cpu_s: float | None = None
    duckdb_cpu_s: float | None = None
    import_s: float | None = None
    """Starting Python and importing polars, in a new process (what ours pays first)."""
    read_s: float | None = None
    """polars' `read_ndjson` of the file alone, typed as the native path types it."""

    @property
    def floor_s(self) -> float | None:
        """The least any load through polars can take: start, import and polars' own parse."""
        if self.import_s is None or self.read_s is None:
            return None
        return self.import_s + self.read_s

    @property
    def floor_ratio(self) -> float | None:
        """`floor_s` over DuckDB's time: how close to it a polars-based load can come."""
        floor = self.floor_s
        return None if floor is None or self.duckdb_s <= 0 else floor / self.duckdb_s

    @property
    def ratio(self) -> float:
        """Process time over DuckDB time (the target is at most 3)."""
        return self.process_s / self.duckdb_s if self.duckdb_s > 0 else math.inf

    @property
    def cpu_ratio(self) -> float | None:
        """The same in CPU time, which a busy machine does not inflate (both use all cores)."""
        if self.process_cpu_s is None or not self.duckdb_cpu_s:
            return None
        return self.process_cpu_s / self.duckdb_cpu_s

    def as_dict(self) -> dict[str, Any]:
        """The numbers `run_engine_bench` returns under `ndjson`."""
        return {
            "docs": self.docs,
            "file_mb": self.file_mb,
            "process_s": self.process_s,
            "duckdb_s": self.duckdb_s,
            "ratio": self.ratio,
            "rows": self.rows,
            "agree": self.agree,
            "detail": self.detail,
            "process_cpu_s": self.process_cpu_s,
            "duckdb_cpu_s": self.duckdb_cpu_s,
            "cpu_ratio": self.cpu_ratio,
            "import_s": self.import_s,
            "read_s": self.read_s,
            "floor_s": self.floor_s,
            "floor_ratio": self.floor_ratio,
        }


def _children_cpu_s() -> float | None:
    """CPU time of finished child processes so far (None where the platform cannot tell)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Unix
        return None
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _best_wall_and_cpu(
    run: Callable[[], Any], cpu_clock: Callable[[], float | None]
) -> tuple[float, float | None, Any]:
    """Best wall seconds, best CPU seconds (by `cpu_clock`) and the last answer of `run`."""
    best_wall = math.inf
    best_cpu: float | None = None
    answer: Any = None
    for _ in range(REPEATS):
        cpu_before, started = cpu_clock(), time.perf_counter()
        answer = run()
        best_wall = min(best_wall, time.perf_counter() - started)
        cpu_after = cpu_clock()
        if cpu_before is not None and cpu_after is not None:
            used = cpu_after - cpu_before
            best_cpu = used if best_cpu is None else min(best_cpu, used)
    return best_wall, best_cpu, answer


def _write_ndjson(documents: list[dict[str, Any]], folder: Path) -> tuple[Path, Path]:
    """The documents as an NDJSON file, and the metrics mapping as a mapping file."""
    data = folder / "metrics.ndjson"
    with data.open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(document) + "\n" for document in documents)
    spec = spec_for(METRICS)
    assert spec is not None  # the templates define qs-metrics
    mapping = folder / "mapping.json"
    mapping.write_text(json.dumps({"properties": spec.properties}), encoding="utf-8")
    return data, mapping


def _child_env() -> dict[str, str]:
    """The environment of the bench's child processes."""
    import qs_tui

    # The child imports this very package, wherever it is (a checkout or site-packages).
    root = str(Path(qs_tui.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    # An installed package runs from compiled bytecode; with PYTHONDONTWRITEBYTECODE set (as
    # some sandboxes and CI images do) every child would recompile the whole package first,
    # which is not what a user's `qs-tui esql` pays. The first of the runs writes the cache.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _import_polars_process() -> None:
    """Start Python and import polars in a new process: the first part of the floor."""
    subprocess.run(
        [sys.executable, "-c", "import polars"], env=_child_env(), capture_output=True, check=True
    )


def _read_alone(data: Path, mapping: Path) -> Callable[[], Any] | None:
    """polars reading the file as the native path reads it, nothing else (None: it cannot)."""
    from qs_tui.store.embedded import IndexMapping
    from qs_tui.store.loader import native_schema

    parsed = IndexMapping(json.loads(mapping.read_text(encoding="utf-8")), index=NDJSON_INDEX)
    schema = native_schema(data, parsed)
    return None if schema is None else functools.partial(pl.read_ndjson, data, schema=schema)


def _esql_process(data: Path, mapping: Path, folder: Path) -> list[dict[str, Any]]:
    """Run `qs-tui esql` on the file in a new Python process; its answer as records."""
    # It runs in the scratch folder so that no `.env` or cluster settings reach it.
    env = _child_env()
    command = [
        sys.executable,
        "-m",
        "qs_tui",
        "esql",
        "--store",
        "embedded",
        "--format",
        "json",
        "--index",
        NDJSON_INDEX,
        "--mapping",
        str(mapping),
        "--data",
        str(data),
        NDJSON_QUERY,
    ]
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchError("qs-tui esql failed in the end-to-end case", last)
    body = json.loads(done.stdout)
    names = [column["name"] for column in body["columns"]]
    return [dict(zip(names, row, strict=True)) for row in body["values"]]


def run_ndjson_end_to_end(data: Path, mapping: Path, *, docs: int, out: TextIO) -> EndToEnd:
    """Time NDJSON file -> answer: a whole `qs-tui esql` process against DuckDB `read_json`.

    Both answer `NDJSON_QUERY` (one `STATS ... BY BUCKET(...)`) from the same file; each is
    the best of `REPEATS`. DuckDB runs in this process (it is already imported), ours in a new
    one each time, so ours also pays for starting Python and importing the engine.
    """
    import duckdb

    file_mb = data.stat().st_size / 1e6
    print(f"end to end: {docs:,} documents as NDJSON ({file_mb:,.0f} MB) ...", file=out, flush=True)
    process_s, process_cpu_s, ours = _best_wall_and_cpu(
        functools.partial(_esql_process, data, mapping, data.parent), _children_cpu_s
    )
    connection = duckdb.connect()
    connection.execute("SET enable_progress_bar = false")

    def duckdb_answer() -> list[dict[str, Any]]:
        cursor = connection.execute(NDJSON_REFERENCE.sql, [str(data)])
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    duckdb_s, duckdb_cpu_s, expected = _best_wall_and_cpu(duckdb_answer, time.process_time)
    connection.close()
    # The floor: what starting, importing polars and polars' own parse take, with nothing of
    # ours. It says how much of the gap to DuckDB is the reader's, not the loader's.
    import_s, _, _ = _best_wall_and_cpu(_import_polars_process, _children_cpu_s)
    read = _read_alone(data, mapping)
    read_s = None if read is None else _best_wall_and_cpu(read, time.process_time)[0]
    agree, detail = compare(ours, expected, NDJSON_REFERENCE)
    result = EndToEnd(
        docs=docs,
        file_mb=file_mb,
        process_s=process_s,
        duckdb_s=duckdb_s,
        rows=len(ours),
        agree=agree,
        detail=detail,
        process_cpu_s=process_cpu_s,
        duckdb_cpu_s=duckdb_cpu_s,
        import_s=import_s,
        read_s=read_s,
    )
    cpu = (
        ""
        if result.cpu_ratio is None
        else f" (CPU time {result.process_cpu_s:.2f} s vs {result.duckdb_cpu_s:.2f} s "
        f"= {result.cpu_ratio:.2f}x)"
    )
    print(
        f"end to end (NDJSON file -> STATS ... BY BUCKET answer, best of {REPEATS}): "
        f"qs-tui esql process {result.process_s:.2f} s, DuckDB read_json {result.duckdb_s:.2f} s"
        f" = {result.ratio:.2f}x{cpu}; answers agree: {'yes' if agree else 'NO: ' + detail}",
        file=out,
        flush=True,
    )
    if result.floor_s is not None and result.floor_ratio is not None:
        print(
            f"floor under it: Python start + polars import {result.import_s:.2f} s, "
            f"polars read_ndjson alone {result.read_s:.2f} s = {result.floor_s:.2f} s "
            f"= {result.floor_ratio:.2f}x DuckDB; the rest (exactness check, conversion, "
            f"query, output, exit) {result.process_s - result.floor_s:.2f} s",
            file=out,
            flush=True,
        )
    return result


def run_engine_bench(
    *, docs: int = 1_000_000, seed: int = 7, ndjson_docs: int | None = None, out: TextIO
) -> dict[str, Any]:
    """Measure ingest and the detection queries; print a table to `out` and return the numbers.

    Args:
        docs: how many metric documents to generate and ingest.
        seed: the generator's seed.
        ndjson_docs: how many documents the NDJSON end-to-end case loads (`docs` if None;
            0 skips it).
        out: where the report goes.

    Returns:
        `docs`, `seed`, `ingest_s`, `ingest_cpu_s`, `ingest_docs_per_s` (documents as dicts),
        `frame_ingest_docs_per_s` (the same rows as a polars frame), `queries` (one dict per
        query with
        `name`, `engine_ms`, `duckdb_ms`, `ratio`, `rows`, `agree`, `detail`),
        `all_agree`, and `ndjson` (`docs`, `file_mb`, `process_s`, `duckdb_s`, `ratio`,
        `rows`, `agree`, `detail` of the end-to-end case, or None when skipped).

    Raises:
        BenchError: DuckDB is not installed (`pip install 'qs-tui[bench]'`).
    """
    try:
        import duckdb  # noqa: F401  # fail before the long generation step
    except ImportError:
        raise BenchError(
            "DuckDB is not installed",
            "the engine benchmark compares against DuckDB: pip install 'qs-tui[bench]'",
        ) from None
    ndjson_docs = docs if ndjson_docs is None else ndjson_docs
    print(f"generating {docs:,} metric documents (seed {seed}) ...", file=out, flush=True)
    documents = generate_metrics(docs, seed=seed)
    first = datetime.fromisoformat(documents[0]["@timestamp"]) if documents else END
    # The NDJSON file is written now, while the documents exist, and read last.
    scratch = tempfile.TemporaryDirectory(prefix="qs-bench-ndjson-")
    try:
        files = None
        if ndjson_docs:
            same = ndjson_docs == docs
            files = _write_ndjson(
                documents if same else generate_metrics(ndjson_docs, seed=seed), Path(scratch.name)
            )
        numbers = _engine_bench(documents, first=first, seed=seed, out=out)
        del documents
        end_to_end = (
            None if files is None else run_ndjson_end_to_end(*files, docs=ndjson_docs, out=out)
        )
    finally:
        scratch.cleanup()
    numbers["ndjson"] = None if end_to_end is None else end_to_end.as_dict()
    return numbers


def _engine_bench(
    documents: list[dict[str, Any]], *, first: datetime, seed: int, out: TextIO
) -> dict[str, Any]:
    """Ingest and the detection queries (see `run_engine_bench`); empties `documents`."""
    # Best of REPEATS, as for the queries: each round ingests into a fresh store, and the last
    # one is kept for querying.
    ingest_s = ingest_cpu_s = math.inf
    for _ in range(REPEATS):
        store = EmbeddedStore(now=lambda: END)
        started, started_cpu = time.perf_counter(), time.process_time()
        result = store.bulk(METRICS, documents)
        # CPU time too: on a busy machine the wall clock also counts waiting for a core.
        ingest_cpu_s = min(ingest_cpu_s, time.process_time() - started_cpu)
        ingest_s = min(ingest_s, time.perf_counter() - started)
    documents.clear()  # the store holds them now: free the dicts before the queries run
    if result.errors:
        raise BenchError("benchmark data rejected", result.errors[0])
    docs_per_s = result.written / ingest_s if ingest_s > 0 else math.inf
    print(
        f"bulk ingest: {result.written:,} docs in {ingest_s:.2f} s = {docs_per_s:,.0f} docs/s "
        f"(CPU time {ingest_cpu_s:.2f} s)",
        file=out,
        flush=True,
    )

    (data,) = store.resolve(METRICS)
    # Callers that already hold columns (a polars frame) skip the per-document work.
    frame_s = math.inf
    for _ in range(REPEATS):
        frame_store = EmbeddedStore(now=lambda: END)
        started = time.perf_counter()
        frame_result = frame_store.bulk_frame(METRICS, data.frame.drop("_id"))
        frame_s = min(frame_s, time.perf_counter() - started)
        frame_store.close()
    frame_docs_per_s = frame_result.written / frame_s if frame_s > 0 else math.inf
    print(
        f"bulk_frame ingest: {frame_result.written:,} rows in {frame_s:.2f} s = "
        f"{frame_docs_per_s:,.0f} docs/s",
        file=out,
        flush=True,
    )
    timings: list[QueryTiming] = []
    with tempfile.TemporaryDirectory(prefix="qs-bench-") as folder:
        connection = _duckdb_connection(data.frame, Path(folder))
        for query in metric_queries():
            params = _params(query.params, first)
            unknown = [f"?{name}" for name in query.params if name not in params]
            if unknown:
                detail = f"skipped: the bench has no value for {', '.join(unknown)}"
                timings.append(QueryTiming(query.name, None, detail=detail))
                continue
            engine_params = {
                name: _iso(value) if isinstance(value, datetime) else value
                for name, value in params.items()
            }
            try:
                engine_ms, answer = _best_of(
                    functools.partial(store.esql, query.text, params=engine_params)
                )
            except (EsqlError, StoreError) as error:
                message = error.render() if isinstance(error, EsqlError) else str(error)
                timings.append(QueryTiming(query.name, None, detail=message.splitlines()[0]))
                continue
            timing = QueryTiming(query.name, engine_ms, rows=len(answer.values))
            reference = REFERENCES.get(query.name)
            if reference is None:
                timing.detail = "no DuckDB reference for this query"
            else:
                sql_params = {
                    name: _millis(value) if isinstance(value, datetime) else value
                    for name, value in params.items()
                }
                timing.duckdb_ms, expected = _best_of(
                    functools.partial(_duckdb_rows, connection, reference.sql, sql_params)
                )
                timing.agree, timing.detail = compare(answer.records(), expected, reference)
            timings.append(timing)
        connection.close()

    _print_table(timings, out)
    compared = [t for t in timings if t.agree is not None]
    all_agree = bool(compared) and all(t.agree for t in compared)
    failed = [t for t in timings if t.engine_ms is None and not t.detail.startswith("skipped")]
    print(
        f"answers agree: {'yes' if all_agree else 'NO'} ({len(compared)} compared"
        + (f", {len(failed)} failed on the engine" if failed else "")
        + ")",
        file=out,
    )
    return {
        "docs": result.written,
        "seed": seed,
        "ingest_s": ingest_s,
        "ingest_docs_per_s": docs_per_s,
        "ingest_cpu_s": ingest_cpu_s,
        "frame_ingest_docs_per_s": frame_docs_per_s,
        "queries": [
            {
                "name": t.name,
                "engine_ms": t.engine_ms,
                "duckdb_ms": t.duckdb_ms,
                "ratio": t.ratio,
                "rows": t.rows,
                "agree": t.agree,
                "detail": t.detail,
            }
            for t in timings
        ],
        "all_agree": all_agree,
    }


def _print_table(timings: list[QueryTiming], out: TextIO) -> None:
    def number(value: float | None, digits: int = 1) -> str:
        return "-" if value is None else f"{value:,.{digits}f}"

    header = ("query", "engine ms", "duckdb ms", "ratio", "rows", "agree")
    lines = [
        (
            t.name,
            number(t.engine_ms),
            number(t.duckdb_ms),
            "-" if t.ratio is None else f"{t.ratio:.2f}x",
            str(t.rows),
            "-" if t.agree is None else ("yes" if t.agree else "NO"),
        )
        for t in timings
    ]
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    print(file=out)
    for row in [header, *lines]:
        cells = [
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip(), file=out)
    for t in timings:
        if t.detail:
            print(f"  {t.name}: {t.detail}", file=out)
    print(file=out)
