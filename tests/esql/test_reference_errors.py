"""ES|QL errors: what a user sees for a bad query (Elastic's reference and ES's error bodies).

Elasticsearch answers a malformed query with a parsing error `line L:C: ...` pointing at the
offending token, and a query that parses but cannot be verified (unknown index, column or
function, wrong types, aggregate outside STATS) with a verification error at the offending
expression. The embedded engine must do the same, render the query line with a caret under
that column, and name anything outside its subset (an `OVER` clause, which ES|QL does not
have, or a command or function it does not implement) instead of answering differently.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from qs_tui.esql import (
    EsqlError,
    EsqlExecutionError,
    EsqlResult,
    EsqlSyntaxError,
    EsqlUnsupportedError,
)

QueryRunner = Callable[..., EsqlResult]


def _error(q: QueryRunner, query: str, *positional: object, **named: object) -> EsqlError:
    with pytest.raises(EsqlError) as caught:
        q(query, *positional, **named)
    return caught.value


def _assert_caret(error: EsqlError, query: str) -> None:
    """The rendered error shows `line L:C:`, the query line and a caret under column C."""
    assert error.line is not None and error.column is not None
    rendered = error.render()
    lines = rendered.splitlines()
    assert lines[0].startswith(f"line {error.line}:{error.column}:")
    assert lines[1] == query.splitlines()[error.line - 1]
    assert lines[2] == " " * (error.column - 1) + "^"
    assert "Traceback" not in rendered


@pytest.mark.parametrize(
    ("query", "line", "column"),
    [
        pytest.param("FROM employees\n| EVAL x = 1 +* 2", 2, 15, id="unexpected-operator"),
        pytest.param("FROM employees | WHERE", 1, 23, id="missing-expression-at-end"),
        pytest.param("FROM employees | KEEP first_name,, last_name", 1, 34, id="double-comma"),
        pytest.param("WHERE salary > 1", 1, 1, id="no-source-command"),
        pytest.param(
            "FROM employees\n| WHERE salary > 1\n| SORT salary DESC NULLS NOWHERE",
            3,
            26,
            id="bad-nulls-ordering",
        ),
        pytest.param('ROW a = "unterminated', 1, 9, id="unterminated-string"),
        pytest.param("ROW a = (1 + 2", 1, 15, id="unclosed-parenthesis"),
    ],
)
def test_syntax_error_points_at_line_and_column(
    q: QueryRunner, query: str, line: int, column: int
) -> None:
    error = _error(q, query)
    assert isinstance(error, EsqlSyntaxError)
    assert (error.line, error.column) == (line, column)
    _assert_caret(error, query)


def test_unknown_command_is_named(q: QueryRunner) -> None:
    query = "FROM employees | FOO x"
    error = _error(q, query)
    assert isinstance(error, EsqlSyntaxError | EsqlUnsupportedError)
    assert "FOO" in error.render().upper()
    assert (error.line, error.column) == (1, 18)
    _assert_caret(error, query)


def test_real_command_outside_the_subset_is_named(q: QueryRunner) -> None:
    error = _error(q, "FROM employees | ENRICH languages_policy ON languages")
    assert isinstance(error, EsqlUnsupportedError | EsqlSyntaxError)
    assert "ENRICH" in error.render().upper()


def test_over_clause_is_named(q: QueryRunner) -> None:
    error = _error(q, "FROM employees | STATS AVG(salary) OVER (PARTITION BY gender)")
    assert "OVER" in error.render()


def test_unknown_function_is_named(q: QueryRunner) -> None:
    query = "ROW a = 1 | EVAL b = FOO_BAR(a)"
    error = _error(q, query)
    assert isinstance(error, EsqlExecutionError | EsqlUnsupportedError)
    assert "FOO_BAR" in error.render().upper()
    assert (error.line, error.column) == (1, 22)
    _assert_caret(error, query)


def test_function_outside_the_subset_is_named(q: QueryRunner) -> None:
    error = _error(q, 'ROW p = TO_GEOPOINT("POINT(1 2)") | EVAL x = ST_X(p)')
    rendered = error.render().upper()
    assert "TO_GEOPOINT" in rendered or "ST_X" in rendered


@pytest.mark.parametrize(
    ("query", "name", "column"),
    [
        pytest.param("FROM employees | KEEP nope", "nope", 23, id="keep"),
        pytest.param("FROM employees | EVAL x = nope + 1", "nope", 27, id="eval"),
        pytest.param("FROM employees | WHERE nope > 1", "nope", 24, id="where"),
        pytest.param("FROM employees | SORT nope", "nope", 23, id="sort"),
        pytest.param("FROM employees | STATS MAX(nope)", "nope", 28, id="stats"),
        pytest.param("FROM employees | DROP nope", "nope", 23, id="drop"),
        pytest.param(
            "FROM employees | KEEP emp_no | WHERE salary > 1", "salary", 38, id="dropped-by-keep"
        ),
        pytest.param("FROM employees | RENAME nope AS x", "nope", 25, id="rename"),
        pytest.param("FROM employees | STATS COUNT(*) BY nope", "nope", 36, id="stats-by"),
        pytest.param("FROM employees | MV_EXPAND nope", "nope", 28, id="mv-expand"),
    ],
)
def test_unknown_column(q: QueryRunner, query: str, name: str, column: int) -> None:
    error = _error(q, query)
    assert isinstance(error, EsqlExecutionError)
    assert f"Unknown column [{name}]" in error.render()
    assert (error.line, error.column) == (1, column)
    _assert_caret(error, query)


def test_unknown_index(q: QueryRunner) -> None:
    error = _error(q, "FROM nope")
    assert isinstance(error, EsqlExecutionError)
    assert "Unknown index [nope]" in error.render()


def test_pattern_matching_no_index(q: QueryRunner) -> None:
    error = _error(q, "FROM nothing-here-*")
    assert isinstance(error, EsqlExecutionError)
    assert "nothing-here-*" in error.render()


@pytest.mark.parametrize(
    "query",
    [
        pytest.param('ROW a = "x" + 1', id="keyword-plus-integer"),
        pytest.param("FROM employees | WHERE first_name > 1", id="keyword-compared-to-integer"),
        pytest.param("FROM employees | STATS SUM(first_name)", id="sum-of-keyword"),
        pytest.param("FROM employees | EVAL x = ABS(first_name)", id="abs-of-keyword"),
    ],
)
def test_type_mismatch_is_a_verification_error(q: QueryRunner, query: str) -> None:
    error = _error(q, query)
    assert isinstance(error, EsqlExecutionError)
    assert error.line == 1 and error.column is not None
    _assert_caret(error, query)


def test_aggregate_outside_stats(q: QueryRunner) -> None:
    error = _error(q, "FROM employees | WHERE AVG(salary) > 1")
    assert isinstance(error, EsqlExecutionError | EsqlSyntaxError)
    assert "AVG(salary)" in error.render()


def test_non_aggregate_in_stats(q: QueryRunner) -> None:
    error = _error(q, "FROM employees | STATS x = salary")
    assert isinstance(error, EsqlExecutionError)
    assert "salary" in error.render()


def test_missing_named_parameter_is_named(q: QueryRunner) -> None:
    error = _error(q, "ROW a = ?threshold")
    assert "threshold" in error.render()


def test_missing_positional_parameter(q: QueryRunner) -> None:
    error = _error(q, "ROW a = ?, b = ?", 1)
    assert isinstance(error, EsqlError)
    assert error.line == 1


def test_negative_limit_is_rejected(q: QueryRunner) -> None:
    error = _error(q, "FROM employees | LIMIT -1")
    assert isinstance(error, EsqlSyntaxError | EsqlExecutionError)
    assert error.line == 1


def test_nested_aggregate_is_rejected(q: QueryRunner) -> None:
    error = _error(q, "FROM employees | STATS AVG(MAX(salary))")
    assert isinstance(error, EsqlExecutionError | EsqlUnsupportedError)
    assert "MAX(salary)" in error.render()


def test_dropping_every_column_is_rejected(q: QueryRunner) -> None:
    error = _error(q, "FROM employees | DROP *")
    assert isinstance(error, EsqlExecutionError | EsqlSyntaxError)
    assert "*" in error.render()


def test_unknown_grok_pattern_is_named(q: QueryRunner) -> None:
    error = _error(q, 'ROW a = "x" | GROK a "%{NO_SUCH_PATTERN:x}"')
    assert "NO_SUCH_PATTERN" in error.render()
