"""ES|QL processing and source commands, checked against the examples of Elastic's reference.

Each case is a query over the reference catalog (see conftest) with the whole answer that
Elasticsearch gives: every column's name and type, and every row. Sources: the pages under
elastic.co/docs/reference/query-languages/esql/commands/ (FROM, ROW, WHERE, EVAL, STATS,
SORT, LIMIT, KEEP, DROP, RENAME, DISSECT, GROK, MV_EXPAND, LOOKUP JOIN), whose examples run
on Elastic's `employees`, `sample_data` and `languages_lookup` test indices.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from qs_tui.esql import EsqlResult

Checker = Callable[..., EsqlResult]
QueryRunner = Callable[..., EsqlResult]

Case = Any  # a pytest.param(query, columns, values)

EMPLOYEE_COLUMNS = [
    ("avg_worked_seconds", "long"),
    ("birth_date", "date"),
    ("emp_no", "integer"),
    ("first_name", "keyword"),
    ("gender", "keyword"),
    ("height", "double"),
    ("hire_date", "date"),
    ("is_rehired", "boolean"),
    ("job_positions", "keyword"),
    ("languages", "integer"),
    ("last_name", "keyword"),
    ("salary", "integer"),
    ("salary_change", "double"),
    ("still_hired", "boolean"),
]

FROM_CASES: list[Case] = [
    pytest.param(
        "FROM employees | SORT emp_no | LIMIT 1",
        EMPLOYEE_COLUMNS,
        [
            [
                268728049,
                "1953-09-02T00:00:00.000Z",
                10001,
                "Georgi",
                "M",
                2.03,
                "1986-06-26T00:00:00.000Z",
                [False, True],
                ["Accountant", "Senior Python Developer"],
                2,
                "Facello",
                57305,
                1.19,
                True,
            ]
        ],
        id="from-all-columns-in-mapping-order",
    ),
    pytest.param(
        "FROM employees | KEEP emp_no, first_name, last_name, height | SORT emp_no ASC | LIMIT 5",
        [
            ("emp_no", "integer"),
            ("first_name", "keyword"),
            ("last_name", "keyword"),
            ("height", "double"),
        ],
        [
            [10001, "Georgi", "Facello", 2.03],
            [10002, "Bezalel", "Simmel", 2.08],
            [10003, "Parto", "Bamford", 1.83],
            [10004, "Chirstian", "Koblick", 1.78],
            [10005, "Kyoichi", "Maliniak", 2.05],
        ],
        id="from-keep-sort-limit",
    ),
    pytest.param(
        "from sample_data | sort @timestamp desc | limit 2",
        [
            ("@timestamp", "date"),
            ("client_ip", "ip"),
            ("event_duration", "long"),
            ("message", "keyword"),
        ],
        [
            ["2023-10-23T13:55:01.543Z", "172.21.3.15", 1756467, "Connected to 10.1.0.1"],
            ["2023-10-23T13:53:55.832Z", "172.21.3.15", 5033755, "Connection error"],
        ],
        id="from-lowercase-keywords",
    ),
    pytest.param(
        "FROM employees METADATA _index, _id | WHERE emp_no == 10001 | KEEP emp_no, _index, _id",
        [("emp_no", "integer"), ("_index", "keyword"), ("_id", "keyword")],
        [[10001, "employees", "10001"]],
        id="from-metadata-index-id",
    ),
    pytest.param(
        "FROM app-logs-a METADATA _index | SORT @timestamp | LIMIT 1",
        [
            ("@timestamp", "date"),
            ("host.name", "keyword"),
            ("latency_ms", "double"),
            ("level", "keyword"),
            ("message", "text"),
            ("ok", "boolean"),
            ("_index", "keyword"),
        ],
        [["2026-11-25T15:00:00.000Z", "web-1", 12.5, "INFO", "request served", True, "app-logs-a"]],
        id="from-metadata-columns-come-last",
    ),
    pytest.param(
        "FROM app-logs-* METADATA _index | KEEP _index, level | SORT _index, level",
        [("_index", "keyword"), ("level", "keyword")],
        [
            ["app-logs-a", "ERROR"],
            ["app-logs-a", "INFO"],
            ["app-logs-a", "WARN"],
            ["app-logs-b", "ERROR"],
            ["app-logs-b", "INFO"],
        ],
        id="from-wildcard-pattern",
    ),
    pytest.param(
        "FROM app-logs-a, app-logs-b | STATS n = COUNT(*)",
        [("n", "long")],
        [[5]],
        id="from-comma-separated",
    ),
    pytest.param(
        "FROM app-logs-* | KEEP host.name | SORT host.name",
        [("host.name", "keyword")],
        [["web-1"], ["web-1"], ["web-2"], ["web-3"], [None]],
        id="from-dotted-object-field",
    ),
]

ROW_CASES: list[Case] = [
    pytest.param(
        'ROW a = 1, b = "two", c = null',
        [("a", "integer"), ("b", "keyword"), ("c", "null")],
        [[1, "two", None]],
        id="row-literals",
    ),
    pytest.param("ROW a = [2, 1]", [("a", "integer")], [[[2, 1]]], id="row-multivalue"),
    pytest.param("ROW a = ROUND(1.23, 0)", [("a", "double")], [[1.0]], id="row-function"),
    pytest.param(
        "ROW big = 5000000000, small = -7, d = 1.5, t = true, f = false",
        [
            ("big", "long"),
            ("small", "integer"),
            ("d", "double"),
            ("t", "boolean"),
            ("f", "boolean"),
        ],
        [[5000000000, -7, 1.5, True, False]],
        id="row-literal-types",
    ),
    pytest.param(
        'ROW s = "with \\"quotes\\" and \\\\ backslash"',
        [("s", "keyword")],
        [['with "quotes" and \\ backslash']],
        id="row-string-escapes",
    ),
    pytest.param(
        'ROW s = """triple "quoted" \\n raw"""',
        [("s", "keyword")],
        [['triple "quoted" \\n raw']],
        id="row-triple-quoted-string-is-raw",
    ),
]

WHERE_CASES: list[Case] = [
    pytest.param(
        "FROM employees | KEEP first_name, last_name, still_hired | WHERE still_hired == true"
        " | STATS count = COUNT(last_name) BY still_hired",
        [("count", "long"), ("still_hired", "boolean")],
        [[45, True]],
        id="where-boolean-comparison",
    ),
    pytest.param(
        "FROM employees | KEEP first_name, last_name, still_hired | WHERE still_hired"
        " | STATS count = COUNT(last_name) BY still_hired",
        [("count", "long"), ("still_hired", "boolean")],
        [[45, True]],
        id="where-boolean-field",
    ),
    pytest.param(
        "FROM employees | KEEP first_name, last_name, height | WHERE LENGTH(first_name) < 4"
        " | SORT first_name",
        [("first_name", "keyword"), ("last_name", "keyword"), ("height", "double")],
        [
            ["Gao", "Dolinsky", 1.94],
            ["Tse", "Herber", 1.45],
            ["Udi", "Jansch", 1.93],
            ["Uri", "Lenart", 1.75],
        ],
        id="where-function",
    ),
    pytest.param(
        "FROM employees | WHERE salary > 74000 | KEEP emp_no, salary | SORT salary DESC",
        [("emp_no", "integer"), ("salary", "integer")],
        [[10029, 74999], [10045, 74970], [10007, 74572]],
        id="where-comparison",
    ),
    pytest.param(
        "FROM employees | WHERE languages > 4 | STATS n = COUNT(*)",
        [("n", "long")],
        [[21]],
        id="where-null-is-not-true",
    ),
    pytest.param(
        "FROM employees | WHERE NOT languages > 4 | STATS n = COUNT(*)",
        [("n", "long")],
        [[69]],
        id="where-not-null-is-not-true",
    ),
    pytest.param(
        "FROM employees | WHERE emp_no % 20 == 0 | KEEP emp_no, last_name | SORT emp_no",
        [("emp_no", "integer"), ("last_name", "keyword")],
        [
            [10020, "Warwick"],
            [10040, "Meriste"],
            [10060, "Billingsley"],
            [10080, "Baek"],
            [10100, "Haraldson"],
        ],
        id="where-arithmetic",
    ),
    pytest.param(
        'FROM employees | WHERE hire_date >= "1999-01-01" | KEEP emp_no, hire_date',
        [("emp_no", "integer"), ("hire_date", "date")],
        [[10019, "1999-04-30T00:00:00.000Z"]],
        id="where-date-against-string",
    ),
]

EVAL_CASES: list[Case] = [
    pytest.param(
        "FROM employees | SORT emp_no | KEEP first_name, last_name, height"
        " | EVAL height_feet = height * 3.281, height_cm = height * 100 | LIMIT 3",
        [
            ("first_name", "keyword"),
            ("last_name", "keyword"),
            ("height", "double"),
            ("height_feet", "double"),
            ("height_cm", "double"),
        ],
        [
            ["Georgi", "Facello", 2.03, 6.66043, 202.99999999999997],
            ["Bezalel", "Simmel", 2.08, 6.82448, 208.0],
            ["Parto", "Bamford", 1.83, 6.004230000000001, 183.0],
        ],
        id="eval-two-columns",
    ),
    pytest.param(
        "FROM employees | SORT emp_no | KEEP first_name, last_name, height"
        " | EVAL height = height * 3.281 | LIMIT 3",
        [("first_name", "keyword"), ("last_name", "keyword"), ("height", "double")],
        [
            ["Georgi", "Facello", 6.66043],
            ["Bezalel", "Simmel", 6.82448],
            ["Parto", "Bamford", 6.004230000000001],
        ],
        id="eval-overwrites-column",
    ),
    pytest.param(
        "FROM employees | SORT emp_no | KEEP height, first_name"
        " | EVAL height = ROUND(height * 100) | LIMIT 2",
        [("first_name", "keyword"), ("height", "double")],
        [["Georgi", 203.0], ["Bezalel", 208.0]],
        id="eval-overwritten-column-moves-last",
    ),
    pytest.param(
        "ROW a = 1 | EVAL b = a + 1, c = b * 2",
        [("a", "integer"), ("b", "integer"), ("c", "integer")],
        [[1, 2, 4]],
        id="eval-refers-to-earlier-assignment",
    ),
    pytest.param(
        "ROW a = 1 | EVAL a + 1",
        [("a", "integer"), ("a + 1", "integer")],
        [[1, 2]],
        id="eval-unnamed-expression",
    ),
    pytest.param(
        "FROM employees | KEEP emp_no, languages | EVAL type = CASE(languages <= 1,"
        ' "monolingual", languages <= 2, "bilingual", "polyglot") | SORT emp_no | LIMIT 5',
        [("emp_no", "integer"), ("languages", "integer"), ("type", "keyword")],
        [
            [10001, 2, "bilingual"],
            [10002, 5, "polyglot"],
            [10003, 4, "polyglot"],
            [10004, 5, "polyglot"],
            [10005, 1, "monolingual"],
        ],
        id="eval-case",
    ),
]

STATS_CASES: list[Case] = [
    pytest.param(
        "FROM employees | STATS count = COUNT(emp_no) BY languages | SORT languages",
        [("count", "long"), ("languages", "integer")],
        [[15, 1], [19, 2], [17, 3], [18, 4], [21, 5], [10, None]],
        id="stats-count-by",
    ),
    pytest.param(
        "FROM employees | STATS count = COUNT(*) BY languages | SORT languages DESC",
        [("count", "long"), ("languages", "integer")],
        [[10, None], [21, 5], [18, 4], [17, 3], [19, 2], [15, 1]],
        id="stats-count-star-sort-desc-null-first",
    ),
    pytest.param(
        "FROM employees | STATS avg_lang = AVG(languages)",
        [("avg_lang", "double")],
        [[3.1222222222222222]],
        id="stats-without-by",
    ),
    pytest.param(
        "FROM employees | STATS avg_lang = AVG(languages), max_lang = MAX(languages)",
        [("avg_lang", "double"), ("max_lang", "integer")],
        [[3.1222222222222222, 5]],
        id="stats-two-aggregates",
    ),
    pytest.param(
        "FROM employees | STATS n = COUNT(*) BY gender, still_hired | SORT gender, still_hired",
        [("n", "long"), ("gender", "keyword"), ("still_hired", "boolean")],
        [
            [16, "F", False],
            [17, "F", True],
            [32, "M", False],
            [25, "M", True],
            [7, None, False],
            [3, None, True],
        ],
        id="stats-two-groups",
    ),
    pytest.param(
        "FROM employees | STATS BY gender | SORT gender",
        [("gender", "keyword")],
        [["F"], ["M"], [None]],
        id="stats-only-groups",
    ),
    pytest.param(
        'FROM employees | STATS avg50s = AVG(salary)::LONG WHERE birth_date < "1960-01-01",'
        ' avg60s = AVG(salary)::LONG WHERE birth_date >= "1960-01-01" BY gender'
        " | SORT gender",
        [("avg50s", "long"), ("avg60s", "long"), ("gender", "keyword")],
        [[55462, 46637, "F"], [48279, 44879, "M"], [47129, 51208, None]],
        id="stats-per-aggregate-where",
    ),
    pytest.param(
        "FROM employees | STATS n = COUNT(*), still = COUNT(*) WHERE still_hired,"
        " gone = COUNT(*) WHERE NOT still_hired",
        [("n", "long"), ("still", "long"), ("gone", "long")],
        [[100, 45, 55]],
        id="stats-filtered-and-unfiltered",
    ),
    pytest.param(
        "FROM employees | STATS my_count = COUNT() BY LEFT(last_name, 1)"
        " | SORT `LEFT(last_name, 1)` | LIMIT 4",
        [("my_count", "long"), ("LEFT(last_name, 1)", "keyword")],
        [[2, "A"], [11, "B"], [5, "C"], [5, "D"]],
        id="stats-group-by-expression-named-by-text",
    ),
    pytest.param(
        "FROM employees | STATS avg_salary_change = ROUND(AVG(MV_AVG(salary_change)), 10)",
        [("avg_salary_change", "double")],
        [[1.3904535865]],
        id="stats-expression-over-aggregate",
    ),
    pytest.param(
        "FROM employees | STATS AVG(salary)",
        [("AVG(salary)", "double")],
        [[48248.55]],
        id="stats-unnamed-aggregate",
    ),
    pytest.param(
        'FROM employees | WHERE hire_date >= "1985-01-01T00:00:00Z"'
        ' AND hire_date < "1986-01-01T00:00:00Z" | STATS hires_per_month = COUNT(*)'
        ' BY month = BUCKET(hire_date, 20, "1985-01-01T00:00:00Z", "1986-01-01T00:00:00Z")'
        " | SORT month",
        [("hires_per_month", "long"), ("month", "date")],
        [
            [2, "1985-02-01T00:00:00.000Z"],
            [1, "1985-05-01T00:00:00.000Z"],
            [1, "1985-07-01T00:00:00.000Z"],
            [1, "1985-09-01T00:00:00.000Z"],
            [2, "1985-10-01T00:00:00.000Z"],
            [4, "1985-11-01T00:00:00.000Z"],
        ],
        id="stats-bucket-auto-span",
    ),
    pytest.param(
        'FROM employees | WHERE hire_date >= "1985-01-01T00:00:00Z"'
        ' AND hire_date < "1986-01-01T00:00:00Z"'
        " | STATS hires_per_month = COUNT(*) BY month = BUCKET(hire_date, 1 month)"
        " | SORT month",
        [("hires_per_month", "long"), ("month", "date")],
        [
            [2, "1985-02-01T00:00:00.000Z"],
            [1, "1985-05-01T00:00:00.000Z"],
            [1, "1985-07-01T00:00:00.000Z"],
            [1, "1985-09-01T00:00:00.000Z"],
            [2, "1985-10-01T00:00:00.000Z"],
            [4, "1985-11-01T00:00:00.000Z"],
        ],
        id="stats-bucket-calendar-span",
    ),
    pytest.param(
        'FROM employees | WHERE hire_date >= "1985-01-01T00:00:00Z"'
        ' AND hire_date < "1986-01-01T00:00:00Z"'
        " | STATS c = COUNT(1) BY b = BUCKET(salary, 5000.) | SORT b",
        [("c", "long"), ("b", "double")],
        [
            [1, 25000.0],
            [1, 30000.0],
            [1, 40000.0],
            [2, 45000.0],
            [2, 50000.0],
            [1, 55000.0],
            [1, 60000.0],
            [1, 65000.0],
            [1, 70000.0],
        ],
        id="stats-bucket-numeric",
    ),
    pytest.param(
        "FROM sample_data | STATS c = COUNT(*) BY hour = BUCKET(@timestamp, 1 hour) | SORT hour",
        [("c", "long"), ("hour", "date")],
        [[2, "2023-10-23T12:00:00.000Z"], [5, "2023-10-23T13:00:00.000Z"]],
        id="stats-bucket-hour",
    ),
    pytest.param(
        "FROM app-logs-* | STATS n = COUNT(*), worst = MAX(latency_ms)"
        " BY t = BUCKET(@timestamp, 5 minutes) | SORT t",
        [("n", "long"), ("worst", "double"), ("t", "date")],
        [
            [2, 1200.0, "2026-11-25T15:00:00.000Z"],
            [2, 950.0, "2026-11-25T15:05:00.000Z"],
            [1, None, "2026-11-25T15:10:00.000Z"],
        ],
        id="stats-bucket-five-minutes",
    ),
    pytest.param(
        "FROM sample_data | STATS median_duration = MEDIAN(event_duration) BY client_ip"
        " | SORT client_ip",
        [("median_duration", "double"), ("client_ip", "ip")],
        [
            [1232382.0, "172.21.0.5"],
            [2764889.0, "172.21.2.113"],
            [3450233.0, "172.21.2.162"],
            [3395111.0, "172.21.3.15"],
        ],
        id="stats-by-ip",
    ),
    pytest.param(
        "FROM employees | STATS n = COUNT(*), sx = SUM(emp_no), sy = SUM(salary),"
        " sxy = SUM(emp_no * salary), sxx = SUM(emp_no * emp_no) BY gender"
        " | EVAL slope = (n * sxy - sx * sy) / (n * sxx - sx * sx)"
        " | KEEP gender, n, slope | SORT gender",
        [("gender", "keyword"), ("n", "long"), ("slope", "long")],
        [["F", 33, -117], ["M", 57, -60], [None, 10, 3064]],
        id="stats-least-squares-slope-long-division-truncates",
    ),
    pytest.param(
        "FROM employees | STATS n = COUNT(*), sx = SUM(emp_no), sy = SUM(salary),"
        " sxy = SUM(emp_no * salary), sxx = SUM(emp_no * emp_no) BY gender"
        " | EVAL slope = ROUND(TO_DOUBLE(n * sxy - sx * sy) / (n * sxx - sx * sx), 6)"
        " | KEEP gender, n, slope | SORT gender",
        [("gender", "keyword"), ("n", "long"), ("slope", "double")],
        [["F", 33, -117.030146], ["M", 57, -60.365999], [None, 10, 3064.733333]],
        id="stats-least-squares-slope-double",
    ),
]

SORT_LIMIT_CASES: list[Case] = [
    pytest.param(
        "FROM employees | KEEP first_name, last_name, height | SORT height, first_name | LIMIT 3",
        [("first_name", "keyword"), ("last_name", "keyword"), ("height", "double")],
        [
            ["Mayuko", "Warwick", 1.41],
            ["Breannda", "Billingsley", 1.42],
            ["Vishv", "Zockler", 1.42],
        ],
        id="sort-two-keys",
    ),
    pytest.param(
        "FROM employees | KEEP first_name, last_name, height"
        " | SORT height DESC, first_name ASC | LIMIT 5",
        [("first_name", "keyword"), ("last_name", "keyword"), ("height", "double")],
        [
            ["Arumugam", "Ossenbruggen", 2.1],
            ["Kwee", "Schusler", 2.1],
            ["Saniya", "Kalloufi", 2.1],
            ["Yongqiao", "Berztiss", 2.1],
            [None, "Reistad", 2.1],
        ],
        id="sort-desc-then-asc-nulls-last",
    ),
    pytest.param(
        "FROM employees | KEEP first_name, last_name, height"
        " | SORT first_name ASC NULLS FIRST, height | LIMIT 3",
        [("first_name", "keyword"), ("last_name", "keyword"), ("height", "double")],
        [[None, "Swan", 1.46], [None, "Lortz", 1.53], [None, "Brender", 1.55]],
        id="sort-nulls-first",
    ),
    pytest.param(
        "FROM employees | KEEP emp_no, first_name | SORT first_name DESC, emp_no | LIMIT 2",
        [("emp_no", "integer"), ("first_name", "keyword")],
        [[10030, None], [10031, None]],
        id="sort-desc-default-nulls-first",
    ),
    pytest.param(
        "FROM employees | KEEP emp_no, first_name | SORT first_name DESC NULLS LAST | LIMIT 2",
        [("emp_no", "integer"), ("first_name", "keyword")],
        [[10047, "Zvonko"], [10081, "Zhongwei"]],
        id="sort-desc-nulls-last",
    ),
    pytest.param(
        "FROM employees | WHERE emp_no <= 10005 | KEEP emp_no, salary_change | SORT salary_change",
        [("emp_no", "integer"), ("salary_change", "double")],
        [
            [10002, [-7.23, 11.17]],
            [10005, [-2.14, 13.07]],
            [10004, [-0.35, 1.13, 3.65, 13.48]],
            [10001, 1.19],
            [10003, [12.82, 14.68]],
        ],
        id="sort-multivalue-ascending-uses-minimum",
    ),
    pytest.param(
        "FROM employees | WHERE emp_no <= 10005 | KEEP emp_no, salary_change"
        " | SORT salary_change DESC",
        [("emp_no", "integer"), ("salary_change", "double")],
        [
            [10003, [12.82, 14.68]],
            [10004, [-0.35, 1.13, 3.65, 13.48]],
            [10005, [-2.14, 13.07]],
            [10002, [-7.23, 11.17]],
            [10001, 1.19],
        ],
        id="sort-multivalue-descending-uses-maximum",
    ),
    pytest.param(
        "FROM employees | SORT emp_no DESC | KEEP emp_no | LIMIT 2",
        [("emp_no", "integer")],
        [[10100], [10099]],
        id="limit",
    ),
    pytest.param(
        "FROM employees | SORT emp_no | LIMIT 3 | LIMIT 10 | KEEP emp_no",
        [("emp_no", "integer")],
        [[10001], [10002], [10003]],
        id="limit-smallest-wins",
    ),
    pytest.param(
        "FROM employees | KEEP emp_no | LIMIT 0",
        [("emp_no", "integer")],
        [],
        id="limit-zero-keeps-columns",
    ),
]

KEEP_DROP_RENAME_CASES: list[Case] = [
    pytest.param(
        "FROM employees | KEEP h* | LIMIT 0",
        [("height", "double"), ("hire_date", "date")],
        [],
        id="keep-wildcard",
    ),
    pytest.param(
        "FROM employees | KEEP h*, * | LIMIT 0",
        [("height", "double"), ("hire_date", "date")]
        + [c for c in EMPLOYEE_COLUMNS if not c[0].startswith("h")],
        [],
        id="keep-double-wildcard",
    ),
    pytest.param(
        "FROM employees | KEEP first_name, last_name, first_name* | LIMIT 0",
        [("first_name", "keyword"), ("last_name", "keyword")],
        [],
        id="keep-complete-name-wins",
    ),
    pytest.param(
        "FROM employees | KEEP first_name*, last_name, first_na* | LIMIT 0",
        [("last_name", "keyword"), ("first_name", "keyword")],
        [],
        id="keep-wildcard-precedence",
    ),
    pytest.param(
        "FROM employees | KEEP *, first_name | LIMIT 0",
        [c for c in EMPLOYEE_COLUMNS if c[0] != "first_name"] + [("first_name", "keyword")],
        [],
        id="keep-star-is-lowest",
    ),
    pytest.param(
        "FROM employees | KEEP *name | LIMIT 0",
        [("first_name", "keyword"), ("last_name", "keyword")],
        [],
        id="keep-leading-wildcard",
    ),
    pytest.param(
        "FROM employees | DROP height | LIMIT 0",
        [c for c in EMPLOYEE_COLUMNS if c[0] != "height"],
        [],
        id="drop",
    ),
    pytest.param(
        "FROM employees | DROP height*, *_date, s*, j*, a*, i* | LIMIT 0",
        [
            ("emp_no", "integer"),
            ("first_name", "keyword"),
            ("gender", "keyword"),
            ("languages", "integer"),
            ("last_name", "keyword"),
        ],
        [],
        id="drop-wildcards",
    ),
    pytest.param(
        "FROM employees | KEEP first_name, last_name, still_hired"
        " | RENAME still_hired AS employed | SORT first_name | LIMIT 1",
        [("first_name", "keyword"), ("last_name", "keyword"), ("employed", "boolean")],
        [["Alejandro", "McAlpine", False]],
        id="rename",
    ),
    pytest.param(
        "FROM employees | KEEP first_name, last_name | RENAME first_name AS fn, last_name AS ln"
        " | SORT ln | LIMIT 1",
        [("fn", "keyword"), ("ln", "keyword")],
        [["Satosi", "Awdeh"]],
        id="rename-several",
    ),
    pytest.param(
        "FROM employees | KEEP first_name, last_name | RENAME first_name AS fn"
        " | RENAME last_name AS ln | SORT ln | LIMIT 1",
        [("fn", "keyword"), ("ln", "keyword")],
        [["Satosi", "Awdeh"]],
        id="rename-chained",
    ),
]

DISSECT_GROK_CASES: list[Case] = [
    pytest.param(
        'ROW a = "2023-01-23T12:15:00.000Z - some text - 127.0.0.1"'
        ' | DISSECT a """%{date} - %{msg} - %{ip}""" | KEEP date, msg, ip',
        [("date", "keyword"), ("msg", "keyword"), ("ip", "keyword")],
        [["2023-01-23T12:15:00.000Z", "some text", "127.0.0.1"]],
        id="dissect",
    ),
    pytest.param(
        'ROW a = "2023-01-23T12:15:00.000Z - some text - 127.0.0.1"'
        ' | DISSECT a "%{date} - %{msg} - %{ip}"',
        [("a", "keyword"), ("date", "keyword"), ("msg", "keyword"), ("ip", "keyword")],
        [
            [
                "2023-01-23T12:15:00.000Z - some text - 127.0.0.1",
                "2023-01-23T12:15:00.000Z",
                "some text",
                "127.0.0.1",
            ]
        ],
        id="dissect-appends-columns",
    ),
    pytest.param(
        'ROW a = "2023-01-23T12:15:00.000Z - some text - 127.0.0.1"'
        ' | DISSECT a """%{date} - %{msg} - %{ip}""" | KEEP date, msg, ip'
        " | EVAL date = TO_DATETIME(date)",
        [("msg", "keyword"), ("ip", "keyword"), ("date", "date")],
        [["some text", "127.0.0.1", "2023-01-23T12:15:00.000Z"]],
        id="dissect-then-to-datetime",
    ),
    pytest.param(
        'ROW message = "1998-08-10T17:15:42          WARN"'
        ' | DISSECT message """%{ts->} %{level}"""',
        [("message", "keyword"), ("ts", "keyword"), ("level", "keyword")],
        [["1998-08-10T17:15:42          WARN", "1998-08-10T17:15:42", "WARN"]],
        id="dissect-right-padding",
    ),
    pytest.param(
        'ROW message = "john jacob jingleheimer schmidt"'
        ' | DISSECT message """%{+name} %{+name} %{+name} %{+name}""" APPEND_SEPARATOR = " "',
        [("message", "keyword"), ("name", "keyword")],
        [["john jacob jingleheimer schmidt", "john jacob jingleheimer schmidt"]],
        id="dissect-append-separator",
    ),
    pytest.param(
        'ROW message = "1.2.3.4 - - 30/Apr/1998:22:00:52 +0000"'
        ' | DISSECT message """%{clientip} %{?ident} %{?auth} %{@timestamp}"""',
        [("message", "keyword"), ("clientip", "keyword"), ("@timestamp", "keyword")],
        [["1.2.3.4 - - 30/Apr/1998:22:00:52 +0000", "1.2.3.4", "30/Apr/1998:22:00:52 +0000"]],
        id="dissect-named-skip-key",
    ),
    pytest.param(
        'ROW a = "no separators" | DISSECT a "%{x} - %{y}"',
        [("a", "keyword"), ("x", "keyword"), ("y", "keyword")],
        [["no separators", None, None]],
        id="dissect-no-match-gives-nulls",
    ),
    pytest.param(
        'FROM sample_data | WHERE message LIKE "Connected*"'
        ' | DISSECT message "Connected to %{server_ip}" | KEEP server_ip | SORT server_ip',
        [("server_ip", "keyword")],
        [["10.1.0.1"], ["10.1.0.2"], ["10.1.0.3"]],
        id="dissect-over-index",
    ),
    pytest.param(
        'ROW a = "2023-01-23T12:15:00.000Z 127.0.0.1 some.email@foo.com 42"'
        ' | GROK a """%{TIMESTAMP_ISO8601:date} %{IP:ip} %{EMAILADDRESS:email} %{NUMBER:num}"""'
        " | KEEP date, ip, email, num",
        [("date", "keyword"), ("ip", "keyword"), ("email", "keyword"), ("num", "keyword")],
        [["2023-01-23T12:15:00.000Z", "127.0.0.1", "some.email@foo.com", "42"]],
        id="grok",
    ),
    pytest.param(
        'ROW a = "2023-01-23T12:15:00.000Z 127.0.0.1 some.email@foo.com 42"'
        ' | GROK a """%{TIMESTAMP_ISO8601:date} %{IP:ip} %{EMAILADDRESS:email}'
        ' %{NUMBER:num:int}""" | KEEP date, ip, email, num',
        [("date", "keyword"), ("ip", "keyword"), ("email", "keyword"), ("num", "integer")],
        [["2023-01-23T12:15:00.000Z", "127.0.0.1", "some.email@foo.com", 42]],
        id="grok-conversion-suffix",
    ),
    pytest.param(
        'ROW a = "1.2.3.4 [2023-01-23T12:15:00.000Z] Connected"'
        ' | GROK a "%{IP:ip} \\\\[%{TIMESTAMP_ISO8601:@timestamp}\\\\] %{GREEDYDATA:status}"'
        " | KEEP @timestamp",
        [("@timestamp", "keyword")],
        [["2023-01-23T12:15:00.000Z"]],
        id="grok-escaped-brackets",
    ),
    pytest.param(
        'ROW a = "1.2.3.4 [2023-01-23T12:15:00.000Z] Connected"'
        ' | GROK a """%{IP:ip} \\[%{TIMESTAMP_ISO8601:@timestamp}\\] %{GREEDYDATA:status}"""'
        " | KEEP ip, status",
        [("ip", "keyword"), ("status", "keyword")],
        [["1.2.3.4", "Connected"]],
        id="grok-triple-quotes",
    ),
    pytest.param(
        'ROW line = "GET /index.html 200 0.25" | GROK line'
        ' "%{WORD:verb} %{NOTSPACE:path} %{INT:status:int} %{NUMBER:took:float}"'
        " | KEEP verb, path, status, took",
        [("verb", "keyword"), ("path", "keyword"), ("status", "integer"), ("took", "double")],
        [["GET", "/index.html", 200, 0.25]],
        id="grok-int-and-float-suffixes",
    ),
    pytest.param(
        'ROW a = "not an address" | GROK a "%{IP:ip}"',
        [("a", "keyword"), ("ip", "keyword")],
        [["not an address", None]],
        id="grok-no-match-gives-null",
    ),
]

