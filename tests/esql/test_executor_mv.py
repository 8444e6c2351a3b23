"""Executor: multi-valued fields in operators, functions, WHERE, STATS and results."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from qs_tui.esql import EsqlResult, IndexData, run_query

NOW = datetime(2026, 11, 25, 16, 0, 0, tzinfo=UTC)
MULTI_VALUE_WARNING = (
    "java.lang.IllegalArgumentException: single-value function encountered multi-value"
)


class Catalog:
    """`hosts`: a multi-valued keyword and a multi-valued long (single values as 1-lists)."""

    def __init__(self) -> None:
        frame = pl.DataFrame(
            {
                "name": ["a", "b", "c", "d"],
                "tags": [["prod", "web"], ["prod"], None, ["db", "prod", "x"]],
                "ports": [[80, 443], [22], [8080], None],
                "_id": ["1", "2", "3", "4"],
            },
            schema={
                "name": pl.String,
                "tags": pl.List(pl.String),
                "ports": pl.List(pl.Int64),
                "_id": pl.String,
            },
        )
        self.index = IndexData(
            "hosts", frame, {"name": "keyword", "ports": "long", "tags": "keyword"}
        )

    def resolve(self, pattern: str) -> list[IndexData]:
        return [self.index] if pattern == "hosts" else []


def run(query: str) -> EsqlResult:
    return run_query(query, Catalog(), now=NOW)


def test_single_element_lists_print_as_scalars() -> None:
    result = run("FROM hosts | KEEP name, ports, tags | SORT name | LIMIT 10")
    assert result.values == [
        ["a", [80, 443], ["prod", "web"]],
        ["b", 22, "prod"],
        ["c", 8080, None],
        ["d", None, ["db", "prod", "x"]],
    ]


def test_operator_on_multi_value_is_null_with_warning() -> None:
    result = run("FROM hosts | SORT name | EVAL p = ports + 1 | KEEP name, p | LIMIT 10")
    assert result.values == [["a", None], ["b", 23], ["c", 8081], ["d", None]]
    assert result.warnings[0].endswith(
        "evaluation of [ports + 1] failed, treating result as null. "
        "Only first 20 failures recorded."
    )
    assert result.warnings[1].endswith(MULTI_VALUE_WARNING)


def test_where_on_multi_value_drops_the_row() -> None:
    result = run("FROM hosts | WHERE ports > 100 | KEEP name | SORT name | LIMIT 10")
    assert result.values == [["c"]]
    assert any(warning.endswith(MULTI_VALUE_WARNING) for warning in result.warnings)


def test_mv_functions() -> None:
    result = run(
        "FROM hosts | SORT name | EVAL n = MV_COUNT(tags), lo = MV_MIN(ports), hi = MV_MAX(ports), "
        'total = MV_SUM(ports), mean = MV_AVG(ports), joined = MV_CONCAT(tags, "|"), '
        "head = MV_FIRST(tags), tail = MV_LAST(tags) | DROP tags, ports | LIMIT 10"
    )
    assert [(c.name, c.type) for c in result.columns] == [
        ("name", "keyword"),
        ("n", "integer"),
        ("lo", "long"),
        ("hi", "long"),
        ("total", "long"),
        ("mean", "double"),
        ("joined", "keyword"),
        ("head", "keyword"),
        ("tail", "keyword"),
    ]
    assert result.values == [
        ["a", 2, 80, 443, 523, 261.5, "prod|web", "prod", "web"],
        ["b", 1, 22, 22, 22, 22.0, "prod", "prod", "prod"],
        ["c", None, 8080, 8080, 8080, 8080.0, None, None, None],
        ["d", 3, None, None, None, None, "db|prod|x", "db", "x"],
    ]


def test_conversion_works_value_by_value() -> None:
    result = run('ROW a = ["1", "x", "3"] | EVAL b = TO_INTEGER(a) | KEEP b | LIMIT 1')
    assert result.values == [[[1, 3]]]
    assert result.warnings[1].endswith("Cannot parse number [x]")


def test_aggregates_use_every_value() -> None:
    result = run(
        "FROM hosts | STATS c = COUNT(ports), s = SUM(ports), lo = MIN(ports), "
        "d = COUNT_DISTINCT(tags), v = VALUES(tags)"
    )
    assert result.values == [[4, 8625, 22, 4, ["db", "prod", "web", "x"]]]


def test_mv_expand_then_group() -> None:
    result = run("FROM hosts | MV_EXPAND tags | STATS n = COUNT(*) BY tags")
    assert result.values == [[1, "db"], [3, "prod"], [1, "web"], [1, "x"], [1, None]]


def test_sort_multi_value_by_min_ascending_and_max_descending() -> None:
    ascending = run("FROM hosts | WHERE ports IS NOT NULL | SORT ports | KEEP name | LIMIT 10")
    descending = run(
        "FROM hosts | WHERE ports IS NOT NULL | SORT ports DESC | KEEP name | LIMIT 10"
    )
    assert ascending.values == [["b"], ["a"], ["c"]]
    assert descending.values == [["c"], ["a"], ["b"]]


def test_is_null_sees_multi_values_as_present() -> None:
    result = run("FROM hosts | WHERE tags IS NULL | KEEP name | LIMIT 10")
    assert result.values == [["c"]]
