"""Compiles ES|QL expressions and scalar functions to typed, vectorised polars expressions."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import polars as pl

from qs_tui.esql import ast
from qs_tui.esql import types as t
from qs_tui.esql.errors import EsqlExecutionError, EsqlUnsupportedError
from qs_tui.esql.values import (
    ES_DATE_FORMAT,
    double_to_string_expr,
    format_date,
    iso_to_datetime_expr,
    parse_iso_date,
)

_NOT_CONST = object()
# Names of bound intermediate columns; unique within the process so compilers never clash.
_BINDING_IDS = itertools.count(1)
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# Placeholder in a warning message for the offending value, filled in by the executor.
VALUE_PLACEHOLDER = "\x00value\x00"

INVALID_ARGUMENT = "org.elasticsearch.xpack.esql.core.InvalidArgumentException"
MULTI_VALUE_MESSAGE = (
    "java.lang.IllegalArgumentException: single-value function encountered multi-value"
)

AGGREGATE_NAMES = frozenset(
    {
        "COUNT",
        "COUNT_DISTINCT",
        "SUM",
        "AVG",
        "MIN",
        "MAX",
        "MEDIAN",
        "PERCENTILE",
        "STD_DEV",
        "VALUES",
        "TOP",
        "WEIGHTED_AVG",
        "MEDIAN_ABSOLUTE_DEVIATION",
    }
)

_CAST_NAMES: dict[str, str] = {
    "int": t.INTEGER,
    "integer": t.INTEGER,
    "long": t.LONG,
    "double": t.DOUBLE,
    "unsigned_long": t.UNSIGNED_LONG,
    "keyword": t.KEYWORD,
    "string": t.KEYWORD,
    "text": t.TEXT,
    "bool": t.BOOLEAN,
    "boolean": t.BOOLEAN,
    "datetime": t.DATE,
    "date": t.DATE,
    "ip": t.IP,
    "version": t.VERSION,
}

_SPAN_UNITS: dict[str, tuple[str, int]] = {
    # unit -> (polars duration suffix, length in ms when fixed, else 0)
    "millisecond": ("ms", 1),
    "second": ("s", 1_000),
    "minute": ("m", 60_000),
    "hour": ("h", 3_600_000),
    "day": ("d", 86_400_000),
    "week": ("w", 7 * 86_400_000),
    "month": ("mo", 0),
    "quarter": ("q", 0),
    "year": ("y", 0),
}


@dataclass(frozen=True)
class Typed:
    """A compiled expression: the polars expression, its ES|QL type, and what else we know.

    Attributes:
        expr: the vectorised polars expression.
        type: the ES|QL type name of each value.
        multi: whether values may be multi-valued (a `pl.List` column).
        const: the Python value when the expression is a constant, else a private sentinel.
    """

    expr: pl.Expr
    type: str
    multi: bool = False
    const: Any = _NOT_CONST

    @property
    def is_const(self) -> bool:
        """Whether the value is known at compile time."""
        return self.const is not _NOT_CONST


@dataclass(frozen=True)
class Check:
    """Rows where an evaluation failed and the warnings ES reports for it.

    Evaluations that ES turns into null with a warning (division by zero, overflow, bad
    conversions, multi-valued input to a single-value function) register a check; the executor
    evaluates it with the command's rows and words the warnings as ES does.

    Attributes:
        failed: a boolean expression, true on failing rows.
        header: ES's "evaluation of [...] failed" line.
        message: the exception line; may hold `VALUE_PLACEHOLDER` for the offending value.
        value: the offending value as a string expression, when the message names it.
    """

    failed: pl.Expr
    header: str
    message: str
    value: pl.Expr | None = None


@dataclass(frozen=True)
class ColumnInfo:
    """What the compiler knows about an input column."""

    type: str
    multi: bool = False


def where(pos: ast.Pos) -> str:
    """`Line L:C` as ES prefixes its warnings."""
    return f"Line {pos[0]}:{pos[1]}"


def execution_error(message: str, node: ast.Expr | ast.Command | Any) -> EsqlExecutionError:
    """An execution error located at `node.pos`."""
    line, column = getattr(node, "pos", ast.NO_POS)
    if line == 0:
        return EsqlExecutionError(message)
    return EsqlExecutionError(message, line=line, column=column)


def unsupported_error(message: str, node: ast.Expr | ast.Command | Any) -> EsqlUnsupportedError:
    """An unsupported-feature error located at `node.pos`."""
    line, column = getattr(node, "pos", ast.NO_POS)
    if line == 0:
        return EsqlUnsupportedError(message)
    return EsqlUnsupportedError(message, line=line, column=column)


def esql_dtype(esql_type: str) -> pl.DataType:
    """The polars dtype the engine uses for values of an ES|QL type."""
    if esql_type == t.UNSUPPORTED:
        return pl.Null()
    return t.polars_dtype(esql_type)


def is_numeric(esql_type: str) -> bool:
    """Whether the type is one of the numeric ES|QL types."""
    return esql_type in t.NUMERIC


def is_string(esql_type: str) -> bool:
    """Whether values of the type are held as strings (keyword, text, ip, version)."""
    return esql_type in (t.KEYWORD, t.TEXT, t.IP, t.VERSION)


def numeric_result_type(left: str, right: str) -> str:
    """ES|QL's widening for arithmetic: double > long > integer (null takes the other side)."""
    if left == t.NULL:
        return right
    if right == t.NULL:
        return left
    if t.DOUBLE in (left, right):
        return t.DOUBLE
    if t.UNSIGNED_LONG in (left, right):
        return t.UNSIGNED_LONG
    if t.LONG in (left, right):
        return t.LONG
    return t.INTEGER


def span_every(amount: int, unit: str) -> str:
    """A polars duration string (`5m`, `1mo`) for an ES|QL time span."""
    suffix, _ = _SPAN_UNITS[unit]
    return f"{amount}{suffix}"


def span_millis(amount: int, unit: str) -> int | None:
    """The fixed length of a time span in ms, or None for calendar spans (month and longer)."""
    _, millis = _SPAN_UNITS[unit]
    return amount * millis if millis else None


def java_date_pattern(pattern: str, node: ast.Expr) -> str:
    """Translate the supported subset of a Java date pattern to a chrono/strftime format."""
    tokens = {
        "yyyy": "%Y",
        "uuuu": "%Y",
        "yy": "%y",
        "MMMM": "%B",
        "MMM": "%b",
        "MM": "%m",
        "dd": "%d",
        "HH": "%H",
        "hh": "%I",
        "mm": "%M",
        "ss": "%S",
        "SSS": "%3f",
        "EEEE": "%A",
        "EEE": "%a",
        "a": "%p",
        "XXX": "%:z",
        "Z": "%z",
        "D": "%j",
    }
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "'":
            end = pattern.find("'", index + 1)
            if end == -1:
                raise execution_error(f"Invalid date pattern [{pattern}]: unclosed quote", node)
            literal = pattern[index + 1 : end] or "'"
            out.append(literal.replace("%", "%%"))
            index = end + 1
            continue
        if char.isalpha():
            run = index
            while run < len(pattern) and pattern[run] == char:
                run += 1
            token = pattern[index:run]
            if token not in tokens:
                raise unsupported_error(
                    f"date pattern letters [{token}] in [{pattern}] are not supported", node
                )
            out.append(tokens[token])
            index = run
            continue
        out.append("%%" if char == "%" else char)
        index += 1
    return "".join(out)


def like_to_regex(pattern: str) -> str:
    """A LIKE pattern (`*` any run, `?` one char, `\\` escapes) as an anchored regex."""
    out: list[str] = []
    escaped = False
    for char in pattern:
        if escaped:
            out.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        else:
            out.append(re.escape(char))
    if escaped:
        out.append(re.escape("\\"))
    return "(?s)^" + "".join(out) + "$"


