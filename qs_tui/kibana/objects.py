"""What `qs-tui kibana setup` installs: data views, the dashboard's saved objects, ES|QL tools.

Data views are derived from the index definitions in `qs_tui/store/templates.py`; the dashboard
and its panels are saved objects kept as NDJSON in the repository's `kibana/` folder; the
Agent Builder tools are the queries of `esql/`, typed and described from their headers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qs_tui.queries import QueryFile, all_queries
from qs_tui.resources import kibana_dir
from qs_tui.store.templates import BY_NAME, DECISIONS, DEPLOYMENTS, INCIDENTS, LOGS, METRICS

#: Prefix of every id QuantumState gives a Kibana object, so `remove` touches only its own.
ID_PREFIX = "quantumstate"
#: The dashboard's saved-object id (stable: re-imports overwrite it instead of duplicating).
DASHBOARD_ID = f"{ID_PREFIX}-incidents"
#: The NDJSON file with the dashboard and its panels.
SAVED_OBJECTS_FILE = "dashboard.ndjson"
#: Today's telemetry indices, by role; a schema profile may point them elsewhere.
DEFAULT_TELEMETRY: Mapping[str, str] = {"metrics": METRICS, "logs": LOGS}
#: Tag on every Agent Builder tool QuantumState installs.
TOOL_TAG = "quantumstate"


class KibanaAssetError(Exception):
    """A saved-object file or a query header is malformed; the message names file and line."""


# ---------------------------------------------------------------------------------------------
# Data views
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataView:
    """One data view.

    Attributes:
        id: the stable id the dashboard's panels reference.
        title: the index pattern (comma-separated patterns allowed).
        name: the name Kibana shows.
        time_field: the field Kibana's time picker filters on.
    """

    id: str
    title: str
    name: str
    time_field: str = "@timestamp"

    def attributes(self) -> dict[str, Any]:
        """The `data_view` object of the create and update APIs (without the id)."""
        # allowNoIndex: setup may run before QuantumState has written anything.
        return {
            "title": self.title,
            "name": self.name,
            "timeFieldName": self.time_field,
            "allowNoIndex": True,
        }


def _store_view(index: str, label: str) -> DataView:
    patterns = BY_NAME[index].index_patterns if index in BY_NAME else [index]
    return DataView(
        id=f"{ID_PREFIX}-{index.removeprefix('qs-')}",
        title=",".join(patterns),
        name=f"QuantumState {label}",
    )


def data_views(telemetry: Mapping[str, str] | None = None) -> list[DataView]:
    """The data views setup installs.

    Args:
        telemetry: index pattern per telemetry role (`{"metrics": "qs-metrics", "logs": …}`);
            the default is today's `qs-metrics` and `qs-logs`. The ids depend on the role only,
            so pointing a role at another pattern updates the same data view.
    """
    views = [
        _store_view(INCIDENTS, "incidents"),
        _store_view(DECISIONS, "agent decisions"),
        _store_view(DEPLOYMENTS, "deployments"),
    ]
    for role, pattern in (telemetry or DEFAULT_TELEMETRY).items():
        patterns = BY_NAME[pattern].index_patterns if pattern in BY_NAME else [pattern]
        views.append(
            DataView(
                id=f"{ID_PREFIX}-{role}",
                title=",".join(patterns),
                name=f"QuantumState {role}",
            )
        )
    return views


# ---------------------------------------------------------------------------------------------
# Saved objects (the dashboard)
# ---------------------------------------------------------------------------------------------


def assets_dir() -> Path:
    """The folder holding the saved-object NDJSON: the repository's top-level `kibana/`,
    shipped inside the package in a built distribution (see `qs_tui.resources`)."""
    return kibana_dir()


def saved_objects_text() -> str:
    """The NDJSON text of the dashboard's saved objects."""
    path = assets_dir() / SAVED_OBJECTS_FILE
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise KibanaAssetError(
            f"cannot read kibana/{SAVED_OBJECTS_FILE}: {error.strerror or error}"
        ) from None


