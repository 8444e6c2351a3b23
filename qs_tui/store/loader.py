"""Load an index into the embedded store from an Elasticsearch mapping file and NDJSON data.

A file is read natively by polars, typed by the mapping (`read_frame`), when that reads it
exactly as parsing it line by line does; otherwise, and to name the lines of documents that do
not fit, it is parsed one line at a time (`read_documents`). Both give the same table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl

from qs_tui.esql import types as T
from qs_tui.store.base import Store, StoreError
from qs_tui.store.embedded import DEPTH_LIMIT, ID, EmbeddedStore, FieldSpec, IndexMapping

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
    except RecursionError:
        raise LoadError(
            f"{path}: the mapping nests too deeply (Elasticsearch allows objects "
            f"{DEPTH_LIMIT} levels deep: index.mapping.depth.limit)"
        ) from None
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


#: Why a line too deep for `json` is rejected: ES's own words for a document past the limit.
_TOO_DEEP = f"failed to parse: Limit of mapping depth [{DEPTH_LIMIT}] has been exceeded"


def read_documents(path: Path) -> tuple[list[dict[str, Any]], list[int], list[tuple[int, str]]]:
    """Parse an NDJSON file into documents and the line number each one came from.

    Blank lines are skipped; bulk-API action lines (`{"index": {"_id": "1"}}`) are skipped too,
    and an `_id` they carry becomes the next document's id.

    Returns:
        The documents, the line of each, and `(line, reason)` for documents rejected as
        Elasticsearch rejects them per document (nested far deeper than the depth limit).

    Raises:
        LoadError: naming file:line:column for invalid JSON, file:line for a line that is not
            an object or an unsupported bulk action.
    """
    documents: list[dict[str, Any]] = []
    lines: list[int] = []
    rejected: list[tuple[int, str]] = []
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
                except RecursionError:
                    # Deeper than `json` can go is far past ES's depth limit: one bad document.
                    rejected.append((number, _TOO_DEEP))
                    pending_id = None
                    continue
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
    return documents, lines, rejected


def load_index(store: Store, *, index: str, mapping_path: Path, data_path: Path) -> int:
    """Create `index` with the mapping in `mapping_path` and write the NDJSON `data_path` to it.

    Field types ES|QL does not know are loaded as `unsupported` columns (nulls), as ES|QL shows
    them. Nothing is written unless every document fits the mapping.

    The file is read natively by polars when it can be read exactly as line-by-line parsing
    reads it (see `read_frame`); otherwise, and to name the lines of documents that do not
    fit, it is parsed one line at a time. Both give the same table.

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
    if not isinstance(store, EmbeddedStore):
        raise LoadError("--index/--mapping/--data load documents into the embedded store only")
    mapping = read_mapping(mapping_path)
    try:
        parsed = IndexMapping(mapping, index=index)
    except StoreError as error:
        raise LoadError(f"{mapping_path}: {error.message or error.title}") from None
    if index in store.indices():
        raise LoadError(f"cannot load [{index}]: index already exists: [{index}] already exists")
    frame = read_frame(data_path, parsed)
    if frame is not None:
        try:
            written, errors = store.create_index_with(index, mapping, frame)
        except StoreError as error:
            raise LoadError(f"cannot load [{index}]: {error}") from None
        if not errors:
            return written
        # Some documents do not fit: the per-line path below names their lines.
    return _load_lines(store, index=index, mapping=mapping, data_path=data_path)


def _load_lines(
    store: EmbeddedStore, *, index: str, mapping: dict[str, Any], data_path: Path
) -> int:
    """`load_index` reading the file one line at a time, as `json` parses it."""
    documents, lines, rejected = read_documents(data_path)
    try:
        if rejected:
            # Nothing is written when any document is bad: only check the others.
            written, errors = EmbeddedStore().create_index_with(index, mapping, documents)
            written = 0
        else:
            written, errors = store.create_index_with(index, mapping, documents)
    except StoreError as error:
        raise LoadError(f"cannot load [{index}]: {error}") from None
    bad = sorted([*rejected, *((lines[position], message) for position, message in errors)])
    if bad:
        listed = [f"{_where(data_path, line)}: {message}" for line, message in bad[:_MAX_LISTED]]
        more = len(bad) - len(listed)
        if more:
            listed.append(f"... and {more} more")
        raise LoadError(
            f"{len(bad)} document(s) in {data_path} do not fit the mapping of [{index}]:\n"
            + "\n".join(listed)
        )
    return written


