"""Type conversion: the TO_* functions and the `::` cast share one table of converters."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import polars as pl

from qs_tui.esql import ast
from qs_tui.esql import types as t
from qs_tui.esql.functions.core import (
    DATETIME_MAX_MS,
    DATETIME_MIN_MS,
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    INVALID_ARGUMENT,
    VALUE_PLACEHOLDER,
    Typed,
    esql_dtype,
    is_numeric,
    is_string,
)
from qs_tui.esql.functions.registry import Param, scalar
from qs_tui.esql.values import ES_DATE_FORMAT, double_to_string_expr, iso_to_datetime_expr

if TYPE_CHECKING:
    from qs_tui.esql.functions.compiler import ExprCompiler


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


def converter(source: str, target: str) -> Converter | None:
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
            # ES never holds an infinite or NaN double (the engine prints them as null).
            return lambda expr: (
                double_to_string_expr(pl.when(expr.is_finite()).then(expr).otherwise(None)),
                None,
                "",
            )
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
        if is_numeric(source):
            return _datetime_from_number(source)
        if source == t.DATE_NANOS:
            return lambda expr: (expr.cast(t.DATETIME), None, "")
        return None
    return None


def _datetime_from_number(source: str) -> Converter:
    """Milliseconds since the epoch to a date; beyond the engine's span, null with a warning.

    Elasticsearch holds any long as a date, but printing or taking apart a date beyond the span
    polars can hold would abort the process.

    A double is rounded half up first, as ES's `safeDoubleToLong` does (`Math.round`).
    """

    def convert(expr: pl.Expr) -> tuple[pl.Expr, pl.Expr | None, str]:
        if source == t.DOUBLE:
            millis = (expr + 0.5).floor()
            bad = (millis < DATETIME_MIN_MS) | (millis > DATETIME_MAX_MS) | expr.is_nan()
            whole = millis.cast(pl.Int64, strict=False)
        else:
            wide = expr.cast(pl.Int128)
            bad = (wide < DATETIME_MIN_MS) | (wide > DATETIME_MAX_MS)
            whole = expr.cast(pl.Int64, strict=False)
        inside = pl.when(bad).then(None).otherwise(whole)
        return inside.cast(t.DATETIME), bad, _range_failure("datetime")

    return convert


# ---------------------------------------------------------------------------------------------
# Definitions: each TO_* function converts value by value, multi-values included.
# ---------------------------------------------------------------------------------------------

FIELD = Param("field", multi=True)


def _to(target: str) -> Callable[[ExprCompiler, ast.FunctionCall, list[Typed]], Typed]:
    def build(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
        return c.convert(node, args[0], target)

    build.__doc__ = f"The value converted to {target}; a value that does not convert is null."
    build.__module__ = __name__
    return build


scalar("TO_STRING", FIELD)(_to(t.KEYWORD))
scalar("TO_LONG", FIELD)(_to(t.LONG))
scalar("TO_INTEGER", FIELD, aliases=("TO_INT",))(_to(t.INTEGER))
scalar("TO_DOUBLE", FIELD, aliases=("TO_DBL",))(_to(t.DOUBLE))
scalar("TO_BOOLEAN", FIELD, aliases=("TO_BOOL",))(_to(t.BOOLEAN))
scalar("TO_DATETIME", FIELD, aliases=("TO_DT",))(_to(t.DATE))
scalar("TO_IP", FIELD)(_to(t.IP))
scalar("TO_VERSION", FIELD)(_to(t.VERSION))
