"""What every part of the expression compiler shares: typed values, checks, errors, type rules."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl

from qs_tui.esql import ast
from qs_tui.esql import types as t
from qs_tui.esql.errors import EsqlExecutionError, EsqlUnsupportedError
from qs_tui.esql.values import format_date

NOT_CONST = object()
# Names of bound intermediate columns; unique within the process so compilers never clash.
BINDING_IDS = itertools.count(1)
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# The instants the engine can hold, in ms since the epoch: polars' dates (chrono's) span the
# years -262143 to 262142; a date computed beyond them is null with DATE_RANGE_MESSAGE.
DATETIME_MIN_MS = -8_334_601_228_800_000
DATETIME_MAX_MS = 8_210_266_876_799_999
DATE_RANGE_MESSAGE = (
    "java.lang.ArithmeticException: date out of the supported range "
    "[-262143-01-01T00:00:00.000Z, +262142-12-31T23:59:59.999Z]"
)

# Placeholder in a warning message for the offending value, filled in by the executor.
VALUE_PLACEHOLDER = "\x00value\x00"

INVALID_ARGUMENT = "org.elasticsearch.xpack.esql.core.InvalidArgumentException"
MULTI_VALUE_MESSAGE = (
    "java.lang.IllegalArgumentException: single-value function encountered multi-value"
)

CAST_NAMES: dict[str, str] = {
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

SPAN_UNITS: dict[str, tuple[str, int]] = {
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
    const: Any = NOT_CONST

    @property
    def is_const(self) -> bool:
        """Whether the value is known at compile time."""
        return self.const is not NOT_CONST


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
    suffix, _ = SPAN_UNITS[unit]
    return f"{amount}{suffix}"


def span_millis(amount: int, unit: str) -> int | None:
    """The fixed length of a time span in ms, or None for calendar spans (month and longer)."""
    _, millis = SPAN_UNITS[unit]
    return amount * millis if millis else None


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


ORDINALS = ("first", "second", "third", "fourth", "fifth")


def ordinal(index: int) -> str:
    """How ES names the argument at `index` in a type error (`first`, …, then `fifth` onwards)."""
    return ORDINALS[min(index, len(ORDINALS) - 1)]


def value_text(value: Typed) -> str:
    """How ES quotes an argument in a type error: the constant, or `?` for computed values."""
    if value.is_const:
        if isinstance(value.const, datetime):
            return format_date(value.const)
        return str(value.const)
    return "?"


def first_type(types: Any) -> str:
    for item in types or ():
        if item and item != t.NULL:
            return str(item)
    return t.NULL


def literal_item(value: Any, esql_type: str) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    if esql_type == t.DOUBLE and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def truncating_division(lhs: pl.Expr, rhs: pl.Expr) -> pl.Expr:
    """Integer division rounding toward zero, as Java does (polars' `//` floors)."""
    floored = lhs // rhs
    inexact = (lhs % rhs) != 0
    signs_differ = (lhs < 0) != (rhs < 0)
    return pl.when(inexact & signs_differ).then(floored + 1).otherwise(floored)


def java_remainder_float(lhs: pl.Expr, rhs: pl.Expr) -> pl.Expr:
    """Java's `%` on doubles: the sign follows the dividend."""
    quotient = lhs / rhs
    truncated = pl.when(quotient < 0).then(quotient.ceil()).otherwise(quotient.floor())
    return lhs - rhs * truncated
