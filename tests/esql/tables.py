"""In-memory indices for the engine tests: a wildcard-resolving catalog and a typed builder."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from qs_tui.esql import IndexData
from qs_tui.esql import types as esql_types


@dataclass
class MemoryCatalog:
    """A `Catalog` over a dict of `IndexData`, resolving FROM patterns with shell wildcards."""

    indices: dict[str, IndexData] = field(default_factory=dict)

    @classmethod
    def of(cls, *indices: IndexData) -> MemoryCatalog:
        """A catalog holding `indices`, by name."""
        return cls({index.name: index for index in indices})

    def add(self, index: IndexData) -> None:
        """Register (or replace) one index."""
        self.indices[index.name] = index

    def resolve(self, pattern: str) -> list[IndexData]:
        """Indices whose name matches `pattern` (`*` wildcards), sorted by name."""
        return [
            self.indices[name]
            for name in sorted(self.indices)
            if fnmatch.fnmatchcase(name, pattern)
        ]


def typed_index(name: str, types: dict[str, str], rows: list[dict[str, Any]]) -> IndexData:
    """An index whose columns have the engine's dtypes for the given ES|QL `types`; a list
    value in any row makes that field multi-valued."""
    data: dict[str, pl.Series] = {}
    for column, kind in types.items():
        raw = [row.get(column) for row in rows]
        dtype = esql_types.polars_dtype(kind)
        if any(isinstance(value, list) for value in raw):
            cells = [
                value if isinstance(value, list) or value is None else [value] for value in raw
            ]
            data[column] = pl.Series(column, cells, dtype=pl.List(dtype))
        else:
            data[column] = pl.Series(column, raw, dtype=dtype)
    data["_id"] = pl.Series("_id", [str(row.get("_id", i)) for i, row in enumerate(rows)])
    return IndexData(name, pl.DataFrame(data), types)