# ---------------------------------------------------------------------------------------------
# The native path: polars reads the whole file, typed by the mapping
# ---------------------------------------------------------------------------------------------

#: Lines read with `json` to choose each field's polars dtype (scalar or list, text or epoch).
_SAMPLE_LINES = 1000
#: The file is checked in pieces of about this many bytes (cut at line ends).
_CHUNK_BYTES = 1 << 24
# Raw dtypes polars reads strictly: a value of another JSON type fails the whole read, so the
# per-line path decides. `Categorical` is polars' only string dtype that refuses numbers.
_STRICT_STRING: pl.DataType = pl.Categorical()
_RAW_DTYPES: dict[str, pl.DataType] = {
    T.KEYWORD: _STRICT_STRING,
    T.TEXT: _STRICT_STRING,
    T.VERSION: _STRICT_STRING,
    T.IP: _STRICT_STRING,
    T.DOUBLE: pl.Float64(),
    T.LONG: pl.Int64(),
    T.INTEGER: pl.Int64(),
    T.UNSIGNED_LONG: pl.Int64(),
    T.BOOLEAN: pl.Boolean(),
}
# A `\uD800`-`\uDFFF` escape: Python keeps a lone surrogate, polars does not.
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
#: The Python types of JSON scalars (what a list may hold on the native path).
_SCALARS = (str, int, float, bool)


class _Unsuitable(Exception):
    """The file has a shape the native path cannot read exactly as the per-line path does."""


def _leaves_and_objects(mapping: IndexMapping) -> tuple[dict[str, FieldSpec], set[str]]:
    """Fields read from documents (multi-fields are filled from their parent) and objects."""
    leaves = {name: spec for name, spec in mapping.fields.items() if spec.source == name}
    return leaves, set(mapping.objects) - {""}


def _sample_kinds(
    path: Path, leaves: dict[str, FieldSpec], objects: set[str]
) -> dict[str, set[str]]:
    """The JSON kinds each leaf holds in the first lines: `str`, `int`, `float`, `bool`, `list`.

    Raises:
        _Unsuitable: a sampled line is not plain JSON documents whose keys are all mapped
            (bulk action lines, unmapped or dotted keys, arrays of objects, ...).
    """
    kinds: dict[str, set[str]] = {name: set() for name in leaves}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            if number >= _SAMPLE_LINES:
                break
            if not line.strip():
                continue
            try:
                document = json.loads(line)
            except (ValueError, RecursionError):
                raise _Unsuitable from None
            if not isinstance(document, dict) or _action(document) is not None:
                raise _Unsuitable
            # Iterative walk: documents may nest deeper than Python's recursion limit.
            pending: list[tuple[str, dict[str, Any]]] = [("", document)]
            while pending:
                prefix, node = pending.pop()
                for key, value in node.items():
                    name = prefix + key
                    if value is None:
                        continue
                    if name in leaves:
                        if isinstance(value, list):
                            if not all(item is None or type(item) in _SCALARS for item in value):
                                raise _Unsuitable
                            kinds[name].add("list")
                            kinds[name].update(
                                type(item).__name__ for item in value if item is not None
                            )
                        elif isinstance(value, dict):
                            raise _Unsuitable
                        else:
                            kinds[name].add(type(value).__name__)
                    elif name in objects and isinstance(value, dict):
                        pending.append((name + ".", value))
                    elif name != ID or not isinstance(value, str):
                        raise _Unsuitable
    return kinds


