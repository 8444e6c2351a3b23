"""ES|QL aggregate functions, checked against Elastic's reference (functions-operators/aggregation).

Every aggregate the embedded engine supports, with the documented examples over `employees`:
result types (COUNT is long, SUM of integers is long, AVG/MEDIAN/PERCENTILE are double, MIN,
MAX and TOP keep the input type), nulls ignored, multi-values counted value by value, and the
answers on empty input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from qs_tui.esql import EsqlResult

Checker = Callable[..., EsqlResult]
QueryRunner = Callable[..., EsqlResult]
Case = Any

AGGREGATE_CASES: list[Case] = [
    # COUNT
    pytest.param(
        "FROM employees | STATS COUNT(height)", [("COUNT(height)", "long")], [[100]], id="count"
    ),
    pytest.param(
        "FROM employees | STATS c = COUNT(languages), s = COUNT(*), e = COUNT()",
        [("c", "long"), ("s", "long"), ("e", "long")],
        [[90, 100, 100]],
        id="count-skips-nulls",
    ),
    pytest.param(
        "FROM employees | STATS jobs = COUNT(job_positions), changes = COUNT(salary_change)",
        [("jobs", "long"), ("changes", "long")],
        [[221, 183]],
        id="count-counts-every-value",
    ),
    pytest.param(
        'ROW words = "foo;bar;baz;qux;quux;foo" | STATS word_count = COUNT(SPLIT(words, ";"))',
        [("word_count", "long")],
        [[6]],
        id="count-of-split",
    ),
    pytest.param(
        "ROW n = 1 | WHERE n < 0 | STATS COUNT(n)",
        [("COUNT(n)", "long")],
        [[0]],
        id="count-of-nothing-is-zero",
    ),
    # COUNT_DISTINCT
    pytest.param(
        "FROM employees | STATS COUNT_DISTINCT(last_name), COUNT_DISTINCT(languages)",
        [("COUNT_DISTINCT(last_name)", "long"), ("COUNT_DISTINCT(languages)", "long")],
        [[96, 5]],
        id="count-distinct",
    ),
    pytest.param(
        'ROW words = "foo;bar;baz;qux;quux;foo"'
        ' | STATS distinct_word_count = COUNT_DISTINCT(SPLIT(words, ";"))',
        [("distinct_word_count", "long")],
        [[5]],
        id="count-distinct-of-split",
    ),
    pytest.param(
        "FROM employees | STATS d = COUNT_DISTINCT(job_positions) BY still_hired"
        " | SORT still_hired",
        [("d", "long"), ("still_hired", "boolean")],
        [[15, False], [15, True]],
        id="count-distinct-multivalued-by",
    ),
    # SUM
    pytest.param(
        "FROM employees | STATS SUM(languages)",
        [("SUM(languages)", "long")],
        [[281]],
        id="sum-integer-is-long",
    ),
    pytest.param(
        "FROM employees | STATS total_salary_changes = SUM(MV_MAX(salary_change))",
        [("total_salary_changes", "double")],
        [[446.75]],
        id="sum-double",
    ),
    pytest.param(
        "FROM employees | STATS s = SUM(avg_worked_seconds)",
        [("s", "long")],
        [[30161593432]],
        id="sum-long",
    ),
    # AVG
    pytest.param(
        "FROM employees | STATS AVG(height)",
        [("AVG(height)", "double")],
        [[1.7682]],
        id="avg",
    ),
    pytest.param(
        "FROM employees | STATS avg = AVG(salary) BY languages | SORT languages",
        [("avg", "double"), ("languages", "integer")],
        [
            [50576.666666666664, 1],
            [48178.84210526316, 2],
            [52418.882352941175, 3],
            [47733.0, 4],
            [41680.76190476191, 5],
            [52519.6, None],
        ],
        id="avg-by",
    ),
    # MIN / MAX
    pytest.param(
        "FROM employees | STATS MIN(languages), MAX(languages)",
        [("MIN(languages)", "integer"), ("MAX(languages)", "integer")],
        [[1, 5]],
        id="min-max-integer",
    ),
    pytest.param(
        "FROM employees | STATS min_avg_salary_change = MIN(MV_AVG(salary_change)),"
        " max_avg_salary_change = MAX(MV_AVG(salary_change))",
        [("min_avg_salary_change", "double"), ("max_avg_salary_change", "double")],
        [[-8.46, 13.75]],
        id="min-max-of-expression",
    ),
    pytest.param(
        "FROM employees | STATS earliest = MIN(hire_date), latest = MAX(hire_date)",
        [("earliest", "date"), ("latest", "date")],
        [["1985-02-18T00:00:00.000Z", "1999-04-30T00:00:00.000Z"]],
        id="min-max-date",
    ),
    pytest.param(
        "FROM employees | STATS lo = MIN(first_name), hi = MAX(first_name)",
        [("lo", "keyword"), ("hi", "keyword")],
        [["Alejandro", "Zvonko"]],
        id="min-max-keyword",
    ),
    pytest.param(
        "FROM employees | STATS lo = MIN(salary_change), hi = MAX(salary_change)",
        [("lo", "double"), ("hi", "double")],
        [[-9.81, 14.74]],
        id="min-max-multivalued",
    ),
    # MEDIAN / PERCENTILE
    pytest.param(
        "FROM employees | STATS MEDIAN(salary), PERCENTILE(salary, 50)",
        [("MEDIAN(salary)", "double"), ("PERCENTILE(salary, 50)", "double")],
        [[47003.0, 47003.0]],
        id="median",
    ),
    pytest.param(
        "FROM employees | STATS median_max_salary_change = MEDIAN(MV_MAX(salary_change))",
        [("median_max_salary_change", "double")],
        [[7.69]],
        id="median-of-expression",
    ),
    pytest.param(
        "FROM employees | STATS p0 = PERCENTILE(salary, 0), p50 = PERCENTILE(salary, 50),"
        " p99 = PERCENTILE(salary, 99)",
        [("p0", "double"), ("p50", "double"), ("p99", "double")],
        [[25324.0, 47003.0, 74970.29]],
        id="percentile",
    ),
    pytest.param(
        "FROM employees | STATS p80_max_salary_change = PERCENTILE(MV_MAX(salary_change), 80)",
        [("p80_max_salary_change", "double")],
        [[12.132]],
        id="percentile-of-expression",
    ),
    # STD_DEV
    pytest.param(
        "FROM employees | STATS STD_DEV(height)",
        [("STD_DEV(height)", "double")],
        [[0.20637044362020449]],
        id="std-dev",
    ),
    pytest.param(
        "FROM employees | STATS stddev_salary_change = STD_DEV(MV_MAX(salary_change))",
        [("stddev_salary_change", "double")],
        [[6.875829592924112]],
        id="std-dev-of-expression",
    ),
    # TOP
    pytest.param(
        'FROM employees | STATS top_salaries = TOP(salary, 3, "desc"), top_salary = MAX(salary)',
        [("top_salaries", "integer"), ("top_salary", "integer")],
        [[[74999, 74970, 74572], 74999]],
        id="top-desc",
    ),
    pytest.param(
        'FROM employees | STATS low = TOP(salary, 2, "asc"), one = TOP(height, 1, "asc")',
        [("low", "integer"), ("one", "double")],
        [[[25324, 25945], 1.41]],
        id="top-asc-and-single-value",
    ),
    pytest.param(
        'FROM employees | STATS latest = TOP(hire_date, 2, "desc") BY gender | SORT gender',
        [("latest", "date"), ("gender", "keyword")],
        [
            [["1997-05-19T00:00:00.000Z", "1994-05-21T00:00:00.000Z"], "F"],
            [["1996-11-05T00:00:00.000Z", "1995-12-15T00:00:00.000Z"], "M"],
            [["1999-04-30T00:00:00.000Z", "1995-01-27T00:00:00.000Z"], None],
        ],
        id="top-dates-by-group",
    ),
    # WEIGHTED_AVG
    pytest.param(
        "FROM employees | STATS w_avg = WEIGHTED_AVG(salary, height) BY languages"
        " | EVAL w_avg = ROUND(w_avg) | KEEP w_avg, languages | SORT languages",
        [("w_avg", "double"), ("languages", "integer")],
        [
            [51464.0, 1],
            [48477.0, 2],
            [52379.0, 3],
            [47990.0, 4],
            [42119.0, 5],
            [52142.0, None],
        ],
        id="weighted-avg",
    ),
    # MEDIAN_ABSOLUTE_DEVIATION
    pytest.param(
        "FROM employees | STATS MEDIAN(salary), MEDIAN_ABSOLUTE_DEVIATION(salary)",
        [("MEDIAN(salary)", "double"), ("MEDIAN_ABSOLUTE_DEVIATION(salary)", "double")],
        [[47003.0, 10096.5]],
        id="median-absolute-deviation",
    ),
    pytest.param(
        "FROM employees"
        " | STATS m_a_d_max_salary_change = MEDIAN_ABSOLUTE_DEVIATION(MV_MAX(salary_change))",
        [("m_a_d_max_salary_change", "double")],
        [[5.69]],
        id="median-absolute-deviation-of-expression",
    ),
    # Empty input and grouping by a multi-valued field
    pytest.param(
        "FROM employees | WHERE emp_no < 0 | STATS c = COUNT(*), s = SUM(salary),"
        " a = AVG(salary), m = MIN(salary), d = COUNT_DISTINCT(salary)",
        [("c", "long"), ("s", "long"), ("a", "double"), ("m", "integer"), ("d", "long")],
        [[0, None, None, None, 0]],
        id="empty-input-without-groups-gives-one-row",
    ),
    pytest.param(
        "FROM employees | WHERE emp_no < 0 | STATS c = COUNT(*) BY gender",
        [("c", "long"), ("gender", "keyword")],
        [],
        id="empty-input-with-groups-gives-no-rows",
    ),
    pytest.param(
        "FROM employees | STATS n = COUNT(*) BY job_positions | SORT n DESC, job_positions"
        " | LIMIT 3",
        [("n", "long"), ("job_positions", "keyword")],
        [[20, "Principal Support Engineer"], [20, "Senior Python Developer"], [18, "Accountant"]],
        id="group-by-multivalued-field-counts-each-value",
    ),
    pytest.param(
        "FROM employees | STATS n = COUNT(*) BY job_positions | WHERE job_positions IS NULL",
        [("n", "long"), ("job_positions", "keyword")],
        [[11, None]],
        id="group-by-multivalued-field-null-group",
    ),
    pytest.param(
        "FROM employees | STATS s = SUM(salary) WHERE languages > 3, n = COUNT(*)"
        " BY still_hired | SORT still_hired",
        [("s", "long"), ("n", "long"), ("still_hired", "boolean")],
        [[970472, 55, False], [764018, 45, True]],
        id="filtered-sum-by-group",
    ),
]


@pytest.mark.parametrize(("query", "columns", "values"), AGGREGATE_CASES)
def test_aggregate(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)


def test_values_collects_distinct_values_in_any_order(q: QueryRunner) -> None:
    # VALUES does not promise an order, so compare the collected values as a set.
    result = q("FROM employees | WHERE emp_no <= 10010 | STATS g = VALUES(gender)")
    assert [(c.name, c.type) for c in result.columns] == [("g", "keyword")]
    assert len(result.values) == 1
    assert sorted(result.values[0][0]) == ["F", "M"]


def test_values_by_group(q: QueryRunner) -> None:
    result = q(
        "FROM employees | WHERE emp_no <= 10006 | STATS l = VALUES(languages) BY gender"
        " | SORT gender"
    )
    assert [(c.name, c.type) for c in result.columns] == [("l", "integer"), ("gender", "keyword")]
    by_gender = {row[1]: row[0] for row in result.values}
    assert sorted(by_gender["F"]) == [3, 5]
    assert sorted(by_gender["M"]) == [1, 2, 4, 5]


def test_values_single_value_is_scalar(check: Checker) -> None:
    check(
        "FROM employees | WHERE emp_no == 10001 | STATS v = VALUES(last_name)",
        [("v", "keyword")],
        [["Facello"]],
    )


MORE_CASES: list[Case] = [
    pytest.param(
        "FROM employees | STATS MIN(still_hired), MAX(still_hired)",
        [("MIN(still_hired)", "boolean"), ("MAX(still_hired)", "boolean")],
        [[False, True]],
        id="min-max-boolean",
    ),
    pytest.param(
        'FROM employees | STATS t = TOP(last_name, 2, "asc")',
        [("t", "keyword")],
        [[["Awdeh", "Azuma"]]],
        id="top-keyword",
    ),
    pytest.param(
        "FROM employees | STATS a = AVG(avg_worked_seconds), m = MEDIAN(languages)",
        [("a", "double"), ("m", "double")],
        [[301615934.32, 3.0]],
        id="avg-of-long-and-median-of-integer-are-double",
    ),
    pytest.param(
        "FROM employees | STATS s = STD_DEV(salary) BY still_hired | EVAL s = ROUND(s, 4)"
        " | SORT still_hired",
        [("still_hired", "boolean"), ("s", "double")],
        [[False, 13447.4525], [True, 13590.5624]],
        id="std-dev-of-integer-by-group-overwritten-moves-last",
    ),
]


@pytest.mark.parametrize(("query", "columns", "values"), MORE_CASES)
def test_more_aggregates(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)
