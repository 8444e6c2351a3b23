"""Date functions: NOW, DATE_TRUNC, DATE_DIFF, DATE_EXTRACT, DATE_FORMAT, DATE_PARSE."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import polars as pl

from qs_tui.esql import ast
from qs_tui.esql import types as t
from qs_tui.esql.errors import EsqlExecutionError
from qs_tui.esql.functions.core import (
    INT32_MAX,
    INT32_MIN,
    VALUE_PLACEHOLDER,
    Typed,
    execution_error,
    span_every,
    span_millis,
    truncating_division,
    unsupported_error,
    value_text,
)
from qs_tui.esql.functions.registry import DATETIME, STRING, Param, scalar
from qs_tui.esql.values import ES_DATE_FORMAT, iso_to_datetime_expr

if TYPE_CHECKING:
    from qs_tui.esql.functions.compiler import ExprCompiler


def java_date_pattern(pattern: str, node: ast.Expr) -> str:
    """Translate the supported subset of a Java date pattern to a chrono/strftime format."""
    tokens = {
        "yyyy": "%Y",
        "uuuu": "%Y",
        "yy": "%y",
        "MMMM": "%B",
        "MMM": "%b",
        "MM": "%m",
        "dd": "%d",
        "HH": "%H",
        "hh": "%I",
        "mm": "%M",
        "ss": "%S",
        "SSS": "%3f",
        "EEEE": "%A",
        "EEE": "%a",
        "a": "%p",
        "XXX": "%:z",
        "Z": "%z",
        "D": "%j",
    }
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "'":
            end = pattern.find("'", index + 1)
            if end == -1:
                raise execution_error(f"Invalid date pattern [{pattern}]: unclosed quote", node)
            literal = pattern[index + 1 : end] or "'"
            out.append(literal.replace("%", "%%"))
            index = end + 1
            continue
        if char.isalpha():
            run = index
            while run < len(pattern) and pattern[run] == char:
                run += 1
            token = pattern[index:run]
            if token not in tokens:
                raise unsupported_error(
                    f"date pattern letters [{token}] in [{pattern}] are not supported", node
                )
            out.append(tokens[token])
            index = run
            continue
        out.append("%%" if char == "%" else char)
        index += 1
    return "".join(out)


_DATE_DIFF_UNITS: dict[str, str] = {
    **dict.fromkeys(("year", "years", "yy", "yyyy"), "year"),
    **dict.fromkeys(("quarter", "quarters", "qq", "q"), "quarter"),
    **dict.fromkeys(("month", "months", "mm", "m"), "month"),
    **dict.fromkeys(("dayofyear", "dy", "y"), "day"),
    **dict.fromkeys(("day", "days", "dd", "d"), "day"),
    **dict.fromkeys(("week", "weeks", "wk", "ww"), "week"),
    **dict.fromkeys(("weekday", "weekdays", "dw"), "day"),
    **dict.fromkeys(("hour", "hours", "hh"), "hour"),
    **dict.fromkeys(("minute", "minutes", "mi", "n"), "minute"),
    **dict.fromkeys(("second", "seconds", "ss", "s"), "second"),
    **dict.fromkeys(("millisecond", "milliseconds", "ms"), "millisecond"),
    **dict.fromkeys(("microsecond", "microseconds", "mcs"), "microsecond"),
    **dict.fromkeys(("nanosecond", "nanoseconds", "ns"), "nanosecond"),
}

_FIXED_UNIT_MS = {
    "week": 7 * 86_400_000,
    "day": 86_400_000,
    "hour": 3_600_000,
    "minute": 60_000,
    "second": 1_000,
    "millisecond": 1,
}


def _no_bind(expr: pl.Expr) -> pl.Expr:
    return expr


def date_difference(
    start: pl.Expr, end: pl.Expr, unit: str, bind: Callable[[pl.Expr], pl.Expr]
) -> pl.Expr:
    """Whole `unit`s from `start` to `end`, truncated toward zero (Java's ChronoUnit.between).

    `bind` turns an intermediate expression used several times into a column reference.
    """
    start_ms = start.dt.epoch("ms")
    end_ms = end.dt.epoch("ms")
    if unit in _FIXED_UNIT_MS:
        # Milliseconds between dates stay far below 2**53, so a float division truncated by
        # the cast is exact, and much cheaper than integer division with a sign fix-up.
        elapsed = (end_ms - start_ms).cast(pl.Float64)
        return (elapsed / _FIXED_UNIT_MS[unit]).cast(pl.Int64)
    if unit == "microsecond":
        return (end_ms - start_ms) * 1_000
    if unit == "nanosecond":
        return (end_ms - start_ms) * 1_000_000
    months = bind(
        (end.dt.year().cast(pl.Int64) - start.dt.year().cast(pl.Int64)) * 12
        + (end.dt.month().cast(pl.Int64) - start.dt.month().cast(pl.Int64))
    )
    # A month only counts once the day and time of day in `end` reach those of `start`.
    start_rest = bind(start_ms - start.dt.truncate("1mo").dt.epoch("ms"))
    end_rest = bind(end_ms - end.dt.truncate("1mo").dt.epoch("ms"))
    months = bind(
        pl.when((months > 0) & (end_rest < start_rest))
        .then(months - 1)
        .when((months < 0) & (end_rest > start_rest))
        .then(months + 1)
        .otherwise(months)
    )
    per = {"month": 1, "quarter": 3, "year": 12}[unit]
    return truncating_division(months, pl.lit(per))


_DATE_PARTS: dict[str, Callable[[pl.Expr], pl.Expr]] = {
    "year": lambda d: d.dt.year(),
    "month_of_year": lambda d: d.dt.month(),
    "day_of_month": lambda d: d.dt.day(),
    "hour_of_day": lambda d: d.dt.hour(),
    "minute_of_hour": lambda d: d.dt.minute(),
    "second_of_minute": lambda d: d.dt.second(),
    "milli_of_second": lambda d: d.dt.millisecond(),
    "micro_of_second": lambda d: d.dt.microsecond(),
    "nano_of_second": lambda d: d.dt.nanosecond(),
    "day_of_week": lambda d: d.dt.weekday(),
    "day_of_year": lambda d: d.dt.ordinal_day(),
    "epoch_day": lambda d: d.dt.epoch("d"),
    "aligned_week_of_year": lambda d: (d.dt.ordinal_day().cast(pl.Int64) - 1) // 7 + 1,
    "minute_of_day": lambda d: d.dt.hour().cast(pl.Int64) * 60 + d.dt.minute(),
    "second_of_day": lambda d: (
        (d.dt.hour().cast(pl.Int64) * 60 + d.dt.minute()) * 60 + d.dt.second()
    ),
    "milli_of_day": lambda d: d.dt.epoch("ms") - d.dt.truncate("1d").dt.epoch("ms"),
    "ampm_of_day": lambda d: (d.dt.hour() >= 12).cast(pl.Int64),
    "hour_of_ampm": lambda d: d.dt.hour().cast(pl.Int64) % 12,
    "proleptic_month": lambda d: d.dt.year().cast(pl.Int64) * 12 + d.dt.month() - 1,
    "year_of_era": lambda d: d.dt.year(),
    "era": lambda d: (d.dt.year() > 0).cast(pl.Int64),
    "quarter_of_year": lambda d: d.dt.quarter(),
    "week_of_week_based_year": lambda d: d.dt.week(),
    "week_based_year": lambda d: d.dt.iso_year(),
}


def truncate_date(date: pl.Expr, amount: int, unit: str) -> pl.Expr:
    """Round dates down to multiples of the span (epoch-aligned; calendar units by calendar)."""
    if amount <= 0:
        raise EsqlExecutionError(f"Zero or negative time interval is not supported [{amount}]")
    millis = span_millis(amount, unit)
    if millis is not None and unit != "week":
        epoch = date.dt.epoch("ms")
        floored = (epoch // millis) * millis
        return floored.cast(t.DATETIME)
    return date.dt.truncate(span_every(amount, unit)).cast(t.DATETIME)


_DATE_ROUNDINGS: tuple[tuple[int, str], ...] = (
    (1, "month"),
    (1, "week"),
    (1, "day"),
    (12, "hour"),
    (3, "hour"),
    (1, "hour"),
    (30, "minute"),
    (10, "minute"),
    (5, "minute"),
    (1, "minute"),
    (30, "second"),
    (10, "second"),
    (5, "second"),
    (1, "second"),
    (100, "millisecond"),
    (50, "millisecond"),
    (10, "millisecond"),
    (1, "millisecond"),
)


def pick_date_rounding(buckets: int, low: datetime, high: datetime) -> tuple[int, str]:
    """The finest human-friendly rounding that covers [low, high) in at most `buckets` steps.

    Walks the roundings from coarse to fine as ES does: a rounding fits when stepping from
    `low` rounded down reaches `high` within `buckets` steps.
    """
    chosen: tuple[int, str] = (1, "year")
    low_ms = int(low.timestamp() * 1000)
    high_ms = int(high.timestamp() * 1000)
    for amount, unit in _DATE_ROUNDINGS:
        if unit == "month":
            steps = (high.year - low.year) * 12 + high.month - low.month
            if (high.day, high.time()) > (1, datetime.min.time()):
                steps += 1
        else:
            millis = span_millis(amount, unit)
            assert millis is not None
            # Weeks start on Monday; 1970-01-01 was a Thursday (3 days after a Monday).
            offset = 3 * 86_400_000 if unit == "week" else 0
            start = (low_ms + offset) // millis * millis - offset
            steps = -(-(high_ms - start) // millis)
        if max(steps, 1) > buckets:
            break
        chosen = (amount, unit)
    return chosen


def _check_parse_format(fmt: str, pattern: str, node: ast.Expr) -> None:
    """Reject a pattern polars cannot parse with (an am/pm marker without a 12-hour field)."""
    try:
        pl.select(pl.lit("").str.strptime(pl.Datetime("ms"), fmt, strict=False))
    except pl.exceptions.PolarsError as error:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else "invalid"
        raise unsupported_error(
            f"date pattern [{pattern}] cannot be parsed: {detail}", node
        ) from None


# ---------------------------------------------------------------------------------------------
# Definitions
# ---------------------------------------------------------------------------------------------

DATE = Param("date", DATETIME)


@scalar("NOW")
def now(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The instant the query runs, to the millisecond."""
    instant = c.now.astimezone(UTC)
    instant = instant.replace(microsecond=instant.microsecond // 1000 * 1000)
    return Typed(pl.lit(instant, dtype=t.DATETIME), t.DATE, const=instant)


@scalar("DATE_TRUNC", Param("interval"), DATE, null_result=t.DATE, raw=True)
def date_trunc(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The date rounded down to a multiple of a time span (`1 hour`, `1 month`)."""
    interval = c.compile(node.args[0])
    date = c.as_date(c.single(c.compile(node.args[1]), node), node)
    if interval.type not in (t.TIME_DURATION, t.DATE_PERIOD):
        raise execution_error(
            f"first argument of [{node.text}] must be [dateperiod or timeduration], found "
            f"value [{value_text(interval)}] type [{interval.type}]",
            node,
        )
    amount, unit = interval.const
    return Typed(truncate_date(date.expr, amount, unit), t.DATE)


@scalar(
    "DATE_DIFF",
    Param("unit", multi=True),
    Param("startTimestamp", DATETIME),
    Param("endTimestamp", DATETIME),
    null_result=t.INTEGER,
)
def date_diff(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """Whole units from the start to the end date, truncated toward zero, an integer."""
    unit_arg, start_arg, end_arg = args
    unit = c.const_arg(node, unit_arg, "unit")
    start = c.as_date(start_arg, node)
    end = c.as_date(end_arg, node)
    if unit is None:
        return Typed(pl.lit(None, dtype=pl.Int32), t.INTEGER)
    canonical = _DATE_DIFF_UNITS.get(str(unit).lower())
    if canonical is None:
        raise execution_error(
            f"Received value [{unit}] is not valid date part to add; did you mean "
            f"{sorted(set(_DATE_DIFF_UNITS.values()))}?",
            node,
        )
    if start.is_const and end.is_const:
        if start.const is None or end.const is None:
            return Typed(pl.lit(None, dtype=pl.Int32), t.INTEGER, const=None)
        folded = pl.select(date_difference(start.expr, end.expr, canonical, _no_bind)).item()
        if INT32_MIN <= folded <= INT32_MAX:
            return Typed(pl.lit(folded, dtype=pl.Int32), t.INTEGER, const=folded)

    def bind(expr: pl.Expr) -> pl.Expr:
        return c.bind(Typed(expr, t.LONG)).expr

    diff = bind(date_difference(start.expr, end.expr, canonical, bind))
    overflow = (diff < INT32_MIN) | (diff > INT32_MAX)
    c.fail(
        node,
        overflow,
        "org.elasticsearch.xpack.esql.core.InvalidArgumentException: "
        "[" + VALUE_PLACEHOLDER + "] out of [integer] range",
        value=diff.cast(pl.String),
    )
    return Typed(pl.when(overflow).then(None).otherwise(diff).cast(pl.Int32), t.INTEGER)


@scalar("DATE_EXTRACT", Param("datePart", multi=True), DATE, null_result=t.LONG)
def date_extract(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """One part of the date (`year`, `hour_of_day`, `day_of_week`, ...), a long."""
    part_arg, date_arg = args
    part = c.const_arg(node, part_arg, "datePart")
    date = c.as_date(date_arg, node)
    if part is None:
        return Typed(pl.lit(None, dtype=pl.Int64), t.LONG)
    extractor = _DATE_PARTS.get(str(part).lower())
    if extractor is None:
        raise execution_error(
            f"A valid date part is required in [{node.text}], found [{part}]", node
        )
    return Typed(extractor(date.expr).cast(pl.Int64), t.LONG)


@scalar(
    "DATE_FORMAT",
    Param("dateFormat", optional=True, multi=True),
    DATE,
    null_result=t.KEYWORD,
)
def date_format(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """The date as text, ISO by default or in a Java date pattern."""
    if len(args) == 1:
        date = c.as_date(args[0], node)
        return Typed(date.expr.dt.strftime(ES_DATE_FORMAT), t.KEYWORD)
    pattern = c.const_arg(node, args[0], "format")
    date = c.as_date(args[1], node)
    if pattern is None:
        return Typed(pl.lit(None, dtype=pl.String), t.KEYWORD)
    fmt = java_date_pattern(str(pattern), node)
    return Typed(date.expr.dt.strftime(fmt), t.KEYWORD)


@scalar(
    "DATE_PARSE",
    Param("datePattern", optional=True),
    Param("dateString", STRING),
    null_result=t.DATE,
)
def date_parse(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """A date read from text, ISO by default or in a Java date pattern; null with a warning
    when it does not parse."""
    text = args[-1]
    if len(args) == 1:
        parsed = iso_to_datetime_expr(text.expr)
        pattern_text = "strict_date_optional_time"
    else:
        pattern = c.const_arg(node, args[0], "format")
        if pattern is None:
            return Typed(pl.lit(None, dtype=t.DATETIME), t.DATE)
        pattern_text = str(pattern)
        fmt = java_date_pattern(pattern_text, node)
        _check_parse_format(fmt, pattern_text, node)
        if "%z" in fmt or "%:z" in fmt:
            parsed = text.expr.str.strptime(pl.Datetime("ms", "UTC"), fmt, strict=False)
        else:
            parsed = text.expr.str.strptime(pl.Datetime("ms"), fmt, strict=False)
            parsed = parsed.dt.replace_time_zone("UTC")
        parsed = parsed.cast(t.DATETIME)
    failed = text.expr.is_not_null() & parsed.is_null()
    c.fail(
        node,
        failed,
        "java.lang.IllegalArgumentException: failed to parse date field ["
        + VALUE_PLACEHOLDER
        + f"] with format [{pattern_text}]",
        value=text.expr,
    )
    return Typed(parsed, t.DATE)
