"""`qs-tui bench engine` on a small data set: the report's shape and agreeing answers."""

from __future__ import annotations

import io
from typing import Any

import pytest

from qs_tui.bench.engine import (
    END,
    REFERENCES,
    Reference,
    compare,
    generate_metrics,
    metric_queries,
    run_engine_bench,
)


@pytest.fixture(scope="module")
def report() -> tuple[dict[str, Any], str]:
    out = io.StringIO()
    numbers = run_engine_bench(docs=20_000, seed=7, ndjson_docs=5_000, out=out)
    return numbers, out.getvalue()


def test_ingest_is_measured(report: tuple[dict[str, Any], str]) -> None:
    numbers, text = report
    assert numbers["docs"] == 20_000
    assert numbers["seed"] == 7
    assert numbers["ingest_s"] > 0 and numbers["ingest_cpu_s"] > 0
    assert numbers["ingest_docs_per_s"] == pytest.approx(20_000 / numbers["ingest_s"])
    assert "bulk ingest: 20,000 docs" in text
    assert numbers["frame_ingest_docs_per_s"] > 0
    assert "bulk_frame ingest: 20,000 rows" in text


def test_every_library_query_is_timed_and_agrees_with_duckdb(
    report: tuple[dict[str, Any], str],
) -> None:
    numbers, text = report
    names = [query["name"] for query in numbers["queries"]]
    assert names == [query.name for query in metric_queries()]
    assert {"memory_leak", "error_spike", "latency_regression", "cpu_saturation"} <= set(names)
    compared = [query for query in numbers["queries"] if query["name"] in REFERENCES]
    assert len(compared) == len(REFERENCES)
    for query in numbers["queries"]:
        if query["name"] not in REFERENCES:
            # Other metrics queries run on the engine alone (or say why they were skipped).
            assert query["agree"] is None and query["duckdb_ms"] is None
            assert query["engine_ms"] is not None or query["detail"].startswith("skipped")
            continue
        assert query["engine_ms"] is not None, query
        assert query["duckdb_ms"] is not None, query
        assert query["ratio"] == pytest.approx(query["engine_ms"] / query["duckdb_ms"])
        assert query["rows"] > 0
        assert query["agree"] is True, query["detail"]
    assert numbers["all_agree"] is True
    assert "answers agree: yes" in text


def test_the_table_lists_each_query(report: tuple[dict[str, Any], str]) -> None:
    numbers, text = report
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("query"))
    assert header.split() == ["query", "engine", "ms", "duckdb", "ms", "ratio", "rows", "agree"]
    for query in numbers["queries"]:
        (row,) = [line for line in lines if line.startswith(query["name"] + " ")]
        if query["name"] not in REFERENCES:
            assert row.split()[-1] == "-"
            continue
        assert row.split()[-1] == "yes"
        assert row.split()[-3].endswith("x")


def test_the_ndjson_end_to_end_case_runs_a_whole_process_and_agrees_with_duckdb(
    report: tuple[dict[str, Any], str],
) -> None:
    numbers, text = report
    ndjson = numbers["ndjson"]
    assert ndjson["docs"] == 5_000 and ndjson["file_mb"] > 0
    assert ndjson["agree"] is True, ndjson["detail"]
    # 5,000 samples every 10 s for 24 series: about 35 minutes, so one or two hourly buckets.
    assert 1 <= ndjson["rows"] <= 2
    assert ndjson["process_s"] > 0 and ndjson["duckdb_s"] > 0
    assert ndjson["ratio"] == pytest.approx(ndjson["process_s"] / ndjson["duckdb_s"])
    # CPU time too (the child's, from the OS): a busy machine inflates wall time only.
    assert ndjson["process_cpu_s"] > 0 and ndjson["duckdb_cpu_s"] > 0
    assert ndjson["cpu_ratio"] == pytest.approx(ndjson["process_cpu_s"] / ndjson["duckdb_cpu_s"])
    assert "end to end: 5,000 documents as NDJSON" in text
    (line,) = [line for line in text.splitlines() if line.startswith("end to end (NDJSON")]
    assert f"= {ndjson['ratio']:.2f}x (CPU time " in line
    assert line.endswith(f"= {ndjson['cpu_ratio']:.2f}x); answers agree: yes")
    # The floor under it: starting Python with polars, and polars' parse of the file alone.
    assert ndjson["import_s"] > 0 and ndjson["read_s"] > 0
    assert ndjson["floor_s"] == pytest.approx(ndjson["import_s"] + ndjson["read_s"])
    assert ndjson["floor_ratio"] == pytest.approx(ndjson["floor_s"] / ndjson["duckdb_s"])
    (floor,) = [line for line in text.splitlines() if line.startswith("floor under it:")]
    assert f"polars read_ndjson alone {ndjson['read_s']:.2f} s" in floor
    assert f"= {ndjson['floor_ratio']:.2f}x DuckDB; the rest " in floor


def test_the_end_to_end_case_can_be_skipped() -> None:
    out = io.StringIO()
    numbers = run_engine_bench(docs=240, seed=7, ndjson_docs=0, out=out)
    assert numbers["ndjson"] is None
    assert "end to end" not in out.getvalue()


def test_generated_data_is_seeded_and_ends_at_the_bench_clock() -> None:
    first = generate_metrics(240, seed=3)
    assert first == generate_metrics(240, seed=3)
    assert first != generate_metrics(240, seed=4)
    assert len(first) == 240
    assert first[-1]["@timestamp"] < END.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert {doc["service"] for doc in first} == {
        "api-gateway",
        "auth-service",
        "payment-service",
        "inventory-service",
    }


def test_compare_notices_disagreements() -> None:
    reference = Reference(sql="", keys=("service",), loose=frozenset({"p"}))
    engine = [{"service": "a", "x": 1.0, "p": 100.0}]
    assert compare(engine, [{"service": "a", "x": 1.0, "p": 100.5}], reference) == (True, "")
    agree, detail = compare(engine, [{"service": "a", "x": 1.1, "p": 100.0}], reference)
    assert not agree and detail.startswith("x at ('a',)")
    agree, detail = compare(engine, [{"service": "b", "x": 1.0, "p": 100.0}], reference)
    assert not agree and "different groups" in detail
    agree, detail = compare(engine, [], reference)
    assert not agree and "rows" in detail
