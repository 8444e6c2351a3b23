"""Executor: source and processing commands (FROM, ROW, WHERE, EVAL, SORT, LIMIT, KEEP, ...)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from qs_tui.esql import EsqlExecutionError, EsqlResult, run_query
from tests.esql.tables import MemoryCatalog, typed_index

NOW = datetime(2026, 11, 25, 16, 0, 0, tzinfo=UTC)


SERVICES = typed_index(
    "services-a",
    {"service": "keyword", "region": "keyword", "cpu": "double", "code": "integer"},
    [
        {"_id": "s1", "service": "api", "region": "us", "cpu": 10.5, "code": 1},
        {"_id": "s2", "service": "auth", "region": "eu", "cpu": None, "code": 2},
        {"_id": "s3", "service": "pay", "region": None, "cpu": 99.0, "code": 3},
    ],
)
SERVICES_B = typed_index(
    "services-b",
    {"service": "keyword", "cpu": "double", "code": "keyword", "zone": "keyword"},
    [{"_id": "b1", "service": "inv", "cpu": 50.0, "code": "x", "zone": "z1"}],
)
OWNERS = typed_index(
    "owners",
    {"service": "keyword", "owner": "keyword", "region": "keyword"},
    [
        {"service": "api", "owner": "alice", "region": "lookup-region"},
        {"service": "api", "owner": "bob", "region": "lookup-region"},
        {"service": "pay", "owner": "carol", "region": "lookup-region"},
    ],
)
CATALOG = MemoryCatalog.of(SERVICES, SERVICES_B, OWNERS)


def run(query: str, **params: Any) -> EsqlResult:
    return run_query(query, CATALOG, params=params or None, now=NOW)


def columns(result: EsqlResult) -> list[tuple[str, str]]:
    return [(column.name, column.type) for column in result.columns]


def test_from_lists_fields_alphabetically_and_hides_metadata() -> None:
    result = run("FROM services-a | LIMIT 1")
    assert columns(result) == [
        ("code", "integer"),
        ("cpu", "double"),
        ("region", "keyword"),
        ("service", "keyword"),
    ]
    assert result.values == [[1, 10.5, "us", "api"]]


def test_from_metadata_columns_follow_the_fields() -> None:
    result = run(
        "FROM services-a METADATA _index, _id | SORT _id DESC | KEEP _id, _index | LIMIT 2"
    )
    assert columns(result) == [("_id", "keyword"), ("_index", "keyword")]
    assert result.values == [["s3", "services-a"], ["s2", "services-a"]]


def test_from_union_with_conflicting_types_gives_unsupported_nulls() -> None:
    result = run("FROM services-* METADATA _index | SORT _index, service | LIMIT 10")
    assert columns(result) == [
        ("code", "unsupported"),
        ("cpu", "double"),
        ("region", "keyword"),
        ("service", "keyword"),
        ("zone", "keyword"),
        ("_index", "keyword"),
    ]
    assert result.values == [
        [None, 10.5, "us", "api", None, "services-a"],
        [None, None, "eu", "auth", None, "services-a"],
        [None, 99.0, None, "pay", None, "services-a"],
        [None, 50.0, None, "inv", "z1", "services-b"],
    ]


def test_from_comma_separated_patterns() -> None:
    result = run("FROM services-a, services-b | STATS n = COUNT(*)")
    assert result.values == [[4]]


def test_from_unknown_index_is_an_error() -> None:
    with pytest.raises(EsqlExecutionError) as caught:
        run("FROM nope")
    assert caught.value.message == "Unknown index [nope]"


def test_implicit_limit_adds_the_es_warning() -> None:
    result = run("FROM services-a | KEEP service")
    assert len(result.values) == 3
    assert result.warnings == ["No limit defined, adding default limit of [1000]"]


def test_implicit_limit_caps_at_1000_rows() -> None:
    rows = [{"n": i} for i in range(1500)]
    catalog = MemoryCatalog.of(typed_index("big", {"n": "long"}, rows))
    implicit = run_query("FROM big", catalog, now=NOW)
    explicit = run_query("FROM big | LIMIT 20000", catalog, now=NOW)
    assert len(implicit.values) == 1000
    assert len(explicit.values) == 1500
    assert explicit.warnings == []


def test_row_rightmost_duplicate_wins() -> None:
    result = run("ROW x = 1, y = 2, x = 3 | LIMIT 1")
    assert columns(result) == [("y", "integer"), ("x", "integer")]
    assert result.values == [[2, 3]]


def test_eval_replaces_existing_column_at_the_end() -> None:
    result = run("ROW a = 1, b = 2 | EVAL a = a + 10, c = a * 2 | LIMIT 1")
    assert columns(result) == [("b", "integer"), ("a", "integer"), ("c", "integer")]
    assert result.values == [[2, 11, 22]]


def test_eval_unnamed_expression_is_named_by_its_text() -> None:
    result = run("ROW a = 1 | EVAL a + 1 | LIMIT 1")
    assert columns(result) == [("a", "integer"), ("a + 1", "integer")]
    assert result.values == [[1, 2]]


def test_where_drops_null_conditions() -> None:
    result = run('FROM services-a | WHERE cpu > 20 OR region == "eu" | KEEP service | LIMIT 10')
    assert result.values == [["auth"], ["pay"]]


def test_sort_default_null_placement() -> None:
    ascending = run("FROM services-a | SORT cpu | KEEP service | LIMIT 10")
    descending = run("FROM services-a | SORT cpu DESC | KEEP service | LIMIT 10")
    assert ascending.values == [["api"], ["pay"], ["auth"]]
    assert descending.values == [["auth"], ["pay"], ["api"]]


def test_sort_nulls_first_and_several_keys() -> None:
    result = run("FROM services-* | SORT region NULLS FIRST, cpu DESC | KEEP service | LIMIT 10")
    assert result.values == [["pay"], ["inv"], ["auth"], ["api"]]


def test_sort_by_expression() -> None:
    result = run("FROM services-a | SORT code % 3, service | KEEP service | LIMIT 10")
    assert result.values == [["pay"], ["api"], ["auth"]]


def test_sort_strings_by_byte_order() -> None:
    result = run('ROW s = ["b", "B", "a", "é"] | MV_EXPAND s | SORT s | LIMIT 10')
    assert result.values == [["B"], ["a"], ["b"], ["é"]]


def test_limit_keeps_the_first_rows() -> None:
    result = run("FROM services-a | SORT code | LIMIT 2 | KEEP code")
    assert result.values == [[1], [2]]


def test_keep_orders_by_pattern_and_drop_removes() -> None:
    result = run("FROM services-a | KEEP s*, c* | DROP cpu | LIMIT 1")
    assert columns(result) == [("service", "keyword"), ("code", "integer")]


def test_keep_unknown_column_is_an_error() -> None:
    with pytest.raises(EsqlExecutionError) as caught:
        run("FROM services-a | KEEP nope")
    assert caught.value.message == "Unknown column [nope]"


def test_rename_keeps_position_and_replaces_existing_name() -> None:
    result = run("FROM services-a | KEEP service, region, code | RENAME service AS code | LIMIT 1")
    assert columns(result) == [("code", "keyword"), ("region", "keyword")]
    assert result.values == [["api", "us"]]


def test_mv_expand_makes_one_row_per_value() -> None:
    result = run('ROW a = [1, 2, 3], b = "x" | MV_EXPAND a | LIMIT 10')
    assert columns(result) == [("a", "integer"), ("b", "keyword")]
    assert result.values == [[1, "x"], [2, "x"], [3, "x"]]


def test_lookup_join_appends_fields_and_repeats_rows_per_match() -> None:
    result = run("FROM services-a | KEEP service, cpu | LOOKUP JOIN owners ON service | LIMIT 10")
    # Lookup fields replace same-named input columns (none here besides the key) and come last.
    assert columns(result) == [
        ("service", "keyword"),
        ("cpu", "double"),
        ("owner", "keyword"),
        ("region", "keyword"),
    ]
    assert result.values == [
        ["api", 10.5, "alice", "lookup-region"],
        ["api", 10.5, "bob", "lookup-region"],
        ["auth", None, None, None],
        ["pay", 99.0, "carol", "lookup-region"],
    ]


def test_lookup_join_field_overrides_input_column() -> None:
    result = run("FROM services-a | KEEP service, region | LOOKUP JOIN owners ON service | LIMIT 1")
    assert columns(result) == [
        ("service", "keyword"),
        ("owner", "keyword"),
        ("region", "keyword"),
    ]
    assert result.values == [["api", "alice", "lookup-region"]]


def test_lookup_join_unknown_key_is_an_error() -> None:
    with pytest.raises(EsqlExecutionError) as caught:
        run("FROM services-a | LOOKUP JOIN owners ON cpu")
    assert "cpu" in caught.value.message


def test_hand_built_syntax_tree_runs_without_the_parser() -> None:
    from qs_tui.esql import ast
    from qs_tui.esql.executor import execute

    query = ast.Query(
        ast.From(("services-a",)),
        (
            ast.Where(
                ast.BinaryOp(
                    ">", ast.Field("code", text="code"), ast.Literal(1, "integer", text="1")
                )
            ),
            ast.Eval(
                (
                    ast.Assignment(
                        "double_code",
                        ast.BinaryOp(
                            "*", ast.Field("code"), ast.Literal(2, "integer"), text="code * 2"
                        ),
                    ),
                )
            ),
            ast.Keep(("service", "double_code")),
            ast.Sort((ast.Order(ast.Field("double_code"), ascending=False),)),
            ast.Limit(5),
        ),
    )
    result = execute(query, CATALOG, now=NOW)
    assert columns(result) == [("service", "keyword"), ("double_code", "integer")]
    assert result.values == [["pay", 6], ["auth", 4]]


def test_from_wildcard_without_matches_is_ignored_next_to_other_indices() -> None:
    result = run("FROM services-a, nothing-* | STATS n = COUNT(*)")
    assert result.values == [[3]]
    with pytest.raises(EsqlExecutionError) as caught:
        run("FROM nothing-*")
    assert caught.value.message == "Unknown index [nothing-*]"
