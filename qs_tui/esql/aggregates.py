"""ES|QL aggregate functions as polars aggregation expressions (for STATS)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Protocol

import polars as pl

from qs_tui.esql import ast
from qs_tui.esql import types as t
from qs_tui.esql.functions import (
    MULTI_VALUE_MESSAGE,
    ExprCompiler,
    Typed,
    esql_dtype,
    execution_error,
    is_numeric,
    unsupported_error,
    value_text,
)


def compile_aggregate(
    node: ast.FunctionCall,
    compiler: ExprCompiler,
    *,
    condition: pl.Expr | None,
    grouped: bool,
    register: Register,
) -> Typed:
    """Compile one aggregate call; the result is an expression over the aggregated frame.

    Args:
        node: the aggregate call, e.g. `SUM(a * b)`.
        compiler: compiles the arguments against the rows of the STATS input.
        condition: the aggregate's own `WHERE` (null counts as false), if any.
        grouped: whether the aggregations run in `group_by().agg()` (True) or in a plain
            `select` over the whole input (False); list-valued results differ between the two.
        register: adds one aggregation (one value per group) and returns the column of the
            aggregated frame that will hold it.
    """
    name = node.name.upper()
    builder = _BUILDERS.get(name)
    if builder is None:
        raise unsupported_error(f"Unknown aggregate function [{node.name}]", node)
    return builder(node, compiler, condition, grouped, register)


class Register(Protocol):
    """Where a builder puts its aggregations, and reports values that fail to evaluate."""

    def __call__(self, expr: pl.Expr) -> pl.Expr:
        """Add one aggregation (one value per group); the column that will hold it."""
        ...

    def fail(self, node: ast.Expr, failed: pl.Expr, exception: str) -> None:
        """Record that `node` is null with ES's warning on the groups where `failed`
        (an expression over the aggregated columns) is true."""
        ...


# What ES reports when a division's divisor is zero.
DIVISION_BY_ZERO = "java.lang.ArithmeticException: / by zero"
# What ES reports when a long sum leaves the 64-bit range.
LONG_OVERFLOW = "java.lang.ArithmeticException: long overflow"
Builder = Callable[[ast.FunctionCall, ExprCompiler, "pl.Expr | None", bool, Register], Typed]

# Names of the hidden columns that hold constant aggregate arguments.
_CONSTANT_IDS = itertools.count(1)

# Every aggregate, by its ES|QL name; filled by `@aggregate` beside each builder.
_BUILDERS: dict[str, Builder] = {}


def aggregate(name: str) -> Callable[[Builder], Builder]:
    """Register the decorated function as the builder of the aggregate called `name`."""

    def register(builder: Builder) -> Builder:
        _BUILDERS[name] = builder
        return builder

    return register


def _arity(node: ast.FunctionCall, low: int, high: int | None = None) -> None:
    high = low if high is None else high
    if not low <= len(node.args) <= high:
        raise execution_error(
            f"function [{node.name}] takes {low if low == high else f'{low} to {high}'} "
            f"argument(s), found {len(node.args)} in [{node.text}]",
            node,
        )


def _no_nested_aggregate(node: ast.Expr) -> None:
    """ES|QL rejects an aggregate inside another aggregate's argument."""
    stack: list[ast.Expr] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.FunctionCall) and current.name.upper() in _BUILDERS:
            raise execution_error(
                f"The field names in an aggregate function cannot be aggregates, found "
                f"[{current.text}]",
                current,
            )
        stack.extend(ast.children(current))


def _input(node: ast.FunctionCall, compiler: ExprCompiler, index: int = 0) -> Typed:
    argument = node.args[index]
    _no_nested_aggregate(argument)
    value = compiler.compile(argument)
    if value.is_const:
        # ES aggregates a constant once per row: SUM(2.1) over 100 rows is 210.0 and
        # COUNT([-1, 0, 3]) is 300. A polars literal inside `agg` is a single value, so the
        # constant becomes a column of the STATS input first.
        name = f"\x00const{next(_CONSTANT_IDS)}"
        compiler.bindings.append((name, value.expr))
        return Typed(pl.col(name), value.type, value.multi, value.const)
    # A computed argument becomes a column first: polars aggregates plain columns on its
    # fast path, and expressions inside `agg` much more slowly.
    return compiler.bind(value)


