"""ES|QL scalar functions, checked against the examples of Elastic's functions reference.

One group per family of elastic.co/docs/reference/query-languages/esql/functions-operators:
math, string, date-time, conditional, type conversion, multi-value and full-text (MATCH).
Each case asserts the result type of every column and every value, including the nulls a
function returns for null input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from qs_tui.esql import EsqlResult

Checker = Callable[..., EsqlResult]
QueryRunner = Callable[..., EsqlResult]
Case = Any

MATH_CASES: list[Case] = [
    pytest.param(
        "ROW number = -1.0 | EVAL abs_number = ABS(number)",
        [("number", "double"), ("abs_number", "double")],
        [[-1.0, 1.0]],
        id="abs-double",
    ),
    pytest.param(
        "ROW a = ABS(-5), b = ABS(-5000000000)",
        [("a", "integer"), ("b", "long")],
        [[5, 5000000000]],
        id="abs-keeps-integer-types",
    ),
    pytest.param(
        "FROM employees | WHERE emp_no == 10001 | EVAL abs_height = ABS(0.0 - height)"
        " | KEEP first_name, abs_height",
        [("first_name", "keyword"), ("abs_height", "double")],
        [["Georgi", 2.03]],
        id="abs-of-field",
    ),
    pytest.param("ROW a = 1.8 | EVAL a = CEIL(a)", [("a", "double")], [[2.0]], id="ceil-double"),
    pytest.param(
        "ROW a = CEIL(5), b = CEIL(-1.5)",
        [("a", "integer"), ("b", "double")],
        [[5, -1.0]],
        id="ceil-integer-and-negative",
    ),
    pytest.param("ROW a = 1.8 | EVAL a = FLOOR(a)", [("a", "double")], [[1.0]], id="floor-double"),
    pytest.param(
        "ROW a = FLOOR(-1.5), b = FLOOR(7)",
        [("a", "double"), ("b", "integer")],
        [[-2.0, 7]],
        id="floor-negative-and-integer",
    ),
    pytest.param(
        "ROW a = ROUND(123.456, 2), b = ROUND(2.5), c = ROUND(1234, -2), d = ROUND(0.04)",
        [("a", "double"), ("b", "double"), ("c", "integer"), ("d", "double")],
        [[123.46, 3.0, 1200, 0.0]],
        id="round",
    ),
    pytest.param(
        "FROM employees | KEEP first_name, last_name, height"
        " | EVAL height_ft = ROUND(height * 3.281, 1) | SORT height DESC, first_name ASC"
        " | LIMIT 3",
        [
            ("first_name", "keyword"),
            ("last_name", "keyword"),
            ("height", "double"),
            ("height_ft", "double"),
        ],
        [
            ["Arumugam", "Ossenbruggen", 2.1, 6.9],
            ["Kwee", "Schusler", 2.1, 6.9],
            ["Saniya", "Kalloufi", 2.1, 6.9],
        ],
        id="round-documented-example",
    ),
    pytest.param(
        "ROW d = 100.0 | EVAL s = SQRT(d)",
        [("d", "double"), ("s", "double")],
        [[100.0, 10.0]],
        id="sqrt",
    ),
    pytest.param("ROW s = SQRT(4)", [("s", "double")], [[2.0]], id="sqrt-of-integer-is-double"),
    pytest.param(
        "ROW base = 2.0, exponent = 2 | EVAL result = POW(base, exponent)",
        [("base", "double"), ("exponent", "integer"), ("result", "double")],
        [[2.0, 2, 4.0]],
        id="pow",
    ),
    pytest.param(
        "ROW base = 4, exponent = 0.5 | EVAL s = POW(base, exponent)",
        [("base", "integer"), ("exponent", "double"), ("s", "double")],
        [[4, 0.5, 2.0]],
        id="pow-fractional-exponent",
    ),
    pytest.param(
        "ROW d = 5.0 | EVAL s = EXP(d)",
        [("d", "double"), ("s", "double")],
        [[5.0, 148.4131591025766]],
        id="exp",
    ),
    pytest.param(
        "ROW base = 2.0, value = 8.0 | EVAL s = LOG(base, value)",
        [("base", "double"), ("value", "double"), ("s", "double")],
        [[2.0, 8.0, 3.0]],
        id="log-with-base",
    ),
    pytest.param(
        "ROW value = 100 | EVAL s = LOG(value)",
        [("value", "integer"), ("s", "double")],
        [[100, 4.605170185988092]],
        id="log-natural",
    ),
    pytest.param(
        "ROW d = 1000.0 | EVAL s = LOG10(d)",
        [("d", "double"), ("s", "double")],
        [[1000.0, 3.0]],
        id="log10",
    ),
    pytest.param(
        "ROW a = SIGNUM(100.0), b = SIGNUM(-5), c = SIGNUM(0)",
        [("a", "double"), ("b", "double"), ("c", "double")],
        [[1.0, -1.0, 0.0]],
        id="signum",
    ),
    pytest.param(
        "ROW a = 10, b = 20 | EVAL g = GREATEST(a, b), l = LEAST(a, b)",
        [("a", "integer"), ("b", "integer"), ("g", "integer"), ("l", "integer")],
        [[10, 20, 20, 10]],
        id="greatest-least",
    ),
    pytest.param(
        'ROW g = GREATEST(1.5, 2.5, 0.5), l = LEAST("b", "a", "c")',
        [("g", "double"), ("l", "keyword")],
        [[2.5, "a"]],
        id="greatest-least-other-types",
    ),
    pytest.param(
        "ROW PI(), E()",
        [("PI()", "double"), ("E()", "double")],
        [[3.141592653589793, 2.718281828459045]],
        id="pi-and-e",
    ),
]

STRING_CASES: list[Case] = [
    pytest.param(
        'FROM employees | KEEP first_name, last_name | EVAL fullname = CONCAT(first_name, " ",'
        " last_name) | SORT last_name | LIMIT 2",
        [("first_name", "keyword"), ("last_name", "keyword"), ("fullname", "keyword")],
        [["Satosi", "Awdeh", "Satosi Awdeh"], ["Mona", "Azuma", "Mona Azuma"]],
        id="concat",
    ),
    pytest.param(
        'ROW s = "Hello", u = "Agwār" | EVAL l = LENGTH(s), m = LENGTH(u)',
        [("s", "keyword"), ("u", "keyword"), ("l", "integer"), ("m", "integer")],
        [["Hello", "Agwār", 5, 5]],
        id="length-counts-characters",
    ),
    pytest.param(
        "FROM employees | KEEP last_name | EVAL ln_sub = SUBSTRING(last_name, 1, 3)"
        " | SORT last_name ASC | LIMIT 5",
        [("last_name", "keyword"), ("ln_sub", "keyword")],
        [
            ["Awdeh", "Awd"],
            ["Azuma", "Azu"],
            ["Baek", "Bae"],
            ["Bamford", "Bam"],
            ["Bernatsky", "Ber"],
        ],
        id="substring",
    ),
    pytest.param(
        "FROM employees | KEEP last_name | EVAL ln_sub = SUBSTRING(last_name, -3, 3)"
        " | SORT last_name ASC | LIMIT 5",
        [("last_name", "keyword"), ("ln_sub", "keyword")],
        [
            ["Awdeh", "deh"],
            ["Azuma", "uma"],
            ["Baek", "aek"],
            ["Bamford", "ord"],
            ["Bernatsky", "sky"],
        ],
        id="substring-from-end",
    ),
    pytest.param(
        "FROM employees | KEEP last_name | EVAL ln_sub = SUBSTRING(last_name, 2)"
        " | SORT last_name ASC | LIMIT 5",
        [("last_name", "keyword"), ("ln_sub", "keyword")],
        [
            ["Awdeh", "wdeh"],
            ["Azuma", "zuma"],
            ["Baek", "aek"],
            ["Bamford", "amford"],
            ["Bernatsky", "ernatsky"],
        ],
        id="substring-remainder",
    ),
    pytest.param(
        'ROW message = "Some Text" | EVAL message_lower = TO_LOWER(message),'
        " message_upper = TO_UPPER(message)",
        [("message", "keyword"), ("message_lower", "keyword"), ("message_upper", "keyword")],
        [["Some Text", "some text", "SOME TEXT"]],
        id="to-lower-to-upper",
    ),
    pytest.param(
        'ROW message = "   some text  ", color = " red " | EVAL message = TRIM(message)'
        " | EVAL color = TRIM(color)",
        [("message", "keyword"), ("color", "keyword")],
        [["some text", "red"]],
        id="trim",
    ),
    pytest.param(
        'ROW message = "   some text  ", color = " red " | EVAL message = LTRIM(message)'
        ' | EVAL color = LTRIM(color) | EVAL message = CONCAT("\'", message, "\'")'
        ' | EVAL color = CONCAT("\'", color, "\'")',
        [("message", "keyword"), ("color", "keyword")],
        [["'some text  '", "'red '"]],
        id="ltrim",
    ),
    pytest.param(
        'ROW message = "   some text  ", color = " red " | EVAL message = RTRIM(message)'
        ' | EVAL color = RTRIM(color) | EVAL message = CONCAT("\'", message, "\'")'
        ' | EVAL color = CONCAT("\'", color, "\'")',
        [("message", "keyword"), ("color", "keyword")],
        [["'   some text'", "' red'"]],
        id="rtrim",
    ),
    pytest.param(
        'FROM employees | KEEP last_name | EVAL ln_S = STARTS_WITH(last_name, "B")'
        " | SORT last_name ASC | LIMIT 5",
        [("last_name", "keyword"), ("ln_S", "boolean")],
        [
            ["Awdeh", False],
            ["Azuma", False],
            ["Baek", True],
            ["Bamford", True],
            ["Bernatsky", True],
        ],
        id="starts-with",
    ),
    pytest.param(
        'FROM employees | KEEP last_name | EVAL ln_E = ENDS_WITH(last_name, "d")'
        " | SORT last_name ASC | LIMIT 5",
        [("last_name", "keyword"), ("ln_E", "boolean")],
        [
            ["Awdeh", False],
            ["Azuma", False],
            ["Baek", False],
            ["Bamford", True],
            ["Bernatsky", False],
        ],
        id="ends-with",
    ),
    pytest.param(
        'ROW str = "Hello World" | EVAL str = REPLACE(str, "World", "Universe") | KEEP str',
        [("str", "keyword")],
        [["Hello Universe"]],
        id="replace",
    ),
    pytest.param(
        'ROW s = "a1b22c" | EVAL r = REPLACE(s, "[0-9]+", "#")',
        [("s", "keyword"), ("r", "keyword")],
        [["a1b22c", "a#b#c"]],
        id="replace-is-a-regex",
    ),
    pytest.param(
        "FROM employees | KEEP last_name | EVAL left = LEFT(last_name, 3),"
        " right = RIGHT(last_name, 3) | SORT last_name ASC | LIMIT 5",
        [("last_name", "keyword"), ("left", "keyword"), ("right", "keyword")],
        [
            ["Awdeh", "Awd", "deh"],
            ["Azuma", "Azu", "uma"],
            ["Baek", "Bae", "aek"],
            ["Bamford", "Bam", "ord"],
            ["Bernatsky", "Ber", "sky"],
        ],
        id="left-right",
    ),
    pytest.param(
        'ROW words = "foo;bar;baz;qux;quux;corge" | EVAL word = SPLIT(words, ";")',
        [("words", "keyword"), ("word", "keyword")],
        [["foo;bar;baz;qux;quux;corge", ["foo", "bar", "baz", "qux", "quux", "corge"]]],
        id="split",
    ),
    pytest.param(
        'ROW a = "hello" | EVAL a_ll = LOCATE(a, "ll"), none = LOCATE(a, "z")',
        [("a", "keyword"), ("a_ll", "integer"), ("none", "integer")],
        [["hello", 3, 0]],
        id="locate",
    ),
    pytest.param(
        'ROW a = "hello hello" | EVAL second = LOCATE(a, "ll", 5)',
        [("a", "keyword"), ("second", "integer")],
        [["hello hello", 9]],
        id="locate-from-start",
    ),
    pytest.param(
        "FROM employees | WHERE emp_no == 10030 | EVAL u = TO_UPPER(first_name),"
        ' l = LENGTH(first_name), c = CONCAT(first_name, "x"), s = SUBSTRING(first_name, 1, 2),'
        ' b = STARTS_WITH(first_name, "A") | KEEP u, l, c, s, b',
        [("u", "keyword"), ("l", "integer"), ("c", "keyword"), ("s", "keyword"), ("b", "boolean")],
        [[None, None, None, None, None]],
        id="string-functions-propagate-null",
    ),
]

DATE_CASES: list[Case] = [
    pytest.param(
        "ROW current_date = NOW()",
        [("current_date", "date")],
        [["2026-11-25T16:00:00.000Z"]],
        id="now",
    ),
    pytest.param(
        "FROM employees | KEEP first_name, last_name, hire_date"
        " | EVAL year_hired = DATE_TRUNC(1 year, hire_date) | SORT hire_date | LIMIT 2",
        [
            ("first_name", "keyword"),
            ("last_name", "keyword"),
            ("hire_date", "date"),
            ("year_hired", "date"),
        ],
        [
            ["Sumant", "Peac", "1985-02-18T00:00:00.000Z", "1985-01-01T00:00:00.000Z"],
            ["Florian", "Syrotiuk", "1985-02-24T00:00:00.000Z", "1985-01-01T00:00:00.000Z"],
        ],
        id="date-trunc-year",
    ),
    pytest.param(
        "FROM sample_data | EVAL hour = DATE_TRUNC(1 hour, @timestamp),"
        " quarter_hour = DATE_TRUNC(15 minutes, @timestamp) | KEEP @timestamp, hour, quarter_hour"
        " | SORT @timestamp | LIMIT 2",
        [("@timestamp", "date"), ("hour", "date"), ("quarter_hour", "date")],
        [
            ["2023-10-23T12:15:03.360Z", "2023-10-23T12:00:00.000Z", "2023-10-23T12:15:00.000Z"],
            ["2023-10-23T12:27:28.948Z", "2023-10-23T12:00:00.000Z", "2023-10-23T12:15:00.000Z"],
        ],
        id="date-trunc-hour-and-minutes",
    ),
    pytest.param(
        'ROW date1 = TO_DATETIME("2023-12-02T11:00:00.000Z"),'
        ' date2 = TO_DATETIME("2023-12-02T11:00:00.001Z")'
        ' | EVAL dd_ms = DATE_DIFF("microseconds", date1, date2)',
        [("date1", "date"), ("date2", "date"), ("dd_ms", "integer")],
        [["2023-12-02T11:00:00.000Z", "2023-12-02T11:00:00.001Z", 1000]],
        id="date-diff-microseconds",
    ),
    pytest.param(
        'ROW end_23 = TO_DATETIME("2023-12-31T23:59:59.999Z"),'
        ' start_24 = TO_DATETIME("2024-01-01T00:00:00.000Z"),'
        ' end_24 = TO_DATETIME("2024-12-31T23:59:59.999Z")'
        ' | EVAL end23_to_start24 = DATE_DIFF("year", end_23, start_24),'
        ' end23_to_end24 = DATE_DIFF("year", end_23, end_24),'
        ' start_to_end_24 = DATE_DIFF("year", start_24, end_24)'
        " | KEEP end23_to_start24, end23_to_end24, start_to_end_24",
        [
            ("end23_to_start24", "integer"),
            ("end23_to_end24", "integer"),
            ("start_to_end_24", "integer"),
        ],
        [[0, 1, 0]],
        id="date-diff-whole-years",
    ),
    pytest.param(
        'ROW a = TO_DATETIME("2024-01-01T00:00:00Z"), b = TO_DATETIME("2024-01-03T12:00:00Z")'
        ' | EVAL d = DATE_DIFF("day", a, b), h = DATE_DIFF("hours", a, b),'
        ' m = DATE_DIFF("minute", b, a) | KEEP d, h, m',
        [("d", "integer"), ("h", "integer"), ("m", "integer")],
        [[2, 60, -3600]],
        id="date-diff-units",
    ),
    pytest.param(
        'ROW date = DATE_PARSE("yyyy-MM-dd", "2022-05-06")'
        ' | EVAL year = DATE_EXTRACT("year", date)',
        [("date", "date"), ("year", "long")],
        [["2022-05-06T00:00:00.000Z", 2022]],
        id="date-extract-year",
    ),
    pytest.param(
        'ROW d = TO_DATETIME("2022-05-06T13:45:10.123Z")'
        ' | EVAL month = DATE_EXTRACT("month_of_year", d),'
        ' dow = DATE_EXTRACT("day_of_week", d), hour = DATE_EXTRACT("hour_of_day", d),'
        ' minute = DATE_EXTRACT("minute_of_hour", d) | KEEP month, dow, hour, minute',
        [("month", "long"), ("dow", "long"), ("hour", "long"), ("minute", "long")],
        [[5, 5, 13, 45]],
        id="date-extract-parts",
    ),
    pytest.param(
        "FROM employees | KEEP first_name, last_name, hire_date"
        ' | EVAL hired = DATE_FORMAT("yyyy-MM-dd", hire_date) | SORT hire_date | LIMIT 1',
        [
            ("first_name", "keyword"),
            ("last_name", "keyword"),
            ("hire_date", "date"),
            ("hired", "keyword"),
        ],
        [["Sumant", "Peac", "1985-02-18T00:00:00.000Z", "1985-02-18"]],
        id="date-format",
    ),
    pytest.param(
        'ROW d = TO_DATETIME("2022-05-06T13:45:10.123Z") | EVAL iso = DATE_FORMAT(d),'
        ' hm = DATE_FORMAT("HH:mm", d) | KEEP iso, hm',
        [("iso", "keyword"), ("hm", "keyword")],
        [["2022-05-06T13:45:10.123Z", "13:45"]],
        id="date-format-default-and-time",
    ),
    pytest.param(
        'ROW date_string = "2022-05-06" | EVAL date = DATE_PARSE("yyyy-MM-dd", date_string)',
        [("date_string", "keyword"), ("date", "date")],
        [["2022-05-06", "2022-05-06T00:00:00.000Z"]],
        id="date-parse",
    ),
    pytest.param(
        'ROW string = ["1953-09-02T00:00:00.000Z", "1964-06-02T00:00:00.000Z"]'
        " | EVAL datetime = TO_DATETIME(string)",
        [("string", "keyword"), ("datetime", "date")],
        [
            [
                ["1953-09-02T00:00:00.000Z", "1964-06-02T00:00:00.000Z"],
                ["1953-09-02T00:00:00.000Z", "1964-06-02T00:00:00.000Z"],
            ]
        ],
        id="to-datetime-multivalue",
    ),
    pytest.param(
        "ROW int = [0, 1] | EVAL dt = TO_DATETIME(int)",
        [("int", "integer"), ("dt", "date")],
        [[[0, 1], ["1970-01-01T00:00:00.000Z", "1970-01-01T00:00:00.001Z"]]],
        id="to-datetime-from-millis",
    ),
]

CONDITIONAL_CASES: list[Case] = [
    pytest.param(
        'ROW x = 5 | EVAL big = CASE(x > 10, "big"), size = CASE(x > 10, "big", x > 3, "mid",'
        ' "small")',
        [("x", "integer"), ("big", "keyword"), ("size", "keyword")],
        [[5, None, "mid"]],
        id="case-without-else-is-null",
    ),
    pytest.param(
        "FROM employees | WHERE emp_no IN (10001, 10020) | EVAL n = CASE(languages IS NULL, 0,"
        " languages) | KEEP emp_no, n | SORT emp_no",
        [("emp_no", "integer"), ("n", "integer")],
        [[10001, 2], [10020, 0]],
        id="case-null-condition",
    ),
    pytest.param(
        'ROW a = null, b = "b" | EVAL COALESCE(a, b)',
        [("a", "null"), ("b", "keyword"), ("COALESCE(a, b)", "keyword")],
        [[None, "b", "b"]],
        id="coalesce",
    ),
    pytest.param(
        "FROM employees | WHERE emp_no IN (10001, 10020) | EVAL l = COALESCE(languages, 0)"
        " | KEEP emp_no, l | SORT emp_no",
        [("emp_no", "integer"), ("l", "integer")],
        [[10001, 2], [10020, 0]],
        id="coalesce-field",
    ),
]

CONVERSION_CASES: list[Case] = [
    pytest.param(
        "ROW a = 10 | EVAL j = TO_STRING(a)",
        [("a", "integer"), ("j", "keyword")],
        [[10, "10"]],
        id="to-string",
    ),
    pytest.param(
        "ROW a = [10, 9, 8] | EVAL j = TO_STRING(a)",
        [("a", "integer"), ("j", "keyword")],
        [[[10, 9, 8], ["10", "9", "8"]]],
        id="to-string-multivalue",
    ),
    pytest.param(
        "FROM employees | WHERE emp_no == 10001 | EVAL d = TO_STRING(hire_date),"
        " h = TO_STRING(height), b = TO_STRING(still_hired) | KEEP d, h, b",
        [("d", "keyword"), ("h", "keyword"), ("b", "keyword")],
        [["1986-06-26T00:00:00.000Z", "2.03", "true"]],
        id="to-string-of-date-double-boolean",
    ),
    pytest.param(
        'ROW str1 = "2147483648", str2 = "2147483648.2"'
        " | EVAL long1 = TO_LONG(str1), long2 = TO_LONG(str2)",
        [("str1", "keyword"), ("str2", "keyword"), ("long1", "long"), ("long2", "long")],
        [["2147483648", "2147483648.2", 2147483648, 2147483648]],
        id="to-long",
    ),
    pytest.param(
        "FROM employees | WHERE emp_no == 10001 | EVAL ms = TO_LONG(hire_date),"
        " b = TO_LONG(still_hired), h = TO_LONG(height) | KEEP ms, b, h",
        [("ms", "long"), ("b", "long"), ("h", "long")],
        [[520128000000, 1, 2]],
        id="to-long-of-date-boolean-double",
    ),
    pytest.param(
        'ROW a = TO_INTEGER("12"), b = TO_INTEGER(2.5), c = TO_INTEGER(true)',
        [("a", "integer"), ("b", "integer"), ("c", "integer")],
        [[12, 3, 1]],
        id="to-integer",
    ),
    pytest.param(
        'ROW str1 = "5.20128E11" | EVAL dbl = TO_DOUBLE("520128000000"),'
        " dbl1 = TO_DOUBLE(str1), dbl2 = TO_DOUBLE(true), dbl3 = TO_DOUBLE(7)",
        [
            ("str1", "keyword"),
            ("dbl", "double"),
            ("dbl1", "double"),
            ("dbl2", "double"),
            ("dbl3", "double"),
        ],
        [["5.20128E11", 520128000000.0, 520128000000.0, 1.0, 7.0]],
        id="to-double",
    ),
    pytest.param(
        'ROW str = ["true", "TRuE", "false", "", "yes", "1"] | EVAL bool = TO_BOOLEAN(str)',
        [("str", "keyword"), ("bool", "boolean")],
        [
            [
                ["true", "TRuE", "false", "", "yes", "1"],
                [True, True, False, False, False, False],
            ]
        ],
        id="to-boolean-from-strings",
    ),
    pytest.param(
        "ROW a = TO_BOOLEAN(0), b = TO_BOOLEAN(5), c = TO_BOOLEAN(0.0)",
        [("a", "boolean"), ("b", "boolean"), ("c", "boolean")],
        [[False, True, False]],
        id="to-boolean-from-numbers",
    ),
]

MULTIVALUE_CASES: list[Case] = [
    pytest.param(
        'ROW a = ["foo", "zoo", "bar"] | EVAL count_a = MV_COUNT(a)',
        [("a", "keyword"), ("count_a", "integer")],
        [[["foo", "zoo", "bar"], 3]],
        id="mv-count",
    ),
    pytest.param(
        'ROW a = [2, 1], s = ["foo", "bar"] | EVAL min_a = MV_MIN(a), min_s = MV_MIN(s)',
        [("a", "integer"), ("s", "keyword"), ("min_a", "integer"), ("min_s", "keyword")],
        [[[2, 1], ["foo", "bar"], 1, "bar"]],
        id="mv-min",
    ),
    pytest.param(
        'ROW a = [3, 5, 1], s = ["foo", "zoo", "bar"] | EVAL max_a = MV_MAX(a), max_s = MV_MAX(s)',
        [("a", "integer"), ("s", "keyword"), ("max_a", "integer"), ("max_s", "keyword")],
        [[[3, 5, 1], ["foo", "zoo", "bar"], 5, "zoo"]],
        id="mv-max",
    ),
    pytest.param(
        "ROW a = [3, 5, 1, 6] | EVAL avg_a = MV_AVG(a)",
        [("a", "integer"), ("avg_a", "double")],
        [[[3, 5, 1, 6], 3.75]],
        id="mv-avg",
    ),
    pytest.param(
        "ROW a = [3, 5, 6] | EVAL sum_a = MV_SUM(a)",
        [("a", "integer"), ("sum_a", "integer")],
        [[[3, 5, 6], 14]],
        id="mv-sum",
    ),
    pytest.param(
        'ROW a = "foo;bar;baz" | EVAL first_a = MV_FIRST(SPLIT(a, ";")),'
        ' last_a = MV_LAST(SPLIT(a, ";"))',
        [("a", "keyword"), ("first_a", "keyword"), ("last_a", "keyword")],
        [["foo;bar;baz", "foo", "baz"]],
        id="mv-first-last",
    ),
    pytest.param(
        'ROW a = ["foo", "zoo", "bar"] | EVAL j = MV_CONCAT(a, ", ")',
        [("a", "keyword"), ("j", "keyword")],
        [[["foo", "zoo", "bar"], "foo, zoo, bar"]],
        id="mv-concat",
    ),
    pytest.param(
        'ROW a = [10, 9, 8] | EVAL j = MV_CONCAT(TO_STRING(a), ", ")',
        [("a", "integer"), ("j", "keyword")],
        [[[10, 9, 8], "10, 9, 8"]],
        id="mv-concat-of-numbers",
    ),
    pytest.param(
        "FROM employees | WHERE emp_no == 10004 | EVAL n = MV_COUNT(job_positions),"
        " lo = MV_MIN(salary_change), hi = MV_MAX(salary_change), f = MV_FIRST(job_positions),"
        " s = MV_SUM(salary_change), a = MV_AVG(salary_change) | KEEP n, lo, hi, f, s, a",
        [
            ("n", "integer"),
            ("lo", "double"),
            ("hi", "double"),
            ("f", "keyword"),
            ("s", "double"),
            ("a", "double"),
        ],
        [[4, -0.35, 13.48, "Head Human Resources", 17.91, 4.4775]],
        id="mv-functions-over-index",
    ),
    pytest.param(
        "FROM employees | WHERE emp_no IN (10001, 10003) | EVAL n = MV_COUNT(job_positions),"
        " m = MV_MAX(job_positions) | KEEP emp_no, n, m | SORT emp_no",
        [("emp_no", "integer"), ("n", "integer"), ("m", "keyword")],
        [[10001, 2, "Senior Python Developer"], [10003, None, None]],
        id="mv-functions-of-missing-field-are-null",
    ),
]


@pytest.mark.parametrize(("query", "columns", "values"), MATH_CASES)
def test_math(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)


@pytest.mark.parametrize(("query", "columns", "values"), STRING_CASES)
def test_string(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)


@pytest.mark.parametrize(("query", "columns", "values"), DATE_CASES)
def test_date(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)


@pytest.mark.parametrize(("query", "columns", "values"), CONDITIONAL_CASES)
def test_conditional(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)


@pytest.mark.parametrize(("query", "columns", "values"), CONVERSION_CASES)
def test_conversion(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)


@pytest.mark.parametrize(("query", "columns", "values"), MULTIVALUE_CASES)
def test_multivalue(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)


@pytest.mark.parametrize(
    ("query", "column", "column_type"),
    [
        pytest.param("ROW a = SQRT(-1)", "a", "double", id="sqrt-of-negative"),
        pytest.param("ROW a = LOG10(0)", "a", "double", id="log10-of-zero"),
        pytest.param('ROW a = TO_LONG("foo")', "a", "long", id="to-long-of-text"),
        pytest.param('ROW a = TO_DOUBLE("foo")', "a", "double", id="to-double-of-text"),
        pytest.param(
            'ROW a = DATE_PARSE("yyyy-MM-dd", "not a date")', "a", "date", id="date-parse-bad"
        ),
    ],
)
def test_invalid_input_is_null_with_warning(
    check: Checker, query: str, column: str, column_type: str
) -> None:
    result = check(query, [(column, column_type)], [[None]])
    assert result.warnings, "a failed evaluation must leave a warning"


def test_to_integer_drops_out_of_range_values_with_warning(check: Checker) -> None:
    result = check(
        "ROW long = [5013792, 2147483647, 501379200000] | EVAL int = TO_INTEGER(long)",
        [("long", "long"), ("int", "integer")],
        [[[5013792, 2147483647, 501379200000], [5013792, 2147483647]]],
    )
    assert result.warnings


def test_to_datetime_drops_unparseable_values_with_warning(check: Checker) -> None:
    result = check(
        'ROW string = ["1953-09-02T00:00:00.000Z", "not a date"]'
        " | EVAL datetime = TO_DATETIME(string) | KEEP datetime",
        [("datetime", "date")],
        [["1953-09-02T00:00:00.000Z"]],
    )
    assert result.warnings


def test_match_filters_on_analysed_text(check: Checker) -> None:
    check(
        'FROM app-logs-* | WHERE MATCH(message, "timeout") | KEEP @timestamp, message'
        " | SORT @timestamp",
        [("@timestamp", "date"), ("message", "text")],
        [
            ["2026-11-25T15:02:00.000Z", "payment gateway timeout error"],
            ["2026-11-25T15:05:00.000Z", "database connection timeout"],
        ],
    )


def test_match_is_case_insensitive_and_matches_whole_terms(check: Checker) -> None:
    check(
        'FROM app-logs-* | WHERE MATCH(message, "TIMEOUT") | STATS n = COUNT(*)',
        [("n", "long")],
        [[2]],
    )
    check(
        'FROM app-logs-* | WHERE MATCH(message, "time") | STATS n = COUNT(*)',
        [("n", "long")],
        [[0]],
    )


def test_match_scores_rows_with_more_terms_higher(q: QueryRunner) -> None:
    result = q(
        'FROM app-logs-* METADATA _score | WHERE MATCH(message, "timeout error")'
        " | KEEP message, _score | SORT _score DESC"
    )
    assert [(c.name, c.type) for c in result.columns] == [("message", "text"), ("_score", "double")]
    assert [row[0] for row in result.values] == [
        "payment gateway timeout error",
        "database connection timeout",
    ]
    scores = [row[1] for row in result.values]
    assert all(isinstance(score, float) and score > 0 for score in scores)
    assert scores[0] > scores[1]


MORE_CASES: list[Case] = [
    pytest.param(
        'ROW a = TRIM("\\t x \\n"), b = LTRIM("\\n y"), c = RTRIM("z \\t")',
        [("a", "keyword"), ("b", "keyword"), ("c", "keyword")],
        [["x", "y", "z"]],
        id="trim-removes-all-whitespace",
    ),
    pytest.param(
        'ROW a = TO_DATETIME("2024-01-01"), b = TO_DATETIME("2024-01-01T01:00:00+01:00"),'
        ' c = TO_DATETIME("2024-01-01T00:00:00.123456Z")',
        [("a", "date"), ("b", "date"), ("c", "date")],
        [["2024-01-01T00:00:00.000Z", "2024-01-01T00:00:00.000Z", "2024-01-01T00:00:00.123Z"]],
        id="to-datetime-accepted-forms",
    ),
    pytest.param(
        "ROW a = TO_STRING(123.0), b = TO_STRING(5.5), c = TO_STRING(1.0E10),"
        " d = TO_STRING(0.0001), e = TO_STRING(-0.5)",
        [("a", "keyword"), ("b", "keyword"), ("c", "keyword"), ("d", "keyword"), ("e", "keyword")],
        [["123.0", "5.5", "1.0E10", "1.0E-4", "-0.5"]],
        id="to-string-of-doubles-prints-like-java",
    ),
    pytest.param(
        'ROW d = TO_DATETIME("2022-05-06T13:45:10.123Z")'
        ' | EVAL a = DATE_FORMAT("MMM dd, yyyy", d), b = DATE_FORMAT("EEE HH:mm:ss.SSS", d),'
        " c = DATE_FORMAT(\"yyyy-MM-dd'T'HH\", d) | KEEP a, b, c",
        [("a", "keyword"), ("b", "keyword"), ("c", "keyword")],
        [["May 06, 2022", "Fri 13:45:10.123", "2022-05-06T13"]],
        id="date-format-java-patterns",
    ),
    pytest.param(
        'ROW a = DATE_PARSE("dd/MM/yyyy HH:mm", "25/11/2026 16:30"),'
        ' b = DATE_PARSE("yyyy-MM-dd\'T\'HH:mm:ss.SSSXXX", "2026-11-25T17:30:00.000+01:00")',
        [("a", "date"), ("b", "date")],
        [["2026-11-25T16:30:00.000Z", "2026-11-25T16:30:00.000Z"]],
        id="date-parse-custom-formats",
    ),
    pytest.param(
        'ROW d = TO_DATETIME("2024-01-03T10:20:30Z") | EVAL w = DATE_TRUNC(1 week, d),'
        " m = DATE_TRUNC(1 month, d), day = DATE_TRUNC(1 day, d), q = DATE_TRUNC(1 quarter, d)"
        " | KEEP w, m, day, q",
        [("w", "date"), ("m", "date"), ("day", "date"), ("q", "date")],
        [
            [
                "2024-01-01T00:00:00.000Z",
                "2024-01-01T00:00:00.000Z",
                "2024-01-03T00:00:00.000Z",
                "2024-01-01T00:00:00.000Z",
            ]
        ],
        id="date-trunc-calendar-units",
    ),
    pytest.param(
        'ROW d = TO_DATETIME("2022-05-06T13:45:10.123Z") | EVAL dom = DATE_EXTRACT("day_of_month",'
        ' d), doy = DATE_EXTRACT("day_of_year", d), s = DATE_EXTRACT("second_of_minute", d)'
        " | KEEP dom, doy, s",
        [("dom", "long"), ("doy", "long"), ("s", "long")],
        [[6, 126, 10]],
        id="date-extract-more-parts",
    ),
    pytest.param(
        'ROW a = SUBSTRING("hello", 0, 1), b = LEFT("hi", 5), c = RIGHT("hi", 5),'
        ' d = SUBSTRING("hello", 4, 10)',
        [("a", "keyword"), ("b", "keyword"), ("c", "keyword"), ("d", "keyword")],
        [["h", "hi", "hi", "lo"]],
        id="substring-left-right-bounds",
    ),
    pytest.param(
        'ROW a = SPLIT("abc", ";"), b = MV_CONCAT("x", ","), c = MV_COUNT(7)',
        [("a", "keyword"), ("b", "keyword"), ("c", "integer")],
        [["abc", "x", 1]],
        id="multivalue-functions-on-single-values",
    ),
    pytest.param(
        'ROW a = REPLACE("abc", "(b)", "[$1]"), b = REPLACE("a.b.c", "\\\\.", "-")',
        [("a", "keyword"), ("b", "keyword")],
        [["a[b]c", "a-b-c"]],
        id="replace-group-references-and-escapes",
    ),
    pytest.param(
        "ROW a = ROUND(1234.5678, -2), b = ROUND(-1234.5678, 1), c = ROUND(5000000000, -9)",
        [("a", "double"), ("b", "double"), ("c", "long")],
        [[1200.0, -1234.6, 5000000000]],
        id="round-negative-decimals",
    ),
    pytest.param(
        'ROW a = TO_UPPER("straße"), b = TO_LOWER("ÀÉÎ"), c = LENGTH("日本語")',
        [("a", "keyword"), ("b", "keyword"), ("c", "integer")],
        [["STRASSE", "àéî", 3]],
        id="unicode-strings",
    ),
]


@pytest.mark.parametrize(("query", "columns", "values"), MORE_CASES)
def test_more_functions(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)