MV_EXPAND_CASES: list[Case] = [
    pytest.param(
        'ROW a = [1, 2, 3], b = "b", j = ["a", "b"] | MV_EXPAND a',
        [("a", "integer"), ("b", "keyword"), ("j", "keyword")],
        [[1, "b", ["a", "b"]], [2, "b", ["a", "b"]], [3, "b", ["a", "b"]]],
        id="mv-expand-row",
    ),
    pytest.param(
        "FROM employees | WHERE emp_no == 10001 | KEEP emp_no, job_positions"
        " | MV_EXPAND job_positions",
        [("emp_no", "integer"), ("job_positions", "keyword")],
        [[10001, "Accountant"], [10001, "Senior Python Developer"]],
        id="mv-expand-index-field",
    ),
    pytest.param(
        "FROM employees | WHERE emp_no == 10003 | KEEP emp_no, job_positions"
        " | MV_EXPAND job_positions",
        [("emp_no", "integer"), ("job_positions", "keyword")],
        [[10003, None]],
        id="mv-expand-keeps-null-row",
    ),
    pytest.param(
        "FROM employees | MV_EXPAND job_positions | STATS n = COUNT(*) BY job_positions"
        " | SORT n DESC, job_positions | LIMIT 3",
        [("n", "long"), ("job_positions", "keyword")],
        [[20, "Principal Support Engineer"], [20, "Senior Python Developer"], [18, "Accountant"]],
        id="mv-expand-then-stats",
    ),
]

