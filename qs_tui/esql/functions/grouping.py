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
        low = c.as_date(c.compile(node.args[2]), node).const
        high = c.as_date(c.compile(node.args[3]), node).const
        buckets = int(c.const_arg(node, size, "buckets"))
        amount, unit = pick_date_rounding(buckets, low, high)
        return Typed(truncate_date(date, amount, unit), t.DATE)
    if not is_numeric(value.type):
        raise execution_error(
            f"first argument of [{node.text}] must be [datetime or numeric], found value "
            f"[{value_text(value)}] type [{value.type}]",
            node,
        )
    if len(node.args) == 2:
        span = float(c.const_arg(node, size, "span"))
    else:
        low_value = float(c.const_arg(node, c.compile(node.args[2]), "from"))
        high_value = float(c.const_arg(node, c.compile(node.args[3]), "to"))
        span = pick_numeric_rounding(int(size.const), low_value, high_value)
    number = value.expr.cast(pl.Float64)
    return Typed((number / span).floor() * span, t.DOUBLE)
