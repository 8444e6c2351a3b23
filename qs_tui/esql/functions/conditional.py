"""Conditional functions: CASE, COALESCE, GREATEST, LEAST."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from qs_tui.esql import ast
from qs_tui.esql import types as t
from qs_tui.esql.functions.core import (
    Typed,
    esql_dtype,
    execution_error,
    is_numeric,
    numeric_result_type,
    ordinal,
    value_text,
)
from qs_tui.esql.functions.registry import Param, scalar

if TYPE_CHECKING:
    from qs_tui.esql.functions.compiler import ExprCompiler

VALUE = Param("value", multi=True)
MORE_VALUES = Param("values", optional=True, variadic=True, multi=True)


def result_type(node: ast.FunctionCall, args: list[Typed], positions: list[int]) -> str:
    """The type of the values at `positions` of CASE, COALESCE, GREATEST or LEAST, as ES has it.

    ES casts mixed numbers to the type of the first number when every other number fits in
    it (`COALESCE(null, 2.5, 1)` is a double); otherwise the types must match, and the first
    argument that does not is named (`second argument of [COALESCE(1, 2.5)] must be
    [integer], found value [2.5] type [double]`). Keyword and text mix as keyword.
    """
    numbers = [args[index].type for index in positions if is_numeric(args[index].type)]
    widest = numbers[0] if numbers else None
    # Unsigned longs never mix with signed numbers (ES has no common type for them).
    widen = widest is not None and all(
        numeric_result_type(kind, widest) == widest
        and (kind == t.UNSIGNED_LONG) == (widest == t.UNSIGNED_LONG)
        for kind in numbers
    )
    found: str | None = None
    mixed_strings = False
    for index in positions:
        value = args[index]
        kind = widest if widen and is_numeric(value.type) and widest else value.type
        if kind == t.NULL:
            continue
        if found is None:
            found = kind
        elif kind in t.STRING and found in t.STRING:
            mixed_strings = mixed_strings or kind != found
        elif kind != found:
            shown = node.args[index].text or value_text(value)
            raise execution_error(
                f"{ordinal(index)} argument of [{node.text}] must be [{found}], found value "
                f"[{shown}] type [{value.type}]",
                node,
            )
    if found is None:
        return t.NULL
    return t.KEYWORD if mixed_strings else found


def _as(value: Typed, dtype: pl.DataType, multi: bool) -> pl.Expr:
    """The value cast to the result type, as a list when the result is multi-valued."""
    expr = value.expr.cast(pl.List(dtype) if value.multi else dtype)
    if multi and not value.multi:
        expr = pl.when(expr.is_null()).then(None).otherwise(pl.concat_list([expr]))
    return expr


@scalar("COALESCE", VALUE, MORE_VALUES, raw=True)
def coalesce(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The first argument that is not null (later arguments are only evaluated if needed)."""
    compiled = c.lazy_args(node, 1)
    values = [value for value, _, _ in compiled]
    kind = result_type(node, values, list(range(len(values))))
    multi = any(value.multi for value in values)
    dtype = esql_dtype(kind)
    exprs: list[pl.Expr] = []
    all_null_so_far: pl.Expr = pl.lit(True)
    for value, first, last in compiled:
        c.only_when(first, last, all_null_so_far)
        all_null_so_far = all_null_so_far & value.expr.is_null()
        exprs.append(_as(value, dtype, multi))
    return Typed(pl.coalesce(exprs), kind, multi=multi)


@scalar("CASE", Param("condition"), MORE_VALUES, raw=True)
def case(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The value of the first true condition, else the default (or null without one)."""
    compiled = c.lazy_args(node, 1)
    values = [value for value, _, _ in compiled]
    pairs = len(values) // 2
    outcomes = [index * 2 + 1 for index in range(pairs)]
    if len(values) % 2 == 1:
        outcomes.append(len(values) - 1)
    kind = result_type(node, values, outcomes)
    multi = any(values[index].multi for index in outcomes)
    dtype = esql_dtype(kind)
    default = values[-1] if len(values) % 2 == 1 else None
    if pairs == 0:
        assert default is not None
        return Typed(_as(default, dtype, multi), kind, multi=multi)
    chain: Any = None
    # Rows that reach condition `index`: every earlier condition was false (or null).
    reached: pl.Expr = pl.lit(True)
    for index in range(pairs):
        _, first, last = compiled[index * 2]
        before_single = len(c.checks)
        condition = c.single(values[index * 2], node)
        c.only_when(first, last, reached)
        c.only_when(before_single, len(c.checks), reached)
        if condition.type not in (t.BOOLEAN, t.NULL):
            raise execution_error(
                f"condition of [{node.text}] must be [boolean], found value "
                f"[{value_text(condition)}] type [{condition.type}]",
                node,
            )
        test = condition.expr.cast(pl.Boolean).fill_null(False)
        _, value_first, value_last = compiled[index * 2 + 1]
        c.only_when(value_first, value_last, reached & test)
        reached = reached & ~test
        outcome = _as(values[index * 2 + 1], dtype, multi)
        chain = (pl.when(test) if chain is None else chain.when(test)).then(outcome)
    if default is not None:
        _, default_first, default_last = compiled[-1]
        c.only_when(default_first, default_last, reached)
        fallback = _as(default, dtype, multi)
    else:
        fallback = pl.lit(None, dtype=pl.List(dtype) if multi else dtype)
    return Typed(chain.otherwise(fallback), kind, multi=multi)


def _extreme(args: list[Typed], node: ast.FunctionCall, *, greatest: bool) -> Typed:
    kind = result_type(node, args, list(range(len(args))))
    if kind == t.NULL:
        return Typed(pl.lit(None), t.NULL, const=None)
    dtype = esql_dtype(kind)
    exprs: list[pl.Expr] = []
    for arg in args:
        expr = arg.expr
        if arg.multi:
            expr = expr.list.max() if greatest else expr.list.min()
        exprs.append(expr.cast(dtype))
    any_null = pl.any_horizontal([expr.is_null() for expr in exprs])
    combined = pl.max_horizontal(exprs) if greatest else pl.min_horizontal(exprs)
    return Typed(pl.when(any_null).then(None).otherwise(combined), kind)


@scalar("GREATEST", Param("first", multi=True), MORE_VALUES)
def greatest(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The largest of the arguments (of a multi-value, its largest value); null if any is."""
    return _extreme(args, node, greatest=True)


@scalar("LEAST", Param("first", multi=True), MORE_VALUES)
def least(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The smallest of the arguments (of a multi-value, its smallest value); null if any is."""
    return _extreme(args, node, greatest=False)