LOOKUP_JOIN_CASES: list[Case] = [
    pytest.param(
        "FROM employees | EVAL language_code = languages"
        " | LOOKUP JOIN languages_lookup ON language_code"
        " | WHERE emp_no >= 10091 AND emp_no < 10094"
        " | KEEP emp_no, language_code, language_name | SORT emp_no",
        [("emp_no", "integer"), ("language_code", "integer"), ("language_name", "keyword")],
        [[10091, 3, "Spanish"], [10092, 1, "English"], [10093, 3, "Spanish"]],
        id="lookup-join",
    ),
    pytest.param(
        "FROM employees | KEEP emp_no, languages | EVAL language_code = languages"
        " | LOOKUP JOIN languages_lookup ON language_code"
        " | WHERE emp_no IN (10001, 10002, 10020) | SORT emp_no",
        [
            ("emp_no", "integer"),
            ("languages", "integer"),
            ("language_code", "integer"),
            ("language_name", "keyword"),
        ],
        [[10001, 2, 2, "French"], [10002, 5, 5, None], [10020, None, None, None]],
        id="lookup-join-unmatched-rows-get-nulls",
    ),
    pytest.param(
        "FROM employees | EVAL language_code = languages"
        " | LOOKUP JOIN languages_lookup ON language_code"
        " | STATS n = COUNT(*) BY language_name | SORT language_name",
        [("n", "long"), ("language_name", "keyword")],
        [[15, "English"], [19, "French"], [18, "German"], [17, "Spanish"], [31, None]],
        id="lookup-join-then-stats",
    ),
]


