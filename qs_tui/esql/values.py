"""Turning engine frames into ES-shaped JSON-ready values, and date text in and out."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import polars as pl

from qs_tui.esql import types as t

# How ES prints a date in a response: milliseconds and a `Z`.
ES_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%.3fZ"

# ISO-8601 spellings accepted where ES accepts `strict_date_optional_time`.
_ISO_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M:%S%#z",
    "%Y-%m-%dT%H:%M%#z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
)


def format_date(value: datetime) -> str:
    """An aware or naive (UTC) datetime as ES prints it: `2026-11-25T16:00:00.000Z`."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_iso_date(text: str) -> datetime | None:
    """Parse an ISO-8601 date or date-time as ES's `strict_date_optional_time`; None if invalid.

    Times without an offset are UTC; the result is an aware UTC datetime truncated to ms.
    """
    value = text.strip()
    if not value or not value[:4].isdigit() or len(value) < 4:
        return None
    if len(value) == 4:
        value += "-01-01"
    elif len(value) == 7:
        value += "-01"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if len(value) >= 11 and value[10] != "T":
        return None  # ES requires the `T` separator
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    return parsed.replace(microsecond=parsed.microsecond // 1000 * 1000)


def iso_to_datetime_expr(expr: pl.Expr) -> pl.Expr:
    """A vectorised ISO-8601 parse of a string expression to `datetime[ms, UTC]` (null if bad)."""
    attempts = []
    for fmt in _ISO_FORMATS:
        parsed = expr.str.strptime(pl.Datetime("ms"), fmt, strict=False)
        if "%#z" not in fmt:
            parsed = parsed.dt.replace_time_zone("UTC")
        else:
            parsed = expr.str.strptime(pl.Datetime("ms", "UTC"), fmt, strict=False)
        attempts.append(parsed.cast(t.DATETIME))
    return pl.coalesce(attempts)


def java_double_to_string(value: float) -> str:
    """A double as Java's `Double.toString` prints it (`1.0E10`, `1.0E-4`, `5.5`)."""
    if value == 0:
        return "-0.0" if str(value).startswith("-") else "0.0"
    magnitude = abs(value)
    if 1e-3 <= magnitude < 1e7:
        text = repr(value)  # Python's shortest round-trip digits, plain in this range
        return text if "." in text else text + ".0"
    _, digit_tuple, exponent = Decimal(repr(magnitude)).as_tuple()
    assert isinstance(exponent, int)
    digits = list(digit_tuple)
    while len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exponent += 1
    scientific = exponent + len(digits) - 1
    mantissa = f"{digits[0]}." + ("".join(str(d) for d in digits[1:]) or "0")
    return ("-" if value < 0 else "") + f"{mantissa}E{scientific}"


def _java_doubles(series: pl.Series) -> pl.Series:
    return pl.Series(
        [None if v is None else java_double_to_string(v) for v in series.to_list()],
        dtype=pl.String,
    )


def double_to_string_expr(expr: pl.Expr) -> pl.Expr:
    """Doubles to strings as Java prints them (per value in Python: results are small)."""
    return expr.map_batches(_java_doubles, return_dtype=pl.String)


def _json_expr(name: str, esql_type: str, dtype: pl.DataType) -> pl.Expr:
    """The polars expression that makes column `name` JSON-ready for its ES|QL type."""
    column = pl.col(name)
    if esql_type in (t.UNSUPPORTED, t.NULL):
        return pl.lit(None).alias(name)
    is_list = isinstance(dtype, pl.List)
    if esql_type in (t.DATE, t.DATE_NANOS):
        if is_list:
            return column.list.eval(pl.element().dt.strftime(ES_DATE_FORMAT)).alias(name)
        return column.dt.strftime(ES_DATE_FORMAT).alias(name)
    if esql_type == t.DOUBLE:
        # ES never returns NaN or infinities: such values come back as null.
        if is_list:
            element = pl.element()
            return column.list.eval(
                pl.when(element.is_finite()).then(element).otherwise(None)
            ).alias(name)
        return pl.when(column.is_finite()).then(column).otherwise(None).alias(name)
    return column


def _unwrap(value: Any) -> Any:
    """Single-element lists become scalars and empty lists become null, as ES prints them."""
    if isinstance(value, list):
        if not value:
            return None
        if len(value) == 1:
            return value[0]
    return value


def frame_to_values(frame: pl.DataFrame, types: Mapping[str, str]) -> list[list[Any]]:
    """Rows of JSON-ready values for the columns of `types`, in that order."""
    names = list(types)
    if not names:
        return [[] for _ in range(frame.height)]
    schema = frame.schema
    converted = frame.select([_json_expr(name, types[name], schema[name]) for name in names])
    converted_schema = converted.schema  # rebuilt on each access: once, not per column
    list_columns = [
        index for index, name in enumerate(names) if isinstance(converted_schema[name], pl.List)
    ]
    rows = [list(row) for row in converted.iter_rows()]
    if list_columns:
        for row in rows:
            for index in list_columns:
                row[index] = _unwrap(row[index])
    return rows
