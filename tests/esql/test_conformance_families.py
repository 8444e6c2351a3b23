"""Families of ES|QL behaviour checked case by case against Elasticsearch's known answers.

Every expected answer below is what Elasticsearch returns for the same query over its
`employees` test data (the answers of its own ES|QL csv-spec tests): aggregates over
constants, grouping keys inside and after aggregates, duplicate names, implicit casting of
string literals, overflow and WEIGHTED_AVG.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from qs_tui.esql import EsqlExecutionError, EsqlResult
from qs_tui.store.embedded import EmbeddedStore

Checker = Callable[..., EsqlResult]
QueryRunner = Callable[..., EsqlResult]

LANGUAGE_ROWS = [15, 19, 17, 18, 21, 10]  # employees per languages 1..5, then null


def _warnings(result: EsqlResult) -> list[str]:
    return [w for w in result.warnings if not w.startswith("No limit defined")]


# ---------------------------------------------------------------------------------------------
# 1. Aggregates over constants and expressions: once per row, as ES does
# ---------------------------------------------------------------------------------------------


def test_count_of_constants_counts_rows_and_values(check: Checker) -> None:
    check(
        "FROM employees | STATS s1 = COUNT(1), s2point1 = COUNT(2.1), "
        "s_mv = COUNT([-1, 0, 3]) * 3, s_null = COUNT(null), s_expr = COUNT(1 + 1), "
        "s_expr_null = COUNT(1 + null), rows = COUNT(*)",
        [
            (n, "long")
            for n in ("s1", "s2point1", "s_mv", "s_null", "s_expr", "s_expr_null", "rows")
        ],
        [[100, 100, 900, 0, 100, 0, 100]],
    )


def test_count_of_constants_by_group(check: Checker) -> None:
    check(
        'FROM employees | STATS s = COUNT("two point one"), s_mv = COUNT([-1, 0, 3]), '
        "s_null = COUNT(null), s_expr_null = COUNT(1 + null) BY languages | SORT languages",
        [
            ("s", "long"),
            ("s_mv", "long"),
            ("s_null", "long"),
            ("s_expr_null", "long"),
            ("languages", "integer"),
        ],
        [
            [rows, 3 * rows, 0, 0, languages]
            for rows, languages in zip(LANGUAGE_ROWS, [1, 2, 3, 4, 5, None], strict=True)
        ],
    )


def test_sum_of_constants_adds_them_once_per_row(check: Checker) -> None:
    check(
        "FROM employees | STATS s1 = SUM(1), s2point1 = SUM(2.1), "
        "s_mv = SUM([-1, 0, 3]) * 3, s_expr = SUM(1 + 1), s_expr_null = SUM(1 + null), "
        "rows = COUNT(*)",
        [
            ("s1", "long"),
            ("s2point1", "double"),
            ("s_mv", "long"),
            ("s_expr", "long"),
            ("s_expr_null", "long"),
            ("rows", "long"),
        ],
        [[100, 210.0, 600, 200, None, 100]],
    )


def test_sum_of_constants_by_group(check: Checker) -> None:
    check(
        "FROM employees | STATS s2point1 = ROUND(SUM(2.1), 1), s_mv = SUM([-1, 0, 3]), "
        "s_expr_null = SUM(1 + null) BY languages | SORT languages",
        [
            ("s2point1", "double"),
            ("s_mv", "long"),
            ("s_expr_null", "long"),
            ("languages", "integer"),
        ],
        [
            [31.5, 30, None, 1],
            [39.9, 38, None, 2],
            [35.7, 34, None, 3],
            [37.8, 36, None, 4],
            [44.1, 42, None, 5],
            [21.0, 20, None, None],
        ],
    )


def test_sum_of_null_is_null_of_type_null(check: Checker) -> None:
    check("FROM employees | STATS s_null = SUM(null)", [("s_null", "null")], [[None]])


def test_aggregates_of_constants_on_row(check: Checker) -> None:
    check(
        "ROW x = 1 | STATS c = COUNT(1), s = SUM(2.1), m = SUM([-1, 0, 3]), "
        "n = COUNT(null), z = SUM(null), e = COUNT(1 + null)",
        [
            ("c", "long"),
            ("s", "double"),
            ("m", "long"),
            ("n", "long"),
            ("z", "null"),
            ("e", "long"),
        ],
        [[1, 2.1, 2, 0, None, 0]],
    )


def test_constants_under_a_per_aggregate_filter(check: Checker) -> None:
    check(
        "ROW x = [1, 2, 3, 4, 5] | MV_EXPAND x | STATS c5 = COUNT(4) WHERE x >= 3, "
        "c7 = COUNT([1, 2, 3]) WHERE x >= 3, c8 = COUNT([1, 2, 3])",
        [("c5", "long"), ("c7", "long"), ("c8", "long")],
        [[3, 9, 15]],
    )
    check(
        "FROM employees | STATS sum1 = SUM(1), sum2 = SUM(1) WHERE emp_no == 10080, "
        "sum3 = SUM(1) WHERE emp_no < 10080",
        [("sum1", "long"), ("sum2", "long"), ("sum3", "long")],
        [[100, 1, 79]],
    )


def test_min_max_avg_median_count_distinct_of_constants(check: Checker) -> None:
    check(
        "FROM employees | STATS a = AVG(1), b = MIN([-1, 0, 3]), c = MAX(null), "
        "d = MEDIAN([-1, 0, 1, 3]), e = COUNT_DISTINCT([-1, 0, 3, 1, -1, 3]), "
        "f = COUNT_DISTINCT(1 + null)",
        [
            ("a", "double"),
            ("b", "integer"),
            ("c", "null"),
            ("d", "double"),
            ("e", "long"),
            ("f", "long"),
        ],
        [[1.0, -1, None, 0.5, 4, 0]],
    )


# ---------------------------------------------------------------------------------------------
# 2. Grouping keys inside aggregate expressions and after them
# ---------------------------------------------------------------------------------------------


def test_expression_over_a_group_alias(check: Checker) -> None:
    check(
        "FROM employees | STATS e = LENGTH(f) + 1, COUNT(*) BY f = first_name | SORT f | LIMIT 3",
        [("e", "integer"), ("COUNT(*)", "long"), ("f", "keyword")],
        [[10, 1, "Alejandro"], [8, 1, "Amabile"], [7, 1, "Anneke"]],
    )


def test_unnamed_expression_over_a_group(check: Checker) -> None:
    check(
        "FROM employees | STATS y + 1 BY y = languages | SORT y | LIMIT 2",
        [("y + 1", "integer"), ("y", "integer")],
        [[2, 1], [3, 2]],
    )


def test_group_and_aggregate_in_one_expression(check: Checker) -> None:
    check(
        "FROM employees | STATS e = f + COUNT(*), m = MAX(emp_no) BY f = LENGTH(first_name) % 2 "
        "| KEEP e | SORT e",
        [("e", "long")],
        [[44], [47], [None]],
    )
    check(
        "ROW a = [1, 2] | STATS a + SUM(a) BY a",
        [("a + SUM(a)", "long"), ("a", "integer")],
        [[4, 1], [5, 2]],
    )


def test_two_groups_with_one_name_the_rightmost_wins(check: Checker) -> None:
    result = check(
        "FROM employees | STATS vals = COUNT() BY x = emp_no, x = languages | SORT x | LIMIT 3",
        [("vals", "long"), ("x", "integer")],
        [[15, 1], [19, 2], [17, 3]],
    )
    assert _warnings(result) == ["Line 1:42: Field 'x' shadowed by field at line 1:54"]


def test_a_later_group_refers_to_the_input_not_the_earlier_group(check: Checker) -> None:
    result = check(
        "FROM employees | EVAL l = languages | STATS m = MAX(salary) BY l = l + 1, l = l + 1 "
        "| SORT m | LIMIT 3",
        [("m", "integer"), ("l", "integer")],
        [[66817, 6], [73578, 3], [73717, 2]],
    )
    assert _warnings(result) == ["Line 1:64: Field 'l' shadowed by field at line 1:75"]


def test_a_group_shadows_the_field_an_aggregate_reads(check: Checker) -> None:
    check(
        "FROM employees | STATS m = MAX(salary) BY salary = languages | SORT salary | LIMIT 2",
        [("m", "integer"), ("salary", "integer")],
        [[1, 1], [2, 2]],
    )
    check(
        "FROM employees | STATS m = MAX(languages), m_f = MAX(languages) WHERE salary > 50000 "
        "BY salary = 2",
        [("m", "integer"), ("m_f", "integer"), ("salary", "integer")],
        [[5, None, 2]],
    )


def test_group_aliases_inside_aggregates(check: Checker) -> None:
    check(
        "FROM employees | STATS m = MAX(l), o = MIN(s) BY l = languages, s = salary + 1 "
        "| SORT l, s | LIMIT 2",
        [("m", "integer"), ("o", "integer"), ("l", "integer"), ("s", "integer")],
        [[1, 25977, 1, 25977], [1, 28036, 1, 28036]],
    )


def test_per_aggregate_where_refers_to_a_group(check: Checker) -> None:
    check(
        "FROM employees | STATS c = COUNT(), c_f = COUNT(languages) WHERE l > 1, "
        "m_f = MAX(height) WHERE salary > 50000 BY l = languages | SORT c",
        [("c", "long"), ("c_f", "long"), ("m_f", "double"), ("l", "integer")],
        [
            [10, 0, 2.08, None],
            [15, 0, 2.06, 1],
            [17, 17, 2.1, 3],
            [18, 18, 1.83, 4],
            [19, 19, 2.03, 2],
            [21, 21, 2.1, 5],
        ],
    )


def test_a_reference_resolves_to_the_group_before_the_input(check: Checker) -> None:
    check(
        'FROM employees | EVAL date = "2025-01-01"::datetime '
        '| STATS m = MAX(hire_date), x = d::int + 1 BY d = (date == "2025-01-01")',
        [("m", "date"), ("x", "integer"), ("d", "boolean")],
        [["1999-04-30T00:00:00.000Z", 2, True]],
    )


@pytest.mark.parametrize(
    ("query", "message", "column"),
    [
        (
            "FROM employees | STATS x = salary BY languages",
            "column [salary] must appear in the STATS BY clause or be used in an aggregate "
            "function",
            28,
        ),
        (
            "FROM employees | STATS 5 BY emp_no",
            "expected an aggregate function but found [5]",
            24,
        ),
        (
            "FROM employees | STATS e BY e = languages + emp_no",
            "grouping key [e] already specified in the STATS BY clause",
            24,
        ),
    ],
)
def test_what_stats_refuses_outside_aggregates(
    q: QueryRunner, query: str, message: str, column: int
) -> None:
    with pytest.raises(EsqlExecutionError) as caught:
        q(query)
    assert caught.value.message == message
    assert (caught.value.line, caught.value.column) == (1, column)


# ---------------------------------------------------------------------------------------------
# 3. Duplicate names
# ---------------------------------------------------------------------------------------------


def test_duplicate_aggregate_names_the_rightmost_wins_with_a_warning(check: Checker) -> None:
    result = check(
        "FROM employees | STATS x = MAX(emp_no), x = MIN(emp_no)", [("x", "integer")], [[10001]]
    )
    assert _warnings(result) == ["Line 1:24: Field 'x' shadowed by field at line 1:41"]


def test_a_group_beats_aggregates_of_its_name(check: Checker) -> None:
    result = check(
        "FROM employees | STATS x = MAX(emp_no), x = MIN(emp_no) BY x = gender | SORT x",
        [("x", "keyword")],
        [["F"], ["M"], [None]],
    )
    assert sorted(_warnings(result)) == [
        "Line 1:24: Field 'x' shadowed by field at line 1:60",
        "Line 1:41: Field 'x' shadowed by field at line 1:60",
    ]


def test_an_aggregate_reads_the_winning_group_of_a_shadowed_name(check: Checker) -> None:
    result = check(
        "FROM employees | STATS x = MAX(emp_no), y = COUNT(x) BY x = emp_no, x = gender | SORT x",
        [("y", "long"), ("x", "keyword")],
        [[33, "F"], [57, "M"], [0, None]],
    )
    assert sorted(_warnings(result)) == [
        "Line 1:24: Field 'x' shadowed by field at line 1:69",
        "Line 1:57: Field 'x' shadowed by field at line 1:69",
    ]


def test_keep_a_name_twice_the_rightmost_place_wins(check: Checker) -> None:
    check(
        "FROM employees | SORT emp_no | KEEP last_name, emp_no, last_name | LIMIT 2",
        [("emp_no", "integer"), ("last_name", "keyword")],
        [[10001, "Facello"], [10002, "Simmel"]],
    )
    check(
        "FROM employees | SORT emp_no | KEEP last*name, emp_no, last_name, first_name, last*, "
        "languages, last_name, gender, last*name | LIMIT 1",
        [
            ("emp_no", "integer"),
            ("first_name", "keyword"),
            ("languages", "integer"),
            ("last_name", "keyword"),
            ("gender", "keyword"),
        ],
        [[10001, "Georgi", 2, "Facello", "M"]],
    )


def test_drop_a_name_twice_drops_it_once(check: Checker) -> None:
    for drop in ("last_name, last_name", "last*name, last*name, last*, last_name"):
        check(
            f"FROM employees | SORT emp_no | KEEP emp_no, first_name, last_name | DROP {drop} "
            "| LIMIT 2",
            [("emp_no", "integer"), ("first_name", "keyword")],
            [[10001, "Georgi"], [10002, "Bezalel"]],
        )


def test_rename_two_columns_to_one_name_the_last_prevails(check: Checker) -> None:
    check("ROW a = 1, b = 2 | RENAME a AS c, b AS c", [("c", "integer")], [[2]])
    check(
        "FROM employees | SORT emp_no | KEEP emp_no, last_name | RENAME emp_no AS x, "
        "last_name AS x | LIMIT 2",
        [("x", "keyword")],
        [["Facello"], ["Simmel"]],
    )


def test_renames_apply_one_after_another(check: Checker) -> None:
    check(
        "ROW a = 1, b = 2 | RENAME a AS c, c AS d, b AS c",
        [("d", "integer"), ("c", "integer")],
        [[1, 2]],
    )
    check(
        'ROW a = "keyword", b = 5 | RENAME a AS temp, b AS a, temp AS b',
        [("b", "keyword"), ("a", "integer")],
        [["keyword", 5]],
    )
    check(
        "FROM employees | SORT emp_no | KEEP first_name, last_name | LIMIT 2 "
        "| RENAME first_name AS x, x AS y, last_name AS x",
        [("y", "keyword"), ("x", "keyword")],
        [["Georgi", "Facello"], ["Bezalel", "Simmel"]],
    )


# ---------------------------------------------------------------------------------------------
# 6. A long SUM that overflows is null with ES's warning
# ---------------------------------------------------------------------------------------------


def _overflow_warnings(place: str, call: str) -> list[str]:
    return [
        f"{place}: evaluation of [{call}] failed, treating result as null. "
        "Only first 20 failures recorded.",
        f"{place}: java.lang.ArithmeticException: long overflow",
    ]


def test_sum_overflow_and_underflow_are_null_with_warnings(check: Checker) -> None:
    result = check(
        "FROM employees\n| WHERE languages == 1\n| LIMIT 2\n"
        "| EVAL x = languages * 9223372036854775807\n"
        "| STATS overflow = SUM(x), underflow = SUM(-x)",
        [("overflow", "long"), ("underflow", "long")],
        [[None, None]],
    )
    assert _warnings(result) == _overflow_warnings("Line 5:20", "SUM(x)") + (
        _overflow_warnings("Line 5:40", "SUM(-x)")
    )


def test_sum_overflow_only_nulls_the_groups_that_overflow(check: Checker) -> None:
    result = check(
        "FROM employees\n| SORT emp_no ASC\n| LIMIT 4\n"
        "| EVAL group = emp_no % 2, x = CASE(group == 0, 9223372036854775807, 1::long)\n"
        "| STATS s = SUM(x) BY group\n| SORT group",
        [("s", "long"), ("group", "integer")],
        [[None, 0], [2, 1]],
    )
    assert _warnings(result) == _overflow_warnings("Line 5:13", "SUM(x)")


def test_a_sum_that_fits_is_exact_at_the_edge(check: Checker) -> None:
    result = check(
        "ROW x = [9223372036854775806, 1] | MV_EXPAND x | STATS s = SUM(x)",
        [("s", "long")],
        [[9223372036854775807]],
    )
    assert _warnings(result) == []


# ---------------------------------------------------------------------------------------------
# 7. WEIGHTED_AVG with constants and multi-values
# ---------------------------------------------------------------------------------------------


def _failure(place: str, call: str, exception: str) -> list[str]:
    return [
        f"{place}: evaluation of [{call}] failed, treating result as null. "
        "Only first 20 failures recorded.",
        f"{place}: {exception}",
    ]


MULTI = "java.lang.IllegalArgumentException: single-value function encountered multi-value"


def test_weighted_avg_with_a_constant_weight_is_the_average(check: Checker) -> None:
    check(
        "FROM employees | STATS w1 = WEIGHTED_AVG(salary, 1), avg = AVG(salary), "
        "w2 = WEIGHTED_AVG(salary, height) | EVAL w1 = ROUND(w1), avg = ROUND(avg), "
        "w2 = ROUND(w2)",
        [("w1", "double"), ("avg", "double"), ("w2", "double")],
        [[48249.0, 48249.0, 48474.0]],
    )


def test_weighted_avg_of_constants_and_multi_values_with_constant_weight(check: Checker) -> None:
    check(
        "ROW v = [1, 2, 3] | STATS w1 = WEIGHTED_AVG(v, 1), w2 = WEIGHTED_AVG([1, 2, 3], 1), "
        "avg = AVG(v)",
        [("w1", "double"), ("w2", "double"), ("avg", "double")],
        [[2.0, 2.0, 2.0]],
    )
    check(
        "ROW x = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] | MV_EXPAND x "
        "| STATS w1 = WEIGHTED_AVG(x, 1) WHERE x == 5, w2 = WEIGHTED_AVG(x, x) WHERE x == 5, "
        "w3 = WEIGHTED_AVG(x, 2) WHERE x <= 5, w4 = WEIGHTED_AVG(x, x) WHERE x > 5, "
        "w6 = WEIGHTED_AVG([1, 2, 3], 1) WHERE x == 5",
        [("w1", "double"), ("w2", "double"), ("w3", "double"), ("w4", "double"), ("w6", "double")],
        [[5.0, 5.0, 3.0, 8.25, 2.0]],
    )


@pytest.mark.parametrize(
    ("query", "place", "call"),
    [
        (
            "ROW v = [1, 2, 3], w = [1, 2, 3]\n| STATS w_avg = WEIGHTED_AVG(v, w)",
            "Line 2:17",
            "WEIGHTED_AVG(v, w)",
        ),
        (
            "FROM employees\n| EVAL w = [1, 2, 3]\n| STATS w_avg = WEIGHTED_AVG(salary, w)",
            "Line 3:17",
            "WEIGHTED_AVG(salary, w)",
        ),
        (
            "FROM employees\n| WHERE emp_no == 10002 OR emp_no == 10003\n"
            "| STATS w_avg = WEIGHTED_AVG(salary_change, height)",
            "Line 3:17",
            "WEIGHTED_AVG(salary_change, height)",
        ),
    ],
)
def test_weighted_avg_of_multi_values_is_null_with_a_warning(
    check: Checker, query: str, place: str, call: str
) -> None:
    result = check(query, [("w_avg", "double")], [[None]])
    assert _warnings(result) == _failure(place, call, MULTI)


def test_weighted_avg_with_zero_total_weight_is_null_with_a_warning(check: Checker) -> None:
    result = check(
        "FROM employees\n| EVAL w = 0\n| STATS w_avg = WEIGHTED_AVG(salary, w)",
        [("w_avg", "double")],
        [[None]],
    )
    assert _warnings(result) == _failure(
        "Line 3:17", "WEIGHTED_AVG(salary, w)", "java.lang.ArithmeticException: / by zero"
    )


# ---------------------------------------------------------------------------------------------
# 4. Implicit casting of string literals
# ---------------------------------------------------------------------------------------------


def test_a_string_compared_to_a_boolean_is_cast(check: Checker) -> None:
    for condition in ('still_hired == "true"', "still_hired == true", '"TRUE" == still_hired'):
        check(f"FROM employees | WHERE {condition} | STATS c = COUNT(*)", [("c", "long")], [[45]])
    # Boolean.parseBoolean: every string but "true" is false.
    check(
        'FROM employees | WHERE still_hired == "yes" | STATS c = COUNT(*)', [("c", "long")], [[55]]
    )


def test_strings_in_an_in_list_of_a_boolean_are_cast(check: Checker) -> None:
    check(
        'FROM employees | WHERE still_hired IN ("true", "false") | STATS c = COUNT(*)',
        [("c", "long")],
        [[100]],
    )
    check(
        'FROM employees | WHERE still_hired NOT IN ("false") | STATS c = COUNT(*)',
        [("c", "long")],
        [[45]],
    )


def test_casts_apply_in_stats_filters_and_groups(check: Checker) -> None:
    check(
        'FROM employees | STATS c = COUNT(*) WHERE still_hired == "false" '
        'BY g = still_hired == "true" | SORT g',
        [("c", "long"), ("g", "boolean")],
        [[55, False], [0, True]],
    )


def test_strings_compared_to_dates_are_cast(check: Checker) -> None:
    check(
        'FROM employees | WHERE hire_date IN ("1985-02-18", "1985-02-24T00:00:00Z") '
        "| KEEP emp_no | SORT emp_no",
        [("emp_no", "integer")],
        [[10009], [10048]],
    )
    check(
        'FROM employees | WHERE "1985-02-18" == hire_date | KEEP emp_no',
        [("emp_no", "integer")],
        [[10009]],
    )


def test_date_arithmetic_with_a_date_string(check: Checker) -> None:
    check(
        'ROW d = "2020-01-01" + 1 day, e = 1 day + "2020-01-01", f = "2020-01-01" - 1 day',
        [("d", "date"), ("e", "date"), ("f", "date")],
        [["2020-01-02T00:00:00.000Z", "2020-01-02T00:00:00.000Z", "2019-12-31T00:00:00.000Z"]],
    )


def test_a_string_is_not_cast_to_a_number_in_a_comparison(q: QueryRunner) -> None:
    with pytest.raises(EsqlExecutionError) as caught:
        q('FROM employees | WHERE salary > "50000"')
    assert caught.value.message == (
        'first argument of [salary > "50000"] is [numeric] so second argument must also be '
        "[numeric] but was [keyword]"
    )


# ---------------------------------------------------------------------------------------------
# 5. Multi-values as doc values give them (through the embedded store's indexing)
# ---------------------------------------------------------------------------------------------


def test_multi_values_come_back_as_doc_values_give_them() -> None:
    store = EmbeddedStore()
    store.create_index(
        "docs",
        {
            "properties": {
                "id": {"type": "integer"},
                "flags": {"type": "boolean"},
                "counts": {"type": "long"},
                "ratios": {"type": "double"},
                "tags": {"type": "keyword"},
            }
        },
    )
    store.bulk(
        "docs",
        [
            {
                "id": 1,
                "flags": [True, False, True, False],
                "counts": [3, 1, 3],
                "ratios": [2.5, -1.0, 2.5],
                "tags": ["b", "a", "b"],
            },
            {"id": 2, "flags": [True, True], "counts": [7, 7], "tags": ["c", "c"]},
        ],
    )
    result = store.esql("FROM docs | SORT id | KEEP flags, counts, ratios, tags")
    # Numbers and booleans: sorted, duplicates kept; keywords: sorted and de-duplicated.
    assert result.values == [
        [[False, False, True, True], [1, 3, 3], [-1.0, 2.5, 2.5], ["a", "b"]],
        [[True, True], [7, 7], None, "c"],
    ]