@pytest.mark.parametrize(("query", "columns", "values"), FROM_CASES)
def test_from(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)


@pytest.mark.parametrize(("query", "columns", "values"), ROW_CASES)
def test_row(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)


@pytest.mark.parametrize(("query", "columns", "values"), WHERE_CASES)
def test_where(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)


@pytest.mark.parametrize(("query", "columns", "values"), EVAL_CASES)
def test_eval(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)


@pytest.mark.parametrize(("query", "columns", "values"), STATS_CASES)
def test_stats(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)


@pytest.mark.parametrize(("query", "columns", "values"), SORT_LIMIT_CASES)
def test_sort_and_limit(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)


@pytest.mark.parametrize(("query", "columns", "values"), KEEP_DROP_RENAME_CASES)
def test_keep_drop_rename(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)


@pytest.mark.parametrize(("query", "columns", "values"), DISSECT_GROK_CASES)
def test_dissect_and_grok(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)


@pytest.mark.parametrize(("query", "columns", "values"), MV_EXPAND_CASES)
def test_mv_expand(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)


@pytest.mark.parametrize(("query", "columns", "values"), LOOKUP_JOIN_CASES)
def test_lookup_join(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)


def test_explicit_limit_adds_no_default_limit_warning(q: QueryRunner) -> None:
    result = q("FROM employees | KEEP emp_no | LIMIT 5")
    assert len(result.values) == 5
    assert not any("default limit" in warning for warning in result.warnings)