def _flat(value: Typed, condition: pl.Expr | None) -> pl.Expr:
    """The values to aggregate: rows kept by the condition, multi-values spread out."""
    expr = value.expr
    if condition is not None:
        expr = expr.filter(condition)
    if value.multi:
        expr = expr.explode()
    return expr


def _const_number(node: ast.FunctionCall, compiler: ExprCompiler, index: int, what: str) -> float:
    value = compiler.compile(node.args[index])
    if not value.is_const or value.const is None or not is_numeric(value.type):
        raise execution_error(
            f"{what} of [{node.text}] must be a constant number, found [{value_text(value)}]",
            node,
        )
    return float(value.const)


def _require_numeric(node: ast.FunctionCall, value: Typed) -> None:
    if value.type != t.NULL and not is_numeric(value.type):
        raise execution_error(
            f"argument of [{node.text}] must be [numeric except unsigned_long or counter "
            f"types], found value [{value_text(value)}] type [{value.type}]",
            node,
        )


@aggregate("COUNT")
def _count(
    node: ast.FunctionCall,
    compiler: ExprCompiler,
    condition: pl.Expr | None,
    grouped: bool,
    register: Register,
) -> Typed:
    _arity(node, 0, 1)
    star = not node.args or isinstance(node.args[0], ast.Star)
    if not star:
        value = _input(node, compiler)
        if value.is_const and value.const is not None and not value.multi:
            star = True  # COUNT(1) counts rows
    if star:
        counted = pl.len() if condition is None else condition.sum()
        return Typed(register(counted.cast(pl.Int64)), t.LONG)
    expr = value.expr if condition is None else value.expr.filter(condition)
    counted = expr.list.len().sum() if value.multi else expr.count()
    return Typed(register(counted.cast(pl.Int64)), t.LONG)


@aggregate("COUNT_DISTINCT")
def _count_distinct(
    node: ast.FunctionCall,
    compiler: ExprCompiler,
    condition: pl.Expr | None,
    grouped: bool,
    register: Register,
) -> Typed:
    _arity(node, 1, 2)
    value = _input(node, compiler)
    flat = _flat(value, condition)
    return Typed(register(flat.drop_nulls().n_unique().cast(pl.Int64)), t.LONG)


@aggregate("SUM")
def _sum(
    node: ast.FunctionCall,
    compiler: ExprCompiler,
    condition: pl.Expr | None,
    grouped: bool,
    register: Register,
) -> Typed:
    _arity(node, 1)
    value = _input(node, compiler)
    _require_numeric(node, value)
    if value.type == t.NULL:
        return Typed(pl.lit(None), t.NULL)  # SUM(null) is null, of type null
    if value.is_const and value.type == t.DOUBLE and value.const is not None:
        # ES sums doubles with compensated (Kahan) summation, so SUM(2.1) over 100 rows is
        # 210.0; a constant times its row count gives that correctly rounded answer.
        items = value.const if isinstance(value.const, list) else [value.const]
        per_row = math.fsum(float(item) for item in items if item is not None)
        kept = value.expr if condition is None else value.expr.filter(condition)
        rows = register(kept.count())
        return Typed(pl.when(rows > 0).then(rows * per_row).otherwise(None), t.DOUBLE)
    flat = _flat(value, condition)
    if value.type == t.DOUBLE:
        result_type = t.DOUBLE
    elif value.type == t.UNSIGNED_LONG:
        result_type = t.UNSIGNED_LONG
    else:
        result_type = t.LONG
    flat = flat.cast(esql_dtype(result_type))
    # The sum of no values is null in ES|QL, not zero. Two plain aggregations keep polars on
    # its fast path; the null is applied on the aggregated frame.
    total, count = register(flat.sum()), register(flat.count())
    if result_type != t.LONG:
        return Typed(pl.when(count > 0).then(total).otherwise(None), result_type)
    # polars wraps a long sum around silently; ES answers null with a warning. The sum in
    # doubles is close to the true sum, and a wrapped one is off by a multiple of 2^64.
    approximate = register(flat.cast(pl.Float64).sum())
    overflow = (approximate - total.cast(pl.Float64)).abs() > 2.0**62
    register.fail(node, overflow, LONG_OVERFLOW)
    return Typed(pl.when((count > 0) & ~overflow).then(total).otherwise(None), result_type)