class ExprCompiler:
    """Compiles expression nodes against the columns of one frame.

    Args:
        columns: name -> ColumnInfo for every visible column.
        now: the instant `NOW()` returns.
        aggregate: in STATS, compiles an aggregate call (returns a column of the aggregated
            frame); None elsewhere, where aggregates are an error.
    """

    def __init__(
        self,
        columns: Mapping[str, ColumnInfo],
        *,
        now: datetime,
        aggregate: Callable[[ast.FunctionCall], Typed] | None = None,
    ) -> None:
        self.columns = columns
        self.now = now
        self.aggregate = aggregate
        self.checks: list[Check] = []
        # `_score` contributions of full-text functions, added by WHERE.
        self.scores: list[pl.Expr] = []
        # Intermediate results as hidden columns, in dependency order (see `bind`).
        self.bindings: list[tuple[str, pl.Expr]] = []

    # -----------------------------------------------------------------------------------------
    # Entry points and bookkeeping
    # -----------------------------------------------------------------------------------------

    def compile(self, node: ast.Expr) -> Typed:
        """Compile one expression node."""
        if isinstance(node, ast.Literal):
            return self._literal(node)
        if isinstance(node, ast.Field):
            return self._field(node)
        if isinstance(node, ast.BinaryOp):
            return self._binary(node)
        if isinstance(node, ast.UnaryOp):
            return self._unary(node)
        if isinstance(node, ast.FunctionCall):
            return self._call(node)
        if isinstance(node, ast.InList):
            return self._in(node)
        if isinstance(node, ast.Like):
            return self._like(node)
        if isinstance(node, ast.IsNull):
            return self._is_null(node)
        if isinstance(node, ast.Cast):
            return self._cast(node)
        if isinstance(node, ast.TimeSpan):
            return self._time_span(node)
        if isinstance(node, ast.Star):
            raise execution_error("[*] is only allowed in COUNT(*)", node)
        raise unsupported_error(f"unsupported expression [{type(node).__name__}]", node)

    def condition(self, node: ast.Expr) -> pl.Expr:
        """Compile a boolean condition (WHERE, per-aggregate WHERE); null means false."""
        compiled = self.single(self.compile(node), node)
        if compiled.type not in (t.BOOLEAN, t.NULL):
            raise execution_error(
                f"Condition expression needs to be boolean, found [{compiled.type}]", node
            )
        return compiled.expr.cast(pl.Boolean).fill_null(False)

    def fail(
        self,
        node: ast.Expr,
        failed: pl.Expr,
        exception: str,
        *,
        value: pl.Expr | None = None,
    ) -> None:
        """Record that `node` evaluates to null with a warning on the rows where `failed`."""
        place = where(node.pos)
        header = (
            f"{place}: evaluation of [{node.text}] failed, treating result as null. "
            "Only first 20 failures recorded."
        )
        self.checks.append(Check(failed.fill_null(False), header, f"{place}: {exception}", value))

    def bind(self, value: Typed) -> Typed:
        """Bind a computed value to a hidden column and refer to it by name.

        Null handling and failure checks mention an operand several times; without binding,
        nested expressions would grow exponentially and polars would re-plan and re-evaluate
        the copies. The executor adds `bindings` to the frame before the command's own
        expressions.
        """
        expr = value.expr
        if value.is_const or expr.meta.is_column() or expr.meta.is_literal():
            return value
        name = f"\x00b{next(_BINDING_IDS)}"
        self.bindings.append((name, expr))
        return Typed(pl.col(name), value.type, value.multi, value.const)

    def single(self, value: Typed, node: ast.Expr) -> Typed:
        """A multi-valued input to a single-value function: null with ES's warning."""
        if not value.multi:
            return value
        value = self.bind(value)
        length = value.expr.list.len()
        self.fail(node, length > 1, MULTI_VALUE_MESSAGE)
        single = pl.when(length == 1).then(value.expr.list.first()).otherwise(None)
        return Typed(single, value.type)

    def _args(self, node: ast.FunctionCall, low: int, high: int | None = None) -> list[Typed]:
        count = len(node.args)
        high = low if high is None else high
        if not low <= count <= high:
            expected = str(low) if low == high else f"{low} to {high}"
            raise execution_error(
                f"function [{node.name}] takes {expected} argument(s), found {count} in "
                f"[{node.text}]",
                node,
            )
        return [self.bind(self.compile(arg)) for arg in node.args]

    def _singles(self, node: ast.FunctionCall, low: int, high: int | None = None) -> list[Typed]:
        return [self.single(arg, node) for arg in self._args(node, low, high)]

    def _require(
        self,
        node: ast.Expr,
        value: Typed,
        allowed: Callable[[str], bool],
        what: str,
        ordinal: str = "first",
    ) -> None:
        if value.type != t.NULL and not allowed(value.type):
            raise execution_error(
                f"{ordinal} argument of [{node.text}] must be [{what}], found value "
                f"[{value_text(value)}] type [{value.type}]",
                node,
            )

    def _const_arg(self, node: ast.FunctionCall, value: Typed, what: str) -> Any:
        if not value.is_const:
            raise execution_error(f"[{what}] of [{node.text}] must be a constant", node)
        return value.const

    # -----------------------------------------------------------------------------------------
    # Leaves
    # -----------------------------------------------------------------------------------------

    def _literal(self, node: ast.Literal) -> Typed:
        value = node.value
        esql_type = node.type if isinstance(node.type, str) else _first_type(node.type)
        if isinstance(value, list | tuple):
            items = [_literal_item(item, esql_type) for item in value]
            non_null = [item for item in items if item is not None]
            if not non_null:
                return Typed(pl.lit(None), t.NULL, const=None)
            if len(non_null) == 1:
                return Typed(
                    pl.lit(non_null[0], dtype=esql_dtype(esql_type)), esql_type, const=non_null[0]
                )
            literal = pl.lit(pl.Series([non_null], dtype=pl.List(esql_dtype(esql_type))))
            return Typed(literal.first(), esql_type, multi=True, const=list(non_null))
        if value is None or esql_type == t.NULL:
            return Typed(pl.lit(None), t.NULL, const=None)
        value = _literal_item(value, esql_type)
        return Typed(pl.lit(value, dtype=esql_dtype(esql_type)), esql_type, const=value)

    def _field(self, node: ast.Field) -> Typed:
        info = self.columns.get(node.name)
        if info is None:
            raise execution_error(f"Unknown column [{node.name}]", node)
        if info.type == t.UNSUPPORTED:
            raise execution_error(
                f"Cannot use field [{node.name}] with unsupported type [unsupported]", node
            )
        return Typed(pl.col(node.name), info.type, multi=info.multi)

    def _time_span(self, node: ast.TimeSpan) -> Typed:
        if node.unit not in _SPAN_UNITS:
            raise unsupported_error(f"time span unit [{node.unit}] is not supported", node)
        # ES|QL types days and longer as calendar periods, shorter spans as fixed durations.
        calendar = node.unit in ("day", "week", "month", "quarter", "year")
        kind = t.DATE_PERIOD if calendar else t.TIME_DURATION
        return Typed(pl.lit(None), kind, const=(node.amount, node.unit))

    # -----------------------------------------------------------------------------------------
    # Operators
    # -----------------------------------------------------------------------------------------

    def _unary(self, node: ast.UnaryOp) -> Typed:
        operand = self.bind(self.compile(node.operand))
        if node.op == "NOT":
            operand = self.single(operand, node)
            if operand.type not in (t.BOOLEAN, t.NULL):
                raise execution_error(
                    f"argument of [{node.text}] must be [boolean], found value "
                    f"[{value_text(operand)}] type [{operand.type}]",
                    node,
                )
            return Typed(~operand.expr.cast(pl.Boolean), t.BOOLEAN)
        if node.op == "-":
            if operand.type in (t.TIME_DURATION, t.DATE_PERIOD):
                amount, unit = operand.const
                return Typed(pl.lit(None), operand.type, const=(-amount, unit))
            operand = self.single(operand, node)
            if operand.type == t.NULL:
                return operand
            if not is_numeric(operand.type):
                raise execution_error(
                    f"argument of [{node.text}] must be [numeric], found value "
                    f"[{value_text(operand)}] type [{operand.type}]",
                    node,
                )
            if operand.type in (t.INTEGER, t.LONG):
                low = INT32_MIN if operand.type == t.INTEGER else INT64_MIN
                overflow = operand.expr == low
                self.fail(node, overflow, f"java.lang.ArithmeticException: {operand.type} overflow")
                negated = pl.when(overflow).then(None).otherwise(-operand.expr)
                return Typed(negated, operand.type)
            return Typed(-operand.expr, operand.type)
        raise unsupported_error(f"unsupported operator [{node.op}]", node)

    def _binary(self, node: ast.BinaryOp) -> Typed:
        if node.op in ("AND", "OR"):
            left = self.single(self.compile(node.left), node)
            right = self.single(self.compile(node.right), node)
            for side, ordinal in ((left, "first"), (right, "second")):
                if side.type not in (t.BOOLEAN, t.NULL):
                    raise execution_error(
                        f"{ordinal} argument of [{node.text}] must be [boolean], found value "
                        f"[{value_text(side)}] type [{side.type}]",
                        node,
                    )
            lhs, rhs = left.expr.cast(pl.Boolean), right.expr.cast(pl.Boolean)
            # polars' & and | follow Kleene's three-valued logic, as ES|QL does.
            return Typed(lhs & rhs if node.op == "AND" else lhs | rhs, t.BOOLEAN)
        left = self.bind(self.compile(node.left))
        right = self.bind(self.compile(node.right))
        if node.op in ("+", "-", "*", "/", "%"):
            return self._arithmetic(node, left, right)
        if node.op in ("==", "!=", "<", "<=", ">", ">="):
            return self._comparison(node, left, right)
        raise unsupported_error(f"unsupported operator [{node.op}]", node)

    def _arithmetic(self, node: ast.BinaryOp, left: Typed, right: Typed) -> Typed:
        op = node.op
        spans = (t.TIME_DURATION, t.DATE_PERIOD)
        if left.type in spans or right.type in spans:
            return self._date_span_arithmetic(node, left, right)
        left = self.single(left, node)
        right = self.single(right, node)
        if left.type == t.NULL and right.type == t.NULL:
            return Typed(pl.lit(None), t.NULL, const=None)
        for side, ordinal in ((left, "first"), (right, "second")):
            if side.type != t.NULL and not is_numeric(side.type):
                if side.type == t.DATE and op in ("+", "-"):
                    raise execution_error(
                        f"[{op}] has arguments with incompatible types [{left.type}] and "
                        f"[{right.type}] in [{node.text}]",
                        node,
                    )
                raise execution_error(
                    f"{ordinal} argument of [{node.text}] must be [numeric], found value "
                    f"[{value_text(side)}] type [{side.type}]",
                    node,
                )
        result_type = numeric_result_type(left.type, right.type)
        if left.type == t.NULL or right.type == t.NULL:
            return Typed(pl.lit(None, dtype=esql_dtype(result_type)), result_type)
        dtype = esql_dtype(result_type)
        lhs, rhs = left.expr.cast(dtype), right.expr.cast(dtype)
        both = lhs.is_not_null() & rhs.is_not_null()
        if result_type == t.DOUBLE:
            if op in ("/", "%"):
                zero = both & (rhs == 0)
                self.fail(node, zero, "java.lang.ArithmeticException: / by zero")
                raw = lhs / rhs if op == "/" else _java_remainder_float(lhs, rhs)
                return Typed(pl.when(zero).then(None).otherwise(raw), t.DOUBLE)
            # ES also turns an infinite sum or product into null with a warning; here it stays
            # infinite until the result is printed, where it becomes null (no warning). A
            # check per operation would cost a pass over every row for a case that does not
            # occur with finite inputs of realistic size.
            return Typed({"+": lhs + rhs, "-": lhs - rhs, "*": lhs * rhs}[op], t.DOUBLE)
        if op in ("/", "%"):
            zero = both & (rhs == 0)
            self.fail(node, zero, "java.lang.ArithmeticException: / by zero")
            safe = pl.when(rhs == 0).then(None).otherwise(rhs)
            quotient = _truncating_division(lhs, safe)
            raw = quotient if op == "/" else lhs - safe * quotient
            return Typed(raw.cast(dtype), result_type)
        wide: pl.DataType
        if result_type == t.INTEGER:
            wide, low, high = pl.Int64(), INT32_MIN, INT32_MAX
        elif result_type == t.UNSIGNED_LONG:
            wide, low, high = pl.Int128(), 0, 2**64 - 1
        else:
            wide, low, high = pl.Int128(), INT64_MIN, INT64_MAX
        lw, rw = lhs.cast(wide), rhs.cast(wide)
        raw = {"+": lw + rw, "-": lw - rw, "*": lw * rw}[op]
        overflow = (raw < low) | (raw > high)
        label = "unsigned_long" if result_type == t.UNSIGNED_LONG else result_type
        self.fail(node, overflow, f"java.lang.ArithmeticException: {label} overflow")
        return Typed(pl.when(overflow).then(None).otherwise(raw).cast(dtype), result_type)

    def _date_span_arithmetic(self, node: ast.BinaryOp, left: Typed, right: Typed) -> Typed:
        spans = (t.TIME_DURATION, t.DATE_PERIOD)
        if node.op == "+" and left.type in spans and right.type not in spans:
            left, right = right, left
        if left.type in spans or node.op not in ("+", "-"):
            raise execution_error(
                f"[{node.op}] has arguments with incompatible types [{left.type}] and "
                f"[{right.type}] in [{node.text}]",
                node,
            )
        left = self.as_date(self.single(left, node), node)
        amount, unit = right.const
        if node.op == "-":
            amount = -amount
        millis = span_millis(amount, unit)
        if millis is not None:
            shifted = left.expr + pl.duration(milliseconds=millis)
        else:
            shifted = left.expr.dt.offset_by(span_every(amount, unit))
        return Typed(shifted.cast(t.DATETIME), t.DATE)

    def as_date(self, value: Typed, node: ast.Expr) -> Typed:
        """A date operand; a constant string is parsed as ES converts string literals."""
        if value.type in (t.DATE, t.DATE_NANOS):
            return Typed(value.expr.cast(t.DATETIME), t.DATE, value.multi, value.const)
        if value.type == t.NULL:
            return Typed(pl.lit(None, dtype=t.DATETIME), t.DATE, const=None)
        if is_string(value.type) and value.is_const and isinstance(value.const, str):
            parsed = parse_iso_date(value.const)
            if parsed is None:
                raise execution_error(
                    f"Cannot convert string [{value.const}] to [DATETIME], error [failed to "
                    f"parse date field [{value.const}] with format "
                    "[strict_date_optional_time]]",
                    node,
                )
            return Typed(pl.lit(parsed, dtype=t.DATETIME), t.DATE, const=parsed)
        raise execution_error(
            f"argument of [{node.text}] must be [datetime], found value [{value_text(value)}] "
            f"type [{value.type}]",
            node,
        )

    def _comparison(self, node: ast.BinaryOp, left: Typed, right: Typed) -> Typed:
        left = self.single(left, node)
        right = self.single(right, node)
        if left.type == t.NULL or right.type == t.NULL:
            return Typed(pl.lit(None, dtype=pl.Boolean), t.BOOLEAN, const=None)
        if left.type == t.DATE and is_string(right.type):
            right = self.as_date(right, node)
        elif right.type == t.DATE and is_string(left.type):
            left = self.as_date(left, node)
        # A string literal compared with an ip or version field is read as that type.
        if left.type in (t.IP, t.VERSION) and right.type in t.STRING and right.is_const:
            right = Typed(right.expr, left.type, const=right.const)
        elif right.type in (t.IP, t.VERSION) and left.type in t.STRING and left.is_const:
            left = Typed(left.expr, right.type, const=left.const)
        compatible = (
            (is_numeric(left.type) and is_numeric(right.type))
            or (left.type in t.STRING and right.type in t.STRING)
            or left.type == right.type
        )
        if not compatible:
            shown = "numeric" if is_numeric(left.type) else left.type
            raise execution_error(
                f"first argument of [{node.text}] is [{shown}] so second argument must also be "
                f"[{shown}] but was [{right.type}]",
                node,
            )
        lhs, rhs = left.expr, right.expr
        if is_numeric(left.type) and left.type != right.type:
            common = esql_dtype(numeric_result_type(left.type, right.type))
            lhs, rhs = lhs.cast(common), rhs.cast(common)
        result = {
            "==": lhs == rhs,
            "!=": lhs != rhs,
            "<": lhs < rhs,
            "<=": lhs <= rhs,
            ">": lhs > rhs,
            ">=": lhs >= rhs,
        }[node.op]
        return Typed(result, t.BOOLEAN)

    def _in(self, node: ast.InList) -> Typed:
        value = self.single(self.compile(node.value), node)
        options = [self.single(self.compile(option), node) for option in node.options]
        if value.type == t.NULL:
            return Typed(pl.lit(None, dtype=pl.Boolean), t.BOOLEAN)
        matches: list[pl.Expr] = []
        for option in options:
            if option.type == t.NULL:
                matches.append(pl.lit(None, dtype=pl.Boolean))
                continue
            fake = ast.BinaryOp("==", node.value, node.value, pos=node.pos, text=node.text)
            matches.append(self._comparison(fake, value, option).expr)  # also checks types
        constants = [option.const for option in options if option.type != t.NULL]
        same_kind = all(
            option.type == value.type or (option.type in t.STRING and is_string(value.type))
            for option in options
            if option.type != t.NULL
        )
        if constants and same_kind and all(option.is_const for option in options):
            # One hash lookup instead of a chain of comparisons for long constant lists.
            options_series = pl.Series(constants, dtype=esql_dtype(value.type))
            found = value.expr.is_in(options_series.implode())
            if len(constants) < len(options):
                found = pl.when(found).then(True).otherwise(None)
            result = pl.when(value.expr.is_null()).then(None).otherwise(found)
            return Typed(~result if node.negated else result, t.BOOLEAN)
        if not matches:
            return Typed(pl.lit(False), t.BOOLEAN)
        # An OR chain keeps three-valued logic: no match and a null option gives null.
        result = matches[0]
        for match in matches[1:]:
            result = result | match
        if node.negated:
            result = ~result
        return Typed(result, t.BOOLEAN)

    def _like(self, node: ast.Like) -> Typed:
        value = self.single(self.compile(node.value), node)
        if value.type == t.NULL:
            return Typed(pl.lit(None, dtype=pl.Boolean), t.BOOLEAN)
        if not is_string(value.type):
            raise execution_error(
                f"argument of [{node.text}] must be [string], found value [{value_text(value)}] "
                f"type [{value.type}]",
                node,
            )
        regex = "(?s)^(?:" + node.pattern + ")$" if node.regex else like_to_regex(node.pattern)
        try:
            re.compile(regex)
        except re.error as error:
            raise execution_error(
                f"invalid regular expression [{node.pattern}]: {error}", node
            ) from None
        result = value.expr.str.contains(regex)
        return Typed(~result if node.negated else result, t.BOOLEAN)

    def _is_null(self, node: ast.IsNull) -> Typed:
        value = self.compile(node.value)
        missing = value.expr.is_null()
        if value.multi:
            missing = missing | (value.expr.list.len() == 0)
        return Typed(~missing if node.negated else missing, t.BOOLEAN)

    def _cast(self, node: ast.Cast) -> Typed:
        target = _CAST_NAMES.get(node.type.lower())
        if target is None:
            raise unsupported_error(f"cast to [{node.type}] is not supported", node)
        return self.convert(node, self.compile(node.value), target)

    # -----------------------------------------------------------------------------------------
    # Conversions (work value by value on multi-valued input, dropping values that fail)
    # -----------------------------------------------------------------------------------------

    def convert(self, node: ast.Expr, value: Typed, target: str) -> Typed:
        """Convert to `target` as the TO_* functions do; failures become null with a warning."""
        if value.type == t.NULL:
            return Typed(pl.lit(None, dtype=esql_dtype(target)), target, const=None)
        value = self.bind(value)
        if value.type == target or (value.type in t.STRING and target in t.STRING):
            return Typed(value.expr, target, value.multi, value.const)
        if target == t.DATE and value.is_const and isinstance(value.const, str):
            parsed = parse_iso_date(value.const)
            if parsed is not None:
                return Typed(pl.lit(parsed, dtype=t.DATETIME), t.DATE, const=parsed)
        converter = _converter(value.type, target)
        if converter is None:
            raise execution_error(
                f"argument of [{node.text}] must be convertible to [{target}], found value "
                f"[{value_text(value)}] type [{value.type}]",
                node,
            )
        if not value.multi:
            converted, failed, message = converter(value.expr)
            if failed is not None:
                self.fail(
                    node,
                    failed,
                    message,
                    value=value.expr.cast(pl.String) if VALUE_PLACEHOLDER in message else None,
                )
                converted = pl.when(failed).then(None).otherwise(converted)
            return Typed(converted, target)
        element = pl.element()
        converted, failed, message = converter(element)
        if failed is None:
            return Typed(value.expr.list.eval(converted), target, multi=True)
        any_failed = value.expr.list.eval(failed.fill_null(False)).list.any()
        first_bad = value.expr.list.eval(element.filter(failed.fill_null(False))).list.first()
        self.fail(node, any_failed, message, value=first_bad.cast(pl.String))
        kept = value.expr.list.eval(
            pl.when(failed.fill_null(False)).then(None).otherwise(converted).drop_nulls()
        )
        return Typed(kept, target, multi=True)

    # -----------------------------------------------------------------------------------------
    # Function calls
    # -----------------------------------------------------------------------------------------

    def _call(self, node: ast.FunctionCall) -> Typed:
        name = node.name.upper()
        if name in _NULL_IN_NULL_OUT and any(self._is_null_arg(arg) for arg in node.args):
            # A null argument makes these functions null, whatever the other arguments are.
            for arg in node.args:
                self.compile(arg)
            kind = _NULL_IN_NULL_OUT[name]
            return Typed(pl.lit(None, dtype=esql_dtype(kind)), kind, const=None)
        if name in AGGREGATE_NAMES:
            if self.aggregate is None:
                raise execution_error(
                    f"aggregate function [{node.text}] not allowed outside STATS command", node
                )
            return self.aggregate(node)
        if name == "BUCKET":
            return self.bucket(node)
        method = getattr(self, "_fn_" + name.lower(), None)
        if method is None:
            raise unsupported_error(f"Unknown function [{node.name}]", node)
        result: Typed = method(node)
        return result

    def _is_null_arg(self, node: ast.Expr) -> bool:
        if isinstance(node, ast.Literal):
            return node.value is None or node.type == t.NULL
        if isinstance(node, ast.Field):
            info = self.columns.get(node.name)
            return info is not None and info.type == t.NULL
        return False

    # Math -----------------------------------------------------------------------------------

    def _numeric_arg(self, node: ast.FunctionCall, value: Typed, ordinal: str = "first") -> None:
        self._require(node, value, is_numeric, "numeric", ordinal)

    def _fn_abs(self, node: ast.FunctionCall) -> Typed:
        (value,) = self._singles(node, 1)
        self._numeric_arg(node, value)
        return Typed(value.expr.abs(), value.type)

    def _fn_ceil(self, node: ast.FunctionCall) -> Typed:
        (value,) = self._singles(node, 1)
        self._numeric_arg(node, value)
        return Typed(value.expr.ceil() if value.type == t.DOUBLE else value.expr, value.type)

    def _fn_floor(self, node: ast.FunctionCall) -> Typed:
        (value,) = self._singles(node, 1)
        self._numeric_arg(node, value)
        return Typed(value.expr.floor() if value.type == t.DOUBLE else value.expr, value.type)

    def _fn_round(self, node: ast.FunctionCall) -> Typed:
        args = self._singles(node, 1, 2)
        value = args[0]
        self._numeric_arg(node, value)
        decimals = 0
        if len(args) == 2:
            if args[1].type == t.NULL:
                return Typed(pl.lit(None, dtype=esql_dtype(value.type)), value.type)
            decimals = int(self._const_arg(node, args[1], "decimals"))
        if value.type == t.DOUBLE:
            if decimals >= 0:
                return Typed(value.expr.round(decimals, mode="half_away_from_zero"), t.DOUBLE)
            scale = 10.0 ** (-decimals)
            rounded = (value.expr / scale).round(0, mode="half_away_from_zero") * scale
            return Typed(rounded, t.DOUBLE)
        if decimals >= 0:
            return value
        scale = 10 ** (-decimals)
        scaled = value.expr.cast(pl.Float64) / scale
        rounded = (scaled.round(0, mode="half_away_from_zero") * scale).cast(esql_dtype(value.type))
        return Typed(rounded, value.type)

    def _double_fn(self, node: ast.FunctionCall, func: Callable[[pl.Expr], pl.Expr]) -> Typed:
        (value,) = self._singles(node, 1)
        self._numeric_arg(node, value)
        return Typed(func(value.expr.cast(pl.Float64)), t.DOUBLE)

    def _fn_sqrt(self, node: ast.FunctionCall) -> Typed:
        (value,) = self._singles(node, 1)
        self._numeric_arg(node, value)
        number = value.expr.cast(pl.Float64)
        negative = number < 0
        self.fail(node, negative, "java.lang.ArithmeticException: Square root of negative")
        return Typed(pl.when(negative).then(None).otherwise(number.sqrt()), t.DOUBLE)

    def _fn_exp(self, node: ast.FunctionCall) -> Typed:
        return self._double_fn(node, lambda x: x.exp())

    def _fn_signum(self, node: ast.FunctionCall) -> Typed:
        return self._double_fn(node, lambda x: x.sign().cast(pl.Float64))

    def _fn_log10(self, node: ast.FunctionCall) -> Typed:
        (value,) = self._singles(node, 1)
        self._numeric_arg(node, value)
        number = value.expr.cast(pl.Float64)
        bad = number <= 0
        self.fail(node, bad, "java.lang.ArithmeticException: Log of non-positive number")
        # polars derives log10 from ln, which misses exact powers of ten (Java's log10 hits them).
        approximate = number.log() / math.log(10)
        nearest = approximate.round(0)
        exact = pl.when(pl.lit(10.0).pow(nearest) == number).then(nearest).otherwise(approximate)
        return Typed(pl.when(bad).then(None).otherwise(exact), t.DOUBLE)

    def _fn_log(self, node: ast.FunctionCall) -> Typed:
        args = self._singles(node, 1, 2)
        for index, arg in enumerate(args):
            self._numeric_arg(node, arg, "first" if index == 0 else "second")
        if len(args) == 1:
            number = args[0].expr.cast(pl.Float64)
            bad = number <= 0
            self.fail(node, bad, "java.lang.ArithmeticException: Log of non-positive number")
            return Typed(pl.when(bad).then(None).otherwise(number.log()), t.DOUBLE)
        base, number = args[0].expr.cast(pl.Float64), args[1].expr.cast(pl.Float64)
        bad = (base <= 0) | (number <= 0)
        self.fail(node, bad, "java.lang.ArithmeticException: Log of non-positive number")
        base_one = base == 1
        self.fail(node, base_one & ~bad, "java.lang.ArithmeticException: Log of base 1")
        result = number.log() / base.log()
        return Typed(pl.when(bad | base_one).then(None).otherwise(result), t.DOUBLE)

    def _fn_pow(self, node: ast.FunctionCall) -> Typed:
        base, exponent = self._singles(node, 2)
        self._numeric_arg(node, base)
        self._numeric_arg(node, exponent, "second")
        result = base.expr.cast(pl.Float64).pow(exponent.expr.cast(pl.Float64))
        bad = result.is_nan() | result.is_infinite()
        self.fail(node, bad, "java.lang.ArithmeticException: invalid result when computing pow")
        return Typed(pl.when(bad).then(None).otherwise(result), t.DOUBLE)

    def _fn_pi(self, node: ast.FunctionCall) -> Typed:
        self._args(node, 0)
        return Typed(pl.lit(math.pi), t.DOUBLE, const=math.pi)

    def _fn_e(self, node: ast.FunctionCall) -> Typed:
        self._args(node, 0)
        return Typed(pl.lit(math.e), t.DOUBLE, const=math.e)

    def _fn_tau(self, node: ast.FunctionCall) -> Typed:
        self._args(node, 0)
        return Typed(pl.lit(math.tau), t.DOUBLE, const=math.tau)

    def _extreme(self, node: ast.FunctionCall, *, greatest: bool) -> Typed:
        args = self._args(node, 1, 1000)
        kinds = {arg.type for arg in args if arg.type != t.NULL}
        if not kinds:
            return Typed(pl.lit(None), t.NULL, const=None)
        if all(is_numeric(kind) for kind in kinds):
            result_type = t.INTEGER
            for kind in kinds:
                result_type = numeric_result_type(result_type, kind)
        else:
            # keyword and text mix (the result is keyword); anything else must match exactly.
            if len({"string" if kind in t.STRING else kind for kind in kinds}) > 1:
                raise execution_error(f"arguments of [{node.text}] must have the same type", node)
            result_type = t.KEYWORD if kinds & t.STRING else next(iter(kinds))
        dtype = esql_dtype(result_type)
        exprs: list[pl.Expr] = []
        for arg in args:
            expr = arg.expr
            if arg.multi:
                expr = expr.list.max() if greatest else expr.list.min()
            exprs.append(expr.cast(dtype))
        any_null = pl.any_horizontal([expr.is_null() for expr in exprs])
        combined = pl.max_horizontal(exprs) if greatest else pl.min_horizontal(exprs)
        return Typed(pl.when(any_null).then(None).otherwise(combined), result_type)

    def _fn_greatest(self, node: ast.FunctionCall) -> Typed:
        return self._extreme(node, greatest=True)

    def _fn_least(self, node: ast.FunctionCall) -> Typed:
        return self._extreme(node, greatest=False)

    # Strings --------------------------------------------------------------------------------

    def _string_arg(self, node: ast.FunctionCall, value: Typed, ordinal: str = "first") -> None:
        self._require(node, value, is_string, "string", ordinal)

    def _strings(self, node: ast.FunctionCall, low: int, high: int | None = None) -> list[Typed]:
        args = self._singles(node, low, high)
        for index, arg in enumerate(args):
            self._string_arg(node, arg, _ORDINALS[min(index, len(_ORDINALS) - 1)])
        return args

    def _fn_concat(self, node: ast.FunctionCall) -> Typed:
        args = self._strings(node, 2, 1000)
        exprs = [arg.expr.cast(pl.String) for arg in args]
        return Typed(pl.concat_str(exprs, ignore_nulls=False), t.KEYWORD)

    def _fn_length(self, node: ast.FunctionCall) -> Typed:
        (value,) = self._strings(node, 1)
        return Typed(value.expr.str.len_chars().cast(pl.Int32), t.INTEGER)

    def _fn_substring(self, node: ast.FunctionCall) -> Typed:
        args = self._singles(node, 2, 3)
        self._string_arg(node, args[0])
        self._numeric_arg(node, args[1], "second")
        text = args[0].expr.cast(pl.String)
        length_chars = text.str.len_chars().cast(pl.Int64)
        start = args[1].expr.cast(pl.Int64)
        # ES|QL is 1-based; 0 and 1 both mean the first character; negative counts from the end.
        offset = (
            pl.when(start > 0)
            .then(start - 1)
            .when(start < 0)
            .then(length_chars + start)
            .otherwise(0)
        )
        offset = pl.min_horizontal(pl.max_horizontal(offset, pl.lit(0)), length_chars)
        if len(args) == 3:
            self._numeric_arg(node, args[2], "third")
            length = args[2].expr.cast(pl.Int64)
            negative = length < 0
            self.fail(
                node,
                negative,
                "java.lang.IllegalArgumentException: Length parameter "
                "cannot be negative, found [" + VALUE_PLACEHOLDER + "]",
                value=length.cast(pl.String),
            )
            length = pl.when(negative).then(None).otherwise(length)
        else:
            length = length_chars
        nulls = pl.any_horizontal([arg.expr.is_null() for arg in args])
        sliced = text.str.slice(offset, length)
        return Typed(pl.when(nulls).then(None).otherwise(sliced), t.KEYWORD)

    def _fn_to_lower(self, node: ast.FunctionCall) -> Typed:
        (value,) = self._strings(node, 1)
        return Typed(value.expr.str.to_lowercase(), value.type)

    def _fn_to_upper(self, node: ast.FunctionCall) -> Typed:
        (value,) = self._strings(node, 1)
        return Typed(value.expr.str.to_uppercase(), value.type)

    def _fn_trim(self, node: ast.FunctionCall) -> Typed:
        (value,) = self._strings(node, 1)
        return Typed(value.expr.str.strip_chars(), value.type)

    def _fn_ltrim(self, node: ast.FunctionCall) -> Typed:
        (value,) = self._strings(node, 1)
        return Typed(value.expr.str.strip_chars_start(), value.type)

    def _fn_rtrim(self, node: ast.FunctionCall) -> Typed:
        (value,) = self._strings(node, 1)
        return Typed(value.expr.str.strip_chars_end(), value.type)

    def _fn_starts_with(self, node: ast.FunctionCall) -> Typed:
        value, prefix = self._strings(node, 2)
        return Typed(value.expr.str.starts_with(prefix.expr), t.BOOLEAN)

    def _fn_ends_with(self, node: ast.FunctionCall) -> Typed:
        value, suffix = self._strings(node, 2)
        return Typed(value.expr.str.ends_with(suffix.expr), t.BOOLEAN)

    def _fn_replace(self, node: ast.FunctionCall) -> Typed:
        value, regex, replacement = self._strings(node, 3)
        pattern = self._const_arg(node, regex, "regex")
        if pattern is None:
            return Typed(pl.lit(None, dtype=pl.String), t.KEYWORD)
        try:
            re.compile(pattern)
        except re.error as error:
            raise execution_error(
                f"invalid regular expression [{pattern}]: {error}", node
            ) from None
        new = replacement.const if replacement.is_const else None
        if new is None:
            raise execution_error(f"[newString] of [{node.text}] must be a constant", node)
        replaced = value.expr.str.replace_all(pattern, new, literal=False)
        return Typed(replaced, t.KEYWORD)

    def _fn_left(self, node: ast.FunctionCall) -> Typed:
        value, length = self._singles(node, 2)
        self._string_arg(node, value)
        self._numeric_arg(node, length, "second")
        count = pl.max_horizontal(length.expr.cast(pl.Int64), pl.lit(0))
        result = value.expr.str.slice(0, count)
        return Typed(pl.when(length.expr.is_null()).then(None).otherwise(result), t.KEYWORD)

    def _fn_right(self, node: ast.FunctionCall) -> Typed:
        value, length = self._singles(node, 2)
        self._string_arg(node, value)
        self._numeric_arg(node, length, "second")
        count = pl.max_horizontal(length.expr.cast(pl.Int64), pl.lit(0))
        total = value.expr.str.len_chars().cast(pl.Int64)
        start = pl.max_horizontal(total - count, pl.lit(0))
        result = value.expr.str.slice(start, count)
        return Typed(pl.when(length.expr.is_null()).then(None).otherwise(result), t.KEYWORD)

    def _fn_split(self, node: ast.FunctionCall) -> Typed:
        value, delimiter = self._strings(node, 2)
        separator = self._const_arg(node, delimiter, "delimiter")
        if separator is None:
            return Typed(pl.lit(None, dtype=pl.String), t.KEYWORD)
        return Typed(value.expr.str.split(separator), t.KEYWORD, multi=True)

    def _fn_locate(self, node: ast.FunctionCall) -> Typed:
        args = self._singles(node, 2, 3)
        self._string_arg(node, args[0])
        self._string_arg(node, args[1], "second")
        text = args[0].expr
        needle = self._const_arg(node, args[1], "substring")
        if needle is None:
            return Typed(pl.lit(None, dtype=pl.Int32), t.INTEGER)
        start = pl.lit(0, dtype=pl.Int64)
        if len(args) == 3:
            self._numeric_arg(node, args[2], "third")
            start = pl.max_horizontal(args[2].expr.cast(pl.Int64) - 1, pl.lit(0))
        tail = text.str.slice(start)
        # The text before the first match, so the position counts characters, not bytes.
        prefix = tail.str.extract("(?s)^(.*?)" + re.escape(str(needle)), 1)
        position = (start + prefix.str.len_chars().cast(pl.Int64) + 1).cast(pl.Int32)
        result = pl.when(prefix.is_null()).then(pl.lit(0, dtype=pl.Int32)).otherwise(position)
        return Typed(pl.when(text.is_null()).then(None).otherwise(result), t.INTEGER)

    # Dates ----------------------------------------------------------------------------------

    def _fn_now(self, node: ast.FunctionCall) -> Typed:
        self._args(node, 0)
        instant = self.now.astimezone(UTC)
        instant = instant.replace(microsecond=instant.microsecond // 1000 * 1000)
        return Typed(pl.lit(instant, dtype=t.DATETIME), t.DATE, const=instant)

    def _fn_date_trunc(self, node: ast.FunctionCall) -> Typed:
        if len(node.args) != 2:
            self._args(node, 2)
        interval = self.compile(node.args[0])
        date = self.as_date(self.single(self.compile(node.args[1]), node), node)
        if interval.type not in (t.TIME_DURATION, t.DATE_PERIOD):
            raise execution_error(
                f"first argument of [{node.text}] must be [dateperiod or timeduration], found "
                f"value [{value_text(interval)}] type [{interval.type}]",
                node,
            )
        amount, unit = interval.const
        return Typed(truncate_date(date.expr, amount, unit), t.DATE)

    def _fn_date_diff(self, node: ast.FunctionCall) -> Typed:
        unit_arg, start_arg, end_arg = self._args(node, 3)
        unit = self._const_arg(node, unit_arg, "unit")
        start = self.as_date(self.single(start_arg, node), node)
        end = self.as_date(self.single(end_arg, node), node)
        if unit is None:
            return Typed(pl.lit(None, dtype=pl.Int32), t.INTEGER)
        canonical = _DATE_DIFF_UNITS.get(str(unit).lower())
        if canonical is None:
            raise execution_error(
                f"Received value [{unit}] is not valid date part to add; did you mean "
                f"{sorted(set(_DATE_DIFF_UNITS.values()))}?",
                node,
            )
        if start.is_const and end.is_const:
            if start.const is None or end.const is None:
                return Typed(pl.lit(None, dtype=pl.Int32), t.INTEGER, const=None)
            folded = pl.select(date_difference(start.expr, end.expr, canonical, _no_bind)).item()
            if INT32_MIN <= folded <= INT32_MAX:
                return Typed(pl.lit(folded, dtype=pl.Int32), t.INTEGER, const=folded)

        def bind(expr: pl.Expr) -> pl.Expr:
            return self.bind(Typed(expr, t.LONG)).expr

        diff = bind(date_difference(start.expr, end.expr, canonical, bind))
        overflow = (diff < INT32_MIN) | (diff > INT32_MAX)
        self.fail(
            node,
            overflow,
            "org.elasticsearch.xpack.esql.core.InvalidArgumentException: "
            "[" + VALUE_PLACEHOLDER + "] out of [integer] range",
            value=diff.cast(pl.String),
        )
        return Typed(pl.when(overflow).then(None).otherwise(diff).cast(pl.Int32), t.INTEGER)

    def _fn_date_extract(self, node: ast.FunctionCall) -> Typed:
        part_arg, date_arg = self._args(node, 2)
        part = self._const_arg(node, part_arg, "datePart")
        date = self.as_date(self.single(date_arg, node), node)
        if part is None:
            return Typed(pl.lit(None, dtype=pl.Int64), t.LONG)
        extractor = _DATE_PARTS.get(str(part).lower())
        if extractor is None:
            raise execution_error(
                f"A valid date part is required in [{node.text}], found [{part}]", node
            )
        return Typed(extractor(date.expr).cast(pl.Int64), t.LONG)

    def _fn_date_format(self, node: ast.FunctionCall) -> Typed:
        args = self._args(node, 1, 2)
        if len(args) == 1:
            date = self.as_date(self.single(args[0], node), node)
            return Typed(date.expr.dt.strftime(ES_DATE_FORMAT), t.KEYWORD)
        pattern = self._const_arg(node, args[0], "format")
        date = self.as_date(self.single(args[1], node), node)
        if pattern is None:
            return Typed(pl.lit(None, dtype=pl.String), t.KEYWORD)
        fmt = java_date_pattern(str(pattern), node)
        return Typed(date.expr.dt.strftime(fmt), t.KEYWORD)

    def _fn_date_parse(self, node: ast.FunctionCall) -> Typed:
        args = self._singles(node, 1, 2)
        text = args[-1]
        self._string_arg(node, text, "first" if len(args) == 1 else "second")
        if len(args) == 1:
            parsed = iso_to_datetime_expr(text.expr)
            pattern_text = "strict_date_optional_time"
        else:
            pattern = self._const_arg(node, args[0], "format")
            if pattern is None:
                return Typed(pl.lit(None, dtype=t.DATETIME), t.DATE)
            pattern_text = str(pattern)
            fmt = java_date_pattern(pattern_text, node)
            if "%z" in fmt or "%:z" in fmt:
                parsed = text.expr.str.strptime(pl.Datetime("ms", "UTC"), fmt, strict=False)
            else:
                parsed = text.expr.str.strptime(pl.Datetime("ms"), fmt, strict=False)
                parsed = parsed.dt.replace_time_zone("UTC")
            parsed = parsed.cast(t.DATETIME)
        failed = text.expr.is_not_null() & parsed.is_null()
        self.fail(
            node,
            failed,
            "java.lang.IllegalArgumentException: failed to parse date field ["
            + VALUE_PLACEHOLDER
            + f"] with format [{pattern_text}]",
            value=text.expr,
        )
        return Typed(parsed, t.DATE)

    # Conditionals ---------------------------------------------------------------------------

    def _lazy_args(self, node: ast.FunctionCall, low: int) -> list[tuple[Typed, int, int]]:
        """Arguments with the range of `checks` each one registered (see `_only_when`)."""
        if len(node.args) < low:
            self._args(node, low, 1000)  # raises the arity error
        compiled: list[tuple[Typed, int, int]] = []
        for arg in node.args:
            first = len(self.checks)
            value = self.bind(self.compile(arg))
            compiled.append((value, first, len(self.checks)))
        return compiled

    def _only_when(self, first: int, last: int, evaluated: pl.Expr) -> None:
        """Failures of an argument count only on rows where ES evaluates it.

        CASE and COALESCE evaluate their arguments lazily: a branch that is not taken cannot
        fail, so `x / d` in `CASE(d > 0, x / d, 0)` never warns about division by zero.
        """
        for index in range(first, last):
            check = self.checks[index]
            self.checks[index] = replace(check, failed=check.failed & evaluated)

    def _fn_coalesce(self, node: ast.FunctionCall) -> Typed:
        compiled = self._lazy_args(node, 1)
        args = [value for value, _, _ in compiled]
        result_type = _common_type(node, [arg.type for arg in args])
        multi = any(arg.multi for arg in args)
        dtype = esql_dtype(result_type)
        exprs: list[pl.Expr] = []
        all_null_so_far: pl.Expr = pl.lit(True)
        for value, first, last in compiled:
            self._only_when(first, last, all_null_so_far)
            all_null_so_far = all_null_so_far & value.expr.is_null()
            expr = value.expr.cast(pl.List(dtype) if value.multi else dtype)
            if multi and not value.multi:
                expr = pl.when(expr.is_null()).then(None).otherwise(pl.concat_list([expr]))
            exprs.append(expr)
        return Typed(pl.coalesce(exprs), result_type, multi=multi)

    def _fn_case(self, node: ast.FunctionCall) -> Typed:
        compiled = self._lazy_args(node, 1)
        args = [value for value, _, _ in compiled]
        pairs = len(args) // 2
        values = [args[index * 2 + 1] for index in range(pairs)]
        default = args[-1] if len(args) % 2 == 1 else None
        outcomes = values + ([default] if default is not None else [])
        result_type = _common_type(node, [value.type for value in outcomes])
        multi = any(value.multi for value in outcomes)
        dtype = esql_dtype(result_type)
        target = pl.List(dtype) if multi else dtype

        def cast(value: Typed) -> pl.Expr:
            expr = value.expr.cast(pl.List(dtype) if value.multi else dtype)
            if multi and not value.multi:
                expr = pl.when(expr.is_null()).then(None).otherwise(pl.concat_list([expr]))
            return expr

        if pairs == 0:
            assert default is not None
            return Typed(cast(default), result_type, multi=multi)
        chain: Any = None
        # Rows that reach condition `index`: every earlier condition was false (or null).
        reached: pl.Expr = pl.lit(True)
        for index in range(pairs):
            _, first, last = compiled[index * 2]
            before_single = len(self.checks)
            condition = self.single(args[index * 2], node)
            self._only_when(first, last, reached)
            self._only_when(before_single, len(self.checks), reached)
            if condition.type not in (t.BOOLEAN, t.NULL):
                raise execution_error(
                    f"condition of [{node.text}] must be [boolean], found value "
                    f"[{value_text(condition)}] type [{condition.type}]",
                    node,
                )
            test = condition.expr.cast(pl.Boolean).fill_null(False)
            _, value_first, value_last = compiled[index * 2 + 1]
            self._only_when(value_first, value_last, reached & test)
            reached = reached & ~test
            chain = (pl.when(test) if chain is None else chain.when(test)).then(cast(values[index]))
        if default is not None:
            _, default_first, default_last = compiled[-1]
            self._only_when(default_first, default_last, reached)
        fallback = cast(default) if default is not None else pl.lit(None, dtype=target)
        return Typed(chain.otherwise(fallback), result_type, multi=multi)

    # Conversions ----------------------------------------------------------------------------

    def _to(self, node: ast.FunctionCall, target: str) -> Typed:
        (value,) = self._args(node, 1)
        return self.convert(node, value, target)

    def _fn_to_string(self, node: ast.FunctionCall) -> Typed:
        return self._to(node, t.KEYWORD)

    def _fn_to_long(self, node: ast.FunctionCall) -> Typed:
        return self._to(node, t.LONG)

    def _fn_to_integer(self, node: ast.FunctionCall) -> Typed:
        return self._to(node, t.INTEGER)

    def _fn_to_int(self, node: ast.FunctionCall) -> Typed:
        return self._to(node, t.INTEGER)

    def _fn_to_double(self, node: ast.FunctionCall) -> Typed:
        return self._to(node, t.DOUBLE)

    def _fn_to_dbl(self, node: ast.FunctionCall) -> Typed:
        return self._to(node, t.DOUBLE)

    def _fn_to_boolean(self, node: ast.FunctionCall) -> Typed:
        return self._to(node, t.BOOLEAN)

    def _fn_to_bool(self, node: ast.FunctionCall) -> Typed:
        return self._to(node, t.BOOLEAN)

    def _fn_to_datetime(self, node: ast.FunctionCall) -> Typed:
        return self._to(node, t.DATE)

    def _fn_to_dt(self, node: ast.FunctionCall) -> Typed:
        return self._to(node, t.DATE)

    def _fn_to_ip(self, node: ast.FunctionCall) -> Typed:
        return self._to(node, t.IP)

    def _fn_to_version(self, node: ast.FunctionCall) -> Typed:
        return self._to(node, t.VERSION)

    # Multi-value ----------------------------------------------------------------------------

    def _mv_arg(self, node: ast.FunctionCall, count: int = 1) -> tuple[Typed, pl.Expr]:
        args = self._args(node, count)
        value = args[0]
        listed = value.expr if value.multi else pl.concat_list([value.expr])
        listed = pl.when(value.expr.is_null()).then(None).otherwise(listed)
        return value, listed

    def _fn_mv_count(self, node: ast.FunctionCall) -> Typed:
        _, listed = self._mv_arg(node)
        count = listed.list.len().cast(pl.Int32)
        return Typed(pl.when(count == 0).then(None).otherwise(count), t.INTEGER)

    def _fn_mv_min(self, node: ast.FunctionCall) -> Typed:
        value, listed = self._mv_arg(node)
        return Typed(listed.list.min() if value.multi else value.expr, value.type)

    def _fn_mv_max(self, node: ast.FunctionCall) -> Typed:
        value, listed = self._mv_arg(node)
        return Typed(listed.list.max() if value.multi else value.expr, value.type)

    def _fn_mv_first(self, node: ast.FunctionCall) -> Typed:
        value, listed = self._mv_arg(node)
        return Typed(listed.list.first() if value.multi else value.expr, value.type)

    def _fn_mv_last(self, node: ast.FunctionCall) -> Typed:
        value, listed = self._mv_arg(node)
        return Typed(listed.list.last() if value.multi else value.expr, value.type)

    def _fn_mv_avg(self, node: ast.FunctionCall) -> Typed:
        value, listed = self._mv_arg(node)
        self._numeric_arg(node, value)
        return Typed(listed.list.mean().cast(pl.Float64), t.DOUBLE)

    def _fn_mv_sum(self, node: ast.FunctionCall) -> Typed:
        value, listed = self._mv_arg(node)
        self._numeric_arg(node, value)
        if not value.multi:
            return value
        total = listed.list.sum()
        empty = listed.list.len() == 0
        return Typed(
            pl.when(empty).then(None).otherwise(total).cast(esql_dtype(value.type)), value.type
        )

    def _fn_mv_median(self, node: ast.FunctionCall) -> Typed:
        value, listed = self._mv_arg(node)
        self._numeric_arg(node, value)
        median = listed.list.median()
        if value.type != t.DOUBLE:
            # For whole numbers ES averages the middle pair and rounds down.
            median = median.floor().cast(esql_dtype(value.type))
        return Typed(median, value.type)

    def _fn_mv_dedupe(self, node: ast.FunctionCall) -> Typed:
        value, listed = self._mv_arg(node)
        if not value.multi:
            return value
        return Typed(listed.list.unique(maintain_order=True), value.type, multi=True)

    def _fn_mv_sort(self, node: ast.FunctionCall) -> Typed:
        args = self._args(node, 1, 2)
        value = args[0]
        descending = False
        if len(args) == 2:
            order = str(self._const_arg(node, args[1], "order")).upper()
            if order not in ("ASC", "DESC"):
                raise execution_error(
                    f"Invalid order value in [{node.text}], expected [ASC, DESC] but got [{order}]",
                    node,
                )
            descending = order == "DESC"
        if not value.multi:
            return value
        return Typed(value.expr.list.sort(descending=descending), value.type, multi=True)

    def _fn_mv_concat(self, node: ast.FunctionCall) -> Typed:
        args = self._args(node, 2)
        value, delimiter = args[0], self.single(args[1], node)
        self._string_arg(node, value)
        self._string_arg(node, delimiter, "second")
        separator = self._const_arg(node, delimiter, "delimiter")
        if separator is None:
            return Typed(pl.lit(None, dtype=pl.String), t.KEYWORD)
        if not value.multi:
            return Typed(value.expr, t.KEYWORD)
        joined = value.expr.list.join(separator)
        return Typed(pl.when(value.expr.list.len() == 0).then(None).otherwise(joined), t.KEYWORD)

    # Full text ------------------------------------------------------------------------------

    def _fn_match(self, node: ast.FunctionCall) -> Typed:
        field_arg, query_arg = self._args(node, 2)
        if not isinstance(node.args[0], ast.Field):
            raise execution_error(f"first argument of [{node.text}] must be a field", node)
        self._string_arg(node, field_arg)
        query = self._const_arg(node, query_arg, "query")
        if query is None:
            return Typed(pl.lit(None, dtype=pl.Boolean), t.BOOLEAN)
        matched, score = full_text_match(field_arg, str(query))
        self.scores.append(score)
        return Typed(matched, t.BOOLEAN)

    # Grouping -------------------------------------------------------------------------------

    def bucket(self, node: ast.FunctionCall) -> Typed:
        """BUCKET(field, span) or BUCKET(field, buckets, from, to) for dates and numbers."""
        if len(node.args) not in (2, 4):
            self._args(node, 2, 2)
        value = self.single(self.compile(node.args[0]), node)
        size = self.compile(node.args[1])
        if value.type in (t.DATE, t.DATE_NANOS):
            date = self.as_date(value, node).expr
            if size.type in (t.TIME_DURATION, t.DATE_PERIOD):
                amount, unit = size.const
                return Typed(truncate_date(date, amount, unit), t.DATE)
            if len(node.args) != 4:
                raise execution_error(
                    f"second argument of [{node.text}] must be [date_period or time_duration] "
                    f"when called with two arguments, found [{size.type}]",
                    node,
                )
            low = self.as_date(self.compile(node.args[2]), node).const
            high = self.as_date(self.compile(node.args[3]), node).const
            buckets = int(self._const_arg(node, size, "buckets"))
            amount, unit = pick_date_rounding(buckets, low, high)
            return Typed(truncate_date(date, amount, unit), t.DATE)
        if not is_numeric(value.type):
            raise execution_error(
                f"first argument of [{node.text}] must be [datetime or numeric], found value "
                f"[{value_text(value)}] type [{value.type}]",
                node,
            )
        if len(node.args) == 2:
            span = float(self._const_arg(node, size, "span"))
        else:
            low_value = float(self._const_arg(node, self.compile(node.args[2]), "from"))
            high_value = float(self._const_arg(node, self.compile(node.args[3]), "to"))
            span = pick_numeric_rounding(int(size.const), low_value, high_value)
        number = value.expr.cast(pl.Float64)
        return Typed((number / span).floor() * span, t.DOUBLE)


# ---------------------------------------------------------------------------------------------
# Helpers shared with the executor and the aggregates
# ---------------------------------------------------------------------------------------------

_ORDINALS = ("first", "second", "third", "fourth", "fifth")

# Functions that return null when any argument is the null literal, with their result type.
_NULL_IN_NULL_OUT: dict[str, str] = {
    **dict.fromkeys(("ABS", "CEIL", "FLOOR", "ROUND"), t.NULL),
    **dict.fromkeys(("SQRT", "EXP", "LOG", "LOG10", "POW", "SIGNUM"), t.DOUBLE),
    **dict.fromkeys(
        (
            "CONCAT",
            "SUBSTRING",
            "TO_LOWER",
            "TO_UPPER",
            "TRIM",
            "LTRIM",
            "RTRIM",
            "REPLACE",
            "LEFT",
            "RIGHT",
            "SPLIT",
            "DATE_FORMAT",
        ),
        t.KEYWORD,
    ),
    **dict.fromkeys(("LENGTH", "LOCATE", "DATE_DIFF"), t.INTEGER),
    **dict.fromkeys(("STARTS_WITH", "ENDS_WITH"), t.BOOLEAN),
    **dict.fromkeys(("DATE_TRUNC", "DATE_PARSE"), t.DATE),
    "DATE_EXTRACT": t.LONG,
}


def is_known_function(name: str) -> bool:
    """Whether `name` is an aggregate or a scalar function the engine implements."""
    upper = name.upper()
    return (
        upper in AGGREGATE_NAMES
        or upper == "BUCKET"
        or hasattr(ExprCompiler, "_fn_" + upper.lower())
    )


def value_text(value: Typed) -> str:
    """How ES quotes an argument in a type error: the constant, or `?` for computed values."""
    if value.is_const:
        if isinstance(value.const, datetime):
            return format_date(value.const)
        return str(value.const)
    return "?"


def _first_type(types: Any) -> str:
    for item in types or ():
        if item and item != t.NULL:
            return str(item)
    return t.NULL


def _literal_item(value: Any, esql_type: str) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    if esql_type == t.DOUBLE and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _common_type(node: ast.Expr, kinds: list[str]) -> str:
    found = [kind for kind in kinds if kind != t.NULL]
    if not found:
        return t.NULL
    first = found[0]
    for kind in found[1:]:
        if kind == first or (kind in t.STRING and first in t.STRING):
            continue
        raise execution_error(
            f"arguments of [{node.text}] must all have the same type, found [{first}] and [{kind}]",
            node,
        )
    if first in t.STRING and any(kind != first for kind in found):
        return t.KEYWORD
    return first


def _truncating_division(lhs: pl.Expr, rhs: pl.Expr) -> pl.Expr:
    """Integer division rounding toward zero, as Java does (polars' `//` floors)."""
    floored = lhs // rhs
    inexact = (lhs % rhs) != 0
    signs_differ = (lhs < 0) != (rhs < 0)
    return pl.when(inexact & signs_differ).then(floored + 1).otherwise(floored)


def _java_remainder_float(lhs: pl.Expr, rhs: pl.Expr) -> pl.Expr:
    """Java's `%` on doubles: the sign follows the dividend."""
    quotient = lhs / rhs
    truncated = pl.when(quotient < 0).then(quotient.ceil()).otherwise(quotient.floor())
    return lhs - rhs * truncated


_IPV4_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV4 = rf"(?:{_IPV4_OCTET}\.){{3}}{_IPV4_OCTET}"
_IPV6 = (
    r"(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4}:){1,7}:|"
    r"(?:[0-9A-Fa-f]{1,4}:){1,6}:[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4}:){1,5}(?::[0-9A-Fa-f]{1,4}){1,2}|"
    r"(?:[0-9A-Fa-f]{1,4}:){1,4}(?::[0-9A-Fa-f]{1,4}){1,3}|(?:[0-9A-Fa-f]{1,4}:){1,3}(?::[0-9A-Fa-f]{1,4}){1,4}|"
    r"(?:[0-9A-Fa-f]{1,4}:){1,2}(?::[0-9A-Fa-f]{1,4}){1,5}|[0-9A-Fa-f]{1,4}:(?::[0-9A-Fa-f]{1,4}){1,6}|"
    r":(?:(?::[0-9A-Fa-f]{1,4}){1,7}|:)"
)
_IP_REGEX = f"^(?:{_IPV4}|{_IPV6})$"

Converter = Callable[[pl.Expr], tuple[pl.Expr, pl.Expr | None, str]]


def _parse_number_failure() -> str:
    return f"{INVALID_ARGUMENT}: Cannot parse number [{VALUE_PLACEHOLDER}]"


def _range_failure(target: str) -> str:
    return f"{INVALID_ARGUMENT}: [{VALUE_PLACEHOLDER}] out of [{target}] range"


def _whole_number_converter(target: str) -> Callable[[str], Converter | None]:
    dtype = esql_dtype(target)
    low, high = (INT32_MIN, INT32_MAX) if target == t.INTEGER else (INT64_MIN, INT64_MAX)

    def from_source(source: str) -> Converter | None:
        if source in (t.INTEGER, t.LONG, t.UNSIGNED_LONG):

            def whole(expr: pl.Expr) -> tuple[pl.Expr, pl.Expr | None, str]:
                wide = expr.cast(pl.Int128)
                bad = (wide < low) | (wide > high)
                return expr.cast(dtype, strict=False), bad, _range_failure(target)

            return whole
        if source == t.DOUBLE:

            def from_double(expr: pl.Expr) -> tuple[pl.Expr, pl.Expr | None, str]:
                # Java's Math.round: half up.
                rounded = (expr + 0.5).floor()
                bad = (rounded < low) | (rounded > high) | expr.is_nan()
                return rounded.cast(dtype, strict=False), bad, _range_failure(target)

            return from_double
        if source == t.BOOLEAN:
            return lambda expr: (expr.cast(dtype), None, "")
        if source in (t.DATE, t.DATE_NANOS):

            def from_date(expr: pl.Expr) -> tuple[pl.Expr, pl.Expr | None, str]:
                millis = expr.cast(t.DATETIME).dt.epoch("ms")
                bad = (millis < low) | (millis > high)
                return millis.cast(dtype, strict=False), bad, _range_failure(target)

            return from_date
        if source in t.STRING:

            def from_string(expr: pl.Expr) -> tuple[pl.Expr, pl.Expr | None, str]:
                text = expr.str.strip_chars()
                exact = text.cast(pl.Int64, strict=False)
                approx = (text.cast(pl.Float64, strict=False) + 0.5).floor()
                number = pl.coalesce(exact.cast(pl.Float64), approx)
                unparsable = expr.is_not_null() & number.is_null()
                out_of_range = (number < low) | (number > high)
                value = pl.coalesce(exact, approx.cast(pl.Int64, strict=False))
                return (
                    value.cast(dtype, strict=False),
                    unparsable | out_of_range.fill_null(False),
                    _parse_number_failure(),
                )

            return from_string
        return None

    return from_source


def _converter(source: str, target: str) -> Converter | None:
    if target in (t.INTEGER, t.LONG):
        return _whole_number_converter(target)(source)
    if target == t.UNSIGNED_LONG:
        if is_numeric(source) or source in t.STRING:

            def to_unsigned(expr: pl.Expr) -> tuple[pl.Expr, pl.Expr | None, str]:
                value = expr.cast(pl.UInt64, strict=False)
                return value, expr.is_not_null() & value.is_null(), _range_failure(target)

            return to_unsigned
        return None
    if target == t.DOUBLE:
        if is_numeric(source) or source == t.BOOLEAN:
            return lambda expr: (expr.cast(pl.Float64), None, "")
        if source in (t.DATE, t.DATE_NANOS):
            return lambda expr: (expr.cast(t.DATETIME).dt.epoch("ms").cast(pl.Float64), None, "")
        if source in t.STRING:

            def parse_double(expr: pl.Expr) -> tuple[pl.Expr, pl.Expr | None, str]:
                value = expr.str.strip_chars().cast(pl.Float64, strict=False)
                return value, expr.is_not_null() & value.is_null(), _parse_number_failure()

            return parse_double
        return None
    if target == t.IP and source in t.STRING:

        def parse_ip(expr: pl.Expr) -> tuple[pl.Expr, pl.Expr | None, str]:
            valid = expr.str.contains(_IP_REGEX)
            message = (
                "java.lang.IllegalArgumentException: '"
                + VALUE_PLACEHOLDER
                + "' is not an IP string literal."
            )
            return expr, expr.is_not_null() & ~valid, message

        return parse_ip
    if target in t.STRING or target in (t.IP, t.VERSION):
        if source in (t.DATE, t.DATE_NANOS):
            return lambda expr: (expr.dt.strftime(ES_DATE_FORMAT), None, "")
        if source == t.DOUBLE:
            return lambda expr: (double_to_string_expr(expr), None, "")
        if source in (t.INTEGER, t.LONG, t.UNSIGNED_LONG, t.BOOLEAN) or is_string(source):
            return lambda expr: (expr.cast(pl.String), None, "")
        return None
    if target == t.BOOLEAN:
        if source in t.STRING:
            return lambda expr: (expr.str.to_lowercase() == "true", None, "")
        if is_numeric(source):
            return lambda expr: (expr != 0, None, "")
        return None
    if target == t.DATE:
        if source in t.STRING:

            def parse_date(expr: pl.Expr) -> tuple[pl.Expr, pl.Expr | None, str]:
                value = iso_to_datetime_expr(expr)
                message = (
                    "java.lang.IllegalArgumentException: failed to parse date field ["
                    + VALUE_PLACEHOLDER
                    + "] with format [strict_date_optional_time]"
                )
                return value, expr.is_not_null() & value.is_null(), message

            return parse_date
        if source in (t.INTEGER, t.LONG, t.UNSIGNED_LONG):
            return lambda expr: (expr.cast(pl.Int64).cast(t.DATETIME), None, "")
        if source == t.DOUBLE:
            return lambda expr: (expr.cast(pl.Int64).cast(t.DATETIME), None, "")
        if source == t.DATE_NANOS:
            return lambda expr: (expr.cast(t.DATETIME), None, "")
        return None
    return None


_DATE_DIFF_UNITS: dict[str, str] = {
    **dict.fromkeys(("year", "years", "yy", "yyyy"), "year"),
    **dict.fromkeys(("quarter", "quarters", "qq", "q"), "quarter"),
    **dict.fromkeys(("month", "months", "mm", "m"), "month"),
    **dict.fromkeys(("dayofyear", "dy", "y"), "day"),
    **dict.fromkeys(("day", "days", "dd", "d"), "day"),
    **dict.fromkeys(("week", "weeks", "wk", "ww"), "week"),
    **dict.fromkeys(("weekday", "weekdays", "dw"), "day"),
    **dict.fromkeys(("hour", "hours", "hh"), "hour"),
    **dict.fromkeys(("minute", "minutes", "mi", "n"), "minute"),
    **dict.fromkeys(("second", "seconds", "ss", "s"), "second"),
    **dict.fromkeys(("millisecond", "milliseconds", "ms"), "millisecond"),
    **dict.fromkeys(("microsecond", "microseconds", "mcs"), "microsecond"),
    **dict.fromkeys(("nanosecond", "nanoseconds", "ns"), "nanosecond"),
}

_FIXED_UNIT_MS = {
    "week": 7 * 86_400_000,
    "day": 86_400_000,
    "hour": 3_600_000,
    "minute": 60_000,
    "second": 1_000,
    "millisecond": 1,
}


def _no_bind(expr: pl.Expr) -> pl.Expr:
    return expr


def date_difference(
    start: pl.Expr, end: pl.Expr, unit: str, bind: Callable[[pl.Expr], pl.Expr]
) -> pl.Expr:
    """Whole `unit`s from `start` to `end`, truncated toward zero (Java's ChronoUnit.between).

    `bind` turns an intermediate expression used several times into a column reference.
    """
    start_ms = start.dt.epoch("ms")
    end_ms = end.dt.epoch("ms")
    if unit in _FIXED_UNIT_MS:
        # Milliseconds between dates stay far below 2**53, so a float division truncated by
        # the cast is exact, and much cheaper than integer division with a sign fix-up.
        elapsed = (end_ms - start_ms).cast(pl.Float64)
        return (elapsed / _FIXED_UNIT_MS[unit]).cast(pl.Int64)
    if unit == "microsecond":
        return (end_ms - start_ms) * 1_000
    if unit == "nanosecond":
        return (end_ms - start_ms) * 1_000_000
    months = bind(
        (end.dt.year().cast(pl.Int64) - start.dt.year().cast(pl.Int64)) * 12
        + (end.dt.month().cast(pl.Int64) - start.dt.month().cast(pl.Int64))
    )
    # A month only counts once the day and time of day in `end` reach those of `start`.
    start_rest = bind(start_ms - start.dt.truncate("1mo").dt.epoch("ms"))
    end_rest = bind(end_ms - end.dt.truncate("1mo").dt.epoch("ms"))
    months = bind(
        pl.when((months > 0) & (end_rest < start_rest))
        .then(months - 1)
        .when((months < 0) & (end_rest > start_rest))
        .then(months + 1)
        .otherwise(months)
    )
    per = {"month": 1, "quarter": 3, "year": 12}[unit]
    return _truncating_division(months, pl.lit(per))


_DATE_PARTS: dict[str, Callable[[pl.Expr], pl.Expr]] = {
    "year": lambda d: d.dt.year(),
    "month_of_year": lambda d: d.dt.month(),
    "day_of_month": lambda d: d.dt.day(),
    "hour_of_day": lambda d: d.dt.hour(),
    "minute_of_hour": lambda d: d.dt.minute(),
    "second_of_minute": lambda d: d.dt.second(),
    "milli_of_second": lambda d: d.dt.millisecond(),
    "micro_of_second": lambda d: d.dt.microsecond(),
    "nano_of_second": lambda d: d.dt.nanosecond(),
    "day_of_week": lambda d: d.dt.weekday(),
    "day_of_year": lambda d: d.dt.ordinal_day(),
    "epoch_day": lambda d: d.dt.epoch("d"),
    "aligned_week_of_year": lambda d: (d.dt.ordinal_day().cast(pl.Int64) - 1) // 7 + 1,
    "minute_of_day": lambda d: d.dt.hour().cast(pl.Int64) * 60 + d.dt.minute(),
    "second_of_day": lambda d: (
        (d.dt.hour().cast(pl.Int64) * 60 + d.dt.minute()) * 60 + d.dt.second()
    ),
    "milli_of_day": lambda d: d.dt.epoch("ms") - d.dt.truncate("1d").dt.epoch("ms"),
    "ampm_of_day": lambda d: (d.dt.hour() >= 12).cast(pl.Int64),
    "hour_of_ampm": lambda d: d.dt.hour().cast(pl.Int64) % 12,
    "proleptic_month": lambda d: d.dt.year().cast(pl.Int64) * 12 + d.dt.month() - 1,
    "year_of_era": lambda d: d.dt.year(),
    "era": lambda d: (d.dt.year() > 0).cast(pl.Int64),
    "quarter_of_year": lambda d: d.dt.quarter(),
    "week_of_week_based_year": lambda d: d.dt.week(),
    "week_based_year": lambda d: d.dt.iso_year(),
}


def truncate_date(date: pl.Expr, amount: int, unit: str) -> pl.Expr:
    """Round dates down to multiples of the span (epoch-aligned; calendar units by calendar)."""
    if amount <= 0:
        raise EsqlExecutionError(f"Zero or negative time interval is not supported [{amount}]")
    millis = span_millis(amount, unit)
    if millis is not None and unit != "week":
        epoch = date.dt.epoch("ms")
        floored = (epoch // millis) * millis
        return floored.cast(t.DATETIME)
    return date.dt.truncate(span_every(amount, unit)).cast(t.DATETIME)


_DATE_ROUNDINGS: tuple[tuple[int, str], ...] = (
    (1, "month"),
    (1, "week"),
    (1, "day"),
    (12, "hour"),
    (3, "hour"),
    (1, "hour"),
    (30, "minute"),
    (10, "minute"),
    (5, "minute"),
    (1, "minute"),
    (30, "second"),
    (10, "second"),
    (5, "second"),
    (1, "second"),
    (100, "millisecond"),
    (50, "millisecond"),
    (10, "millisecond"),
    (1, "millisecond"),
)


def pick_date_rounding(buckets: int, low: datetime, high: datetime) -> tuple[int, str]:
    """The finest human-friendly rounding that covers [low, high) in at most `buckets` steps.

    Walks the roundings from coarse to fine as ES does: a rounding fits when stepping from
    `low` rounded down reaches `high` within `buckets` steps.
    """
    chosen: tuple[int, str] = (1, "year")
    low_ms = int(low.timestamp() * 1000)
    high_ms = int(high.timestamp() * 1000)
    for amount, unit in _DATE_ROUNDINGS:
        if unit == "month":
            steps = (high.year - low.year) * 12 + high.month - low.month
            if (high.day, high.time()) > (1, datetime.min.time()):
                steps += 1
        else:
            millis = span_millis(amount, unit)
            assert millis is not None
            # Weeks start on Monday; 1970-01-01 was a Thursday (3 days after a Monday).
            offset = 3 * 86_400_000 if unit == "week" else 0
            start = (low_ms + offset) // millis * millis - offset
            steps = -(-(high_ms - start) // millis)
        if max(steps, 1) > buckets:
            break
        chosen = (amount, unit)
    return chosen


def pick_numeric_rounding(buckets: int, low: float, high: float) -> float:
    """A round bucket width (a power of ten or half of one) for `buckets` buckets."""
    precise = (high - low) / buckets
    next_power = 10 ** math.ceil(math.log10(precise))
    half = next_power / 2
    return half if precise < half else float(next_power)


def full_text_match(field: Typed, query: str) -> tuple[pl.Expr, pl.Expr]:
    """MATCH: any query term in the field (OR), and a deterministic BM25 score per row."""
    terms = [term for term in re.split(r"\W+", query.lower()) if term]
    text = field.expr.cast(pl.String).str.to_lowercase()
    if not terms:
        return pl.lit(False), pl.lit(0.0)
    k1, b = 1.2, 0.75
    doc_length = text.str.count_matches(r"\w+").cast(pl.Float64)
    average_length = doc_length.mean()
    documents = pl.len().cast(pl.Float64)
    score = pl.lit(0.0)
    matched = pl.lit(False)
    for term in terms:
        frequency = text.str.count_matches(rf"\b{re.escape(term)}\b").cast(pl.Float64)
        frequency = frequency.fill_null(0.0)
        with_term = (frequency > 0).sum().cast(pl.Float64)
        idf = (1 + (documents - with_term + 0.5) / (with_term + 0.5)).log()
        norm = frequency + k1 * (1 - b + b * doc_length / average_length)
        score = score + pl.when(frequency > 0).then(idf * frequency * (k1 + 1) / norm).otherwise(
            0.0
        )
        matched = matched | (frequency > 0)
    return matched, score
