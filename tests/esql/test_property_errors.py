"""Property: whatever query the engine is given, it answers or fails with an `EsqlError` that
points at a place in the query — never another exception (a polars panic included).

Hypothesis generates queries from the commands, functions, operators, casts and literal kinds
the engine supports (and a few it does not), over an index with a column of every common type.
The profile is derandomized with a fixed number of examples and no deadline, so the test is
the same on every run and does not depend on the speed of the machine.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qs_tui.esql import EsqlError, run_query
from qs_tui.esql.aggregates import AGGREGATE_NAMES
from qs_tui.esql.parser import allow_deep_expressions
from tests.esql.conftest import FIXED_NOW
from tests.esql.tables import MemoryCatalog, typed_index

TYPES = {
    "i": "integer",
    "l": "long",
    "d": "double",
    "k": "keyword",
    "b": "boolean",
    "t": "date",
    "m": "integer",  # multi-valued
}
ROWS = [
    {"i": 1, "l": 9223372036854775807, "d": 1.5, "k": "a", "b": True, "t": FIXED_NOW, "m": [1, 2]},
    {"i": -2147483648, "l": -1, "d": -0.0, "k": "2026-11-25", "b": False, "t": None, "m": [3]},
    {"i": None, "l": None, "d": None, "k": None, "b": None, "t": FIXED_NOW, "m": None},
    {"i": 0, "l": 0, "d": 1e308, "k": "", "b": True, "t": FIXED_NOW, "m": [0, 0, 5]},
]
CATALOG = MemoryCatalog.of(typed_index("t", TYPES, ROWS))
# The engine raises Python's recursion limit on first use; doing it now keeps Hypothesis from
# warning that the limit changed while it ran.
allow_deep_expressions()
COLUMNS = [*TYPES, "nope"]

# Scalar functions by name (a few unknown ones too, which must be refused by name).
FUNCTIONS = [
    "ABS", "CEIL", "FLOOR", "ROUND", "SQRT", "POW", "EXP", "LOG", "LOG10", "SIGNUM",
    "GREATEST", "LEAST", "PI", "E", "CONCAT", "LENGTH", "SUBSTRING", "TO_LOWER", "TO_UPPER",
    "TRIM", "STARTS_WITH", "ENDS_WITH", "REPLACE", "LEFT", "RIGHT", "SPLIT", "LOCATE", "NOW",
    "DATE_TRUNC", "DATE_DIFF", "DATE_EXTRACT", "DATE_FORMAT", "DATE_PARSE", "TO_DATETIME",
    "CASE", "COALESCE", "TO_STRING", "TO_LONG", "TO_INTEGER", "TO_DOUBLE", "TO_BOOLEAN",
    "TO_IP", "TO_VERSION", "MV_COUNT", "MV_MIN", "MV_MAX", "MV_AVG", "MV_SUM", "MV_FIRST",
    "MV_LAST", "MV_CONCAT", "MV_DEDUPE", "MV_SORT", "MV_MEDIAN", "BUCKET", "NO_SUCH_FN",
]  # fmt: skip
CAST_TYPES = ["integer", "long", "double", "keyword", "boolean", "datetime", "ip", "version"]
BINARY_OPERATORS = ["+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "AND", "OR"]

literals = st.one_of(
    st.sampled_from(
        ["0", "1", "-1", "2147483647", "-2147483648", "9223372036854775807", "18446744073709551615"]
    ),
    st.sampled_from(["1.5", "-0.0", "1e308", "0.1", "1e-300"]),
    st.sampled_from(['"a"', '""', '"2026-11-25"', '"2026-11-25T16:00:00Z"', '"true"', '"1.5"']),
    st.sampled_from(["true", "false", "null"]),
    st.sampled_from(["[1, 2, 3]", "[1.5, -2.0]", '["x", "y"]', "[true, false, true]"]),
    st.sampled_from(["1 day", "15 minutes", "1 month", '"day"', '"yyyy-MM-dd"']),
)
leaves = st.one_of(literals, st.sampled_from(COLUMNS))


def _extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Compound expressions, each in parentheses so that every one is grammatical."""
    pair = st.tuples(children, st.sampled_from(BINARY_OPERATORS), children)
    return st.one_of(
        pair.map(lambda p: f"({p[0]} {p[1]} {p[2]})"),
        children.map(lambda c: f"(NOT {c})"),
        children.map(lambda c: f"(-{c})"),
        st.tuples(children, st.sampled_from(CAST_TYPES)).map(lambda p: f"({p[0]})::{p[1]}"),
        children.map(lambda c: f"({c} IS NULL)"),
        st.tuples(children, st.lists(children, min_size=1, max_size=3)).map(
            lambda p: f"({p[0]} IN ({', '.join(p[1])}))"
        ),
        children.map(lambda c: f'({c} LIKE "a*")'),
        st.tuples(st.sampled_from(FUNCTIONS), st.lists(children, max_size=3)).map(
            lambda p: f"{p[0]}({', '.join(p[1])})"
        ),
    )


