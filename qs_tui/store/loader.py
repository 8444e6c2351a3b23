"""Load an index into the embedded store from an Elasticsearch mapping file and NDJSON data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qs_tui.store.base import Store, StoreError

#: Bulk-API action names; a line `{"index": {...}}` announces the document on the next line.
_ACTIONS = frozenset({"index", "create"})
_UNSUPPORTED_ACTIONS = frozenset({"update", "delete"})
_ACTION_PARAMETERS = frozenset(
    {
        "routing",
        "pipeline",
        "require_alias",
        "require_data_stream",
        "dynamic_templates",
        "if_seq_no",
        "if_primary_term",
        "version",
        "version_type",
        "list_executed_pipelines",
    }
)
#: At most this many bad documents are listed in one error.
_MAX_LISTED = 10


class LoadError(Exception):
    """A mapping or data file is unreadable or malformed; the message names file:line[:column]."""


def _where(path: Path, line: int, column: int | None = None) -> str:
    return f"{path}:{line}" if column is None else f"{path}:{line}:{column}"


def read_mapping(path: Path) -> dict[str, Any]:
    """Read a mapping file: `{"properties": ...}`, `{"mappings": {...}}` or a GET _mapping body.

    Raises:
        LoadError: the file is missing, not JSON, or not shaped like a mapping.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise LoadError(f"{path}: cannot read mapping file: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise LoadError(f"{path}: mapping file is not UTF-8 ({error.reason})") from None
    try:
        body = json.loads(text)
    except json.JSONDecodeError as error:
        where = _where(path, error.lineno, error.colno)
        raise LoadError(f"{where}: invalid JSON in mapping file: {error.msg}") from None
    # `GET <index>/_mapping` answers {"<index>": {"mappings": {...}}}: take the one index.
    if isinstance(body, dict) and len(body) == 1 and not {"mappings", "properties"} & set(body):
        (inner,) = body.values()
        if isinstance(inner, dict) and "mappings" in inner:
            body = inner
    if isinstance(body, dict) and isinstance(body.get("mappings"), dict):
        body = body["mappings"]
    if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
        raise LoadError(
            f"{path}: a mapping file holds an object with `properties` "
            '(`{"properties": {"field": {"type": "keyword"}}}`), optionally inside `mappings`'
        )
    return body


def _action(value: Any) -> str | None:
    """The bulk action a parsed line is, or None when it is a document."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    ((name, meta),) = value.items()
    if name not in _ACTIONS | _UNSUPPORTED_ACTIONS or not isinstance(meta, dict):
        return None
    if all(key.startswith("_") or key in _ACTION_PARAMETERS for key in meta):
        return str(name)
    return None


def read_documents(path: Path) -> tuple[list[dict[str, Any]], list[int]]:
    """Parse an NDJSON file into documents and the line number each one came from.

    Blank lines are skipped; bulk-API action lines (`{"index": {"_id": "1"}}`) are skipped too,
    and an `_id` they carry becomes the next document's id.

    Raises:
        LoadError: naming file:line:column for invalid JSON, file:line for a line that is not
            an object or an unsupported bulk action.
    """
    documents: list[dict[str, Any]] = []
    lines: list[int] = []
    pending_id: Any = None
    try:
        handle = path.open(encoding="utf-8")
    except OSError as error:
        raise LoadError(f"{path}: cannot read data file: {error.strerror or error}") from None
    with handle:
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line.rstrip("\r\n"))
                except json.JSONDecodeError as error:
                    where = _where(path, number, error.colno)
                    raise LoadError(f"{where}: invalid JSON: {error.msg}") from None
                action = _action(value)
                if action in _UNSUPPORTED_ACTIONS:
                    raise LoadError(
                        f"{_where(path, number)}: bulk action `{action}` is not supported here; "
                        "only `index` and `create` lines may precede documents"
                    )
                if action is not None:
                    pending_id = value[action].get("_id")
                    continue
                if not isinstance(value, dict):
                    raise LoadError(
                        f"{_where(path, number)}: expected one JSON object per line, found "
                        f"{type(value).__name__}"
                    )
                if pending_id is not None:
                    value = {**value, "_id": pending_id}
                    pending_id = None
                documents.append(value)
                lines.append(number)
        except UnicodeDecodeError as error:
            raise LoadError(f"{path}: data file is not UTF-8 ({error.reason})") from None
    return documents, lines


def load_index(store: Store, *, index: str, mapping_path: Path, data_path: Path) -> int:
    """Create `index` with the mapping in `mapping_path` and write the NDJSON `data_path` to it.

    Field types ES|QL does not know are loaded as `unsupported` columns (nulls), as ES|QL shows
    them. Nothing is written unless every document fits the mapping.

    Args:
        store: an `EmbeddedStore` (only it can create indices from a mapping file).
        index: the index to create.
        mapping_path: `{"properties": ...}` (or `{"mappings": {"properties": ...}}`).
        data_path: NDJSON, one document per line.

    Returns:
        The number of documents written.

    Raises:
        LoadError: a file is unreadable or malformed, or documents do not fit the mapping;
            the message names file:line (and column for JSON syntax errors).
    """
    from qs_tui.store.embedded import EmbeddedStore

    if not isinstance(store, EmbeddedStore):
        raise LoadError("--index/--mapping/--data load documents into the embedded store only")
    mapping = read_mapping(mapping_path)
    documents, lines = read_documents(data_path)
    # Check every document against the mapping in a scratch store first, so that a bad file
    # leaves the real store untouched.
    scratch = EmbeddedStore()
    try:
        scratch.create_index(index, mapping)
    except StoreError as error:
        raise LoadError(f"{mapping_path}: {error.message or error.title}") from None
    _, errors = scratch.bulk_detailed(index, documents)
    if errors:
        listed = [
            f"{_where(data_path, lines[position])}: {message}"
            for position, message in errors[:_MAX_LISTED]
        ]
        more = len(errors) - len(listed)
        if more:
            listed.append(f"... and {more} more")
        raise LoadError(
            f"{len(errors)} document(s) in {data_path} do not fit the mapping of [{index}]:\n"
            + "\n".join(listed)
        )
    try:
        store.create_index(index, mapping)
        written, errors = store.bulk_detailed(index, documents)
    except StoreError as error:
        raise LoadError(f"cannot load [{index}]: {error}") from None
    if errors:  # pragma: no cover - the scratch run above already found these
        raise LoadError(f"{data_path}: {errors[0][1]}")
    return written
