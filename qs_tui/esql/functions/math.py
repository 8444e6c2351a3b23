"""Math functions: ABS, CEIL, FLOOR, ROUND, SQRT, EXP, LOG, LOG10, SIGNUM, POW, PI, E, TAU."""

from __future__ import annotations

import math
from collections.abc import Callable
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
)
from qs_tui.esql.functions.registry import INTEGER, NUMERIC, Param, scalar

if TYPE_CHECKING:
    from qs_tui.esql.functions.compiler import ExprCompiler

NUMBER = Param("number", NUMERIC)
LOG_OF_NON_POSITIVE = "java.lang.ArithmeticException: Log of non-positive number"
# Beyond these many decimals ROUND changes nothing (or gives 0): a double spans 10**±308, a
# whole number stays below 10**20.
_DOUBLE_DIGITS = 400
_WHOLE_DIGITS = 21
_WHOLE_RANGES: dict[str, tuple[int, int]] = {
    t.INTEGER: (INT32_MIN, INT32_MAX),
    t.LONG: (INT64_MIN, INT64_MAX),
    t.UNSIGNED_LONG: (0, 2**64 - 1),
}


@scalar("ABS", NUMBER, null_result=t.NULL)
def abs_(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The absolute value, of the argument's type."""
    (value,) = args
    return Typed(value.expr.abs(), value.type)


@scalar("CEIL", NUMBER, null_result=t.NULL)
def ceil(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """Rounds up to the nearest whole number; whole numbers come back unchanged."""
    (value,) = args
    return Typed(value.expr.ceil() if value.type == t.DOUBLE else value.expr, value.type)


@scalar("FLOOR", NUMBER, null_result=t.NULL)
def floor(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """Rounds down to the nearest whole number; whole numbers come back unchanged."""
    (value,) = args
    return Typed(value.expr.floor() if value.type == t.DOUBLE else value.expr, value.type)


@scalar("ROUND", NUMBER, Param("decimals", INTEGER, optional=True), null_result=t.NULL)
def round_(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """Rounds half away from zero to `decimals` places (negative: to tens, hundreds, ...)."""
    value = args[0]
    decimals = 0
    if len(args) == 2:
        if args[1].type == t.NULL:
            return Typed(pl.lit(None, dtype=esql_dtype(value.type)), value.type)
        decimals = int(c.const_arg(node, args[1], "decimals"))
    if value.type == t.DOUBLE:
        if decimals >= _DOUBLE_DIGITS:
            return value  # a double has no digits that far right of the point
        if decimals >= 0:
            return Typed(value.expr.round(decimals, mode="half_away_from_zero"), t.DOUBLE)
        if decimals <= -_DOUBLE_DIGITS:
            zero = pl.when(value.expr.is_null()).then(None).otherwise(0.0)
            return Typed(zero.cast(pl.Float64), t.DOUBLE)
        scale = 10.0 ** (-decimals)
        rounded = (value.expr / scale).round(0, mode="half_away_from_zero") * scale
        return Typed(rounded, t.DOUBLE)
    if decimals >= 0:
        return value
    if decimals <= -_WHOLE_DIGITS:
        # Every whole number rounds to 0 at 10**20 and beyond (unsigned longs stay below it).
        zero = pl.when(value.expr.is_null()).then(None).otherwise(0)
        return Typed(zero.cast(esql_dtype(value.type)), value.type)
    # Exactly, in 128-bit integers, half away from zero; a result that leaves the type (ROUND
    # of 2147483647 to tens) is null with ES's overflow warning.
    scale = 10 ** (-decimals)
    number = c.bind(Typed(value.expr.cast(pl.Int128), t.LONG)).expr
    zero = pl.lit(0, dtype=pl.Int128)  # polars has no negation of 128-bit integers
    absolute = pl.when(number < 0).then(zero - number).otherwise(number)
    magnitude = (absolute + scale // 2) // scale * scale
    signed = pl.when(number < 0).then(zero - magnitude).otherwise(magnitude)
    nearest = c.bind(Typed(signed, t.LONG)).expr
    low, high = _WHOLE_RANGES[value.type]
    overflow = (nearest < low) | (nearest > high)
    c.fail(node, overflow, f"java.lang.ArithmeticException: {value.type} overflow")
    result = pl.when(overflow).then(None).otherwise(nearest)
    return Typed(result.cast(esql_dtype(value.type)), value.type)


def _double(args: list[Typed], func: Callable[[pl.Expr], pl.Expr]) -> Typed:
    return Typed(func(args[0].expr.cast(pl.Float64)), t.DOUBLE)


@scalar("SQRT", NUMBER, null_result=t.DOUBLE)
def sqrt(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The square root, a double; a negative number gives null with ES's warning."""
    number = args[0].expr.cast(pl.Float64)
    negative = number < 0
    c.fail(node, negative, "java.lang.ArithmeticException: Square root of negative")
    return Typed(pl.when(negative).then(None).otherwise(number.sqrt()), t.DOUBLE)


@scalar("EXP", NUMBER, null_result=t.DOUBLE)
def exp(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """e raised to the power of the number, a double."""
    return _double(args, lambda x: x.exp())


@scalar("SIGNUM", NUMBER, null_result=t.DOUBLE)
def signum(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The sign of the number: -1.0, 0.0 or 1.0."""
    return _double(args, lambda x: x.sign().cast(pl.Float64))


@scalar("LOG10", NUMBER, null_result=t.DOUBLE)
def log10(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The base-10 logarithm; zero or a negative number gives null with ES's warning."""
    number = args[0].expr.cast(pl.Float64)
    bad = number <= 0
    c.fail(node, bad, LOG_OF_NON_POSITIVE)
    # polars derives log10 from ln, which misses exact powers of ten (Java's log10 hits them).
    approximate = number.log() / math.log(10)
    nearest = approximate.round(0)
    exact = pl.when(pl.lit(10.0).pow(nearest) == number).then(nearest).otherwise(approximate)
    return Typed(pl.when(bad).then(None).otherwise(exact), t.DOUBLE)


@scalar("LOG", Param("base", NUMERIC, optional=True), NUMBER, null_result=t.DOUBLE)
def log(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The logarithm of the number to a base (natural logarithm without one)."""
    if len(args) == 1:
        number = args[0].expr.cast(pl.Float64)
        bad = number <= 0
        c.fail(node, bad, LOG_OF_NON_POSITIVE)
        return Typed(pl.when(bad).then(None).otherwise(number.log()), t.DOUBLE)
    base, number = args[0].expr.cast(pl.Float64), args[1].expr.cast(pl.Float64)
    bad = (base <= 0) | (number <= 0)
    c.fail(node, bad, LOG_OF_NON_POSITIVE)
    base_one = base == 1
    c.fail(node, base_one & ~bad, "java.lang.ArithmeticException: Log of base 1")
    result = number.log() / base.log()
    return Typed(pl.when(bad | base_one).then(None).otherwise(result), t.DOUBLE)


@scalar("POW", Param("base", NUMERIC), Param("exponent", NUMERIC), null_result=t.DOUBLE)
def pow_(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The base raised to the exponent, a double; a non-finite result is null with a warning."""
    base, exponent = args
    result = base.expr.cast(pl.Float64).pow(exponent.expr.cast(pl.Float64))
    bad = result.is_nan() | result.is_infinite()
    c.fail(node, bad, "java.lang.ArithmeticException: invalid result when computing pow")
    return Typed(pl.when(bad).then(None).otherwise(result), t.DOUBLE)


def _constant(value: float) -> Typed:
    return Typed(pl.lit(value), t.DOUBLE, const=value)


@scalar("PI")
def pi(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The ratio of a circle's circumference to its diameter."""
    return _constant(math.pi)


@scalar("E")
def e(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """Euler's number."""
    return _constant(math.e)


@scalar("TAU")
def tau(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The ratio of a circle's circumference to its radius."""
    return _constant(math.tau)
