"""Cross-cutting ES|QL semantics: names, result types, nulls, sort order, dates, multi-values.

What Elastic's reference states once for the whole language rather than per command:
unnamed columns are named by their source text, the rightmost duplicate name wins, STATS
puts aggregates before groups, ascending sorts put nulls last and descending sorts first,
dates print as `yyyy-MM-ddTHH:mm:ss.SSSZ`, and a single-value function given a multi-value
returns null with a warning (esql-multivalued-fields).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from qs_tui.esql import EsqlResult

Checker = Callable[..., EsqlResult]
QueryRunner = Callable[..., EsqlResult]
Case = Any

NAMING_CASES: list[Case] = [
    pytest.param(
        "ROW a = 1 | EVAL a+1, a * 2",
        [("a", "integer"), ("a+1", "integer"), ("a * 2", "integer")],
        [[1, 2, 2]],
        id="unnamed-eval-keeps-source-text",
    ),
    pytest.param(
        "FROM employees | STATS avg(salary), COUNT(*)",
        [("avg(salary)", "double"), ("COUNT(*)", "long")],
        [[48248.55, 100]],
        id="unnamed-aggregates-keep-source-text",
    ),
    pytest.param(
        'FROM employees | WHERE emp_no == 10001 | EVAL CONCAT(first_name, "!")'
        ' | KEEP `CONCAT(first_name, "!")`',
        [('CONCAT(first_name, "!")', "keyword")],
        [["Georgi!"]],
        id="unnamed-column-referenced-with-backquotes",
    ),
    pytest.param(
        "ROW x = 0 | EVAL a = 1, a = 2",
        [("x", "integer"), ("a", "integer")],
        [[0, 2]],
        id="eval-rightmost-duplicate-wins",
    ),
    pytest.param(
        "FROM employees | STATS x = MIN(salary), x = MAX(salary)",
        [("x", "integer")],
        [[74999]],
        id="stats-rightmost-duplicate-wins",
    ),
    pytest.param(
        "FROM employees | STATS c = COUNT(*), m = MAX(salary) BY g = gender, s = still_hired"
        " | SORT g, s | LIMIT 2",
        [("c", "long"), ("m", "integer"), ("g", "keyword"), ("s", "boolean")],
        [[16, 73851, "F", False], [17, 74572, "F", True]],
        id="stats-aggregates-then-named-groups",
    ),
    pytest.param(
        "FROM employees | KEEP emp_no, first_name | RENAME emp_no AS id | EVAL id = id + 1"
        " | SORT id | LIMIT 1",
        [("first_name", "keyword"), ("id", "integer")],
        [["Georgi", 10002]],
        id="renamed-column-redefined-moves-last",
    ),
    pytest.param(
        "ROW `my field` = 1 | EVAL `other.field` = `my field` + 1",
        [("my field", "integer"), ("other.field", "integer")],
        [[1, 2]],
        id="backquoted-names",
    ),
]

# Elastic's own ES|QL test suite (eval.csv-spec) pins these down.
EVAL_SPEC_CASES: list[Case] = [
    pytest.param(
        "row a = 1 | eval b = a, c = 1, c = 3, d = b + 1, b = c * 2, c = 2, c = d * c + b"
        " | keep a, b, c, d",
        [("a", "integer"), ("b", "integer"), ("c", "integer"), ("d", "integer")],
        [[1, 6, 10, 2]],
        id="duplicates-interleaved-in-one-eval",
    ),
    pytest.param(
        "row x = 1 | keep x | eval a1 = x + 1, a2 = x + 1, a3 = a1 + a2, a1 = a1 + a2",
        [("x", "integer"), ("a2", "integer"), ("a3", "integer"), ("a1", "integer")],
        [[1, 2, 4, 4]],
        id="redefined-in-same-eval-takes-last-position",
    ),
    pytest.param(
        "from employees | eval x = null | sort x asc, emp_no desc | keep emp_no, x, last_name"
        " | limit 2",
        [("emp_no", "integer"), ("x", "null"), ("last_name", "keyword")],
        [[10100, None, "Haraldson"], [10099, None, "Sullins"]],
        id="sort-on-null-column",
    ),
    pytest.param(
        "from employees | eval true_bool = null is null, false_bool = null is not null,"
        " negated_true = not(null is null), negated_false = not(null is not null)"
        " | sort emp_no | limit 1 | keep *true*, *false*, first_name, last_name",
        [
            ("true_bool", "boolean"),
            ("negated_true", "boolean"),
            ("false_bool", "boolean"),
            ("negated_false", "boolean"),
            ("first_name", "keyword"),
            ("last_name", "keyword"),
        ],
        [[True, False, False, True, "Georgi", "Facello"]],
        id="keep-wildcards-expand-in-input-order",
    ),
]


@pytest.mark.parametrize(("query", "columns", "values"), EVAL_SPEC_CASES)
def test_eval_spec(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)


TYPE_CASES: list[Case] = [
    pytest.param(
        "FROM employees | WHERE emp_no == 10001 | EVAL a = salary + 1, b = salary + 1.0,"
        " c = avg_worked_seconds + salary, d = languages * 2, e = salary > 1, f = emp_no % 7"
        " | KEEP a, b, c, d, e, f",
        [
            ("a", "integer"),
            ("b", "double"),
            ("c", "long"),
            ("d", "integer"),
            ("e", "boolean"),
            ("f", "integer"),
        ],
        [[57306, 57306.0, 268785354, 4, True, 5]],
        id="expression-types",
    ),
    pytest.param(
        "FROM employees | EVAL x = null | KEEP emp_no, x | SORT emp_no | LIMIT 1",
        [("emp_no", "integer"), ("x", "null")],
        [[10001, None]],
        id="null-literal-column",
    ),
    pytest.param(
        "FROM app-logs-a | KEEP message, host.name, ok, latency_ms | SORT latency_ms | LIMIT 1",
        [
            ("message", "text"),
            ("host.name", "keyword"),
            ("ok", "boolean"),
            ("latency_ms", "double"),
        ],
        [["request served", "web-1", True, 12.5]],
        id="text-keyword-boolean-double-fields",
    ),
    pytest.param(
        "FROM sample_data | KEEP client_ip, event_duration | SORT event_duration | LIMIT 1",
        [("client_ip", "ip"), ("event_duration", "long")],
        [["172.21.3.15", 725448]],
        id="ip-and-long-fields",
    ),
]

NULL_CASES: list[Case] = [
    pytest.param(
        "FROM employees | WHERE first_name == null | STATS n = COUNT(*)",
        [("n", "long")],
        [[0]],
        id="equals-null-matches-nothing",
    ),
    pytest.param(
        "FROM employees | WHERE languages IS NULL | STATS m = MIN(languages),"
        " c = COUNT(languages), s = SUM(languages), a = AVG(languages)",
        [("m", "integer"), ("c", "long"), ("s", "long"), ("a", "double")],
        [[None, 0, None, None]],
        id="aggregates-of-only-nulls",
    ),
    pytest.param(
        "FROM employees | WHERE emp_no == 10030 | EVAL c = COALESCE(first_name, gender),"
        " n = COALESCE(first_name, null) | KEEP c, n",
        [("c", "keyword"), ("n", "keyword")],
        [["M", None]],
        id="coalesce-falls-through-to-null",
    ),
    pytest.param(
        "FROM employees | WHERE emp_no IN (10020, 10030, 10040) | EVAL l = languages + 1,"
        " r = ROUND(languages / 2), u = TO_UPPER(first_name),"
        ' y = DATE_EXTRACT("year", birth_date) | KEEP emp_no, l, r, u, y | SORT emp_no',
        [
            ("emp_no", "integer"),
            ("l", "integer"),
            ("r", "integer"),
            ("u", "keyword"),
            ("y", "long"),
        ],
        [
            [10020, None, None, "MAYUKO", 1952],
            [10030, 4, 1, None, 1958],
            [10040, 5, 2, "WEIYI", None],
        ],
        id="null-propagates-through-expressions",
    ),
]

SORT_NULL_CASES: list[Case] = [
    pytest.param(
        "FROM employees | WHERE emp_no >= 10018 AND emp_no <= 10022 | KEEP emp_no, languages"
        " | SORT languages, emp_no",
        [("emp_no", "integer"), ("languages", "integer")],
        [[10019, 1], [10018, 2], [10020, None], [10021, None], [10022, None]],
        id="asc-puts-nulls-last",
    ),
    pytest.param(
        "FROM employees | WHERE emp_no >= 10018 AND emp_no <= 10022 | KEEP emp_no, languages"
        " | SORT languages DESC, emp_no",
        [("emp_no", "integer"), ("languages", "integer")],
        [[10020, None], [10021, None], [10022, None], [10018, 2], [10019, 1]],
        id="desc-puts-nulls-first",
    ),
    pytest.param(
        "FROM employees | WHERE emp_no >= 10018 AND emp_no <= 10022 | KEEP emp_no, languages"
        " | SORT languages ASC NULLS FIRST, emp_no DESC",
        [("emp_no", "integer"), ("languages", "integer")],
        [[10022, None], [10021, None], [10020, None], [10019, 1], [10018, 2]],
        id="asc-nulls-first",
    ),
    pytest.param(
        "FROM employees | WHERE emp_no >= 10018 AND emp_no <= 10022 | KEEP emp_no, languages"
        " | SORT languages DESC NULLS LAST, emp_no",
        [("emp_no", "integer"), ("languages", "integer")],
        [[10018, 2], [10019, 1], [10020, None], [10021, None], [10022, None]],
        id="desc-nulls-last",
    ),
    pytest.param(
        "FROM employees | STATS n = COUNT(*) BY gender | SORT gender DESC",
        [("n", "long"), ("gender", "keyword")],
        [[10, None], [57, "M"], [33, "F"]],
        id="sort-null-group-desc",
    ),
]

DATE_FORMAT_CASES: list[Case] = [
    pytest.param(
        "FROM employees | WHERE emp_no IN (10001, 10040) | KEEP emp_no, birth_date, hire_date"
        " | SORT emp_no",
        [("emp_no", "integer"), ("birth_date", "date"), ("hire_date", "date")],
        [
            [10001, "1953-09-02T00:00:00.000Z", "1986-06-26T00:00:00.000Z"],
            [10040, None, "1993-02-14T00:00:00.000Z"],
        ],
        id="dates-before-1970-and-null",
    ),
    pytest.param(
        'ROW d = TO_DATETIME("2026-11-25T16:00:00Z"), e = TO_DATETIME("2026-11-25T16:00:00.5Z")',
        [("d", "date"), ("e", "date")],
        [["2026-11-25T16:00:00.000Z", "2026-11-25T16:00:00.500Z"]],
        id="milliseconds-always-printed",
    ),
    pytest.param(
        "FROM sample_data | STATS first_seen = MIN(@timestamp), last_seen = MAX(@timestamp)",
        [("first_seen", "date"), ("last_seen", "date")],
        [["2023-10-23T12:15:03.360Z", "2023-10-23T13:55:01.543Z"]],
        id="aggregated-dates",
    ),
]

MULTIVALUE_CASES: list[Case] = [
    pytest.param("ROW a = [1]", [("a", "integer")], [[1]], id="single-element-list-is-scalar"),
    pytest.param(
        "FROM employees | WHERE emp_no == 10001 | KEEP job_positions, is_rehired, salary_change",
        [("job_positions", "keyword"), ("is_rehired", "boolean"), ("salary_change", "double")],
        [[["Accountant", "Senior Python Developer"], [False, True], 1.19]],
        id="multi-values-as-lists-single-as-scalar",
    ),
    pytest.param(
        'ROW a = ["b", "a", "b"], n = [3, 1, 3]',
        [("a", "keyword"), ("n", "integer")],
        [[["b", "a", "b"], [3, 1, 3]]],
        id="row-multi-values-keep-order-and-duplicates",
    ),
]


@pytest.mark.parametrize(("query", "columns", "values"), NAMING_CASES)
def test_naming(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)


@pytest.mark.parametrize(("query", "columns", "values"), TYPE_CASES)
def test_types(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)


@pytest.mark.parametrize(("query", "columns", "values"), NULL_CASES)
def test_nulls(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)


@pytest.mark.parametrize(("query", "columns", "values"), SORT_NULL_CASES)
def test_sort_order_of_nulls(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)


@pytest.mark.parametrize(("query", "columns", "values"), DATE_FORMAT_CASES)
def test_date_output(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)


@pytest.mark.parametrize(("query", "columns", "values"), MULTIVALUE_CASES)
def test_multivalues(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)


def test_single_value_function_on_multivalue_is_null_with_warning(check: Checker) -> None:
    result = check(
        "ROW a = [1, 2], b = 1 | EVAL c = a + 2, d = b + 2",
        [("a", "integer"), ("b", "integer"), ("c", "integer"), ("d", "integer")],
        [[[1, 2], 1, None, 3]],
    )
    assert any("single-value function encountered multi-value" in w for w in result.warnings), (
        result.warnings
    )


def test_where_on_multivalued_field_skips_multivalued_rows_with_warning(check: Checker) -> None:
    result = check(
        "FROM employees | WHERE salary_change < -8 | KEEP emp_no, salary_change | SORT emp_no",
        [("emp_no", "integer"), ("salary_change", "double")],
        [[10034, -8.46]],
    )
    assert any("single-value function encountered multi-value" in w for w in result.warnings), (
        result.warnings
    )


def test_result_body_is_shaped_like_elasticsearch(q: QueryRunner) -> None:
    body = q("FROM employees | KEEP emp_no, hire_date | SORT emp_no | LIMIT 1").to_body()
    assert body == {
        "columns": [{"name": "emp_no", "type": "integer"}, {"name": "hire_date", "type": "date"}],
        "values": [[10001, "1986-06-26T00:00:00.000Z"]],
    }


def test_default_limit_applies_and_warns(q: QueryRunner) -> None:
    result = q("ROW a = [" + ", ".join(str(i) for i in range(1500)) + "] | MV_EXPAND a")
    assert len(result.values) == 1000
    assert result.values[0] == [0]
    assert "No limit defined, adding default limit of [1000]" in result.warnings


def test_explicit_limit_above_default_is_honoured(q: QueryRunner) -> None:
    result = q(
        "ROW a = [" + ", ".join(str(i) for i in range(1500)) + "] | MV_EXPAND a | LIMIT 1200"
    )
    assert len(result.values) == 1200
    assert not any("default limit" in warning for warning in result.warnings)
