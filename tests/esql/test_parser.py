"""Tests of the ES|QL parser: commands, precedence, literals, parameters, naming and errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from qs_tui.esql.ast import (
    Aggregate,
    Assignment,
    BinaryOp,
    Cast,
    Dissect,
    Drop,
    Eval,
    Expr,
    Field,
    From,
    FunctionCall,
    Grok,
    InList,
    IsNull,
    Keep,
    Like,
    Limit,
    Literal,
    LookupJoin,
    MvExpand,
    Order,
    Query,
    Rename,
    Row,
    Sort,
    Star,
    Stats,
    TimeSpan,
    UnaryOp,
    Where,
)
from qs_tui.esql.errors import (
    EsqlError,
    EsqlExecutionError,
    EsqlSyntaxError,
    EsqlUnsupportedError,
)
from qs_tui.esql.parser import parse

QUERY_LIBRARY = Path(__file__).resolve().parents[2] / "esql"


def row_expr(text: str, params: Any = None) -> Expr:
    """The expression of `ROW x = <text>` (it starts at column 9)."""
    query = parse(f"ROW x = {text}", params=params)
    assert isinstance(query.source, Row)
    return query.source.fields[0].expr


def sexpr(node: Expr) -> str:
    """A compact prefix form of an expression, to compare tree shapes."""
    match node:
        case Literal(value=value):
            return repr(value)
        case Field(name=name):
            return name
        case Star():
            return "*"
        case TimeSpan(amount=amount, unit=unit):
            return f"{amount}{unit}"
        case BinaryOp(op=op, left=left, right=right):
            return f"({op} {sexpr(left)} {sexpr(right)})"
        case UnaryOp(op=op, operand=operand):
            return f"({op} {sexpr(operand)})"
        case Cast(value=value, type=type_name):
            return f"(:: {sexpr(value)} {type_name})"
        case InList(value=value, options=options, negated=negated):
            keyword = "NOT-IN" if negated else "IN"
            return f"({keyword} {sexpr(value)} {' '.join(sexpr(o) for o in options)})"
        case Like(value=value, pattern=pattern, negated=negated, regex=regex):
            keyword = ("NOT-" if negated else "") + ("RLIKE" if regex else "LIKE")
            return f"({keyword} {sexpr(value)} {pattern!r})"
        case IsNull(value=value, negated=negated):
            return f"({'IS-NOT-NULL' if negated else 'IS-NULL'} {sexpr(value)})"
        case FunctionCall(name=name, args=args):
            return f"{name}({', '.join(sexpr(a) for a in args)})"
    raise AssertionError(f"unexpected node {node!r}")


def syntax_error(text: str, params: Any = None) -> EsqlSyntaxError:
    with pytest.raises(EsqlSyntaxError) as caught:
        parse(text, params=params)
    return caught.value


def unsupported(text: str) -> EsqlUnsupportedError:
    with pytest.raises(EsqlUnsupportedError) as caught:
        parse(text)
    return caught.value


def execution_error(text: str, params: Any = None) -> EsqlExecutionError:
    with pytest.raises(EsqlExecutionError) as caught:
        parse(text, params=params)
    return caught.value


# =============================================================================================
# Source commands
# =============================================================================================


def test_from_with_several_patterns_and_metadata() -> None:
    query = parse('FROM qs-metrics*, logs-*, .hidden, "quoted" METADATA _index, _id, _score')
    assert query == Query(
        From(("qs-metrics*", "logs-*", ".hidden", "quoted"), ("_index", "_id", "_score"))
    )
    assert query.source.pos == (1, 1)
    assert query.commands == ()


def test_from_is_case_insensitive_and_keeps_pattern_case() -> None:
    query = parse("from Logs-A metadata _id")
    assert query.source == From(("Logs-A",), ("_id",))


def test_from_rejects_unknown_and_repeated_metadata_fields() -> None:
    error = syntax_error("FROM idx METADATA _index, _bogus")
    assert error.message == "unsupported metadata field [_bogus]"
    assert (error.line, error.column) == (1, 27)
    error = syntax_error("FROM idx METADATA _id, _id")
    assert "already declared" in error.message


def test_from_needs_an_index_pattern() -> None:
    error = syntax_error("FROM | LIMIT 1")
    assert error.message == "mismatched input '|' expecting an index pattern"
    assert (error.line, error.column) == (1, 6)


def test_row_with_several_fields() -> None:
    query = parse('ROW a = 1, b = "two", c = true, d = null')
    assert query.source == Row(
        (
            Assignment("a", Literal(1, "integer")),
            Assignment("b", Literal("two", "keyword")),
            Assignment("c", Literal(True, "boolean")),
            Assignment("d", Literal(None, "null")),
        )
    )


# =============================================================================================
# Processing commands
# =============================================================================================


def test_where_and_command_positions() -> None:
    query = parse("FROM idx\n| WHERE cpu > 90\n|  LIMIT 5")
    assert query.commands == (
        Where(BinaryOp(">", Field("cpu"), Literal(90, "integer"))),
        Limit(5),
    )
    assert [c.pos for c in query.commands] == [(2, 3), (3, 4)]


def test_eval_named_and_unnamed_fields() -> None:
    query = parse("ROW a = 1 | EVAL b = a * 2, a + 1, c = ROUND(a / 3, 2)")
    command = query.commands[0]
    assert isinstance(command, Eval)
    assert [f.name for f in command.fields] == ["b", "a + 1", "c"]
    assert sexpr(command.fields[2].expr) == "ROUND((/ a 3), 2)"


def test_stats_with_per_aggregate_where_and_by() -> None:
    query = parse("FROM idx | STATS c = COUNT(*) WHERE x > 1, d = SUM(y) BY g")
    stats = query.commands[0]
    assert stats == Stats(
        (
            Aggregate(
                "c",
                FunctionCall("COUNT", (Star(),)),
                BinaryOp(">", Field("x"), Literal(1, "integer")),
            ),
            Aggregate("d", FunctionCall("SUM", (Field("y"),))),
        ),
        (Assignment("g", Field("g")),),
    )


def test_stats_with_only_by_is_valid() -> None:
    stats = parse("FROM idx | STATS BY service, region").commands[0]
    assert isinstance(stats, Stats)
    assert stats.aggregates == ()
    assert [g.name for g in stats.groups] == ["service", "region"]


def test_stats_by_accepts_named_bucket_groups() -> None:
    stats = parse("FROM idx | STATS AVG(cpu) BY minute = BUCKET(@timestamp, 1 minute), host")
    assert isinstance(stats, Query)
    command = stats.commands[0]
    assert isinstance(command, Stats)
    assert [a.name for a in command.aggregates] == ["AVG(cpu)"]
    assert command.groups[0].name == "minute"
    assert sexpr(command.groups[0].expr) == "BUCKET(@timestamp, 1minute)"
    assert command.groups[1] == Assignment("host", Field("host"))


def test_stats_without_aggregates_or_groups_is_an_error() -> None:
    error = syntax_error("FROM idx | STATS")
    assert (error.line, error.column) == (1, 12)
    assert "STATS needs at least one aggregate" in error.message


def test_sort_keys_with_direction_and_nulls() -> None:
    sort = parse("FROM i | SORT a, b DESC, c ASC NULLS FIRST, d NULLS LAST, e + 1 desc").commands[0]
    assert sort == Sort(
        (
            Order(Field("a")),
            Order(Field("b"), ascending=False),
            Order(Field("c"), ascending=True, nulls_first=True),
            Order(Field("d"), nulls_first=False),
            Order(BinaryOp("+", Field("e"), Literal(1, "integer")), ascending=False),
        )
    )


def test_sort_nulls_needs_first_or_last() -> None:
    error = syntax_error("FROM i | SORT a NULLS LOW")
    assert error.message == "mismatched input 'LOW' expecting {FIRST, LAST}"


@pytest.mark.parametrize("text", ["LIMIT -1", "LIMIT 1.5"])
def test_limit_must_be_a_non_negative_integer(text: str) -> None:
    error = syntax_error(f"FROM i | {text}")
    assert "Invalid value for LIMIT" in error.message
    assert "expecting a non negative integer" in error.message


def test_limit_takes_a_parameter() -> None:
    assert parse("FROM i | LIMIT ?n", params={"n": 25}).commands == (Limit(25),)
    error = syntax_error("FROM i | LIMIT ?n", params={"n": "25"})
    assert "Invalid value for LIMIT [25]" in error.message


def test_keep_and_drop_take_patterns() -> None:
    query = parse("FROM i | KEEP @timestamp, cpu_*, host.*, `odd name` | DROP *_ms, tmp")
    assert query.commands == (
        Keep(("@timestamp", "cpu_*", "host.*", "odd name")),
        Drop(("*_ms", "tmp")),
    )


def test_drop_star_is_an_error() -> None:
    error = syntax_error("FROM i | DROP *")
    assert error.message == "Removing all fields is not allowed [*]"


def test_rename_in_both_forms() -> None:
    query = parse("FROM i | RENAME a AS b, new_name = old_name, host.name AS host")
    assert query.commands == (
        Rename((("a", "b"), ("old_name", "new_name"), ("host.name", "host"))),
    )


def test_rename_rejects_wildcards() -> None:
    error = syntax_error("FROM i | RENAME a* AS b")
    assert error.message == "Using wildcards [*] in RENAME is not allowed [a*]"
    assert (error.line, error.column) == (1, 17)


def test_dissect_with_append_separator() -> None:
    query = parse('FROM i | DISSECT message """%{a} %{+a}""" APPEND_SEPARATOR = "-"')
    assert query.commands == (Dissect(Field("message"), "%{a} %{+a}", "-"),)


def test_dissect_without_options_and_on_an_expression() -> None:
    query = parse('FROM i | DISSECT CONCAT(a, b) "%{x}"')
    assert query.commands == (
        Dissect(FunctionCall("CONCAT", (Field("a"), Field("b"))), "%{x}", None),
    )


def test_dissect_rejects_unknown_options_and_non_string_separators() -> None:
    error = syntax_error('FROM i | DISSECT m "%{a}" separator = ","')
    assert error.message == "Invalid option for dissect: [separator]"
    error = syntax_error('FROM i | DISSECT m "%{a}" append_separator = 1')
    assert "expected a string, but was [1]" in error.message


def test_grok_mv_expand_and_lookup_join() -> None:
    query = parse(
        'FROM i | GROK message "%{IP:ip} %{WORD:verb}" | MV_EXPAND tags '
        "| LOOKUP JOIN service-owners ON service, region"
    )
    assert query.commands == (
        Grok(Field("message"), "%{IP:ip} %{WORD:verb}"),
        MvExpand("tags"),
        LookupJoin("service-owners", ("service", "region")),
    )


def test_lookup_needs_join() -> None:
    error = syntax_error("FROM i | LOOKUP idx ON a")
    assert error.message == "mismatched input 'idx' expecting JOIN"


def test_lookup_join_on_an_expression_is_unsupported() -> None:
    error = unsupported("FROM i | LOOKUP JOIN idx ON a == b")
    assert "LOOKUP JOIN ON with an expression" in error.message


# =============================================================================================
# Expressions: precedence
# =============================================================================================


@pytest.mark.parametrize(
    ("text", "shape"),
    [
        ("a OR b AND c", "(OR a (AND b c))"),
        ("a AND b OR c", "(OR (AND a b) c)"),
        ("NOT a AND b", "(AND (NOT a) b)"),
        ("NOT a == b", "(NOT (== a b))"),
        ("NOT NOT a", "(NOT (NOT a))"),
        ("a == b AND c != d", "(AND (== a b) (!= c d))"),
        ("a + b * c", "(+ a (* b c))"),
        ("a - b - c", "(- (- a b) c)"),
        ("a / b % c * d", "(* (% (/ a b) c) d)"),
        ("-a * b", "(* (- a) b)"),
        ("-x::long", "(- (:: x long))"),
        ("a::double / 2", "(/ (:: a double) 2)"),
        ("2 * (3 + 4)", "(* 2 (+ 3 4))"),
        ("(a OR b) AND c", "(AND (OR a b) c)"),
        ("a + 1 > b * 2", "(> (+ a 1) (* b 2))"),
        ("a + 1 IN (2, 3 * 4)", "(IN (+ a 1) 2 (* 3 4))"),
        ("NOT a IN (1)", "(NOT (IN a 1))"),
        ("a NOT IN (1, 2)", "(NOT-IN a 1 2)"),
        ('a LIKE "x*" OR b RLIKE "y.+"', "(OR (LIKE a 'x*') (RLIKE b 'y.+'))"),
        ('NOT a NOT LIKE "x?"', "(NOT (NOT-LIKE a 'x?'))"),
        ("a IS NULL AND b IS NOT NULL", "(AND (IS-NULL a) (IS-NOT-NULL b))"),
        ("a + b IS NULL", "(IS-NULL (+ a b))"),
        ("x::keyword::long", "(:: (:: x keyword) long)"),
        ("- - 1", "(- -1)"),
    ],
)
def test_operator_precedence(text: str, shape: str) -> None:
    assert sexpr(row_expr(text)) == shape


def test_comparisons_do_not_chain() -> None:
    error = syntax_error("FROM i | WHERE a < b < c")
    assert error.message == "mismatched input '<' expecting {<EOF>, '|'}"
    assert (error.line, error.column) == (1, 22)


def test_like_with_a_list_of_patterns_is_any_of_them() -> None:
    assert sexpr(row_expr('a LIKE ("x*", "y*")')) == "(OR (LIKE a 'x*') (LIKE a 'y*'))"
    assert sexpr(row_expr('a NOT LIKE ("x*", "y*")')) == (
        "(AND (NOT-LIKE a 'x*') (NOT-LIKE a 'y*'))"
    )


def test_like_needs_a_string_pattern() -> None:
    error = syntax_error("ROW x = a LIKE b")
    assert error.message == "mismatched input 'b' expecting a pattern string"


def test_match_operator_becomes_a_match_call() -> None:
    expr = parse('FROM i | WHERE message : "connection timeout"').commands[0]
    assert expr == Where(
        FunctionCall("MATCH", (Field("message"), Literal("connection timeout", "keyword")))
    )


def test_match_operator_needs_a_field() -> None:
    error = syntax_error('FROM i | WHERE a + b : "x"')
    assert "match operator" in error.message
    assert (error.line, error.column) == (1, 22)


def test_case_insensitive_equality_is_unsupported() -> None:
    error = unsupported('FROM i | WHERE a =~ "x"')
    assert "=~" in error.message


# =============================================================================================
# Expressions: literals, functions, casts, time spans
# =============================================================================================


@pytest.mark.parametrize(
    ("text", "value", "type_name"),
    [
        ("0", 0, "integer"),
        ("2147483647", 2147483647, "integer"),
        ("-2147483648", -2147483648, "integer"),
        ("2147483648", 2147483648, "long"),
        ("-2147483649", -2147483649, "long"),
        ("9223372036854775807", 9223372036854775807, "long"),
        ("-9223372036854775808", -9223372036854775808, "long"),
        ("9223372036854775808", 9223372036854775808, "unsigned_long"),
        ("18446744073709551615", 18446744073709551615, "unsigned_long"),
        ("18446744073709551616", 18446744073709551616.0, "double"),
        ("-9223372036854775809", -9223372036854775809.0, "double"),
        ("1.5", 1.5, "double"),
        ("-2.5e3", -2500.0, "double"),
        (".5", 0.5, "double"),
        ('"text"', "text", "keyword"),
        ('"""raw \\d"""', "raw \\d", "keyword"),
        ("TRUE", True, "boolean"),
        ("false", False, "boolean"),
        ("NULL", None, "null"),
    ],
)
def test_literal_values_and_types(text: str, value: object, type_name: str) -> None:
    literal = row_expr(text)
    assert isinstance(literal, Literal)
    assert (literal.value, literal.type) == (value, type_name)
    assert type(literal.value) is type(value)
    assert literal.text == text
    assert literal.pos == (1, 9)


@pytest.mark.parametrize(
    ("text", "value", "type_name"),
    [
        ("[1, 2, 3]", [1, 2, 3], "integer"),
        ("[1, 3000000000]", [1, 3000000000], "long"),
        ("[1, 2.5]", [1.0, 2.5], "double"),
        ('["a", "b"]', ["a", "b"], "keyword"),
        ("[true, false]", [True, False], "boolean"),
        ("[-1, +2]", [-1, 2], "integer"),
    ],
)
def test_array_literals_are_multi_values(text: str, value: object, type_name: str) -> None:
    literal = row_expr(text)
    assert literal == Literal(value, type_name)
    assert literal.text == text


def test_array_literals_do_not_mix_kinds() -> None:
    error = syntax_error('ROW x = [1, "a"]')
    assert (error.line, error.column) == (1, 9)
    assert "array literal" in error.message


@pytest.mark.parametrize(
    ("text", "amount", "unit"),
    [
        ("15 minutes", 15, "minute"),
        ("1 minute", 1, "minute"),
        ("5 min", 5, "minute"),
        ("5m", 5, "minute"),
        ("1 hour", 1, "hour"),
        ("2 HOURS", 2, "hour"),
        ("1h", 1, "hour"),
        ("1 day", 1, "day"),
        ("7d", 7, "day"),
        ("2 weeks", 2, "week"),
        ("1w", 1, "week"),
        ("30s", 30, "second"),
        ("10 sec", 10, "second"),
        ("1 second", 1, "second"),
        ("100ms", 100, "millisecond"),
        ("250 milliseconds", 250, "millisecond"),
        ("3 months", 3, "month"),
        ("1mo", 1, "month"),
        ("1 quarter", 1, "quarter"),
        ("2q", 2, "quarter"),
        ("1 year", 1, "year"),
        ("2 yr", 2, "year"),
        ("1y", 1, "year"),
        ("-1 hour", -1, "hour"),
    ],
)
def test_time_span_literals(text: str, amount: int, unit: str) -> None:
    span = row_expr(text)
    assert span == TimeSpan(amount, unit)
    assert span.text == text


def test_date_minus_time_span() -> None:
    expr = parse("FROM i | WHERE @timestamp > NOW() - 1 hour").commands[0]
    assert isinstance(expr, Where)
    assert sexpr(expr.condition) == "(> @timestamp (- NOW() 1hour))"


def test_unknown_time_span_unit_is_an_error_at_the_unit() -> None:
    error = syntax_error("ROW x = 3 fortnights")
    assert (error.line, error.column) == (1, 11)
    assert "unexpected time span unit 'fortnights'" in error.message


def test_function_names_are_upper_cased_and_count_star_is_a_star() -> None:
    expr = row_expr("count(*) + date_trunc(1 hour, @timestamp)")
    assert sexpr(expr) == "(+ COUNT(*) DATE_TRUNC(1hour, @timestamp))"
    assert isinstance(expr, BinaryOp)
    assert isinstance(expr.left, FunctionCall)
    assert expr.left.args[0].pos == (1, 15)


def test_case_and_no_argument_functions_are_function_calls() -> None:
    expr = row_expr('CASE(a > 1, "big", a < 0, "negative", "small")')
    assert isinstance(expr, FunctionCall)
    assert expr.name == "CASE"
    assert len(expr.args) == 5
    assert row_expr("pi()") == FunctionCall("PI", ())


def test_function_names_are_not_checked_by_the_parser() -> None:
    assert row_expr("no_such_function(1)") == FunctionCall(
        "NO_SUCH_FUNCTION", (Literal(1, "integer"),)
    )


def test_cast_type_is_lower_case() -> None:
    assert row_expr("x::DOUBLE") == Cast(Field("x"), "double")


def test_dotted_and_backquoted_fields() -> None:
    assert row_expr("host.name") == Field("host.name")
    assert row_expr("`a b`.c") == Field("a b.c")
    assert row_expr("`first`") == Field("first")


def test_reserved_words_must_be_backquoted_to_be_names() -> None:
    error = syntax_error("ROW first = 1")
    assert error.message == "mismatched input 'first' expecting an expression"


def test_over_clause_is_unsupported_and_suggests_stats() -> None:
    text = "FROM i\n| EVAL m = AVG(cpu) OVER (PARTITION BY host)"
    error = unsupported(text)
    assert (error.line, error.column) == (2, 21)
    assert "no window functions" in error.message
    assert "STATS ... BY" in error.message


def test_function_options_map_is_unsupported() -> None:
    error = unsupported('FROM i | WHERE MATCH(message, "x", {"fuzziness": 1})')
    assert "function options" in error.message


# =============================================================================================
# Text and naming of expressions
# =============================================================================================


@pytest.mark.parametrize(
    ("command", "names"),
    [
        ("EVAL a + 1", ["a + 1"]),
        ("EVAL a+1, a  *  2", ["a+1", "a  *  2"]),
        ("EVAL (a + 1)", ["(a + 1)"]),
        ("EVAL x", ["x"]),
        ("EVAL `a b`", ["a b"]),
        ("EVAL y = a, ROUND(a, 1)", ["y", "ROUND(a, 1)"]),
        ("STATS avg(x)", ["avg(x)"]),
        ("STATS AVG( x ), MAX(x) BY host.name", ["AVG( x )", "MAX(x)", "host.name"]),
        (
            "STATS COUNT(*) BY BUCKET(@timestamp, 1 hour)",
            ["COUNT(*)", "BUCKET(@timestamp, 1 hour)"],
        ),
    ],
)
def test_unnamed_expressions_are_named_after_their_verbatim_text(
    command: str, names: list[str]
) -> None:
    processed = parse(f"FROM i | {command}").commands[0]
    if isinstance(processed, Eval):
        assert [f.name for f in processed.fields] == names
    else:
        assert isinstance(processed, Stats)
        got = [a.name for a in processed.aggregates] + [g.name for g in processed.groups]
        assert got == names


def test_expression_text_and_positions_span_lines() -> None:
    query = parse("FROM i\n| EVAL r = CASE(d > 0,\n    n / d, 0.0)")
    command = query.commands[0]
    assert isinstance(command, Eval)
    field = command.fields[0]
    assert field.pos == (2, 8)
    assert field.expr.pos == (2, 12)
    assert field.expr.text == "CASE(d > 0,\n    n / d, 0.0)"
    assert isinstance(field.expr, FunctionCall)
    assert field.expr.args[1].pos == (3, 5)
    assert field.expr.args[1].text == "n / d"


def test_binary_expression_text_starts_at_its_left_operand() -> None:
    expr = row_expr("a * (b + c)")
    assert isinstance(expr, BinaryOp)
    assert expr.text == "a * (b + c)"
    assert expr.right.text == "(b + c)"
    assert expr.right.pos == (1, 13)


# =============================================================================================
# Parameters
# =============================================================================================


def test_anonymous_parameters_bind_in_order() -> None:
    query = parse("ROW a = ?, b = ?, c = ?", params=[1, "two", 3.5])
    assert isinstance(query.source, Row)
    assert [f.expr for f in query.source.fields] == [
        Literal(1, "integer"),
        Literal("two", "keyword"),
        Literal(3.5, "double"),
    ]


def test_positional_parameters_are_one_based_and_reusable() -> None:
    query = parse("ROW a = ?2, b = ?1, c = ?2", params=["first", "second"])
    assert isinstance(query.source, Row)
    assert [f.expr for f in query.source.fields] == [
        Literal("second", "keyword"),
        Literal("first", "keyword"),
        Literal("second", "keyword"),
    ]


def test_named_parameters_from_a_mapping() -> None:
    query = parse(
        "FROM i | WHERE service == ?service AND cpu > ?limit",
        params={"service": "auth", "limit": 90},
    )
    where = query.commands[0]
    assert isinstance(where, Where)
    assert sexpr(where.condition) == "(AND (== service 'auth') (> cpu 90))"


def test_named_parameters_in_elasticsearch_wire_form() -> None:
    params = [{"start": "2026-11-25T16:00:00Z"}, {"service": "payment-service"}]
    query = parse("FROM i | WHERE @timestamp >= ?start AND service == ?service", params=params)
    where = query.commands[0]
    assert isinstance(where, Where)
    assert sexpr(where.condition) == (
        "(AND (>= @timestamp '2026-11-25T16:00:00Z') (== service 'payment-service'))"
    )


def test_parameter_literals_keep_the_placeholder_as_text_not_the_value() -> None:
    literal = row_expr("?service", params={"service": '"; DROP everything'})
    assert literal == Literal('"; DROP everything', "keyword")
    assert literal.text == "?service"
    assert literal.pos == (1, 9)


@pytest.mark.parametrize(
    ("value", "expected", "type_name"),
    [
        (7, 7, "integer"),
        (2**31, 2**31, "long"),
        (-(2**31) - 1, -(2**31) - 1, "long"),
        (0.25, 0.25, "double"),
        ("x", "x", "keyword"),
        (True, True, "boolean"),
        (None, None, "null"),
        ([1, 2], [1, 2], "integer"),
        ((1, 2**40), [1, 2**40], "long"),
        ([1, 2.5], [1.0, 2.5], "double"),
        (["a", "b"], ["a", "b"], "keyword"),
        ([], None, "null"),
    ],
)
def test_parameter_value_types(value: object, expected: object, type_name: str) -> None:
    literal = row_expr("?v", params={"v": value})
    assert literal == Literal(expected, type_name)
    assert type(literal.value) is type(expected)


def test_datetime_parameters_are_dates_and_stay_aware() -> None:
    instant = datetime(2026, 11, 25, 16, 0, tzinfo=timezone(timedelta(hours=2)))
    literal = row_expr("?at", params={"at": instant})
    assert literal == Literal(instant, "date")
    assert literal.value.tzinfo is instant.tzinfo
    naive = row_expr("?at", params={"at": datetime(2026, 11, 25, 16, 0)})
    assert naive == Literal(datetime(2026, 11, 25, 16, 0, tzinfo=UTC), "date")


def test_parameter_of_an_unsupported_type_is_an_execution_error() -> None:
    error = execution_error("ROW x = ?v", params={"v": {"nested": 1}})
    assert "?v" in error.message
    assert "dict" in error.message
    assert (error.line, error.column) == (1, 9)


def test_parameter_list_mixing_types_is_an_execution_error() -> None:
    error = execution_error("ROW x = ?v", params={"v": [1, "a"]})
    assert "mixes values" in error.message


def test_missing_named_parameter_names_it_with_line_and_column() -> None:
    text = "FROM i\n| WHERE @timestamp >= ?strat"
    error = execution_error(text, params={"start": "2026-11-25T16:00:00Z"})
    assert (error.line, error.column) == (2, 23)
    assert error.message == "Unknown query parameter [strat], did you mean [start]?"
    assert error.render().splitlines() == [
        "line 2:23: Unknown query parameter [strat], did you mean [start]?",
        "| WHERE @timestamp >= ?strat",
        "                      ^",
    ]


def test_named_parameter_without_params_is_an_execution_error() -> None:
    error = execution_error("ROW x = ?start")
    assert "Unknown query parameter [start]" in error.message


@pytest.mark.parametrize(("text", "column"), [("ROW a = ?, b = ?", 16), ("ROW a = ?3", 9)])
def test_missing_positional_parameter(text: str, column: int) -> None:
    error = execution_error(text, params=[1])
    assert (error.line, error.column) == (1, column)
    assert "No parameter is defined for position" in error.message
    assert "did you specify 1 parameters?" in error.message


@pytest.mark.parametrize(
    ("text", "params"),
    [
        ("ROW a = ?, b = ?1", [1]),
        ("ROW a = ?1, b = ?", [1]),
        ("ROW a = ?1, b = ?x", [1]),
        ("ROW a = ?x, b = ?", {"x": 1}),
        ("ROW a = ?x, b = ?1", {"x": 1}),
    ],
)
def test_mixing_parameter_styles_is_a_syntax_error(text: str, params: Any) -> None:
    error = syntax_error(text, params=params)
    assert error.column == text.rindex("?") + 1
    assert "Inconsistent parameter declaration" in error.message


def test_params_must_not_be_a_string() -> None:
    with pytest.raises(EsqlExecutionError, match="not a string"):
        parse("ROW a = ?", params="1")


def test_params_must_not_mix_wire_form_and_plain_values() -> None:
    with pytest.raises(EsqlExecutionError, match="mix named"):
        parse("ROW a = ?", params=[{"a": 1}, 2])


def test_match_operator_query_can_be_a_parameter() -> None:
    where = parse("FROM i | WHERE message : ?q", params={"q": "timeout"}).commands[0]
    assert where == Where(FunctionCall("MATCH", (Field("message"), Literal("timeout", "keyword"))))


# =============================================================================================
# Errors
# =============================================================================================


def test_syntax_error_renders_the_line_and_a_caret() -> None:
    text = "FROM idx\n| EVAL x = 1 +\n| LIMIT 5"
    error = syntax_error(text)
    assert (error.line, error.column) == (3, 1)
    assert error.query == text
    assert error.render() == (
        "line 3:1: mismatched input '|' expecting an expression\n| LIMIT 5\n^"
    )
    assert str(error) == error.render()


def test_error_at_the_end_of_input_points_past_the_last_character() -> None:
    error = syntax_error("FROM idx | WHERE a ==")
    assert error.message == "mismatched input '<EOF>' expecting an expression"
    assert (error.line, error.column) == (1, 22)


def test_lexical_errors_carry_the_query_for_rendering() -> None:
    error = syntax_error("ROW a = 1 ^ 2")
    assert error.render() == (
        "line 1:11: token recognition error at: '^'\nROW a = 1 ^ 2\n          ^"
    )


def test_unknown_command_is_named() -> None:
    error = syntax_error("FROM idx\n| SELEKT a")
    assert (error.line, error.column) == (2, 3)
    assert error.message.startswith("unknown command 'SELEKT'")
    assert "WHERE" in error.message
    assert "FROM" not in error.message


def test_unknown_source_command_is_named() -> None:
    error = syntax_error("SELECT * FROM idx")
    assert error.message.startswith("unknown command 'SELECT'")
    assert "FROM, ROW" in error.message


def test_query_must_start_with_a_source_command() -> None:
    error = syntax_error("WHERE a > 1")
    assert "expecting {FROM, ROW}" in error.message


def test_source_command_after_a_pipe_is_an_error() -> None:
    error = syntax_error("FROM a | FROM b")
    assert (error.line, error.column) == (1, 10)
    assert "source command" in error.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "mismatched input '<EOF>' expecting {FROM, ROW}"),
        ("FROM idx |", "mismatched input '<EOF>' expecting a processing command after '|'"),
        ("FROM idx | | LIMIT 1", "mismatched input '|' expecting a processing command after '|'"),
        ("ROW a = 1 b", "unexpected time span unit 'b'"),
        ("ROW a = (1 + 2", "mismatched input '<EOF>' expecting ')'"),
        ("ROW a = f(1,)", "mismatched input ')' expecting an expression"),
        ("FROM i | KEEP a b", "mismatched input 'b' expecting {<EOF>, '|'}"),
        ("FROM i | RENAME a b", "mismatched input 'b' expecting {AS, '='}"),
        ("FROM i | MV_EXPAND 1", "mismatched input '1' expecting a column name"),
        ("FROM i | GROK msg pattern", "mismatched input 'pattern' expecting a grok pattern string"),
        ("ROW a = host.name(1)", "'host.name' is not a function name"),
        ("ROW a = 1 IS NOT 2", "mismatched input '2' expecting NULL"),
    ],
)
def test_syntax_error_messages(text: str, message: str) -> None:
    assert syntax_error(text).message.startswith(message)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("FROM i | ENRICH languages_policy ON a", "ENRICH"),
        ("FROM i | INLINESTATS m = MAX(a) BY b", "INLINESTATS"),
        ("FROM i | INLINE STATS m = MAX(a) BY b", "INLINE STATS"),
        ("FROM i | FORK (WHERE a > 1) (WHERE a < 1)", "FORK"),
        ("FROM i | CHANGE_POINT v ON t", "CHANGE_POINT"),
        ('FROM i | COMPLETION c = "prompt" WITH {"inference_id": "x"}', "COMPLETION"),
        ("FROM i | SAMPLE 0.1", "SAMPLE"),
        ("SHOW INFO", "SHOW"),
        ("METRICS qs-metrics", "METRICS"),
        ("TS qs-metrics | LIMIT 1", "TS"),
        ('FROM i | RERANK "q" ON text WITH {"inference_id": "x"}', "RERANK"),
    ],
)
def test_unsupported_commands_are_named(text: str, name: str) -> None:
    error = unsupported(text)
    assert error.message.startswith(name)
    assert "not supported" in error.message
    assert error.column == (1 if text.startswith(name.split()[0]) else 10)


@pytest.mark.parametrize(
    ("text", "feature"),
    [
        ("FROM remote:qs-metrics", "remote cluster"),
        ("FROM *:logs-*, local", "remote cluster"),
        ('FROM "cluster_one:idx"', "remote cluster"),
        ("FROM idx::failures", "index selectors"),
    ],
)
def test_unsupported_index_patterns(text: str, feature: str) -> None:
    error = unsupported(text)
    assert feature in error.message
    assert error.column == 6


def test_errors_carry_the_query_text() -> None:
    text = "FROM i | ENRICH p"
    with pytest.raises(EsqlError) as caught:
        parse(text)
    assert caught.value.query == text
    assert caught.value.render().endswith("FROM i | ENRICH p\n         ^")


# =============================================================================================
# The query library
# =============================================================================================

LIBRARY_PARAMS = {
    "start": "2026-11-25T15:00:00Z",
    "end": "2026-11-25T16:00:00Z",
    "baseline_start": "2026-11-25T12:00:00Z",
    "threshold": 90,
}


def _library_params(path: Path) -> dict[str, object]:
    """A value for every `?name` the file uses: instants for time bounds, text otherwise."""
    names = set(re.findall(r"\?([A-Za-z_][A-Za-z0-9_]*)", path.read_text(encoding="utf-8")))
    return {name: LIBRARY_PARAMS.get(name, "2026-11-25T15:30:00Z") for name in names}


@pytest.mark.parametrize("path", sorted(QUERY_LIBRARY.glob("*.esql")), ids=lambda p: p.name)
def test_every_library_query_parses(path: Path) -> None:
    query = parse(path.read_text(encoding="utf-8"), params=_library_params(path))
    assert isinstance(query.source, From)
    assert all(name.startswith("qs-") for name in query.source.indices)
    assert query.commands


def test_library_query_shape_error_spike() -> None:
    query = parse((QUERY_LIBRARY / "error_spike.esql").read_text(), params=LIBRARY_PARAMS)
    stats = next(c for c in query.commands if isinstance(c, Stats))
    assert [a.name for a in stats.aggregates] == [
        "baseline_rate",
        "baseline_sd",
        "current_rate",
        "current_peak",
        "current_requests",
        "samples",
    ]
    assert all(a.where is not None for a in stats.aggregates)
    first_filter = stats.aggregates[0].where
    assert first_filter is not None
    assert sexpr(first_filter) == "(< @timestamp TO_DATETIME('2026-11-25T15:00:00Z'))"
    assert [g.name for g in stats.groups] == ["service", "region"]


def test_trailing_comments_are_not_part_of_a_name() -> None:
    query = parse("ROW a = 1\n| EVAL a + 1 // the next value\n| EVAL b = 2 /* two */")
    first, second = query.commands
    assert isinstance(first, Eval)
    assert isinstance(second, Eval)
    assert first.fields[0].name == "a + 1"
    assert second.fields[0].expr.text == "2"


def test_single_equals_in_a_condition_hints_at_double_equals() -> None:
    error = syntax_error('FROM i | WHERE service = "auth"')
    assert error.message == (
        "mismatched input '=' expecting {<EOF>, '|'} (use == to compare values)"
    )
    assert (error.line, error.column) == (1, 24)


def test_unknown_command_suggests_a_close_one() -> None:
    error = syntax_error("FROM i | STAT COUNT(*)")
    assert error.message.endswith("(did you mean STATS?)")


def test_decimal_time_span_amount_is_an_error() -> None:
    error = syntax_error("ROW x = 1.5 hours")
    assert (error.line, error.column) == (1, 9)
    assert "a time span needs an integer amount: '1.5 hours'" in error.message


def test_any_real_number_parameter_binds_as_a_double() -> None:
    literal = row_expr("?x", params={"x": Fraction(1, 4)})
    assert literal == Literal(0.25, "double")
    assert type(literal.value) is float
