"""The `@timestamp` window a `WHERE` right after `FROM` keeps, so a sorted index is sliced.

Telemetry is read by time window (`WHERE @timestamp >= ?start AND @timestamp < ?end`). An
index whose frame is sorted by `@timestamp` (the embedded store keeps its data streams so)
can hand over just the rows in the window, found by binary search, instead of every row it
holds: the cost of a query then follows the window, not the history held. Elasticsearch does
much the same: a `WHERE` condition with an exact Lucene equivalent, such as a range on an
indexed field, is pushed down to Lucene before the compute engine sees a row (see
https://github.com/elastic/elasticsearch/issues/136267). The `WHERE` still runs over the
slice, so the answer is the same as filtering every row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import polars as pl

from qs_tui.esql import ast
from qs_tui.esql import types as t

__all__ = ["TIME_FIELD", "TimeRange", "split_time_range", "time_range"]

#: The field windows are read on; the embedded store sorts its data streams by it.
TIME_FIELD = "@timestamp"

_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}


@dataclass(frozen=True)
class TimeRange:
    """Bounds on `@timestamp` every row the condition keeps lies within (None: unbounded)."""

    lower: datetime | None = None
    lower_inclusive: bool = True
    upper: datetime | None = None
    upper_inclusive: bool = False

    def narrowed(self, op: str, value: datetime) -> TimeRange:
        """This range and `@timestamp <op> value`, whichever bound is tighter."""
        if op in (">", ">="):
            inclusive = op == ">="
            if self.lower is None or value > self.lower:
                return TimeRange(value, inclusive, self.upper, self.upper_inclusive)
            if value == self.lower:
                return TimeRange(
                    value, inclusive and self.lower_inclusive, self.upper, self.upper_inclusive
                )
            return self
        inclusive = op == "<="
        if self.upper is None or value < self.upper:
            return TimeRange(self.lower, self.lower_inclusive, value, inclusive)
        if value == self.upper:
            return TimeRange(
                self.lower, self.lower_inclusive, value, inclusive and self.upper_inclusive
            )
        return self

    def slice(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The rows of `frame` (sorted ascending by `@timestamp`, nulls last) in range.

        Zero-copy: a slice of the same buffers. Null timestamps are left out, as any
        comparison with null is false.
        """
        column = frame.get_column(TIME_FIELD)
        # Searched as the integers under the dates: polars' search on a zoned datetime
        # column converts the whole column first, which would cost as much as a scan.
        valid = column.slice(0, frame.height - column.null_count()).to_physical()
        start, end = 0, valid.len()
        side: Literal["left", "right"]
        if self.lower is not None:
            side = "left" if self.lower_inclusive else "right"
            start = int(valid.search_sorted(_physical(self.lower, column.dtype), side=side))
        if self.upper is not None:
            side = "right" if self.upper_inclusive else "left"
            end = int(valid.search_sorted(_physical(self.upper, column.dtype), side=side))
        return frame.slice(start, max(0, end - start))


def _physical(value: datetime, dtype: pl.DataType) -> int:
    """`value` as the integer a column of `dtype` stores it as (its unit since the epoch)."""
    return int(pl.Series([value], dtype=dtype).to_physical().item())


def time_range(
    condition: ast.Expr, constant: Callable[[ast.Expr], datetime | None]
) -> TimeRange | None:
    """The `@timestamp` bounds of `condition`'s top-level `AND` terms, if any.

    Args:
        condition: the `WHERE` condition, implicit casts applied.
        constant: the value of an expression known before reading a row, as the `date`
            (millisecond) the comparison sees, or None when it is not one (a column, a
            null, a value whose evaluation warns).

    Returns:
        None when no term bounds `@timestamp` by a constant.
    """
    return split_time_range(condition, constant)[0]


def split_time_range(
    condition: ast.Expr, constant: Callable[[ast.Expr], datetime | None]
) -> tuple[TimeRange | None, tuple[ast.Expr, ...]]:
    """`condition` as its `@timestamp` window (see `time_range`) and the other top-level
    `AND` terms: a row passes when it lies in the window and every other term holds."""
    found = TimeRange()
    bounded = False
    rest: list[ast.Expr] = []
    for term in _conjuncts(condition):
        if not isinstance(term, ast.BinaryOp) or term.op not in _FLIPPED:
            rest.append(term)
            continue
        op, other = term.op, term.right
        if not _is_time_field(term.left):
            if not _is_time_field(term.right):
                rest.append(term)
                continue
            op, other = _FLIPPED[term.op], term.left
        value = constant(other)
        if value is None:
            rest.append(term)
            continue
        found = found.narrowed(op, value)
        bounded = True
    return (found if bounded else None), tuple(rest)


def _is_time_field(node: ast.Expr) -> bool:
    return isinstance(node, ast.Field) and node.name == TIME_FIELD


def _conjuncts(node: ast.Expr) -> list[ast.Expr]:
    """The terms `a AND b AND c` is made of (just `node` when it is not an `AND`)."""
    if isinstance(node, ast.BinaryOp) and node.op.upper() == "AND":
        return [*_conjuncts(node.left), *_conjuncts(node.right)]
    return [node]


def is_time_type(kind: str) -> bool:
    """Whether a column of this ES|QL type can be sliced by a `date` window."""
    return kind == t.DATE