def _numeric_to_double(
    node: ast.FunctionCall,
    compiler: ExprCompiler,
    condition: pl.Expr | None,
    register: Register,
    reduce: Callable[[pl.Expr], pl.Expr],
) -> Typed:
    """One numeric argument, every value as a double, reduced to one `double` (AVG, MEDIAN…)."""
    _arity(node, 1)
    value = _input(node, compiler)
    _require_numeric(node, value)
    return Typed(register(reduce(_flat(value, condition).cast(pl.Float64))), t.DOUBLE)


@aggregate("AVG")
def _avg(
    node: ast.FunctionCall,
    compiler: ExprCompiler,
    condition: pl.Expr | None,
    grouped: bool,
    register: Register,
) -> Typed:
    return _numeric_to_double(node, compiler, condition, register, pl.Expr.mean)


def _extreme(
    node: ast.FunctionCall,
    compiler: ExprCompiler,
    condition: pl.Expr | None,
    register: Register,
    *,
    smallest: bool,
) -> Typed:
    _arity(node, 1)
    value = _input(node, compiler)
    if value.type in (t.TEXT, t.UNSUPPORTED, t.TIME_DURATION, t.DATE_PERIOD):
        raise execution_error(
            f"argument of [{node.text}] must be [representable except unsigned_long and "
            f"spatial types], found value [{value_text(value)}] type [{value.type}]",
            node,
        )
    flat = _flat(value, condition)
    return Typed(register(flat.min() if smallest else flat.max()), value.type)


@aggregate("MIN")
def _min(
    node: ast.FunctionCall,
    compiler: ExprCompiler,
    condition: pl.Expr | None,
    grouped: bool,
    register: Register,
) -> Typed:
    return _extreme(node, compiler, condition, register, smallest=True)


@aggregate("MAX")
def _max(
    node: ast.FunctionCall,
    compiler: ExprCompiler,
    condition: pl.Expr | None,
    grouped: bool,
    register: Register,
) -> Typed:
    return _extreme(node, compiler, condition, register, smallest=False)


@aggregate("MEDIAN")
def _median(
    node: ast.FunctionCall,
    compiler: ExprCompiler,
    condition: pl.Expr | None,
    grouped: bool,
    register: Register,
) -> Typed:
    return _numeric_to_double(node, compiler, condition, register, pl.Expr.median)


@aggregate("PERCENTILE")
def _percentile(
    node: ast.FunctionCall,
    compiler: ExprCompiler,
    condition: pl.Expr | None,
    grouped: bool,
    register: Register,
) -> Typed:
    _arity(node, 2)
    value = _input(node, compiler)
    _require_numeric(node, value)
    percent = _const_number(node, compiler, 1, "percentile")
    if not 0 <= percent <= 100:
        raise execution_error(
            f"percentile of [{node.text}] must be between 0 and 100, found [{percent}]", node
        )
    flat = _flat(value, condition).cast(pl.Float64)
    return Typed(register(flat.quantile(percent / 100, interpolation="linear")), t.DOUBLE)


@aggregate("STD_DEV")
def _std_dev(
    node: ast.FunctionCall,
    compiler: ExprCompiler,
    condition: pl.Expr | None,
    grouped: bool,
    register: Register,
) -> Typed:
    return _numeric_to_double(
        node, compiler, condition, register, lambda values: values.std(ddof=0)
    )


@aggregate("MEDIAN_ABSOLUTE_DEVIATION")
def _median_absolute_deviation(
    node: ast.FunctionCall,
    compiler: ExprCompiler,
    condition: pl.Expr | None,
    grouped: bool,
    register: Register,
) -> Typed:
    def deviation(values: pl.Expr) -> pl.Expr:
        present = values.drop_nulls()
        return (present - present.median()).abs().median()

    return _numeric_to_double(node, compiler, condition, register, deviation)


