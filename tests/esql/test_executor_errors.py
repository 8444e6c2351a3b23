"""Executor: errors name what is wrong and where; warnings are worded as ES words them."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from qs_tui.esql import (
    EsqlError,
    EsqlExecutionError,
    EsqlResult,
    EsqlUnsupportedError,
    IndexData,
    ast,
    run_query,
)
from qs_tui.esql.executor import execute

NOW = datetime(2026, 11, 25, 16, 0, 0, tzinfo=UTC)


class Catalog:
    def __init__(self) -> None:
        frame = pl.DataFrame(
            {"n": [1, 2, 0], "s": ["a", "b", "c"], "_id": ["1", "2", "3"]},
            schema={"n": pl.Int32, "s": pl.String, "_id": pl.String},
        )
        self.index = IndexData("nums", frame, {"n": "integer", "s": "keyword"})

    def resolve(self, pattern: str) -> list[IndexData]:
        return [self.index] if pattern in ("nums", "num*") else []


def run(query: str) -> EsqlResult:
    return run_query(query, Catalog(), now=NOW)


@pytest.mark.parametrize(
    ("query", "message", "position"),
    [
        ("FROM nope", "Unknown index [nope]", (1, 1)),
        ("FROM nums | EVAL x = missing + 1", "Unknown column [missing]", (1, 22)),
        ("FROM nums | WHERE missing > 1", "Unknown column [missing]", (1, 19)),
        ("FROM nums | STATS AVG(missing)", "Unknown column [missing]", (1, 23)),
        ("FROM nums | SORT missing", "Unknown column [missing]", (1, 18)),
        ("FROM nums | KEEP missing", "Unknown column [missing]", (1, 18)),
        ("FROM nums | DROP missing", "Unknown column [missing]", (1, 18)),
        ("FROM nums | RENAME missing AS x", "Unknown column [missing]", (1, 20)),
        ("FROM nums | MV_EXPAND missing", "Unknown column [missing]", (1, 23)),
        (
            "FROM nums | EVAL x = MAX(n)",
            "aggregate function [MAX(n)] not allowed outside STATS command",
            (1, 22),
        ),
        (
            "FROM nums | WHERE n + 1",
            "Condition expression needs to be boolean, found [integer]",
            (1, 19),
        ),
        ("FROM nums | STATS 1 + 2", "expected an aggregate function but found [1 + 2]", (1, 19)),
    ],
)
def test_execution_errors_name_the_problem_and_position(
    query: str, message: str, position: tuple[int, int]
) -> None:
    with pytest.raises(EsqlExecutionError) as caught:
        run(query)
    assert caught.value.message == message
    assert (caught.value.line, caught.value.column) == position


def test_column_named_on_a_later_line_is_located() -> None:
    with pytest.raises(EsqlError) as caught:
        run("FROM nums\n| KEEP s,\n  `missing`")
    assert (caught.value.line, caught.value.column) == (3, 3)


def test_error_renders_the_query_line_with_a_caret() -> None:
    with pytest.raises(EsqlError) as caught:
        run("FROM nums\n| EVAL x = missing")
    assert caught.value.render() == (
        "line 2:12: Unknown column [missing]\n| EVAL x = missing\n           ^"
    )


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("ROW a = 1 | EVAL b = NOT_A_FUNCTION(a)", "NOT_A_FUNCTION"),
        ("FROM nums | STATS x = NOT_AN_AGG(n)", "NOT_AN_AGG"),
    ],
)
def test_unknown_functions_are_unsupported_and_named(query: str, name: str) -> None:
    with pytest.raises(EsqlUnsupportedError) as caught:
        run(query)
    assert f"[{name}]" in caught.value.message
    assert caught.value.line == 1


def test_unsupported_command_node_is_named() -> None:
    class Fork(ast.Command):
        """A command the engine does not know."""

    query = ast.Query(
        ast.Row((ast.Assignment("a", ast.Literal(1, "integer")),)), (Fork(pos=(1, 13)),)
    )
    with pytest.raises(EsqlUnsupportedError) as caught:
        execute(query, Catalog(), now=NOW)
    assert caught.value.message == "command [FORK] is not supported"
    assert (caught.value.line, caught.value.column) == (1, 13)


def test_unsupported_expression_node_is_named() -> None:
    class Match(ast.Expr):
        """An expression the engine does not know."""

    query = ast.Query(ast.Row((ast.Assignment("a", Match(pos=(1, 9))),)))
    with pytest.raises(EsqlUnsupportedError) as caught:
        execute(query, Catalog(), now=NOW)
    assert "Match" in caught.value.message


def test_unsupported_metadata_field_is_named() -> None:
    with pytest.raises(EsqlUnsupportedError) as caught:
        execute(ast.Query(ast.From(("nums",), ("_source",))), Catalog(), now=NOW)
    assert "[_source]" in caught.value.message


def test_division_by_zero_warns_only_for_failing_rows() -> None:
    result = run("FROM nums | EVAL r = 10 / n | KEEP r | LIMIT 10")
    assert result.values == [[10], [5], [None]]
    assert result.warnings == [
        "Line 1:22: evaluation of [10 / n] failed, treating result as null. "
        "Only first 20 failures recorded.",
        "Line 1:22: java.lang.ArithmeticException: / by zero",
    ]


def test_no_warning_when_nothing_fails() -> None:
    result = run("FROM nums | WHERE n > 0 | EVAL r = 10 / n | KEEP r | LIMIT 10")
    assert result.values == [[10], [5]]
    assert result.warnings == []


def test_warnings_keep_query_order_and_end_with_the_implicit_limit() -> None:
    result = run("ROW a = 0 | EVAL x = 1 / a, y = SQRT(-1)")
    assert result.warnings == [
        "Line 1:22: evaluation of [1 / a] failed, treating result as null. "
        "Only first 20 failures recorded.",
        "Line 1:22: java.lang.ArithmeticException: / by zero",
        "Line 1:33: evaluation of [SQRT(-1)] failed, treating result as null. "
        "Only first 20 failures recorded.",
        "Line 1:33: java.lang.ArithmeticException: Square root of negative",
        "No limit defined, adding default limit of [1000]",
    ]


def test_bad_regex_is_an_error_not_a_traceback() -> None:
    with pytest.raises(EsqlExecutionError) as caught:
        run('FROM nums | WHERE s RLIKE "a[" | LIMIT 1')
    assert "a[" in caught.value.message


def test_unsupported_date_pattern_letter_is_named() -> None:
    with pytest.raises(EsqlUnsupportedError) as caught:
        run('ROW d = NOW() | EVAL f = DATE_FORMAT("yyyy GGGG", d)')
    assert "[GGGG]" in caught.value.message


def test_negative_limit_is_an_error() -> None:
    with pytest.raises(EsqlExecutionError):
        execute(ast.Query(ast.From(("nums",)), (ast.Limit(-1),)), Catalog(), now=NOW)


def test_case_branch_not_taken_does_not_warn() -> None:
    result = run("FROM nums | EVAL r = CASE(n > 0, 10 / n, -1) | KEEP r | LIMIT 10")
    assert result.values == [[10], [5], [-1]]
    assert result.warnings == []


def test_case_branch_taken_warns() -> None:
    result = run("FROM nums | EVAL r = CASE(n >= 0, 10 / n, -1) | KEEP r | LIMIT 10")
    assert result.values == [[10], [5], [None]]
    assert result.warnings[1] == "Line 1:35: java.lang.ArithmeticException: / by zero"


def test_coalesce_evaluates_later_arguments_only_when_needed() -> None:
    result = run("FROM nums | EVAL r = COALESCE(n, 1 / 0) | KEEP r | LIMIT 10")
    assert result.values == [[1], [2], [0]]
    assert result.warnings == []


DIVISION_WARNING = "Line 1:22: java.lang.ArithmeticException: / by zero"


def test_warning_survives_a_later_where_that_drops_the_failing_row() -> None:
    result = run("FROM nums | EVAL r = 10 / n | WHERE r > 6 | KEEP r | LIMIT 10")
    assert result.values == [[10]]
    assert DIVISION_WARNING in result.warnings


def test_warning_from_before_stats_is_reported() -> None:
    result = run("FROM nums | EVAL r = 10 / n | STATS s = SUM(r), c = COUNT(r)")
    assert result.values == [[15, 2]]
    assert result.warnings[:2] == [
        "Line 1:22: evaluation of [10 / n] failed, treating result as null. "
        "Only first 20 failures recorded.",
        DIVISION_WARNING,
    ]


def test_warnings_of_several_commands_keep_query_order() -> None:
    result = run(
        "FROM nums | EVAL r = 10 / n | WHERE r > 0 "
        "| STATS s = SUM(r * 2147483647), c = COUNT(*) | EVAL q = c / 0"
    )
    messages = [warning.split(": ", 1)[1] for warning in result.warnings if "Exception" in warning]
    assert messages == [
        "java.lang.ArithmeticException: / by zero",
        "java.lang.ArithmeticException: integer overflow",
        "java.lang.ArithmeticException: / by zero",
    ]
    assert result.values == [[None, 2, None]]
