"""Grouping functions: BUCKET, which STATS ... BY uses to group dates and numbers."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import polars as pl

from qs_tui.esql import ast
from qs_tui.esql import types as t
from qs_tui.esql.functions.core import Typed, execution_error, is_numeric, value_text
from qs_tui.esql.functions.date import pick_date_rounding, truncate_date
from qs_tui.esql.functions.registry import Param, scalar

if TYPE_CHECKING:
    from qs_tui.esql.functions.compiler import ExprCompiler


def pick_numeric_rounding(buckets: int, low: float, high: float) -> float:
    """A round bucket width (a power of ten or half of one) for `buckets` buckets."""
    precise = (high - low) / buckets
    next_power = 10 ** math.ceil(math.log10(precise))
    half = next_power / 2
    return half if precise < half else float(next_power)


@scalar(
    "BUCKET",
    Param("field"),
    Param("buckets"),
    Param("from", optional=True),
    Param("to", optional=True),
    raw=True,
)
def bucket(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """Groups dates or numbers into buckets of a span, or into about `buckets` round ones."""
    if len(node.args) not in (2, 4):
        c.check_arity(node, 2, 2)
    value = c.single(c.compile(node.args[0]), node)
    size = c.compile(node.args[1])
    if value.type in (t.DATE, t.DATE_NANOS):
        date = c.as_date(value, node).expr
        if size.type in (t.TIME_DURATION, t.DATE_PERIOD):
            amount, unit = size.const
            return Typed(truncate_date(date, amount, unit), t.DATE)
        if len(node.args) != 4:
            raise execution_error(
                f"second argument of [{node.text}] must be [date_period or time_duration] "
                f"when called with two arguments, found [{size.type}]",
                node,
            )
        buckets = _bucket_count(c, node, size, node.args[1])
        low = c.as_date(c.compile(node.args[2]), node)
        high = c.as_date(c.compile(node.args[3]), node)
        if not (low.is_const and high.is_const and low.const is not None and high.const):
            raise execution_error(f"[from] and [to] of [{node.text}] must be constants", node)
        amount, unit = pick_date_rounding(buckets, low.const, high.const)
        return Typed(truncate_date(date, amount, unit), t.DATE)
    if not is_numeric(value.type):
        raise execution_error(
            f"first argument of [{node.text}] must be [datetime or numeric], found value "
            f"[{value_text(value)}] type [{value.type}]",
            node,
        )
    if len(node.args) == 2:
        span = _number(c, node, size, "span", node.args[1])
        if span <= 0:
            raise execution_error(f"[span] of [{node.text}] must be positive, found [{span}]", node)
    else:
        buckets = _bucket_count(c, node, size, node.args[1])
        low_value = _number(c, node, c.compile(node.args[2]), "from", node.args[2])
        high_value = _number(c, node, c.compile(node.args[3]), "to", node.args[3])
        if not low_value < high_value:
            raise execution_error(
                f"[from] of [{node.text}] must be less than [to], found [{low_value}] and "
                f"[{high_value}]",
                node,
            )
        span = pick_numeric_rounding(buckets, low_value, high_value)
    number = value.expr.cast(pl.Float64)
    return Typed((number / span).floor() * span, t.DOUBLE)


def _number(
    c: ExprCompiler, node: ast.FunctionCall, value: Typed, what: str, arg: ast.Expr
) -> float:
    """A constant number argument (a span or a bound), finite."""
    number = c.const_arg(node, value, what)
    if (
        not is_numeric(value.type)
        or isinstance(number, bool)
        or not isinstance(number, int | float)
        or not math.isfinite(float(number))
    ):
        raise execution_error(
            f"[{what}] of [{node.text}] must be a constant number, found [{arg.text}]",
            node,
        )
    return float(number)


def _bucket_count(c: ExprCompiler, node: ast.FunctionCall, value: Typed, arg: ast.Expr) -> int:
    """The target number of buckets: a positive whole-number constant."""
    count = c.const_arg(node, value, "buckets")
    if value.type not in (t.INTEGER, t.LONG) or not isinstance(count, int) or count <= 0:
        raise execution_error(
            f"[buckets] of [{node.text}] must be a positive whole number, found [{arg.text}]",
            node,
        )
    return int(count)