untyped = st.recursive(leaves, _extend, max_leaves=6)


def _call(name: str, *args: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(*args).map(lambda parts: f"{name}({', '.join(parts)})")


def _infix(
    left: st.SearchStrategy[str], ops: list[str], right: st.SearchStrategy[str]
) -> st.SearchStrategy[str]:
    return st.tuples(left, st.sampled_from(ops), right).map(lambda p: f"({p[0]} {p[1]} {p[2]})")


# Well-typed expressions by type, so that most queries get past type checking and run.
numbers: st.SearchStrategy[str] = st.deferred(
    lambda: st.one_of(
        st.sampled_from(["i", "l", "d", "m", "0", "1", "-1", "2147483647", "9223372036854775807"]),
        st.sampled_from(["1.5", "1e308", "-0.0", "null", "[1, 2, 3]", "18446744073709551615"]),
        _infix(numbers, ["+", "-", "*", "/", "%"], numbers),
        st.tuples(
            st.sampled_from(["ABS", "CEIL", "FLOOR", "SQRT", "EXP", "LOG10", "SIGNUM", "ROUND"]),
            numbers,
        ).map(lambda p: f"{p[0]}({p[1]})"),
        st.tuples(
            st.sampled_from(["MV_SUM", "MV_MIN", "MV_MAX", "MV_AVG", "MV_MEDIAN"]), numbers
        ).map(lambda p: f"{p[0]}({p[1]})"),
        st.tuples(
            st.sampled_from(["POW", "GREATEST", "LEAST", "COALESCE", "ROUND", "LOG"]),
            numbers,
            numbers,
        ).map(lambda p: f"{p[0]}({p[1]}, {p[2]})"),
        st.tuples(
            st.sampled_from(["TO_LONG", "TO_INTEGER", "TO_DOUBLE"]), st.one_of(numbers, strings)
        ).map(lambda p: f"{p[0]}({p[1]})"),
        st.tuples(numbers, st.sampled_from(["long", "integer", "double"])).map(
            lambda p: f"({p[0]})::{p[1]}"
        ),
        _call("CASE", booleans, numbers, numbers),
        _call("LENGTH", strings),
        _call("MV_COUNT", st.one_of(numbers, strings)),
        _call("LOCATE", strings, strings),
        _call("DATE_DIFF", st.sampled_from(['"day"', '"second"', '"year"']), dates, dates),
        _call("DATE_EXTRACT", st.sampled_from(['"year"', '"hour_of_day"']), dates),
    )
)
strings: st.SearchStrategy[str] = st.deferred(
    lambda: st.one_of(
        st.sampled_from(["k", '"a"', '""', '"2026-11-25"', '"true"', '"1.5"', '["x", "y"]']),
        _call("CONCAT", strings, strings),
        _call("SUBSTRING", strings, numbers, numbers),
        _call("LEFT", strings, numbers),
        _call("REPLACE", strings, st.just('"a"'), strings),
        st.tuples(st.sampled_from(["TO_LOWER", "TO_UPPER", "TRIM", "MV_FIRST"]), strings).map(
            lambda p: f"{p[0]}({p[1]})"
        ),
        _call("TO_STRING", st.one_of(numbers, booleans, dates)),
        _call("DATE_FORMAT", st.sampled_from(['"yyyy-MM-dd"', '"HH:mm"']), dates),
        _call("MV_CONCAT", strings, st.just('","')),
        st.tuples(numbers).map(lambda p: f"({p[0]})::keyword"),
    )
)
booleans: st.SearchStrategy[str] = st.deferred(
    lambda: st.one_of(
        st.sampled_from(["b", "true", "false", "null", "[true, false]"]),
        _infix(numbers, ["==", "!=", "<", "<=", ">", ">="], numbers),
        _infix(strings, ["==", "!=", "<"], strings),
        _infix(dates, ["<", ">=", "=="], st.one_of(dates, st.just('"2026-11-25"'))),
        _infix(st.just("b"), ["==", "!="], st.sampled_from(['"true"', '"FALSE"', '"x"'])),
        _infix(booleans, ["AND", "OR"], booleans),
        booleans.map(lambda b: f"(NOT {b})"),
        st.one_of(numbers, strings, dates).map(lambda v: f"({v} IS NOT NULL)"),
        st.tuples(numbers, st.lists(numbers, min_size=1, max_size=3)).map(
            lambda p: f"({p[0]} IN ({', '.join(p[1])}))"
        ),
        strings.map(lambda v: f'({v} LIKE "a*")'),
        _call("STARTS_WITH", strings, strings),
        _call("TO_BOOLEAN", st.one_of(strings, numbers)),
    )
)
dates: st.SearchStrategy[str] = st.deferred(
    lambda: st.one_of(
        st.sampled_from(["t", "NOW()", '"2026-11-25T16:00:00Z"::datetime']),
        _call("TO_DATETIME", st.one_of(strings, numbers)),
        numbers.map(lambda n: f"({n})::datetime"),
        _call("DATE_TRUNC", st.sampled_from(["1 day", "1 hour", "1 month"]), dates),
        st.tuples(dates, st.sampled_from(["+", "-"]), st.sampled_from(["1 day", "90 minutes"])).map(
            lambda p: f"({p[0]} {p[1]} {p[2]})"
        ),
        _call("DATE_PARSE", st.just('"yyyy-MM-dd"'), strings),
    )
)
expressions = st.one_of(untyped, numbers, strings, booleans, dates)
aggregates = st.tuples(st.sampled_from(sorted(AGGREGATE_NAMES)), expressions).map(
    lambda p: f"{p[0]}({p[1]})"
)
names = st.sampled_from([*COLUMNS, "x", "y"])

commands = st.one_of(
    st.one_of(booleans, untyped).map(lambda e: f"WHERE {e}"),
    st.tuples(names, expressions).map(lambda p: f"EVAL {p[0]} = {p[1]}"),
    st.tuples(names, aggregates, st.lists(expressions, max_size=2)).map(
        lambda p: f"STATS {p[0]} = {p[1]}" + (f" BY {', '.join(p[2])}" if p[2] else "")
    ),
    st.tuples(names, aggregates, expressions).map(lambda p: f"STATS {p[0]} = {p[1]} WHERE {p[2]}"),
    st.tuples(expressions, st.sampled_from(["", " DESC", " ASC NULLS FIRST"])).map(
        lambda p: f"SORT {p[0]}{p[1]}"
    ),
    st.sampled_from(["LIMIT 0", "LIMIT 2", "LIMIT 100000"]),
    st.lists(names, min_size=1, max_size=3).map(lambda n: f"KEEP {', '.join(n)}"),
    st.lists(names, min_size=1, max_size=3).map(lambda n: f"DROP {', '.join(n)}"),
    st.tuples(names, names).map(lambda p: f"RENAME {p[0]} AS {p[1]}"),
    names.map(lambda n: f"MV_EXPAND {n}"),
)
sources = st.one_of(
    st.just("FROM t"),
    st.lists(st.tuples(names, expressions), min_size=1, max_size=3).map(
        lambda fields: "ROW " + ", ".join(f"{n} = {e}" for n, e in fields)
    ),
)
queries = st.tuples(sources, st.lists(commands, max_size=4)).map(
    lambda p: " | ".join([p[0], *p[1]])
)


@settings(
    derandomize=True,
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(queries)
def test_every_failure_is_an_esql_error_with_a_position(query: str) -> None:
    try:
        run_query(query, CATALOG, now=FIXED_NOW)
    except EsqlError as error:
        assert error.line is not None and error.column is not None, (
            f"no position for {error.message!r} in {query!r}"
        )
