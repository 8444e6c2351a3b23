"""ES|QL operators, checked against Elastic's reference (functions-operators/operators).

Covers arithmetic (integer division truncates; division by zero and integer overflow give
null plus a warning), comparison, three-valued logic, IN, LIKE, RLIKE, IS [NOT] NULL, `::`
casts and date arithmetic with time span literals. Each case asserts the whole answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from qs_tui.esql import EsqlResult, EsqlUnsupportedError

Checker = Callable[..., EsqlResult]
QueryRunner = Callable[..., EsqlResult]
Case = Any

ARITHMETIC_CASES: list[Case] = [
    pytest.param(
        "ROW a = 5 + 2, b = 5 - 7, c = 3 * 4",
        [("a", "integer"), ("b", "integer"), ("c", "integer")],
        [[7, -2, 12]],
        id="integer-add-sub-mul",
    ),
    pytest.param(
        "ROW a = 7 / 2, b = -7 / 2, c = 7 % 3, d = -7 % 3",
        [("a", "integer"), ("b", "integer"), ("c", "integer"), ("d", "integer")],
        [[3, -3, 1, -1]],
        id="integer-division-truncates-toward-zero",
    ),
    pytest.param(
        "ROW a = 7.0 / 2, b = 7 / 2.0, c = 7.5 % 2",
        [("a", "double"), ("b", "double"), ("c", "double")],
        [[3.5, 3.5, 1.5]],
        id="double-division",
    ),
    pytest.param(
        "ROW a = 1 + 5000000000, b = 1 + 0.5, c = 5000000000 * 2.0",
        [("a", "long"), ("b", "double"), ("c", "double")],
        [[5000000001, 1.5, 10000000000.0]],
        id="numeric-widening",
    ),
    pytest.param(
        "ROW a = 2 + 3 * 4, b = (2 + 3) * 4, c = -(3 + 2), d = 10 - 4 - 3",
        [("a", "integer"), ("b", "integer"), ("c", "integer"), ("d", "integer")],
        [[14, 20, -5, 3]],
        id="precedence-and-unary-minus",
    ),
    pytest.param(
        "FROM employees | WHERE emp_no == 10001 | EVAL s = salary / 1000, d = salary / 1000.0"
        " | KEEP s, d",
        [("s", "integer"), ("d", "double")],
        [[57, 57.305]],
        id="integer-field-division",
    ),
    pytest.param(
        "FROM employees | WHERE emp_no == 10001 | EVAL t = avg_worked_seconds / 86400 | KEEP t",
        [("t", "long")],
        [[3110]],
        id="long-field-division",
    ),
    pytest.param(
        "FROM employees | WHERE emp_no IN (10001, 10020) | EVAL l = languages * 10"
        " | KEEP emp_no, l | SORT emp_no",
        [("emp_no", "integer"), ("l", "integer")],
        [[10001, 20], [10020, None]],
        id="null-operand-gives-null",
    ),
]

COMPARISON_CASES: list[Case] = [
    pytest.param(
        'ROW a = 1 < 2, b = 2 <= 2, c = 3 > 4, d = 1 == 1.0, e = "a" != "b", f = "abc" < "abd"',
        [
            ("a", "boolean"),
            ("b", "boolean"),
            ("c", "boolean"),
            ("d", "boolean"),
            ("e", "boolean"),
            ("f", "boolean"),
        ],
        [[True, True, False, True, True, True]],
        id="comparisons",
    ),
    pytest.param(
        'ROW a = "B" < "a", b = "Z" < "a", c = 5000000000 > 1',
        [("a", "boolean"), ("b", "boolean"), ("c", "boolean")],
        [[True, True, True]],
        id="keyword-comparison-is-binary",
    ),
    pytest.param(
        'FROM employees | WHERE hire_date < "1985-03-01" | KEEP emp_no, hire_date | SORT emp_no',
        [("emp_no", "integer"), ("hire_date", "date")],
        [[10009, "1985-02-18T00:00:00.000Z"], [10048, "1985-02-24T00:00:00.000Z"]],
        id="date-comparison",
    ),
    pytest.param(
        "FROM employees | WHERE emp_no == 10020 | EVAL c = languages >= 1 | KEEP c",
        [("c", "boolean")],
        [[None]],
        id="comparison-with-null-is-null",
    ),
]

LOGIC_CASES: list[Case] = [
    pytest.param(
        "FROM employees | WHERE emp_no == 10020 | EVAL t = languages > 3 OR true,"
        " f = languages > 3 AND false, n1 = languages > 3 AND true,"
        " n2 = languages > 3 OR false, n3 = NOT languages > 3 | KEEP t, f, n1, n2, n3",
        [
            ("t", "boolean"),
            ("f", "boolean"),
            ("n1", "boolean"),
            ("n2", "boolean"),
            ("n3", "boolean"),
        ],
        [[True, False, None, None, None]],
        id="three-valued-logic",
    ),
    pytest.param(
        "ROW a = true AND false, b = true OR false, c = NOT true, d = NOT (1 > 2 OR 2 > 1)",
        [("a", "boolean"), ("b", "boolean"), ("c", "boolean"), ("d", "boolean")],
        [[False, True, False, False]],
        id="boolean-logic",
    ),
    pytest.param(
        "ROW a = true OR false AND false",
        [("a", "boolean")],
        [[True]],
        id="and-binds-tighter-than-or",
    ),
    pytest.param(
        "FROM employees | WHERE still_hired AND (languages == 1 OR languages IS NULL)"
        " | STATS n = COUNT(*)",
        [("n", "long")],
        [[10]],
        id="logic-in-where",
    ),
]

IN_CASES: list[Case] = [
    pytest.param(
        "ROW a = 1, b = 4, c = 3 | WHERE c - a IN (3, b / 2, a)",
        [("a", "integer"), ("b", "integer"), ("c", "integer")],
        [[1, 4, 3]],
        id="in-with-expressions",
    ),
    pytest.param(
        "FROM employees | WHERE languages IN (1, 2) | STATS n = COUNT(*)",
        [("n", "long")],
        [[34]],
        id="in-over-field",
    ),
    pytest.param(
        "FROM employees | WHERE languages NOT IN (1, 2) | STATS n = COUNT(*)",
        [("n", "long")],
        [[56]],
        id="not-in-excludes-nulls",
    ),
    pytest.param(
        'FROM employees | WHERE last_name IN ("Facello", "Simmel") | KEEP emp_no | SORT emp_no',
        [("emp_no", "integer")],
        [[10001], [10002]],
        id="in-keywords",
    ),
    pytest.param(
        "ROW a = 1 IN (1, null), b = 1 IN (2, null), c = 1 NOT IN (2, 3)",
        [("a", "boolean"), ("b", "boolean"), ("c", "boolean")],
        [[True, None, True]],
        id="in-with-null-option",
    ),
]

PATTERN_CASES: list[Case] = [
    pytest.param(
        'FROM employees | WHERE first_name LIKE """?b*""" | KEEP first_name, last_name'
        " | SORT first_name",
        [("first_name", "keyword"), ("last_name", "keyword")],
        [["Ebbe", "Callaway"], ["Eberhardt", "Terkki"]],
        id="like",
    ),
    pytest.param(
        'FROM employees | WHERE last_name LIKE "*ski" | KEEP emp_no, last_name | SORT emp_no',
        [("emp_no", "integer"), ("last_name", "keyword")],
        [[10007, "Zielinski"], [10097, "Waschkowski"]],
        id="like-suffix",
    ),
    pytest.param(
        'FROM employees | WHERE first_name LIKE "georgi" | KEEP emp_no',
        [("emp_no", "integer")],
        [],
        id="like-is-case-sensitive",
    ),
    pytest.param(
        'FROM employees | WHERE first_name NOT LIKE "A*" | STATS n = COUNT(*)',
        [("n", "long")],
        [[85]],
        id="not-like-excludes-nulls",
    ),
    pytest.param(
        'ROW a = "a*b", b = "axb" | EVAL x = a LIKE """a\\*b""", y = b LIKE """a\\*b"""',
        [("a", "keyword"), ("b", "keyword"), ("x", "boolean"), ("y", "boolean")],
        [["a*b", "axb", True, False]],
        id="like-escaped-wildcard",
    ),
    pytest.param(
        'FROM employees | WHERE first_name RLIKE """.leja.*""" | KEEP first_name, last_name',
        [("first_name", "keyword"), ("last_name", "keyword")],
        [["Alejandro", "McAlpine"]],
        id="rlike",
    ),
    pytest.param(
        'FROM employees | WHERE first_name RLIKE "Geor" | KEEP first_name',
        [("first_name", "keyword")],
        [],
        id="rlike-matches-whole-string",
    ),
    pytest.param(
        'FROM employees | WHERE first_name RLIKE "Geor.*" | KEEP first_name | SORT first_name',
        [("first_name", "keyword")],
        [["Georgi"], ["Georgy"]],
        id="rlike-prefix",
    ),
    pytest.param(
        'ROW a = "2023-01-01" | EVAL m = a RLIKE "[0-9]{4}-[0-9]{2}-[0-9]{2}",'
        ' n = a NOT RLIKE "[0-9]+"',
        [("a", "keyword"), ("m", "boolean"), ("n", "boolean")],
        [["2023-01-01", True, True]],
        id="rlike-character-classes",
    ),
]

NULL_CHECK_CASES: list[Case] = [
    pytest.param(
        "FROM employees | WHERE birth_date IS NULL | KEEP first_name, last_name"
        " | SORT first_name | LIMIT 3",
        [("first_name", "keyword"), ("last_name", "keyword")],
        [["Basil", "Tramer"], ["Florian", "Syrotiuk"], ["Lucien", "Rosenbaum"]],
        id="is-null",
    ),
    pytest.param(
        "FROM employees | WHERE is_rehired IS NOT NULL | STATS COUNT(emp_no)",
        [("COUNT(emp_no)", "long")],
        [[84]],
        id="is-not-null-multivalued",
    ),
    pytest.param(
        "FROM employees | WHERE emp_no IN (10001, 10020) | EVAL n = languages IS NULL,"
        " m = languages IS NOT NULL | KEEP emp_no, n, m | SORT emp_no",
        [("emp_no", "integer"), ("n", "boolean"), ("m", "boolean")],
        [[10001, False, True], [10020, True, False]],
        id="is-null-is-never-null",
    ),
]

CAST_CASES: list[Case] = [
    pytest.param(
        'ROW a = "1"::integer, b = 1::double, c = "3.5"::double, d = 1.9::integer,'
        ' e = "true"::boolean, f = 5::long',
        [
            ("a", "integer"),
            ("b", "double"),
            ("c", "double"),
            ("d", "integer"),
            ("e", "boolean"),
            ("f", "long"),
        ],
        [[1, 1.0, 3.5, 2, True, 5]],
        id="casts",
    ),
    pytest.param(
        'ROW d = "2024-05-10T00:00:00Z"::datetime, s = 42::keyword',
        [("d", "date"), ("s", "keyword")],
        [["2024-05-10T00:00:00.000Z", "42"]],
        id="cast-to-datetime-and-keyword",
    ),
    pytest.param(
        "FROM employees | WHERE emp_no == 10001 | EVAL h = height::integer,"
        " s = salary::double, l = languages::long | KEEP h, s, l",
        [("h", "integer"), ("s", "double"), ("l", "long")],
        [[2, 57305.0, 2]],
        id="cast-fields",
    ),
]

DATE_SPAN_CASES: list[Case] = [
    pytest.param(
        'ROW d = TO_DATETIME("2024-01-31T10:00:00Z")'
        " | EVAL p = d + 1 day, m = d - 15 minutes, h = d + 1 hour, s = d - 30 seconds",
        [("d", "date"), ("p", "date"), ("m", "date"), ("h", "date"), ("s", "date")],
        [
            [
                "2024-01-31T10:00:00.000Z",
                "2024-02-01T10:00:00.000Z",
                "2024-01-31T09:45:00.000Z",
                "2024-01-31T11:00:00.000Z",
                "2024-01-31T09:59:30.000Z",
            ]
        ],
        id="date-plus-minus-span",
    ),
    pytest.param(
        'ROW d = TO_DATETIME("2024-01-31T10:00:00Z") | EVAL m = d + 1 month, w = d - 1 week',
        [("d", "date"), ("m", "date"), ("w", "date")],
        [["2024-01-31T10:00:00.000Z", "2024-02-29T10:00:00.000Z", "2024-01-24T10:00:00.000Z"]],
        id="date-plus-calendar-span",
    ),
    pytest.param(
        "ROW t = NOW() - 1 hour, u = NOW() + 2 days",
        [("t", "date"), ("u", "date")],
        [["2026-11-25T15:00:00.000Z", "2026-11-27T16:00:00.000Z"]],
        id="now-minus-span",
    ),
    pytest.param(
        "FROM app-logs-* | WHERE @timestamp > NOW() - 55 minutes | KEEP @timestamp"
        " | SORT @timestamp",
        [("@timestamp", "date")],
        [["2026-11-25T15:07:00.000Z"], ["2026-11-25T15:10:00.000Z"]],
        id="time-window-filter",
    ),
    pytest.param(
        "FROM app-logs-* | WHERE @timestamp >= TO_DATETIME(?start)"
        " AND @timestamp < TO_DATETIME(?start) + 5 minutes"
        " | KEEP @timestamp | SORT @timestamp",
        [("@timestamp", "date")],
        [["2026-11-25T15:00:00.000Z"], ["2026-11-25T15:02:00.000Z"]],
        id="time-window-from-parameter",
    ),
]


def _run(check: Checker, query: str, columns: Any, values: Any) -> None:
    if "?start" in query:
        check(query, columns, values, start="2026-11-25T15:00:00.000Z")
    else:
        check(query, columns, values)


@pytest.mark.parametrize(("query", "columns", "values"), ARITHMETIC_CASES)
def test_arithmetic(check: Checker, query: str, columns: Any, values: Any) -> None:
    _run(check, query, columns, values)


@pytest.mark.parametrize(("query", "columns", "values"), COMPARISON_CASES)
def test_comparison(check: Checker, query: str, columns: Any, values: Any) -> None:
    _run(check, query, columns, values)


@pytest.mark.parametrize(("query", "columns", "values"), LOGIC_CASES)
def test_logic(check: Checker, query: str, columns: Any, values: Any) -> None:
    _run(check, query, columns, values)


@pytest.mark.parametrize(("query", "columns", "values"), IN_CASES)
def test_in(check: Checker, query: str, columns: Any, values: Any) -> None:
    _run(check, query, columns, values)


@pytest.mark.parametrize(("query", "columns", "values"), PATTERN_CASES)
def test_like_and_rlike(check: Checker, query: str, columns: Any, values: Any) -> None:
    _run(check, query, columns, values)


@pytest.mark.parametrize(("query", "columns", "values"), NULL_CHECK_CASES)
def test_is_null(check: Checker, query: str, columns: Any, values: Any) -> None:
    _run(check, query, columns, values)


@pytest.mark.parametrize(("query", "columns", "values"), CAST_CASES)
def test_casts(check: Checker, query: str, columns: Any, values: Any) -> None:
    _run(check, query, columns, values)


@pytest.mark.parametrize(("query", "columns", "values"), DATE_SPAN_CASES)
def test_date_spans(check: Checker, query: str, columns: Any, values: Any) -> None:
    _run(check, query, columns, values)


@pytest.mark.parametrize(
    ("query", "column", "column_type", "expression"),
    [
        pytest.param("ROW a = 1 / 0", "a", "integer", "1 / 0", id="integer"),
        pytest.param("ROW a = 5000000000 / 0", "a", "long", "5000000000 / 0", id="long"),
        pytest.param("ROW a = 1.0 / 0", "a", "double", "1.0 / 0", id="double"),
        pytest.param("ROW a = 10 % 0", "a", "integer", "10 % 0", id="modulo"),
    ],
)
def test_division_by_zero_is_null_with_warning(
    check: Checker, query: str, column: str, column_type: str, expression: str
) -> None:
    result = check(query, [(column, column_type)], [[None]])
    assert any("/ by zero" in warning for warning in result.warnings), result.warnings
    assert any(f"evaluation of [{expression}] failed" in w for w in result.warnings), (
        result.warnings
    )


def test_division_by_zero_in_rows_nulls_only_failing_rows(check: Checker) -> None:
    result = check(
        "ROW d = [0, 2] | MV_EXPAND d | EVAL r = 10 / d",
        [("d", "integer"), ("r", "integer")],
        [[0, None], [2, 5]],
    )
    assert any("/ by zero" in warning for warning in result.warnings)


def test_integer_overflow_is_null_with_warning(check: Checker) -> None:
    result = check("ROW a = 2147483647 + 1", [("a", "integer")], [[None]])
    assert any("integer overflow" in warning for warning in result.warnings), result.warnings


def test_failed_cast_is_null_with_warning(check: Checker) -> None:
    result = check('ROW a = "x"::integer', [("a", "integer")], [[None]])
    assert result.warnings, "a value that cannot be converted must leave a warning"


MORE_CASES: list[Case] = [
    pytest.param(
        "ROW a = 7 / -2, b = 5 % -3, c = -5 % -3, d = 5.5 % -2, e = -7.5 / 2",
        [("a", "integer"), ("b", "integer"), ("c", "integer"), ("d", "double"), ("e", "double")],
        [[-3, 2, -2, 1.5, -3.75]],
        id="remainder-takes-the-sign-of-the-dividend",
    ),
    pytest.param(
        'ROW a = "a.c" LIKE "a.c", b = "abc" LIKE "a.c", c = "a+b" LIKE "a+b",'
        ' d = "(x)" LIKE "(*)"',
        [("a", "boolean"), ("b", "boolean"), ("c", "boolean"), ("d", "boolean")],
        [[True, False, True, True]],
        id="like-treats-regex-characters-literally",
    ),
    pytest.param(
        "ROW a = 1e3, b = .5, c = 1.5e-2, d = 2.",
        [("a", "double"), ("b", "double"), ("c", "double"), ("d", "double")],
        [[1000.0, 0.5, 0.015, 2.0]],
        id="decimal-literal-forms",
    ),
    pytest.param(
        "row a = round(1.5), b = Round(2.5)",
        [("a", "double"), ("b", "double")],
        [[2.0, 3.0]],
        id="keywords-and-functions-are-case-insensitive",
    ),
    pytest.param(
        'ROW a = "abc" | EVAL x = a LIKE "a?c", y = a LIKE "a?", z = a LIKE "*"',
        [("a", "keyword"), ("x", "boolean"), ("y", "boolean"), ("z", "boolean")],
        [["abc", True, False, True]],
        id="like-single-character-wildcard",
    ),
    pytest.param(
        "ROW a = 1 NOT IN (2, null), b = null IN (1, 2)",
        [("a", "boolean"), ("b", "boolean")],
        [[None, None]],
        id="not-in-with-null",
    ),
    pytest.param(
        "FROM employees | WHERE emp_no IN (10001, 10003) | EVAL n = job_positions IS NULL"
        " | KEEP emp_no, n | SORT emp_no",
        [("emp_no", "integer"), ("n", "boolean")],
        [[10001, False], [10003, True]],
        id="is-null-on-multivalued",
    ),
    pytest.param(
        "FROM employees | WHERE emp_no IN (-1, 10001) | KEEP emp_no",
        [("emp_no", "integer")],
        [[10001]],
        id="in-with-negative-literal",
    ),
    pytest.param(
        'ROW a = TO_DATETIME("2024-01-31T00:00:00Z"), b = TO_DATETIME("2024-02-29T00:00:00Z")'
        ' | EVAL m = DATE_DIFF("month", a, b), w = DATE_DIFF("week", a, b),'
        ' q = DATE_DIFF("quarter", a, b) | KEEP m, w, q',
        [("m", "integer"), ("w", "integer"), ("q", "integer")],
        [[0, 4, 0]],
        id="date-diff-counts-whole-calendar-units",
    ),
    pytest.param(
        "FROM employees | WHERE hire_date > NOW() - 30 years | STATS n = COUNT(*)",
        [("n", "long")],
        [[2]],
        id="date-minus-years-span",
    ),
]


@pytest.mark.parametrize(("query", "columns", "values"), MORE_CASES)
def test_more_operators(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)


def test_long_overflow_is_null_with_warning(check: Checker) -> None:
    result = check("ROW a = 9223372036854775807 + 1", [("a", "long")], [[None]])
    assert any("long overflow" in warning for warning in result.warnings), result.warnings


def test_cast_to_ip_checks_the_address(q: QueryRunner) -> None:
    # TO_IP (what `::ip` calls) turns a string that is not an address into null plus a
    # warning. An engine that leaves `ip` out of its subset must say so instead.
    try:
        result = q('ROW a = "foo"::ip, b = "1.1.1.1"::ip')
    except EsqlUnsupportedError as error:
        assert "ip" in error.render().lower()
        return
    assert [(c.name, c.type) for c in result.columns] == [("a", "ip"), ("b", "ip")]
    assert result.values == [[None, "1.1.1.1"]]
    assert any("is not an IP string literal" in warning for warning in result.warnings), (
        result.warnings
    )
