"""String functions: CONCAT, LENGTH, SUBSTRING, case and trimming, prefixes, REPLACE, LEFT,
RIGHT, SPLIT, LOCATE."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import polars as pl

from qs_tui.esql import ast
from qs_tui.esql import types as t
from qs_tui.esql.functions.core import VALUE_PLACEHOLDER, Typed, execution_error
from qs_tui.esql.functions.registry import POSITION, STRING, Param, scalar

if TYPE_CHECKING:
    from qs_tui.esql.functions.compiler import ExprCompiler

TEXT = Param("string", STRING)


@scalar(
    "CONCAT",
    Param("string1", STRING),
    Param("string2", STRING, variadic=True),
    null_result=t.KEYWORD,
)
def concat(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The strings joined end to end; null if any is null."""
    exprs = [arg.expr.cast(pl.String) for arg in args]
    return Typed(pl.concat_str(exprs, ignore_nulls=False), t.KEYWORD)


@scalar("LENGTH", TEXT, null_result=t.INTEGER)
def length(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The number of characters."""
    return Typed(args[0].expr.str.len_chars().cast(pl.Int32), t.INTEGER)


@scalar(
    "SUBSTRING",
    TEXT,
    Param("start", POSITION),
    Param("length", POSITION, optional=True),
    null_result=t.KEYWORD,
)
def substring(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """`length` characters from 1-based `start` (negative counts from the end)."""
    text = args[0].expr.cast(pl.String)
    length_chars = text.str.len_chars().cast(pl.Int64)
    start = args[1].expr.cast(pl.Int64)
    # ES|QL is 1-based; 0 and 1 both mean the first character; negative counts from the end.
    offset = (
        pl.when(start > 0).then(start - 1).when(start < 0).then(length_chars + start).otherwise(0)
    )
    offset = pl.min_horizontal(pl.max_horizontal(offset, pl.lit(0)), length_chars)
    if len(args) == 3:
        count = args[2].expr.cast(pl.Int64)
        negative = count < 0
        c.fail(
            node,
            negative,
            "java.lang.IllegalArgumentException: Length parameter "
            "cannot be negative, found [" + VALUE_PLACEHOLDER + "]",
            value=count.cast(pl.String),
        )
        count = pl.when(negative).then(None).otherwise(count)
    else:
        count = length_chars
    nulls = pl.any_horizontal([arg.expr.is_null() for arg in args])
    sliced = text.str.slice(offset, count)
    return Typed(pl.when(nulls).then(None).otherwise(sliced), t.KEYWORD)


@scalar("TO_LOWER", TEXT, null_result=t.KEYWORD)
def to_lower(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The string in lower case."""
    return Typed(args[0].expr.str.to_lowercase(), args[0].type)


@scalar("TO_UPPER", TEXT, null_result=t.KEYWORD)
def to_upper(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The string in upper case."""
    return Typed(args[0].expr.str.to_uppercase(), args[0].type)


@scalar("TRIM", TEXT, null_result=t.KEYWORD)
def trim(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The string without leading and trailing whitespace."""
    return Typed(args[0].expr.str.strip_chars(), args[0].type)


@scalar("LTRIM", TEXT, null_result=t.KEYWORD)
def ltrim(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The string without leading whitespace."""
    return Typed(args[0].expr.str.strip_chars_start(), args[0].type)


@scalar("RTRIM", TEXT, null_result=t.KEYWORD)
def rtrim(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The string without trailing whitespace."""
    return Typed(args[0].expr.str.strip_chars_end(), args[0].type)


@scalar("STARTS_WITH", TEXT, Param("prefix", STRING), null_result=t.BOOLEAN)
def starts_with(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """Whether the string starts with the prefix."""
    value, prefix = args
    return Typed(value.expr.str.starts_with(prefix.expr), t.BOOLEAN)


@scalar("ENDS_WITH", TEXT, Param("suffix", STRING), null_result=t.BOOLEAN)
def ends_with(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """Whether the string ends with the suffix."""
    value, suffix = args
    return Typed(value.expr.str.ends_with(suffix.expr), t.BOOLEAN)


@scalar("REPLACE", TEXT, Param("regex", STRING), Param("newString", STRING), null_result=t.KEYWORD)
def replace(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """Every match of a regular expression replaced by a string (`$1` refers to a group)."""
    value, regex, replacement = args
    pattern = c.const_arg(node, regex, "regex")
    if pattern is None:
        return Typed(pl.lit(None, dtype=pl.String), t.KEYWORD)
    try:
        re.compile(pattern)
    except re.error as error:
        raise execution_error(f"invalid regular expression [{pattern}]: {error}", node) from None
    new = replacement.const if replacement.is_const else None
    if new is None:
        raise execution_error(f"[newString] of [{node.text}] must be a constant", node)
    return Typed(value.expr.str.replace_all(pattern, new, literal=False), t.KEYWORD)


@scalar("LEFT", TEXT, Param("length", POSITION), null_result=t.KEYWORD)
def left(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The first `length` characters."""
    value, length = args
    count = pl.max_horizontal(length.expr.cast(pl.Int64), pl.lit(0))
    result = value.expr.str.slice(0, count)
    return Typed(pl.when(length.expr.is_null()).then(None).otherwise(result), t.KEYWORD)


@scalar("RIGHT", TEXT, Param("length", POSITION), null_result=t.KEYWORD)
def right(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The last `length` characters."""
    value, length = args
    count = pl.max_horizontal(length.expr.cast(pl.Int64), pl.lit(0))
    total = value.expr.str.len_chars().cast(pl.Int64)
    start = pl.max_horizontal(total - count, pl.lit(0))
    result = value.expr.str.slice(start, count)
    return Typed(pl.when(length.expr.is_null()).then(None).otherwise(result), t.KEYWORD)


@scalar("SPLIT", TEXT, Param("delim", STRING), null_result=t.KEYWORD)
def split(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The string cut at each delimiter, as a multi-value."""
    value, delimiter = args
    separator = c.const_arg(node, delimiter, "delimiter")
    if separator is None:
        return Typed(pl.lit(None, dtype=pl.String), t.KEYWORD)
    return Typed(value.expr.str.split(separator), t.KEYWORD, multi=True)


@scalar(
    "LOCATE",
    TEXT,
    Param("substring", STRING),
    Param("start", POSITION, optional=True),
    null_result=t.INTEGER,
)
def locate(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The 1-based position of the substring from `start`, 0 when it does not occur."""
    text = args[0].expr
    needle = c.const_arg(node, args[1], "substring")
    if needle is None:
        return Typed(pl.lit(None, dtype=pl.Int32), t.INTEGER)
    start = pl.lit(0, dtype=pl.Int64)
    if len(args) == 3:
        start = pl.max_horizontal(args[2].expr.cast(pl.Int64) - 1, pl.lit(0))
    tail = text.str.slice(start)
    # The text before the first match, so the position counts characters, not bytes.
    prefix = tail.str.extract("(?s)^(.*?)" + re.escape(str(needle)), 1)
    position = (start + prefix.str.len_chars().cast(pl.Int64) + 1).cast(pl.Int32)
    result = pl.when(prefix.is_null()).then(pl.lit(0, dtype=pl.Int32)).otherwise(position)
    return Typed(pl.when(text.is_null()).then(None).otherwise(result), t.INTEGER)
