"""Executor: operators, types, null propagation and three-valued logic."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from qs_tui.esql import EsqlExecutionError, EsqlResult, IndexData, run_query

NOW = datetime(2026, 11, 25, 16, 0, 0, tzinfo=UTC)


class EmptyCatalog:
    """A catalog without indices: these tests only use ROW."""

    def resolve(self, pattern: str) -> list[IndexData]:
        return []


def run(query: str, **params: Any) -> EsqlResult:
    return run_query(query, EmptyCatalog(), params=params or None, now=NOW)


def columns(result: EsqlResult) -> list[tuple[str, str]]:
    return [(column.name, column.type) for column in result.columns]


def test_integer_division_truncates_toward_zero() -> None:
    result = run("ROW a = 5, b = 2 | EVAL q = a / b, n = -5 / 2, r = 5 % 2, m = -5 % 3 | LIMIT 1")
    assert columns(result)[2:] == [
        ("q", "integer"),
        ("n", "integer"),
        ("r", "integer"),
        ("m", "integer"),
    ]
    # Java semantics: the quotient truncates, the remainder takes the dividend's sign.
    assert result.values == [[5, 2, 2, -2, 1, -2]]


def test_mixed_arithmetic_widens_to_double_and_long() -> None:
    result = run("ROW a = 1, b = 2.5, c = 3000000000 | EVAL d = a + b, e = a + c | LIMIT 1")
    assert columns(result) == [
        ("a", "integer"),
        ("b", "double"),
        ("c", "long"),
        ("d", "double"),
        ("e", "long"),
    ]
    assert result.values == [[1, 2.5, 3000000000, 3.5, 3000000001]]


def test_division_by_zero_is_null_with_es_warning() -> None:
    result = run("ROW a = 1 | EVAL b = a / 0 | LIMIT 1")
    assert result.values == [[1, None]]
    assert result.warnings == [
        "Line 1:22: evaluation of [a / 0] failed, treating result as null. "
        "Only first 20 failures recorded.",
        "Line 1:22: java.lang.ArithmeticException: / by zero",
    ]


def test_modulo_and_double_division_by_zero_are_null() -> None:
    result = run("ROW a = 5 % 0, b = 5.0 / 0 | LIMIT 1")
    assert result.values == [[None, None]]
    assert "Line 1:9: java.lang.ArithmeticException: / by zero" in result.warnings
    assert "Line 1:20: java.lang.ArithmeticException: / by zero" in result.warnings


def test_integer_overflow_is_null_with_warning() -> None:
    result = run("ROW a = 2147483647 | EVAL b = a + 1, c = TO_LONG(a) + 1 | LIMIT 1")
    assert columns(result) == [("a", "integer"), ("b", "integer"), ("c", "long")]
    assert result.values == [[2147483647, None, 2147483648]]
    assert result.warnings[1] == "Line 1:31: java.lang.ArithmeticException: integer overflow"


def test_long_overflow_is_null_with_warning() -> None:
    result = run("ROW a = 9223372036854775807 | EVAL b = a * 2 | LIMIT 1")
    assert result.values == [[9223372036854775807, None]]
    assert result.warnings[1] == "Line 1:40: java.lang.ArithmeticException: long overflow"


def test_null_propagates_through_operators() -> None:
    result = run("ROW a = null, b = 1 | EVAL c = a + b, d = b > a, e = -a | LIMIT 1")
    assert columns(result) == [
        ("a", "null"),
        ("b", "integer"),
        ("c", "integer"),
        ("d", "boolean"),
        ("e", "null"),
    ]
    assert result.values == [[None, 1, None, None, None]]


def test_three_valued_logic() -> None:
    result = run(
        "ROW t = true, f = false, n = null "
        "| EVAL a = t AND n, b = f AND n, c = t OR n, d = f OR n, e = NOT n | DROP t, f, n"
        " | LIMIT 1"
    )
    assert result.values == [[None, False, True, None, None]]


def test_string_literal_compared_with_date_is_converted() -> None:
    result = run(
        'ROW d = TO_DATETIME("2026-11-25T16:00:00Z") '
        '| EVAL after = d > "2026-11-25T15:59:59.999Z", same = d == "2026-11-25T16:00:00Z", '
        'day = d >= "2026-11-26" | LIMIT 1'
    )
    assert result.values == [["2026-11-25T16:00:00.000Z", True, True, False]]


def test_date_parameter_bounds_filter_rows() -> None:
    result = run(
        'ROW d = TO_DATETIME("2026-11-25T16:00:00Z") | WHERE d >= ?start AND d < ?end | LIMIT 1',
        start="2026-11-25T15:00:00Z",
        end="2026-11-25T17:00:00Z",
    )
    assert result.values == [["2026-11-25T16:00:00.000Z"]]


def test_date_plus_and_minus_time_spans() -> None:
    result = run(
        'ROW d = TO_DATETIME("2026-01-31T10:00:00Z") '
        "| EVAL a = d + 15 minutes, b = d - 1 hour, c = d + 1 day, e = 1 week + d, "
        "f = d + 1 month, g = d - 1 year | DROP d | LIMIT 1"
    )
    assert result.values == [
        [
            "2026-01-31T10:15:00.000Z",
            "2026-01-31T09:00:00.000Z",
            "2026-02-01T10:00:00.000Z",
            "2026-02-07T10:00:00.000Z",
            # A calendar month clamps to the end of February.
            "2026-02-28T10:00:00.000Z",
            "2025-01-31T10:00:00.000Z",
        ]
    ]


def test_date_minus_date_is_an_error() -> None:
    with pytest.raises(EsqlExecutionError) as caught:
        run('ROW d = TO_DATETIME("2026-01-31") | EVAL x = d - d')
    assert caught.value.line == 1
    assert caught.value.column == 46
    assert "[d - d]" in caught.value.message


def test_comparing_number_with_string_is_an_error() -> None:
    with pytest.raises(EsqlExecutionError) as caught:
        run('ROW a = 1 | WHERE a > "x"')
    assert '[a > "x"]' in caught.value.message
    assert (caught.value.line, caught.value.column) == (1, 19)


def test_casts_convert_and_bad_values_become_null_with_warning() -> None:
    result = run(
        'ROW s = "12", bad = "foo", d = 2.6 '
        "| EVAL i = s::integer, l = d::long, x = bad::double, t = 1::keyword, b = 1::boolean "
        "| DROP s, bad, d | LIMIT 1"
    )
    assert columns(result) == [
        ("i", "integer"),
        ("l", "long"),
        ("x", "double"),
        ("t", "keyword"),
        ("b", "boolean"),
    ]
    assert result.values == [[12, 3, None, "1", True]]
    assert result.warnings[1] == (
        "Line 1:76: org.elasticsearch.xpack.esql.core.InvalidArgumentException: "
        "Cannot parse number [foo]"
    )


def test_in_follows_three_valued_logic() -> None:
    result = run(
        "ROW a = 2, n = null | EVAL x = a IN (1, 2), y = a IN (1, null), z = a NOT IN (3, 4), "
        "w = n IN (1) | DROP a, n | LIMIT 1"
    )
    assert result.values == [[True, None, True, None]]


def test_like_and_rlike_match_whole_values() -> None:
    result = run(
        'ROW s = "foobar" | EVAL a = s LIKE "foo*", b = s LIKE "f?obar", c = s LIKE "oob*", '
        'd = s RLIKE "fo+bar", e = s RLIKE "bar", f = s NOT LIKE "*bar" | DROP s | LIMIT 1'
    )
    assert result.values == [[True, True, False, True, False, False]]


def test_is_null_and_is_not_null() -> None:
    result = run(
        "ROW a = null, b = 1 | EVAL x = a IS NULL, y = b IS NOT NULL | DROP a, b | LIMIT 1"
    )
    assert result.values == [[True, True]]


def test_unary_minus_keeps_type() -> None:
    result = run("ROW a = 3, b = 1.5 | EVAL c = -a, d = -b | DROP a, b | LIMIT 1")
    assert columns(result) == [("c", "integer"), ("d", "double")]
    assert result.values == [[-3, -1.5]]
