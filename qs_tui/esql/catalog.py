"""What the engine reads (a catalog of indices) and what it returns (an ES-shaped result)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import polars as pl


@dataclass(frozen=True)
class IndexData:
    """One concrete index as the engine sees it.

    Attributes:
        name: the index name (what `_index` reports).
        frame: one column per leaf field, dotted names for objects (`host.name`). A
            multi-valued field is a `pl.List` column. The frame always holds a `_id` column
            (String); metadata columns start with `_` and are not listed in `types`.
        types: the ES|QL type of every field column (see `qs_tui.esql.types`), in mapping
            order. A mapped field with no values is still listed (all nulls in `frame`).
        sorted_by: a column `frame` is sorted by, ascending with nulls last, or None. An
            index sorted by `@timestamp` is read only in the window a `WHERE` right after
            `FROM` asks for (see `qs_tui.esql.timerange`).
    """

    name: str
    frame: pl.DataFrame
    types: Mapping[str, str]
    sorted_by: str | None = None


class Catalog(Protocol):
    """The indices a query may read. The embedded store implements this."""

    def resolve(self, pattern: str) -> list[IndexData]:
        """Concrete indices matching one FROM pattern (`name`, `prefix-*`, `*`), sorted by name.

        Returns an empty list when nothing matches; the engine decides what that means.
        """
        ...


@dataclass(frozen=True)
class Column:
    """A result column: its name and its ES|QL type."""

    name: str
    type: str


@dataclass
class EsqlResult:
    """What `POST /_query` answers: `columns` and `values` rows, plus the response warnings.

    Values are JSON-ready: dates are ISO strings as ES prints them
    (`2026-11-25T16:00:00.000Z`), multi-valued cells are lists, nulls are `None`.
    """

    columns: list[Column]
    values: list[list[Any]]
    warnings: list[str] = field(default_factory=list)

    def to_body(self) -> dict[str, Any]:
        """The JSON body of ES's `POST /_query` response: `{"columns": [...], "values": [...]}`."""
        return {
            "columns": [{"name": c.name, "type": c.type} for c in self.columns],
            "values": self.values,
        }

    @classmethod
    def from_body(cls, body: Mapping[str, Any], warnings: Sequence[str] = ()) -> EsqlResult:
        """Build a result from an ES `POST /_query` response body."""
        columns = [Column(str(c["name"]), str(c["type"])) for c in body.get("columns", [])]
        return cls(columns, [list(row) for row in body.get("values", [])], list(warnings))

    def records(self) -> list[dict[str, Any]]:
        """Rows as dicts keyed by column name (the rightmost duplicate wins, as in ES)."""
        names = [c.name for c in self.columns]
        return [dict(zip(names, row, strict=True)) for row in self.values]