def _raw_dtype(spec: FieldSpec, kinds: set[str]) -> pl.DataType:
    """The dtype polars reads a leaf with, chosen from the JSON kinds the sample showed."""
    scalars = kinds - {"list"}
    dtype = _RAW_DTYPES.get(spec.esql_type)
    if spec.esql_type in (T.DATE, T.DATE_NANOS):
        dtype = pl.Int64() if scalars == {"int"} else _STRICT_STRING
    elif spec.esql_type == T.UNSUPPORTED and scalars <= {"str"}:
        dtype = _STRICT_STRING  # read (and counted) only to be dropped: ES|QL shows nulls
    if dtype is None:
        raise _Unsuitable
    return pl.List(dtype) if "list" in kinds else dtype


def _polars_schema(
    mapping: IndexMapping, kinds: dict[str, set[str]], leaves: dict[str, FieldSpec]
) -> dict[str, pl.DataType]:
    """The document schema: leaves typed by the mapping, objects as structs of their members."""
    # Objects are built deepest first, so each struct is complete before its parent takes it.
    members: dict[str, dict[str, pl.DataType]] = {"": {ID: _STRICT_STRING}}
    order: list[tuple[str, str, str]] = []  # (parent, key, object path)
    pending: list[tuple[str, Mapping[str, Any]]] = [("", mapping.properties)]
    while pending:
        prefix, properties = pending.pop()
        parent = prefix[:-1]
        for key, definition in properties.items():
            name = prefix + str(key)
            if name in leaves:
                members[parent][str(key)] = _raw_dtype(leaves[name], kinds[name])
            elif name in mapping.objects:
                members[name] = {}
                order.append((parent, str(key), name))
                pending.append((name + ".", definition.get("properties") or {}))
    for parent, key, name in reversed(order):
        members[parent][key] = pl.Struct(members.pop(name))
    return members[""]


def _flatten_structs(frame: pl.DataFrame) -> pl.DataFrame:
    """Struct columns unnested to dotted columns (`host` -> `host.name`), iteratively."""
    while True:
        structs = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.Struct)]
        if not structs:
            return frame
        frame = frame.select(
            pl.all().exclude(structs),
            *(
                pl.col(name).struct.field(field.name).alias(f"{name}.{field.name}")
                for name in structs
                for field in frame.schema[name].fields  # type: ignore[attr-defined]
            ),
        )


def _keys_and_strings(frame: pl.DataFrame) -> int:
    """How many JSON strings (keys and string values) the frame's non-null values account for.

    Every non-null value is one key; a string value is one more string, a list adds its
    strings, and an object (a struct) adds its members' keys and strings.
    """
    total = 0
    pending: list[pl.Series] = list(frame.get_columns())
    while pending:
        series = pending.pop()
        present = len(series) - series.null_count()
        total += present
        dtype = series.dtype
        if dtype == pl.Categorical:
            total += present
        elif isinstance(dtype, pl.List) and dtype.inner == pl.Categorical:
            total += len(series.explode().drop_nulls())
        elif isinstance(dtype, pl.Struct):
            # Members of a null object are null too, so they count nothing.
            pending.extend(series.struct.unnest().get_columns())
    return total


def _line_segments(
    handle: BinaryIO, block_bytes: int = _CHUNK_BYTES
) -> Iterator[tuple[bytes, int, int]]:
    """The file as `(buffer, start, end)` runs of whole lines, reading blocks without copying."""
    carry = b""
    while block := handle.read(block_bytes):
        first = 0
        if carry:
            newline = block.find(b"\n")
            if newline < 0:
                carry += block
                continue
            first = newline + 1
            joined = carry + block[:first]
            yield joined, 0, len(joined)
        cut = max(block.rfind(b"\n", first) + 1, first)
        if cut > first:
            yield block, first, cut
        carry = block[cut:]
    if carry:
        yield carry, 0, len(carry)


