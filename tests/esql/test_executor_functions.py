"""Executor: scalar functions (math, string, date, conditional, conversion, full text)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest

from qs_tui.esql import EsqlExecutionError, EsqlResult, EsqlUnsupportedError, IndexData, run_query

NOW = datetime(2026, 11, 25, 16, 0, 0, tzinfo=UTC)


class Catalog:
    """One text index for MATCH."""

    def __init__(self) -> None:
        frame = pl.DataFrame(
            {
                "message": [
                    "database connection timeout",
                    "request served",
                    "payment gateway timeout error timeout",
                    None,
                ],
                "_id": ["1", "2", "3", "4"],
            }
        )
        self.index = IndexData("logs", frame, {"message": "text"})

    def resolve(self, pattern: str) -> list[IndexData]:
        return [self.index] if pattern == "logs" else []


def run(query: str, **params: Any) -> EsqlResult:
    return run_query(query, Catalog(), params=params or None, now=NOW)


def one_row(query: str) -> tuple[list[tuple[str, str]], list[Any]]:
    result = run(query + " | LIMIT 1")
    return [(c.name, c.type) for c in result.columns], result.values[0]


def test_math_functions_and_result_types() -> None:
    names, values = one_row(
        "ROW i = -4, d = 2.5 | EVAL a = ABS(i), c = CEIL(d), f = FLOOR(d), r = ROUND(d), "
        "r2 = ROUND(3.14159, 2), rn = ROUND(1250, -2), s = SQRT(16), p = POW(2, 10), "
        "e = EXP(0), l = LOG(2, 8), ln = LOG(E()), l10 = LOG10(1000), sg = SIGNUM(i), "
        "g = GREATEST(1, 7, 3), le = LEAST(2.5, 1.5), pi = PI() | DROP i, d"
    )
    assert names == [
        ("a", "integer"),
        ("c", "double"),
        ("f", "double"),
        ("r", "double"),
        ("r2", "double"),
        ("rn", "integer"),
        ("s", "double"),
        ("p", "double"),
        ("e", "double"),
        ("l", "double"),
        ("ln", "double"),
        ("l10", "double"),
        ("sg", "double"),
        ("g", "integer"),
        ("le", "double"),
        ("pi", "double"),
    ]
    assert values == [4, 3.0, 2.0, 3.0, 3.14, 1300, 4.0, 1024.0, 1.0, 3.0, 1.0, 3.0, -1.0, 7, 1.5,
                      math.pi]  # fmt: skip


def test_round_half_away_from_zero() -> None:
    _, values = one_row("ROW a = ROUND(-2.5), b = ROUND(2.5), c = ROUND(0.125, 2)")
    assert values == [-3.0, 3.0, 0.13]


def test_invalid_math_is_null_with_warnings() -> None:
    result = run("ROW a = SQRT(-1), b = LOG10(0), c = LOG(-2) | LIMIT 1")
    assert result.values == [[None, None, None]]
    assert "Line 1:9: java.lang.ArithmeticException: Square root of negative" in result.warnings
    assert "Line 1:23: java.lang.ArithmeticException: Log of non-positive number" in (
        result.warnings
    )


def test_null_propagates_through_functions() -> None:
    _, values = one_row(
        'ROW n = null | EVAL a = ABS(n), b = CONCAT("x", n), c = LENGTH(n), d = GREATEST(1, n) '
        "| DROP n"
    )
    assert values == [None, None, None, None]


def test_string_functions() -> None:
    names, values = one_row(
        'ROW s = " Hello World " | EVAL t = TRIM(s), lt = LTRIM(s), rt = RTRIM(s), '
        "up = TO_UPPER(t), low = TO_LOWER(t), n = LENGTH(t), sub = SUBSTRING(t, 7), "
        "sub2 = SUBSTRING(t, -5, 3), sub3 = SUBSTRING(t, 1, 5), l = LEFT(t, 2), r = RIGHT(t, 2), "
        'sw = STARTS_WITH(t, "Hell"), ew = ENDS_WITH(t, "x"), c = CONCAT(t, "!", "?"), '
        'loc = LOCATE(t, "o"), loc2 = LOCATE(t, "o", 6), miss = LOCATE(t, "z"), '
        'rep = REPLACE(t, "o(.)", "0$1") | DROP s'
    )
    assert names[0] == ("t", "keyword")
    assert dict(names)["n"] == "integer"
    assert dict(names)["loc"] == "integer"
    assert dict(names)["sw"] == "boolean"
    assert values == [
        "Hello World",
        "Hello World ",
        " Hello World",
        "HELLO WORLD",
        "hello world",
        11,
        "World",
        "Wor",
        "Hello",
        "He",
        "ld",
        True,
        False,
        "Hello World!?",
        5,
        8,
        0,
        "Hell0 W0rld",
    ]


def test_length_and_locate_count_characters_not_bytes() -> None:
    _, values = one_row('ROW s = "héllo wörld" | EVAL n = LENGTH(s), p = LOCATE(s, "w") | DROP s')
    assert values == [11, 7]


def test_split_returns_multi_values() -> None:
    names, values = one_row('ROW s = "a,b,c" | EVAL parts = SPLIT(s, ",") | DROP s')
    assert names == [("parts", "keyword")]
    assert values == [["a", "b", "c"]]


def test_date_functions() -> None:
    names, values = one_row(
        'ROW d = TO_DATETIME("2026-11-25T16:42:13.123Z") '
        "| EVAL tr = DATE_TRUNC(1 hour, d), td = DATE_TRUNC(1 month, d), "
        'y = DATE_EXTRACT("year", d), h = DATE_EXTRACT("hour_of_day", d), '
        'dow = DATE_EXTRACT("day_of_week", d), '
        "f = DATE_FORMAT(\"yyyy-MM-dd'T'HH:mm:ss\", d), f2 = DATE_FORMAT(d), "
        'p = DATE_PARSE("yyyy-MM-dd HH:mm", "2024-02-29 10:30"), '
        'diff = DATE_DIFF("minutes", "2026-11-25T16:00:00Z", d), '
        'months = DATE_DIFF("month", TO_DATETIME("2026-01-31"), d), now = NOW() | DROP d'
    )
    assert names == [
        ("tr", "date"),
        ("td", "date"),
        ("y", "long"),
        ("h", "long"),
        ("dow", "long"),
        ("f", "keyword"),
        ("f2", "keyword"),
        ("p", "date"),
        ("diff", "integer"),
        ("months", "integer"),
        ("now", "date"),
    ]
    assert values == [
        "2026-11-25T16:00:00.000Z",
        "2026-11-01T00:00:00.000Z",
        2026,
        16,
        3,  # a Wednesday; Monday is 1
        "2026-11-25T16:42:13",
        "2026-11-25T16:42:13.123Z",
        "2024-02-29T10:30:00.000Z",
        42,
        9,
        "2026-11-25T16:00:00.000Z",
    ]


def test_date_diff_truncates_toward_zero() -> None:
    _, values = one_row(
        'ROW a = TO_DATETIME("2026-11-25T16:00:00Z"), b = TO_DATETIME("2026-11-25T15:58:30Z") '
        '| EVAL back = DATE_DIFF("minute", a, b), fwd = DATE_DIFF("minute", b, a) | DROP a, b'
    )
    assert values == [-1, 1]


def test_date_parse_failure_is_null_with_warning() -> None:
    result = run('ROW d = DATE_PARSE("yyyy-MM-dd", "not a date") | LIMIT 1')
    assert result.values == [[None]]
    assert result.warnings[1] == (
        "Line 1:9: java.lang.IllegalArgumentException: failed to parse date field "
        "[not a date] with format [yyyy-MM-dd]"
    )


def test_case_and_coalesce() -> None:
    names, values = one_row(
        'ROW a = 5, n = null | EVAL c1 = CASE(a > 3, "big", a > 1, "mid", "small"), '
        'c2 = CASE(a < 0, "neg"), c3 = CASE(n, 1, 2), co = COALESCE(n, a, 7) | DROP a, n'
    )
    assert names == [("c1", "keyword"), ("c2", "keyword"), ("c3", "integer"), ("co", "integer")]
    assert values == ["big", None, 2, 5]


def test_conversions() -> None:
    names, values = one_row(
        'ROW s = "42", d = 3.7 | EVAL l = TO_LONG(s), i = TO_INTEGER(d), db = TO_DOUBLE(s), '
        'str = TO_STRING(d), b1 = TO_BOOLEAN("true"), b2 = TO_BOOLEAN("yes"), b3 = TO_BOOLEAN(0), '
        'dt = TO_DATETIME("2026-11-25"), ms = TO_LONG(TO_DATETIME("1970-01-01T00:00:01Z")), '
        "ep = TO_DATETIME(1000) | DROP s, d"
    )
    assert names == [
        ("l", "long"),
        ("i", "integer"),
        ("db", "double"),
        ("str", "keyword"),
        ("b1", "boolean"),
        ("b2", "boolean"),
        ("b3", "boolean"),
        ("dt", "date"),
        ("ms", "long"),
        ("ep", "date"),
    ]
    assert values == [
        42,
        4,
        42.0,
        "3.7",
        True,
        False,
        False,
        "2026-11-25T00:00:00.000Z",
        1000,
        "1970-01-01T00:00:01.000Z",
    ]


def test_integer_conversion_out_of_range_warns_with_the_value() -> None:
    result = run("ROW l = 501379200000 | EVAL i = TO_INTEGER(l) | LIMIT 1")
    assert result.values == [[501379200000, None]]
    assert result.warnings[1] == (
        "Line 1:33: org.elasticsearch.xpack.esql.core.InvalidArgumentException: "
        "[501379200000] out of [integer] range"
    )


def test_match_filters_and_scores_deterministically() -> None:
    query = (
        'FROM logs METADATA _score | WHERE MATCH(message, "timeout") '
        "| KEEP message, _score | SORT _score DESC | LIMIT 10"
    )
    first, second = run(query), run(query)
    assert first.values == second.values
    assert [row[0] for row in first.values] == [
        "payment gateway timeout error timeout",
        "database connection timeout",
    ]
    assert first.values[0][1] > first.values[1][1] > 0.0


def test_match_without_score_metadata_only_filters() -> None:
    result = run('FROM logs | WHERE MATCH(message, "served") | LIMIT 10')
    assert [(c.name, c.type) for c in result.columns] == [("message", "text")]
    assert result.values == [["request served"]]


def test_unknown_function_names_the_function() -> None:
    with pytest.raises(EsqlUnsupportedError) as caught:
        run("ROW a = 1 | EVAL b = FROBNICATE(a)")
    assert caught.value.message == "Unknown function [FROBNICATE]"
    assert (caught.value.line, caught.value.column) == (1, 22)


def test_wrong_argument_type_is_an_error() -> None:
    with pytest.raises(EsqlExecutionError) as caught:
        run('ROW a = "x" | EVAL b = ABS(a)')
    assert "ABS(a)" in caught.value.message
    assert "keyword" in caught.value.message


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1.0"),
        (0.001, "0.001"),
        (1234567.5, "1234567.5"),
        (1.0e7, "1.0E7"),
        (12345678.9, "1.23456789E7"),
        (0.0001, "1.0E-4"),
        (-2.5e-5, "-2.5E-5"),
        (0.0, "0.0"),
    ],
)
def test_doubles_print_like_java(value: float, text: str) -> None:
    from qs_tui.esql.values import java_double_to_string

    assert java_double_to_string(value) == text


def test_infinite_results_print_as_null() -> None:
    _, values = one_row("ROW big = 1.0E308 | EVAL huge = big * 10, fine = big / 10 | DROP big")
    assert values == [None, 1.0e307]
