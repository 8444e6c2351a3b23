"""The ES|QL syntax tree: small frozen dataclasses named after the commands.

Every node carries `pos`, the 1-based (line, column) where it starts, so that errors found
after parsing can still point at the query text. Expressions also keep `text`, their source
text verbatim, because ES|QL names an unnamed column after it
(`EVAL a + 1` makes a column called `a + 1`, `STATS AVG(salary)` one called `AVG(salary)`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Pos = tuple[int, int]
NO_POS: Pos = (0, 0)


# ---------------------------------------------------------------------------------------------
# Expressions
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expr:
    """Base class of expressions."""

    pos: Pos = field(default=NO_POS, kw_only=True, compare=False)
    text: str = field(default="", kw_only=True, compare=False)


@dataclass(frozen=True)
class Literal(Expr):
    """A constant. `type` is the ES|QL type name: integer, long, double, keyword, boolean,
    null, date (for bound datetime parameters), or a list of those for multi-value literals.

    Bound parameters become literals at parse time, so values never travel as query text.
    """

    value: Any
    type: str


@dataclass(frozen=True)
class TimeSpan(Expr):
    """A time span literal such as `15 minutes` or `1 day`.

    `unit` is normalised to the singular: millisecond, second, minute, hour, day, week, month,
    quarter, year. ES|QL types it `time_duration` (fixed length) or `date_period` (calendar).
    """

    amount: int
    unit: str


@dataclass(frozen=True)
class Field(Expr):
    """A column reference; dotted names (`host.name`) are one name. Backquotes are removed."""

    name: str


@dataclass(frozen=True)
class Star(Expr):
    """The `*` in `COUNT(*)`."""


@dataclass(frozen=True)
class FunctionCall(Expr):
    """A function or aggregate call; `name` is upper-case (`AVG`, `DATE_TRUNC`, `CASE`)."""

    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class UnaryOp(Expr):
    """`-x` or `NOT x`; `op` is `-` or `NOT`."""

    op: str
    operand: Expr


@dataclass(frozen=True)
class BinaryOp(Expr):
    """Arithmetic, comparison or logic.

    `op` is one of `+ - * / %`, `== != < <= > >=`, `AND`, `OR`.
    """

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class InList(Expr):
    """`value [NOT] IN (a, b, ...)`."""

    value: Expr
    options: tuple[Expr, ...]
    negated: bool = False


@dataclass(frozen=True)
class Like(Expr):
    """`value [NOT] LIKE pattern` (`regex=False`) or `value [NOT] RLIKE pattern` (`regex=True`)."""

    value: Expr
    pattern: str
    negated: bool = False
    regex: bool = False


@dataclass(frozen=True)
class IsNull(Expr):
    """`value IS [NOT] NULL`."""

    value: Expr
    negated: bool = False


@dataclass(frozen=True)
class Cast(Expr):
    """`value::type`, e.g. `x::double`; `type` is lower-case as written (`double`, `long`, …)."""

    value: Expr
    type: str


def children(node: Expr) -> tuple[Expr, ...]:
    """The expressions directly inside `node`, in source order (none for a leaf)."""
    if isinstance(node, BinaryOp):
        return (node.left, node.right)
    if isinstance(node, UnaryOp):
        return (node.operand,)
    if isinstance(node, FunctionCall):
        return node.args
    if isinstance(node, InList):
        return (node.value, *node.options)
    if isinstance(node, Cast | IsNull | Like):
        return (node.value,)
    return ()


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """Base class of processing and source commands."""

    pos: Pos = field(default=NO_POS, kw_only=True, compare=False)


@dataclass(frozen=True)
class Assignment:
    """`name = expr`, or a bare `expr` (then `name` is the expression's text)."""

    name: str
    expr: Expr
    pos: Pos = field(default=NO_POS, kw_only=True, compare=False)


@dataclass(frozen=True)
class Aggregate:
    """One aggregate of STATS: `name = expr [WHERE filter]`."""

    name: str
    expr: Expr
    where: Expr | None = None
    pos: Pos = field(default=NO_POS, kw_only=True, compare=False)


@dataclass(frozen=True)
class From(Command):
    """`FROM a, b-*, c [METADATA _index, _id, _score]`."""

    indices: tuple[str, ...]
    metadata: tuple[str, ...] = ()


@dataclass(frozen=True)
class Row(Command):
    """`ROW a = 1, b = "x"`."""

    fields: tuple[Assignment, ...]


@dataclass(frozen=True)
class Where(Command):
    """`WHERE condition`."""

    condition: Expr


@dataclass(frozen=True)
class Eval(Command):
    """`EVAL a = expr, expr2`."""

    fields: tuple[Assignment, ...]


@dataclass(frozen=True)
class Stats(Command):
    """`STATS agg1, name = agg2 WHERE cond BY group1, name = BUCKET(...)`.

    Output columns: the aggregates in order, then the groups in order.
    """

    aggregates: tuple[Aggregate, ...]
    groups: tuple[Assignment, ...] = ()


@dataclass(frozen=True)
class Order:
    """One sort key; `nulls_first=None` is ES|QL's default (last for ASC, first for DESC)."""

    expr: Expr
    ascending: bool = True
    nulls_first: bool | None = None


@dataclass(frozen=True)
class Sort(Command):
    """`SORT a DESC NULLS LAST, b`."""

    orders: tuple[Order, ...]


@dataclass(frozen=True)
class Limit(Command):
    """`LIMIT n`."""

    count: int


@dataclass(frozen=True)
class Keep(Command):
    """`KEEP a, b*, c` — patterns may contain `*`."""

    patterns: tuple[str, ...]


@dataclass(frozen=True)
class Drop(Command):
    """`DROP a, b*` — patterns may contain `*`."""

    patterns: tuple[str, ...]


@dataclass(frozen=True)
class Rename(Command):
    """`RENAME old AS new, old2 AS new2`."""

    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Dissect(Command):
    """`DISSECT input "%{a} %{b}" [APPEND_SEPARATOR = "sep"]`."""

    source: Expr
    pattern: str
    append_separator: str | None = None


@dataclass(frozen=True)
class Grok(Command):
    """`GROK input "%{IP:ip} %{WORD:verb}"`."""

    source: Expr
    pattern: str


@dataclass(frozen=True)
class MvExpand(Command):
    """`MV_EXPAND column`."""

    column: str


@dataclass(frozen=True)
class LookupJoin(Command):
    """`LOOKUP JOIN lookup_index ON field1, field2`."""

    index: str
    on: tuple[str, ...]


@dataclass(frozen=True)
class Query:
    """A whole query: a source command (`From` or `Row`) and the processing commands after it."""

    source: From | Row
    commands: tuple[Command, ...] = ()