def _count_strings(path: Path, *, nulls: bool) -> tuple[int, int]:
    """The JSON strings in the file and (with `nulls`) its `"key": null` members, on raw bytes.

    Without `\\\\` escapes a backslash only ever starts an escape inside a string, so every
    `\\"` is a quote inside a string and every other `"` delimits one: (quotes - escaped
    quotes) / 2 is the number of strings, and a `":null` whose quote is not escaped can only
    be a key with a null value.

    Raises:
        _Unsuitable: the counts would not be exact (escaped backslashes, lone surrogates, or a
            `\\r` that Python would read as a line break).
    """
    strings = null_members = 0
    with path.open("rb") as handle:
        for buffer, start, end in _line_segments(handle):
            escaped = 0
            # One-byte `find`s run at memchr speed: the costly checks run only when needed.
            if buffer.find(b"\\", start, end) >= 0:
                if (
                    buffer.find(b"\\\\", start, end) >= 0
                    or _SURROGATE.search(buffer, start, end) is not None
                ):
                    raise _Unsuitable
                escaped = buffer.count(b'\\"', start, end)
            if buffer.find(b"\r", start, end) >= 0 and buffer.count(
                b"\r", start, end
            ) != buffer.count(b"\r\n", start, end):
                raise _Unsuitable
            quotes = buffer.count(b'"', start, end) - escaped
            if quotes % 2:
                raise _Unsuitable
            strings += quotes // 2
            if nulls:
                for pattern in (b'":null', b'": null'):
                    null_members += buffer.count(pattern, start, end)
                    if escaped:
                        null_members -= buffer.count(b"\\" + pattern, start, end)
    return strings, null_members


def native_schema(path: Path, mapping: IndexMapping) -> dict[str, pl.DataType] | None:
    """The schema polars reads `path` with on the native path (`None`: the file's first lines
    send it to the per-line path). `read_frame` reads with it; `bench engine` times polars'
    read alone with it, the floor under the whole load."""
    leaves, objects = _leaves_and_objects(mapping)
    try:
        kinds = _sample_kinds(path, leaves, objects)
        return _polars_schema(mapping, kinds, leaves)
    except (_Unsuitable, OSError, UnicodeDecodeError):
        return None


def read_frame(path: Path, mapping: IndexMapping) -> pl.DataFrame | None:
    """Read an NDJSON file natively (polars), typed by `mapping`; `None` when it cannot be.

    The frame holds one column per document path (`host.name`) with the raw JSON values,
    ready for `EmbeddedStore.create_index_with`, which converts them exactly as it converts
    documents. `None` means the per-line path must read the file: its first lines show shapes
    this path does not take (bulk action lines, unmapped or dotted keys, arrays of objects,
    values that change JSON type), polars refused a line (invalid JSON, a value of another
    type), or the file holds keys the mapping does not know.

    That last check is exact: polars ignores keys outside its schema, so the strings of the
    file (keys and string values, counted on its bytes) must equal those of the frame.
    """
    schema = native_schema(path, mapping)
    if schema is None:
        return None
    # Polars parses without the GIL, so the byte count runs alongside it in a thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        counted = pool.submit(_count_strings, path, nulls=False)
        try:
            frame = pl.read_ndjson(path, schema=schema)
        except (pl.exceptions.PolarsError, OSError, ValueError):
            return None  # a line polars refuses: the per-line path reads it (and names it)
        finally:
            error = counted.exception()
    if error is not None:
        if isinstance(error, _Unsuitable | OSError):
            return None
        raise error
    strings, _ = counted.result()
    expected = _keys_and_strings(frame)
    if strings != expected:
        # Keys with null values are strings polars shows as nulls: count them (a second
        # pass, only for files with more strings than the frame accounts for).
        try:
            strings, null_members = _count_strings(path, nulls=True)
        except (_Unsuitable, OSError):
            return None
        expected += null_members
    if strings != expected:
        return None  # unmapped keys (or a key given twice): the per-line path decides
    if frame[ID].null_count() == frame.height:
        frame = frame.drop(ID)
    # One chunk per column, as the per-line path builds them: aggregates then add up floats
    # in the same order, so answers match to the last bit.
    frame = _flatten_structs(frame).with_columns(pl.col(pl.Categorical).cast(pl.String))
    return frame.rechunk()