def test_parameters_positional_and_named(q: QueryRunner) -> None:
    positional = q(
        "FROM employees | WHERE emp_no == ? AND first_name == ? | KEEP emp_no, last_name",
        10001,
        "Georgi",
    )
    numbered = q(
        "FROM employees | WHERE emp_no == ?1 OR emp_no == ?2 | KEEP emp_no | SORT emp_no",
        10002,
        10001,
    )
    named = q("FROM employees | WHERE salary > ?floor | KEEP emp_no | SORT emp_no", floor=74900)
    assert positional.values == [[10001, "Facello"]]
    assert numbered.values == [[10001], [10002]]
    assert named.values == [[10029], [10045]]


def test_string_parameter_is_a_value_not_query_text(q: QueryRunner) -> None:
    # A parameter that looks like ES|QL must be compared as a string, never parsed.
    result = q(
        "FROM employees | WHERE last_name == ?name | KEEP emp_no",
        name='Facello" OR emp_no > 0 OR last_name == "',
    )
    assert [(c.name, c.type) for c in result.columns] == [("emp_no", "integer")]
    assert result.values == []


MORE_CASES: list[Case] = [
    pytest.param(
        'ROW s = "1 2 3" | DISSECT s "%{a} %{b}"',
        [("s", "keyword"), ("a", "keyword"), ("b", "keyword")],
        [["1 2 3", "1", "2 3"]],
        id="dissect-last-key-takes-the-rest",
    ),
    pytest.param(
        'ROW s = "hello world" | GROK s "%{WORD:x}"',
        [("s", "keyword"), ("x", "keyword")],
        [["hello world", "hello"]],
        id="grok-matches-anywhere-first-match",
    ),
    pytest.param(
        'ROW s = "x=1 y=2" | GROK s "y=%{INT:y:int}"',
        [("s", "keyword"), ("y", "integer")],
        [["x=1 y=2", 2]],
        id="grok-unanchored-with-suffix",
    ),
    pytest.param(
        "FROM employees // every employee\n| KEEP emp_no /* just the id */ | SORT emp_no | LIMIT 1",
        [("emp_no", "integer")],
        [[10001]],
        id="comments-are-ignored",
    ),
    pytest.param(
        "FROM employees | KEEP emp_no, emp_no | LIMIT 0",
        [("emp_no", "integer")],
        [],
        id="keep-same-column-twice",
    ),
    pytest.param(
        "FROM employees | SORT emp_no | LIMIT 10 | STATS s = SUM(salary)",
        [("s", "long")],
        [[565967]],
        id="limit-before-stats",
    ),
    pytest.param(
        "FROM employees | STATS spread = MAX(salary) - MIN(salary) BY gender | SORT gender",
        [("spread", "integer"), ("gender", "keyword")],
        [[48596, "F"], [49054, "M"], [48393, None]],
        id="stats-arithmetic-over-aggregates",
    ),
    pytest.param(
        "FROM employees | STATS c = COUNT(*) BY bs = BUCKET(salary, 20, 25324, 74999) | SORT bs",
        [("c", "long"), ("bs", "double")],
        [
            [9, 25000.0],
            [9, 30000.0],
            [18, 35000.0],
            [11, 40000.0],
            [11, 45000.0],
            [10, 50000.0],
            [7, 55000.0],
            [9, 60000.0],
            [8, 65000.0],
            [8, 70000.0],
        ],
        id="stats-bucket-numeric-auto-span",
    ),
    pytest.param(
        "FROM app-logs-* METADATA _index | STATS n = COUNT(*) BY _index | SORT _index",
        [("n", "long"), ("_index", "keyword")],
        [[3, "app-logs-a"], [2, "app-logs-b"]],
        id="stats-by-index-metadata",
    ),
    pytest.param(
        'ROW zip_code = "1016 ED" | GROK zip_code """%{WORD:zip_parts} %{WORD:zip_parts}"""',
        [("zip_code", "keyword"), ("zip_parts", "keyword")],
        [["1016 ED", ["1016", "ED"]]],
        id="grok-repeated-name-is-multivalued",
    ),
    pytest.param(
        'FROM employees | WHERE emp_no == 10030 | DISSECT first_name "%{a} %{b}" | KEEP a, b',
        [("a", "keyword"), ("b", "keyword")],
        [[None, None]],
        id="dissect-of-null-gives-nulls",
    ),
    pytest.param(
        "FROM app-logs-a | LOOKUP JOIN host_owners ON host.name"
        " | KEEP @timestamp, host.name, owner | SORT @timestamp, owner",
        [("@timestamp", "date"), ("host.name", "keyword"), ("owner", "keyword")],
        [
            ["2026-11-25T15:00:00.000Z", "web-1", "alice"],
            ["2026-11-25T15:00:00.000Z", "web-1", "bob"],
            ["2026-11-25T15:05:00.000Z", "web-1", "alice"],
            ["2026-11-25T15:05:00.000Z", "web-1", "bob"],
            ["2026-11-25T15:10:00.000Z", "web-2", "carol"],
        ],
        id="lookup-join-several-matches-repeat-the-row",
    ),
    pytest.param(
        "FROM app-logs-a | LOOKUP JOIN host_owners ON host.name | SORT @timestamp, owner | LIMIT 1",
        [
            ("@timestamp", "date"),
            ("host.name", "keyword"),
            ("latency_ms", "double"),
            ("message", "text"),
            ("ok", "boolean"),
            ("level", "keyword"),
            ("owner", "keyword"),
        ],
        [["2026-11-25T15:00:00.000Z", "web-1", 12.5, "request served", True, "gold", "alice"]],
        id="lookup-join-lookup-fields-win-and-come-last",
    ),
]


@pytest.mark.parametrize(("query", "columns", "values"), MORE_CASES)
def test_more_commands(check: Checker, query: str, columns: Any, values: Any) -> None:
    check(query, columns, values)
