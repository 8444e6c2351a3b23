"""Scalar-function semantics, case by case, with Elasticsearch's known answers.

Sources: Elastic's ES|QL reference (implicit casting), and the answers Elasticsearch's own
tests give (`math.csv-spec` for MV_SUM overflow, `conditional.csv-spec` for mixed numbers in
CASE, the verifier's implicit-casting and ROUND type errors, the analyzer's rule that casts
mixed numbers in COALESCE and CASE to the first number's type).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from qs_tui.esql import EsqlError, EsqlExecutionError, EsqlResult

Checker = Callable[..., EsqlResult]
QueryRunner = Callable[..., EsqlResult]


def _error(q: QueryRunner, query: str) -> EsqlError:
    with pytest.raises(EsqlError) as caught:
        q(query)
    return caught.value


# ---------------------------------------------------------------------------------------------
# Implicit casting of string literals
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "columns", "values"),
    [
        pytest.param('ROW a = ABS("10.0")', [("a", "double")], [[10.0]], id="abs-numeric-string"),
        pytest.param('ROW a = ABS("-3")', [("a", "double")], [[3.0]], id="abs-whole-string"),
        pytest.param(
            'ROW a = ROUND("2.567", "1")', [("a", "double")], [[2.6]], id="round-both-strings"
        ),
        pytest.param('ROW a = POW("2", 10)', [("a", "double")], [[1024.0]], id="pow-string"),
        pytest.param(
            'ROW a = SUBSTRING("elastic", "2", "3")',
            [("a", "keyword")],
            [["las"]],
            id="substring-positions",
        ),
        pytest.param(
            'ROW a = MV_AVG(" 4.5 ")', [("a", "double")], [[4.5]], id="mv-avg-trims-spaces"
        ),
    ],
)
def test_numeric_function_casts_a_numeric_string_literal(
    check: Checker, query: str, columns: Any, values: Any
) -> None:
    check(query, columns, values)


def test_date_function_casts_a_date_string_literal(q: QueryRunner) -> None:
    # The reference's own example: the string reads as TO_DATETIME("...") would.
    implicit = q(
        'FROM employees | EVAL dd = DATE_DIFF("day", "2023-12-02T11:00:00.00Z", birth_date)'
        " | SORT emp_no | KEEP dd | LIMIT 3"
    )
    explicit = q(
        "FROM employees"
        ' | EVAL dd = DATE_DIFF("day", TO_DATETIME("2023-12-02T11:00:00.00Z"), birth_date)'
        " | SORT emp_no | KEEP dd | LIMIT 3"
    )
    assert implicit.values == explicit.values
    assert implicit.values[0] == [-25658]  # 1953-09-02 is 25,658 days before 2023-12-02T11:00
    extracted = q('ROW y = DATE_EXTRACT("year", "2022-05-06T10:00:00Z")')
    assert extracted.values == [[2022]]


@pytest.mark.parametrize(
    ("query", "message", "column"),
    [
        pytest.param(
            'row a = round(123.45, "c")',
            "Cannot convert string [c] to [INTEGER], error [Cannot parse number [c]]",
            23,
            id="round-decimals",
        ),
        pytest.param(
            'ROW a = ROUND(1.5, "a")',
            "Cannot convert string [a] to [INTEGER], error [Cannot parse number [a]]",
            20,
            id="round-from-the-issue",
        ),
        pytest.param(
            'row a = 1 | eval x = sqrt("c")',
            "Cannot convert string [c] to [DOUBLE], error [Cannot parse number [c]]",
            27,
            id="numeric-function",
        ),
        pytest.param(
            'ROW a=[3, 5, 1, 6] | EVAL avg_a = MV_AVG("a")',
            "Cannot convert string [a] to [DOUBLE], error [Cannot parse number [a]]",
            42,
            id="mv-function",
        ),
        pytest.param(
            'row a = 1 | eval x = round(sqrt("c"),"a")',
            "Cannot convert string [c] to [DOUBLE], error [Cannot parse number [c]]",
            33,
            id="innermost-first",
        ),
    ],
)
def test_a_string_literal_that_does_not_parse_is_a_verification_error_at_the_literal(
    q: QueryRunner, query: str, message: str, column: int
) -> None:
    error = _error(q, query)
    assert isinstance(error, EsqlExecutionError)
    assert error.message == message
    assert (error.line, error.column) == (1, column)
    assert "ValueError" not in str(error)


def test_a_date_string_that_does_not_parse_is_an_error_at_the_literal(q: QueryRunner) -> None:
    error = _error(q, 'ROW a = DATE_EXTRACT("year", "2022-13-45")')
    assert error.message == (
        "Cannot convert string [2022-13-45] to [DATETIME], error [failed to parse date field "
        "[2022-13-45] with format [strict_date_optional_time]]"
    )
    assert (error.line, error.column) == (1, 30)


def test_a_date_parameter_names_a_value_of_another_type(q: QueryRunner) -> None:
    error = _error(q, 'ROW a = DATE_DIFF("day", 5, NOW())')
    assert error.message == (
        'second argument of [DATE_DIFF("day", 5, NOW())] must be [datetime], found value [5] '
        "type [integer]"
    )


def test_a_computed_string_is_not_cast(q: QueryRunner) -> None:
    # ES casts literals only: a string column given to ABS is a type error, quoted by name.
    error = _error(q, 'ROW s = "10" | EVAL a = ABS(s)')
    assert error.message == "argument of [ABS(s)] must be [numeric], found value [s] type [keyword]"
    assert (error.line, error.column) == (1, 25)


# ---------------------------------------------------------------------------------------------
# Argument type errors, worded as ES words them
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        pytest.param(
            "round(b, 3)",
            "first argument of [round(b, 3)] must be [numeric], found value [b] type [keyword]",
            id="number-is-a-string",
        ),
        pytest.param(
            "round(b)",
            "first argument of [round(b)] must be [numeric], found value [b] type [keyword]",
            id="one-argument",
        ),
        pytest.param(
            "round(a, b)",
            "second argument of [round(a, b)] must be [integer], found value [b] type [keyword]",
            id="decimals-is-a-string",
        ),
        pytest.param(
            "round(a, 3.5)",
            "second argument of [round(a, 3.5)] must be [integer], found value [3.5] type [double]",
            id="decimals-is-a-double",
        ),
    ],
)
def test_round_argument_types(q: QueryRunner, expression: str, message: str) -> None:
    error = _error(q, f'row a = 1, b = "c" | eval x = {expression}')
    assert isinstance(error, EsqlExecutionError)
    assert error.message == message
    assert (error.line, error.column) == (1, 31)


# ---------------------------------------------------------------------------------------------
# COALESCE and CASE over mixed numbers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "columns", "values"),
    [
        pytest.param(
            "ROW a = COALESCE(null, 2.5, 1)", [("a", "double")], [[2.5]], id="double-first"
        ),
        pytest.param(
            "ROW a = COALESCE(null::double, 1)", [("a", "double")], [[1.0]], id="integer-widens"
        ),
        pytest.param(
            "ROW a = COALESCE(5000000000, 1)", [("a", "long")], [[5000000000]], id="long-first"
        ),
        pytest.param(
            "ROW a = COALESCE(null, 1::long, 7)", [("a", "long")], [[1]], id="integer-to-long"
        ),
        pytest.param(
            "FROM employees | WHERE emp_no IN (10001, 10009) | SORT emp_no"
            " | EVAL h = COALESCE(salary_change, salary) | KEEP emp_no, h",
            [("emp_no", "integer"), ("h", "double")],
            [[10001, 1.19], [10009, 66174.0]],
            id="multi-valued-double-then-integer-field",
        ),
    ],
)
def test_coalesce_casts_mixed_numbers_to_the_first_numbers_type(
    check: Checker, query: str, columns: Any, values: Any
) -> None:
    check(query, columns, values)


def test_coalesce_names_a_number_that_does_not_fit_the_first(q: QueryRunner) -> None:
    error = _error(q, "ROW a = COALESCE(1, 2.5)")
    assert error.message == (
        "second argument of [COALESCE(1, 2.5)] must be [integer], found value [2.5] type [double]"
    )
    assert (error.line, error.column) == (1, 9)


def test_coalesce_still_rejects_a_number_beside_a_string(q: QueryRunner) -> None:
    error = _error(q, 'ROW a = COALESCE(1, "x")')
    assert error.message == (
        'second argument of [COALESCE(1, "x")] must be [integer], found value ["x"] type [keyword]'
    )


def test_case_with_mixed_numeric_values(check: Checker) -> None:
    # conditional.csv-spec caseWithMixedNumericValue
    check(
        "FROM employees | WHERE emp_no >= 10005 AND emp_no <= 10010"
        ' | EVAL g = CASE(gender == "F", 1.0, gender == "M", 2, 3.0)'
        " | KEEP emp_no, gender, g | SORT emp_no",
        [("emp_no", "integer"), ("gender", "keyword"), ("g", "double")],
        [
            [10005, "M", 2.0],
            [10006, "F", 1.0],
            [10007, "F", 1.0],
            [10008, "M", 2.0],
            [10009, "F", 1.0],
            [10010, None, 3.0],
        ],
    )


# ---------------------------------------------------------------------------------------------
# MV_SUM overflow
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "esql_type"),
    [
        pytest.param("[0, 1, 2147483647]", "integer", id="ints"),
        pytest.param("[0, 1, 9223372036854775807]", "long", id="longs"),
        pytest.param("[0, 1, 18446744073709551615]", "unsigned_long", id="unsigned-longs"),
    ],
)
def test_mv_sum_overflow_is_null_with_es_warning(
    check: Checker, values: str, esql_type: str
) -> None:
    # math.csv-spec mvSumIntsOverflow, mvSumLongsOverflow, mvSumUnsignedLongsOverflow
    result = check(
        f"ROW numbers = {values}\n| EVAL mvsum = mv_sum(numbers)\n| KEEP mvsum",
        [("mvsum", esql_type)],
        [[None]],
    )
    assert result.warnings[:2] == [
        "Line 2:16: evaluation of [mv_sum(numbers)] failed, treating result as null. "
        "Only first 20 failures recorded.",
        f"Line 2:16: java.lang.ArithmeticException: {esql_type} overflow",
    ]


def test_mv_sum_that_fits_has_no_warning(check: Checker) -> None:
    result = check(
        "ROW a = [3, 5, 6], b = [-9223372036854775807, 9223372036854775807]"
        " | EVAL sa = MV_SUM(a), sb = MV_SUM(b) | KEEP sa, sb",
        [("sa", "integer"), ("sb", "long")],
        [[14, 0]],
    )
    assert not any("overflow" in warning for warning in result.warnings)


# ---------------------------------------------------------------------------------------------
# Numbers converted to dates
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("ROW a = 9223372036854775807::datetime", id="cast-long-max"),
        pytest.param("ROW a = TO_DATETIME(-9223372036854775807)", id="to-datetime-long-min"),
        pytest.param("ROW a = TO_DATETIME(1.0e20)", id="to-datetime-huge-double"),
        pytest.param("ROW a = TO_DATETIME(9223372036854775808)", id="to-datetime-unsigned"),
    ],
)
def test_a_number_beyond_the_date_span_is_null_with_a_warning(check: Checker, query: str) -> None:
    result = check(query, [("a", "date")], [[None]])
    assert result.warnings[0].startswith("Line 1:9: evaluation of [")
    assert result.warnings[0].endswith(
        "failed, treating result as null. Only first 20 failures recorded."
    )
    assert result.warnings[1].startswith(
        "Line 1:9: org.elasticsearch.xpack.esql.core.InvalidArgumentException: ["
    )
    assert result.warnings[1].endswith("] out of [datetime] range")


def test_a_long_field_cast_to_datetime_keeps_values_in_range(check: Checker) -> None:
    result = check(
        "ROW n = [0, 1700000000000, 9223372036854775807] | MV_EXPAND n"
        " | EVAL d = n::datetime | KEEP d",
        [("d", "date")],
        [["1970-01-01T00:00:00.000Z"], ["2023-11-14T22:13:20.000Z"], [None]],
    )
    assert "[9223372036854775807] out of [datetime] range" in result.warnings[1]


def test_dates_at_the_edges_of_the_span_print(check: Checker) -> None:
    check(
        "ROW a = TO_DATETIME(8210266876799999), b = TO_DATETIME(-8334601228800000)",
        [("a", "date"), ("b", "date")],
        [["+262142-12-31T23:59:59.999Z", "-262143-01-01T00:00:00.000Z"]],
    )


def test_to_datetime_of_a_double_rounds_half_up(check: Checker) -> None:
    # ES converts a double to epoch milliseconds with Math.round.
    check(
        "ROW a = TO_DATETIME(1.5), b = TO_DATETIME(-1.5)",
        [("a", "date"), ("b", "date")],
        [["1970-01-01T00:00:00.002Z", "1969-12-31T23:59:59.999Z"]],
    )


# ---------------------------------------------------------------------------------------------
# Functions and aliases the reference pages' examples elsewhere do not reach
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "columns", "values"),
    [
        pytest.param("ROW TAU()", [("TAU()", "double")], [[6.283185307179586]], id="tau"),
        pytest.param(
            'ROW v = TO_VERSION("1.2.3")', [("v", "version")], [["1.2.3"]], id="to-version"
        ),
        pytest.param(
            "ROW a = [1, 1, 2] | EVAL d = MV_DEDUPE(a) | KEEP d",
            [("d", "integer")],
            [[[1, 2]]],
            id="mv-dedupe",
        ),
        pytest.param(
            'ROW a = [4, 2, -3, 2] | EVAL sa = MV_SORT(a), sd = MV_SORT(a, "DESC") | KEEP sa, sd',
            [("sa", "integer"), ("sd", "integer")],
            [[[-3, 2, 2, 4], [4, 2, 2, -3]]],
            id="mv-sort",
        ),
        pytest.param(
            "ROW m = MV_MEDIAN([3, 5, 1]), n = MV_MEDIAN([3, 7, 1, 6])",
            [("m", "integer"), ("n", "integer")],
            [[3, 4]],
            id="mv-median-rounds-down",
        ),
        pytest.param(
            'ROW a = TO_INT("3"), b = TO_DBL(1), c = TO_BOOL("true"), d = TO_DT("2024-01-01")',
            [("a", "integer"), ("b", "double"), ("c", "boolean"), ("d", "date")],
            [[3, 1.0, True, "2024-01-01T00:00:00.000Z"]],
            id="conversion-aliases",
        ),
    ],
)
def test_more_functions(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)


def test_to_ip_of_a_string_that_is_not_an_address(check: Checker) -> None:
    result = check(
        'ROW ip = TO_IP("1.1.1.1"), bad = TO_IP("foo")',
        [("ip", "ip"), ("bad", "ip")],
        [["1.1.1.1", None]],
    )
    assert result.warnings[1] == (
        "Line 1:34: java.lang.IllegalArgumentException: 'foo' is not an IP string literal."
    )


# ---------------------------------------------------------------------------------------------
# Extremes: answers, never a Python or polars failure
# ---------------------------------------------------------------------------------------------


def test_a_date_pushed_past_the_span_by_a_duration_is_null_with_a_warning(check: Checker) -> None:
    result = check(
        "ROW a = TO_DATETIME(8210266876799999) + 1 day, b = TO_DATETIME(8210266876799999) - 1 day",
        [("a", "date"), ("b", "date")],
        [[None, "+262142-12-30T23:59:59.999Z"]],
    )
    assert result.warnings[1] == (
        "Line 1:9: java.lang.ArithmeticException: date out of the supported range "
        "[-262143-01-01T00:00:00.000Z, +262142-12-31T23:59:59.999Z]"
    )


@pytest.mark.parametrize(
    ("query", "columns", "values"),
    [
        pytest.param(
            "ROW a = ROUND(1.5, 99999999999), b = ROUND(1.5, -400)",
            [("a", "double"), ("b", "double")],
            [[1.5, 0.0]],
            id="round-double-far-decimals",
        ),
        pytest.param(
            # math.csv-spec roundMaxULWithBigNegativeDecimals: 0 far left of the point.
            "ROW a = ROUND(123, -30), b = ROUND(9223372036854775807, -25)",
            [("a", "integer"), ("b", "long")],
            [[0, 0]],
            id="round-whole-far-decimals",
        ),
        pytest.param(
            "ROW a = MV_MEDIAN([9223372036854775807, 9223372036854775805])",
            [("a", "long")],
            [[9223372036854775806]],
            id="mv-median-of-large-longs-is-exact",
        ),
    ],
)
def test_extreme_arguments(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)


def test_round_of_a_whole_number_that_leaves_its_type_is_null_with_a_warning(
    check: Checker,
) -> None:
    # As math.csv-spec roundBigULWithRoundULOverflow does for unsigned longs.
    result = check(
        "ROW a = ROUND(2147483647, -1), b = ROUND(18446744073709551614, -1)",
        [("a", "integer"), ("b", "unsigned_long")],
        [[None, 18446744073709551610]],
    )
    assert result.warnings[1] == "Line 1:9: java.lang.ArithmeticException: integer overflow"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        pytest.param(
            'ROW a = SUBSTRING("abc", 1.5)',
            'second argument of [SUBSTRING("abc", 1.5)] must be [integer], found value [1.5] '
            "type [double]",
            id="substring-position-is-an-integer",
        ),
        pytest.param(
            "ROW a = COALESCE(18446744073709551615, -1)",
            "second argument of [COALESCE(18446744073709551615, -1)] must be [unsigned_long], "
            "found value [-1] type [integer]",
            id="unsigned-long-does-not-mix",
        ),
        pytest.param(
            "ROW a = BUCKET(5, 0)",
            "[span] of [BUCKET(5, 0)] must be positive, found [0.0]",
            id="bucket-span",
        ),
        pytest.param(
            "ROW a = BUCKET(5, 1 day)",
            "[span] of [BUCKET(5, 1 day)] must be a constant number, found [1 day]",
            id="bucket-number-by-a-time-span",
        ),
        pytest.param(
            "ROW a = BUCKET(5, 10, 100, 0)",
            "[from] of [BUCKET(5, 10, 100, 0)] must be less than [to], found [100.0] and [0.0]",
            id="bucket-empty-range",
        ),
        pytest.param(
            "ROW a = BUCKET(5, 1.5, 0, 100)",
            "[buckets] of [BUCKET(5, 1.5, 0, 100)] must be a positive whole number, found [1.5]",
            id="bucket-count",
        ),
        pytest.param(
            'ROW a = DATE_PARSE("a", "10")',
            "date pattern [a] cannot be parsed: Invalid format string: Please either specify "
            "both 12-hour directive and meridiem directive, or neither.",
            id="date-parse-pattern",
        ),
    ],
)
def test_bad_arguments_are_esql_errors_at_the_call(
    q: QueryRunner, query: str, message: str
) -> None:
    error = _error(q, query)
    assert error.message == message
    assert (error.line, error.column) == (1, 9)


def test_an_argument_computed_to_null_folds_the_call_to_a_typed_null(check: Checker) -> None:
    check(
        "ROW a = TO_LOWER(MV_LAST(null)), b = LENGTH(MV_FIRST(null)), c = ABS(MV_MIN(null))",
        [("a", "keyword"), ("b", "integer"), ("c", "null")],
        [[None, None, None]],
    )


def test_an_infinite_double_converts_to_a_null_string(check: Checker) -> None:
    check(
        "ROW a = TO_STRING(EXP(1000)), b = EXP(1000)::keyword, c = TO_STRING(1.0E10)",
        [("a", "keyword"), ("b", "keyword"), ("c", "keyword")],
        [[None, None, "1.0E10"]],
    )


def test_greatest_and_least_cast_mixed_numbers_as_coalesce_does(check: Checker) -> None:
    check(
        "ROW g = GREATEST(2.5, 1, 3), l = LEAST(5000000000, 1), m = GREATEST(0.5, [1, 7])",
        [("g", "double"), ("l", "long"), ("m", "double")],
        [[3.0, 1, 7.0]],
    )


def test_greatest_names_a_number_that_does_not_fit_the_first(q: QueryRunner) -> None:
    error = _error(q, "ROW a = GREATEST(1, 2.5)")
    assert error.message == (
        "second argument of [GREATEST(1, 2.5)] must be [integer], found value [2.5] type [double]"
    )