@aggregate("VALUES")
def _values(
    node: ast.FunctionCall,
    compiler: ExprCompiler,
    condition: pl.Expr | None,
    grouped: bool,
    register: Register,
) -> Typed:
    _arity(node, 1)
    value = _input(node, compiler)
    # ES does not define the order of VALUES; sorting keeps answers stable.
    collected = _flat(value, condition).drop_nulls().unique().sort()
    if not grouped:
        collected = collected.implode()
    return Typed(register(collected), value.type, multi=True)


@aggregate("TOP")
def _top(
    node: ast.FunctionCall,
    compiler: ExprCompiler,
    condition: pl.Expr | None,
    grouped: bool,
    register: Register,
) -> Typed:
    _arity(node, 3)
    value = _input(node, compiler)
    limit = int(_const_number(node, compiler, 1, "limit"))
    if limit <= 0:
        raise execution_error(
            f"Limit must be greater than 0 in [{node.text}], found [{limit}]", node
        )
    order = compiler.compile(node.args[2])
    if not order.is_const or str(order.const).lower() not in ("asc", "desc"):
        raise execution_error(
            f"Invalid order value in [{node.text}], expected [ASC, DESC] but got "
            f"[{value_text(order)}]",
            node,
        )
    descending = str(order.const).lower() == "desc"
    collected = _flat(value, condition).drop_nulls().sort(descending=descending).head(limit)
    if not grouped:
        collected = collected.implode()
    return Typed(register(collected), value.type, multi=True)


@aggregate("WEIGHTED_AVG")
def _weighted_avg(
    node: ast.FunctionCall,
    compiler: ExprCompiler,
    condition: pl.Expr | None,
    grouped: bool,
    register: Register,
) -> Typed:
    """As ES defines it: the average of a constant number is that constant's own average;
    with a constant weight it is the plain average of the number's values; otherwise
    `SUM(number * weight) / SUM(weight)`, where a multi-valued number or weight makes the
    product null with a warning, and a zero total weight is null with `/ by zero`."""
    _arity(node, 2)
    number = _input(node, compiler)
    weight = _input(node, compiler, 1)
    _require_numeric(node, number)
    _require_numeric(node, weight)
    if number.is_const:
        items = number.const if isinstance(number.const, list) else [number.const]
        present = [float(item) for item in items if item is not None]
        return Typed(pl.lit(math.fsum(present) / len(present) if present else None), t.DOUBLE)
    if weight.is_const:
        values = _flat(number, condition).cast(pl.Float64)
        total, count = register(values.sum()), register(values.count())
        return Typed(pl.when(count > 0).then(total / count).otherwise(None), t.DOUBLE)
    value_expr, weight_expr = number.expr, weight.expr
    multi: pl.Expr | None = None
    for operand in (number, weight):
        if operand.multi:
            many = operand.expr.list.len() > 1
            multi = many if multi is None else multi | many
    if number.multi:
        value_expr = pl.when(number.expr.list.len() == 1).then(number.expr.list.first())
    if weight.multi:
        weight_expr = pl.when(weight.expr.list.len() == 1).then(weight.expr.list.first())
    product = value_expr.cast(pl.Float64) * weight_expr.cast(pl.Float64)
    if multi is not None:
        failed = multi if condition is None else multi & condition
        compiler.fail(node, failed, MULTI_VALUE_MESSAGE)
    if condition is not None:
        product = product.filter(condition)
    weights = _flat(weight, condition).cast(pl.Float64)
    product_sum, product_count = register(product.sum()), register(product.count())
    weight_sum, weight_count = register(weights.sum()), register(weights.count())
    defined = (product_count > 0) & (weight_count > 0)
    register.fail(node, defined & (weight_sum == 0), DIVISION_BY_ZERO)
    result = pl.when(defined & (weight_sum != 0)).then(product_sum / weight_sum).otherwise(None)
    return Typed(result, t.DOUBLE)


# The names of every aggregate function, derived from the registered builders: the one list
# the executor (and anything else that must tell aggregates from scalar functions) reads.
AGGREGATE_NAMES: frozenset[str] = frozenset(_BUILDERS)
