"""Limits that keep runaway queries from exhausting the machine, and the engine's last line of
defence: whatever goes wrong inside, the caller gets an `EsqlError`, never a traceback.

Elasticsearch accepts expressions hundreds of levels deep and refuses a statement longer than
1,000,000 characters (`ESQL statement is too large [N characters > 1000000]`).
"""

from __future__ import annotations

import pytest

from qs_tui.esql import EsqlError, EsqlExecutionError, EsqlSyntaxError, IndexData, run_query
from qs_tui.esql.parser import (
    MAX_EXPRESSION_DEPTH,
    MAX_EXPRESSION_NODES,
    MAX_QUERY_LENGTH,
    _check_size,
    parse,
)
from tests.esql.conftest import FIXED_NOW
from tests.esql.tables import MemoryCatalog, typed_index


@pytest.fixture(scope="module")
def numbers() -> MemoryCatalog:
    """One index of 100 rows, `n` = 0..99."""
    rows = [{"n": i} for i in range(100)]
    return MemoryCatalog.of(typed_index("numbers", {"n": "integer"}, rows))


def _run(query: str, catalog: MemoryCatalog | None = None) -> list[list[object]]:
    return run_query(query, catalog or MemoryCatalog(), now=FIXED_NOW).values


def test_a_hundred_nested_parentheses_evaluate() -> None:
    assert _run("ROW a = " + "(" * 100 + "1 + 1" + ")" * 100) == [[2]]


def test_nesting_just_below_the_bound_evaluates() -> None:
    depth = MAX_EXPRESSION_DEPTH - 10
    assert _run("ROW a = " + "(" * depth + "7" + ")" * depth) == [[7]]


def test_nesting_beyond_the_bound_is_a_syntax_error_at_the_place() -> None:
    depth = MAX_EXPRESSION_DEPTH + 50
    with pytest.raises(EsqlSyntaxError) as caught:
        _run("ROW a = " + "(" * depth + "1" + ")" * depth)
    assert "nested too deeply: more than 500 levels" in caught.value.message
    assert caught.value.line == 1 and caught.value.column is not None


def test_nested_function_calls_and_signs_are_bounded_too() -> None:
    assert _run("ROW a = " + "ABS(" * 200 + "-1" + ")" * 200) == [[1]]
    assert _run("ROW a = " + "NOT " * 300 + "true") == [[True]]
    with pytest.raises(EsqlSyntaxError, match="nested too deeply"):
        _run("ROW a = " + "- " * (MAX_EXPRESSION_DEPTH + 1) + "1")


def test_a_long_arithmetic_chain_is_bounded_by_depth() -> None:
    assert _run("ROW a = 1" + " + 1" * 300) == [[301]]
    with pytest.raises(EsqlSyntaxError, match="nested too deeply"):
        _run("ROW a = 1" + " + 1" * (MAX_EXPRESSION_DEPTH + 1))


def test_an_or_chain_of_a_thousand_terms_filters(numbers: MemoryCatalog) -> None:
    terms = " OR ".join(f"n == {i}" for i in range(0, 2000, 2))
    assert _run(f"FROM numbers | WHERE {terms} | STATS c = COUNT(*)", numbers) == [[50]]


def test_an_and_chain_of_five_thousand_terms_filters(numbers: MemoryCatalog) -> None:
    terms = " AND ".join(f"n >= {i % 10}" for i in range(5000))
    assert _run(f"FROM numbers | WHERE {terms} | STATS c = COUNT(*)", numbers) == [[91]]


def test_short_chains_keep_the_left_deep_shape_of_es() -> None:
    where = parse("ROW a = true | WHERE a OR a OR a").commands[0]
    condition = where.condition  # type: ignore[attr-defined]
    assert condition.left.text == "a OR a"


def test_a_statement_over_a_million_characters_is_refused_as_es_does() -> None:
    text = "ROW a = 1" + " " * MAX_QUERY_LENGTH
    with pytest.raises(EsqlSyntaxError) as caught:
        _run(text)
    assert caught.value.message == (
        f"ESQL statement is too large [{len(text)} characters > 1000000]"
    )


def test_the_expression_count_bound_names_the_limit() -> None:
    query = parse("ROW a = 1 + 2 + 3 | EVAL b = a * 2")
    _check_size(query, max_nodes=20)
    with pytest.raises(EsqlSyntaxError, match="query too large: more than 5 expressions"):
        _check_size(query, max_nodes=5)


class _BrokenCatalog:
    """A catalog whose storage fails with an unexpected exception."""

    def resolve(self, pattern: str) -> list[IndexData]:
        raise ValueError(f"storage failed while resolving {pattern}")


def test_an_unexpected_failure_becomes_an_esql_error_with_its_cause() -> None:
    with pytest.raises(EsqlExecutionError) as caught:
        run_query("ROW a = 1 | EVAL b = 2\n| LOOKUP JOIN things ON a", _BrokenCatalog())
    error = caught.value
    assert isinstance(error.__cause__, ValueError)
    assert error.message == ("query could not be evaluated: storage failed while resolving things")
    assert (error.line, error.column) == (2, 3)


def test_a_polars_panic_becomes_an_esql_error() -> None:
    try:
        _run("ROW a = 9223372036854775807::datetime")
    except EsqlError as error:
        assert error.line is not None
    # (ES answers null with a warning; either way nothing but an EsqlError may escape.)


def test_a_query_of_more_expressions_than_the_bound_is_refused_while_read() -> None:
    # 60,000 OR terms once took more than 6 GB; now reading stops at the bound.
    terms = " OR ".join(f"x == {i % 10}" for i in range(60_000))
    with pytest.raises(EsqlSyntaxError) as caught:
        _run(f"ROW x = 5 | WHERE {terms}")
    assert caught.value.message == (
        f"query too large: more than {MAX_EXPRESSION_NODES} expressions"
    )
    assert caught.value.line == 1 and caught.value.column is not None