def parse_saved_objects(
    text: str, *, source: str = f"kibana/{SAVED_OBJECTS_FILE}"
) -> list[dict[str, Any]]:
    """Each line of an NDJSON export as a saved object (`type`, `id`, `attributes`, …).

    Raises:
        KibanaAssetError: `file:line: …` for a line that is not a saved object.
    """
    objects: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise KibanaAssetError(f"{source}:{number}: not JSON ({error.msg})") from None
        if not isinstance(value, dict) or not isinstance(value.get("type"), str):
            raise KibanaAssetError(f"{source}:{number}: not a saved object (no type)")
        if not isinstance(value.get("id"), str) or not isinstance(value.get("attributes"), dict):
            raise KibanaAssetError(f"{source}:{number}: a saved object needs an id and attributes")
        objects.append(value)
    return objects


def reference_problems(objects: list[dict[str, Any]], views: list[DataView]) -> list[str]:
    """What is wrong with the references between `objects` and the data views, if anything.

    Checks that ids are unique and carry QuantumState's prefix, that every `index-pattern`
    reference names a data view setup creates, that every other reference names an object of
    the file, and that every dashboard panel's `panelRefName` has its reference.
    """
    problems: list[str] = []
    view_ids = {view.id for view in views}
    seen: set[tuple[str, str]] = set()
    for obj in objects:
        key = (obj["type"], obj["id"])
        if key in seen:
            problems.append(f"{obj['type']} {obj['id']} appears twice")
        seen.add(key)
        if not obj["id"].startswith(f"{ID_PREFIX}-"):
            problems.append(f"{obj['type']} {obj['id']}: ids must start with {ID_PREFIX}-")
    for obj in objects:
        where = f"{obj['type']} {obj['id']}"
        references = obj.get("references") or []
        names = set()
        for ref in references:
            names.add(ref.get("name"))
            if ref.get("type") == "index-pattern":
                if ref.get("id") not in view_ids:
                    problems.append(f"{where}: data view {ref.get('id')} is not one setup creates")
            elif (ref.get("type"), ref.get("id")) not in seen:
                problems.append(f"{where}: {ref.get('type')} {ref.get('id')} is not in the file")
        if obj["type"] == "dashboard":
            for panel in json.loads(obj["attributes"].get("panelsJSON") or "[]"):
                ref_name = f"{panel.get('panelIndex')}:{panel.get('panelRefName')}"
                if ref_name not in names:
                    problems.append(f"{where}: panel {panel.get('panelIndex')} has no reference")
    return problems


def load_saved_objects(views: list[DataView]) -> tuple[str, list[dict[str, Any]]]:
    """The NDJSON text and its objects, checked against `views`.

    Raises:
        KibanaAssetError: the file is malformed or its references are broken.
    """
    text = saved_objects_text()
    objects = parse_saved_objects(text)
    problems = reference_problems(objects, views)
    if problems:
        raise KibanaAssetError(f"kibana/{SAVED_OBJECTS_FILE}: " + "; ".join(problems))
    return text, objects


def object_title(obj: Mapping[str, Any]) -> str:
    """A saved object's title, or its id."""
    title = obj.get("attributes", {}).get("title")
    return title if isinstance(title, str) else str(obj.get("id"))


# ---------------------------------------------------------------------------------------------
# Agent Builder tools (the query library)
# ---------------------------------------------------------------------------------------------

