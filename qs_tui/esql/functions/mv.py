"""Multi-value functions: MV_COUNT, MV_MIN, MV_MAX, MV_FIRST, MV_LAST, MV_AVG, MV_SUM,
MV_MEDIAN, MV_DEDUPE, MV_SORT, MV_CONCAT."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from qs_tui.esql import ast
from qs_tui.esql import types as t
from qs_tui.esql.functions.core import (
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    Typed,
    esql_dtype,
    execution_error,
)
from qs_tui.esql.functions.registry import NUMERIC, STRING, Param, scalar

if TYPE_CHECKING:
    from qs_tui.esql.functions.compiler import ExprCompiler

FIELD = Param("field", multi=True)
NUMBERS = Param("number", NUMERIC, multi=True)

# The range of each whole-number type, for MV_SUM's overflow check.
_RANGES: dict[str, tuple[int, int]] = {
    t.INTEGER: (INT32_MIN, INT32_MAX),
    t.LONG: (INT64_MIN, INT64_MAX),
    t.UNSIGNED_LONG: (0, 2**64 - 1),
}


def _listed(value: Typed) -> pl.Expr:
    """The value as a list (a single value becomes a one-element list; null stays null)."""
    listed = value.expr if value.multi else pl.concat_list([value.expr])
    return pl.when(value.expr.is_null()).then(None).otherwise(listed)


@scalar("MV_COUNT", FIELD)
def mv_count(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """How many values there are, an integer."""
    count = _listed(args[0]).list.len().cast(pl.Int32)
    return Typed(pl.when(count == 0).then(None).otherwise(count), t.INTEGER)


@scalar("MV_MIN", FIELD)
def mv_min(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The smallest value."""
    (value,) = args
    return Typed(_listed(value).list.min() if value.multi else value.expr, value.type)


@scalar("MV_MAX", FIELD)
def mv_max(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The largest value."""
    (value,) = args
    return Typed(_listed(value).list.max() if value.multi else value.expr, value.type)


@scalar("MV_FIRST", FIELD)
def mv_first(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The first value, in the order the values are stored."""
    (value,) = args
    return Typed(_listed(value).list.first() if value.multi else value.expr, value.type)


@scalar("MV_LAST", FIELD)
def mv_last(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The last value, in the order the values are stored."""
    (value,) = args
    return Typed(_listed(value).list.last() if value.multi else value.expr, value.type)


@scalar("MV_AVG", NUMBERS)
def mv_avg(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The mean of the values, a double."""
    return Typed(_listed(args[0]).list.mean().cast(pl.Float64), t.DOUBLE)


@scalar("MV_SUM", NUMBERS)
def mv_sum(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The sum of the values, of their type; a whole-number sum that overflows is null with
    ES's `ArithmeticException: <type> overflow` warning."""
    (value,) = args
    if not value.multi:
        return value
    listed = _listed(value)
    empty = listed.list.len() == 0
    if value.type not in _RANGES:
        total = listed.list.sum()
        return Typed(pl.when(empty).then(None).otherwise(total).cast(pl.Float64), value.type)
    # Sum in 128 bits so that the true total is known, then check it fits the type.
    low, high = _RANGES[value.type]
    total = c.bind(Typed(listed.list.eval(pl.element().cast(pl.Int128)).list.sum(), t.LONG)).expr
    overflow = ~empty & ((total < low) | (total > high))
    c.fail(node, overflow, f"java.lang.ArithmeticException: {value.type} overflow")
    result = pl.when(empty | overflow).then(None).otherwise(total)
    return Typed(result.cast(esql_dtype(value.type)), value.type)


@scalar("MV_MEDIAN", NUMBERS)
def mv_median(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The median of the values; for whole numbers the middle pair's mean rounded down."""
    (value,) = args
    listed = _listed(value)
    if value.type == t.DOUBLE:
        return Typed(listed.list.median(), value.type)
    # For whole numbers ES averages the middle pair and rounds down; in 128-bit integers, so
    # that large longs stay exact (a double would round them).
    ordered = c.bind(Typed(listed.list.sort(), value.type, multi=True)).expr
    count = ordered.list.len()
    low = ordered.list.get((count - 1) // 2, null_on_oob=True).cast(pl.Int128)
    high = ordered.list.get(count // 2, null_on_oob=True).cast(pl.Int128)
    median = ((low + high) // 2).cast(esql_dtype(value.type))
    return Typed(median, value.type)


@scalar("MV_DEDUPE", FIELD)
def mv_dedupe(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The values without duplicates, first occurrences kept in order."""
    (value,) = args
    if not value.multi:
        return value
    return Typed(_listed(value).list.unique(maintain_order=True), value.type, multi=True)


@scalar("MV_SORT", FIELD, Param("order", optional=True, multi=True))
def mv_sort(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The values sorted, `ASC` (the default) or `DESC`."""
    value = args[0]
    descending = False
    if len(args) == 2:
        order = str(c.const_arg(node, args[1], "order")).upper()
        if order not in ("ASC", "DESC"):
            raise execution_error(
                f"Invalid order value in [{node.text}], expected [ASC, DESC] but got [{order}]",
                node,
            )
        descending = order == "DESC"
    if not value.multi:
        return value
    return Typed(value.expr.list.sort(descending=descending), value.type, multi=True)


@scalar("MV_CONCAT", Param("string", STRING, multi=True), Param("delim", STRING))
def mv_concat(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The values joined into one string with a delimiter."""
    value, delimiter = args
    separator = c.const_arg(node, delimiter, "delimiter")
    if separator is None:
        return Typed(pl.lit(None, dtype=pl.String), t.KEYWORD)
    if not value.multi:
        return Typed(value.expr, t.KEYWORD)
    joined = value.expr.list.join(separator)
    return Typed(pl.when(value.expr.list.len() == 0).then(None).otherwise(joined), t.KEYWORD)
