"""The query library: one ES|QL query per file in the top-level `esql/` folder.

An installed package reads the copy shipped inside it (see `qs_tui.resources`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from qs_tui.clock import iso_instant
from qs_tui.resources import query_dir

#: The query library's folder: shipped in the package, or the checkout's `esql/`.
QUERY_DIR = query_dir()

_PARAM = re.compile(r"\?([A-Za-z_][A-Za-z0-9_]*)")

#: The short metric columns the timeline queries return (`metrics_timeline.esql`,
#: `incident_telemetry.esql`) -> the metric names the agents and the war room use.
TIMELINE_COLUMNS: dict[str, str] = {
    "cpu": "cpu_percent",
    "memory": "memory_percent",
    "errors": "error_rate",
    "latency": "latency_p95_ms",
    "rps": "requests_per_s",
    "disk": "disk_percent",
}


def bind_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Named parameters for a library query: datetimes become ISO strings (`iso_instant`)."""
    return {k: iso_instant(v) if isinstance(v, datetime) else v for k, v in params.items()}


class QueryNotFoundError(LookupError):
    """No file `esql/<name>.esql`."""


@dataclass(frozen=True)
class QueryFile:
    """One query of the library.

    Attributes:
        name: the file's stem (`memory_leak`).
        text: the whole file, header comment included (ES|QL accepts `//` comments).
        description: the header comment without the `//` markers.
        params: the named parameters the query uses, in order of first use.
    """

    name: str
    text: str
    description: str
    params: tuple[str, ...]


def _read(path: Path) -> QueryFile:
    text = path.read_text(encoding="utf-8")
    header: list[str] = []
    body: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("//") and not body:
            header.append(stripped[2:].strip())
        elif stripped:
            body.append(line)
    params = tuple(dict.fromkeys(_PARAM.findall("\n".join(body))))
    return QueryFile(path.stem, text, "\n".join(header), params)


@cache
def load_query(name: str) -> QueryFile:
    """The query `esql/<name>.esql`.

    Raises:
        QueryNotFoundError: naming the file that is missing.
    """
    path = QUERY_DIR / f"{name}.esql"
    if not path.is_file():
        raise QueryNotFoundError(f"no query file {path.name} in {QUERY_DIR}")
    return _read(path)


def all_queries(directory: Path | None = None) -> list[QueryFile]:
    """Every query in the library (or in `directory`), by name."""
    return [_read(path) for path in sorted((directory or QUERY_DIR).glob("*.esql"))]