#: How a parameter's description in a query header maps to an Agent Builder parameter type
#: (ES|QL tools take text, keyword, long, integer, double, float, boolean, date, object, nested).
_PARAM_TYPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"ISO-8601|instant", re.I), "date"),
    (re.compile(r"\bkeywords?\b", re.I), "keyword"),
    (re.compile(r"\bpercent|\bnumber|\bseconds\b", re.I), "double"),
    (re.compile(r"\bwords?\b|\btext\b", re.I), "text"),
)
_SECTION = re.compile(r"^([A-Z][A-Za-z ]*):\s*(.*)$")
_NAMES = re.compile(r"\?([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class ToolSpec:
    """One Agent Builder ES|QL tool.

    Attributes:
        id: `quantumstate_<query name>`.
        description: what the query finds, from its header, and the columns it returns.
        query: the ES|QL without the header comment.
        params: name -> `{"type": …, "description": …}`.
    """

    id: str
    description: str
    query: str
    params: dict[str, dict[str, str]] = field(default_factory=dict)

    def update_body(self) -> dict[str, Any]:
        """The body of `PUT /api/agent_builder/tools/{id}`."""
        return {
            "description": self.description,
            "tags": [TOOL_TAG],
            "configuration": {"query": self.query, "params": self.params},
        }

    def create_body(self) -> dict[str, Any]:
        """The body of `POST /api/agent_builder/tools`."""
        return {"id": self.id, "type": "esql", **self.update_body()}


def _header_sections(description: str) -> tuple[str, dict[str, str]]:
    """The prose of a header and its `Name: value` sections (continuation lines joined)."""
    prose: list[str] = []
    sections: dict[str, str] = {}
    current: str | None = None
    for line in description.splitlines():
        match = _SECTION.match(line)
        if match and match.group(1) in {"Params", "Columns"}:
            current = match.group(1)
            sections[current] = match.group(2).strip()
        elif current is not None:
            sections[current] = f"{sections[current]} {line.strip()}".strip()
        else:
            prose.append(line.strip())
    return " ".join(part for part in prose if part), sections


def tool_from_query(query: QueryFile) -> ToolSpec:
    """The Agent Builder tool for one library query.

    Raises:
        KibanaAssetError: a parameter the query uses is not described in its `Params:` line,
            or its description does not say its type.
    """
    source = f"esql/{query.name}.esql"
    prose, sections = _header_sections(query.description)
    params: dict[str, dict[str, str]] = {}
    for segment in sections.get("Params", "").split(";"):
        names_part, dash, text = segment.partition("—")
        names = _NAMES.findall(names_part)
        if not names:
            continue
        text = text.strip().rstrip(".")
        if not dash or not text:
            raise KibanaAssetError(f"{source}: Params: ?{names[0]} has no description after '—'")
        kind = next((k for pattern, k in _PARAM_TYPES if pattern.search(text)), None)
        if kind is None:
            raise KibanaAssetError(
                f"{source}: Params: cannot tell the type of ?{names[0]} from {text!r} "
                "(say ISO-8601 instant, keyword, number or words)"
            )
        if kind == "date":
            text += ", e.g. 2026-11-25T16:00:00Z"
        for name in names:
            params[name] = {"type": kind, "description": f"?{name}: {text}"}
    missing = [name for name in query.params if name not in params]
    if missing:
        raise KibanaAssetError(
            f"{source}: the header's Params: line does not describe ?{missing[0]}"
        )
    unused = [name for name in params if name not in query.params]
    if unused:
        raise KibanaAssetError(f"{source}: Params: ?{unused[0]} is not used by the query")
    lines = query.text.splitlines()
    start = next(
        (i for i, line in enumerate(lines) if line.strip() and not line.strip().startswith("//")),
        len(lines),
    )
    body = lines[start:]
    description = prose
    if "Columns" in sections:
        description += f" Returns the columns {sections['Columns']}."
    return ToolSpec(
        id=f"{ID_PREFIX}_{query.name}",
        description=description,
        query="\n".join(body).strip(),
        params={name: params[name] for name in query.params},
    )


def tools(queries: list[QueryFile] | None = None) -> list[ToolSpec]:
    """One tool per query of the library (`esql/*.esql`)."""
    return [tool_from_query(query) for query in (queries or all_queries())]
