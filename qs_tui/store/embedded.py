"""The embedded store: one typed polars table per index, queried with the embedded ES|QL engine.

Documents are converted the way Elasticsearch indexes them:

- Fields are typed by the index's mapping: the project's templates for `qs-*` names
  (`qs_tui.store.templates`), the mapping given to `create_index`, or dynamic mapping.
- Objects flatten to dotted columns (`{"host": {"name": "a"}}` and `{"host.name": "a"}` both
  fill `host.name`); arrays become multi-valued cells (a `pl.List` column). As ES|QL reads
  them from doc values, multi-values of keyword fields come back sorted and de-duplicated,
  numbers, dates and booleans sorted with duplicates kept, text in source order.
- Multi-fields (`"fields": {"keyword": {"type": "keyword"}}`) become their own columns
  (`name.keyword`) filled from the parent's value.
- Dates are accepted as ISO-8601 strings (`2026-11-25`, `2026-11-25T16:00:00Z`, with a
  fraction or an offset), epoch milliseconds (numbers or digit strings) or `datetime` objects
  (naive ones are UTC), and stored in UTC with millisecond precision (`date_nanos`: ns).
- Numbers coerce as ES does by default: numeric strings are parsed, fractions are truncated
  for integer types; `float`, `half_float` and `scaled_float` keep the precision ES keeps.
  Booleans, non-finite numbers and values out of a type's range are rejected.
- Mapping types ES|QL does not support become `unsupported` columns holding nulls. Mapping
  parameters other than `type`, `properties`, `fields`, `dynamic`, `enabled`, `format`
  (`epoch_second`, `yyyy-MM-dd HH:mm:ss`) and `scaling_factor` are accepted and ignored
  (`ignore_above`, `null_value`, `coerce`, ...).
- Data streams (`qs-metrics`, `qs-logs`) reject documents without `@timestamp`.
- Unmapped fields follow the mapping's `dynamic` setting: `false` (the templates) ignores
  them, `strict` rejects the document, `true` (the default for a new index, as in ES) adds a
  field: booleans -> boolean, integers -> long, fractions -> float, strings that look like
  ISO dates -> date, other strings -> text with a `keyword` multi-field, objects -> object.
- Elasticsearch's default mapping limits hold, with its errors: `index.mapping.depth.limit`
  (20) and `index.mapping.total_fields.limit` (1,000 fields, multi-fields and objects). A
  mapping past them is refused; a document whose dynamic fields or objects would pass them is
  rejected on its own. Mappings and documents of any depth are handled without recursion.

A document that does not fit its mapping is reported in `BulkResult.errors` with its position
and field, and not written; the other documents of the batch are written.

Documents may carry their id in an `_id` key; otherwise ids are generated from a per-index
counter (decimal strings). Writing a document whose id exists replaces the old one in a plain
index; a data stream takes `create` operations only, as in Elasticsearch, so a document whose id
is already there is left as it was and counted in `BulkResult.duplicates` (ES's per-item 409).

With a data directory, every `bulk()`/`index()` call is durable when it returns (see
`qs_tui.store.persistence` for how a crash can never damage committed data).
"""

from __future__ import annotations

import copy
import logging
import math
import re
import struct
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from qs_tui import __version__
from qs_tui.esql import types as T
from qs_tui.esql.catalog import EsqlResult, IndexData
from qs_tui.esql.errors import EsqlError
from qs_tui.store.base import (
    BulkResult,
    Document,
    DocumentExists,
    EsqlParams,
    Health,
    StoreError,
)
from qs_tui.store.persistence import DataDirectory, IndexRecord
from qs_tui.store.retention import DEFAULT_RETENTION, PRUNE_EVERY, is_telemetry
from qs_tui.store.templates import indices_to_install, mapping_upgrade, spec_for

log = logging.getLogger(__name__)

ID = "_id"
TIMESTAMP = "@timestamp"

#: A data directory index keeps at most this many segments before they are merged into one.
MAX_SEGMENTS = 32

_ISO_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%#z"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(T[0-9:.,]+(Z|[+-]\d{2}(:?\d{2})?)?)?", re.ASCII)
_EPOCH = re.compile(r"-?\d+", re.ASCII)
_DIGITS = re.compile(r"\d+", re.ASCII)
_SPACED = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?", re.ASCII)
_INDEX_NAME_BAD = re.compile(r'[\\/*?"<>| ,#:A-Z]')
_EPOCH_START = datetime(1970, 1, 1, tzinfo=UTC)

_INT_RANGES: dict[str, tuple[int, int]] = {
    "long": (-(2**63), 2**63 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "short": (-(2**15), 2**15 - 1),
    "byte": (-(2**7), 2**7 - 1),
    "unsigned_long": (0, 2**64 - 1),
}
# ES|QL reads these types from doc values, which hold multi-values sorted; numbers, dates and
# booleans keep duplicates (sorted numeric doc values), keywords, ips and versions do not
# (sorted set doc values). Text is read from _source and keeps the document's order.
_SORTED_TYPES = frozenset(
    {T.LONG, T.INTEGER, T.UNSIGNED_LONG, T.DOUBLE, T.DATE, T.DATE_NANOS, T.BOOLEAN}
)
_SORTED_UNIQUE_TYPES = frozenset({T.KEYWORD, T.IP, T.VERSION})


# ---------------------------------------------------------------------------------------------
# Mappings
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """One column of an index.

    Attributes:
        name: the dotted column name (`host.name`, `title.keyword`).
        mapping_type: the Elasticsearch mapping type (`keyword`, `float`, `geo_point`, ...).
        esql_type: the ES|QL type reported for the column.
        source: the document path the value comes from (the parent's for a multi-field).
        scaling_factor: for `scaled_float`, the factor values are rounded with.
        epoch_scale: milliseconds per epoch number for dates (1000 for `epoch_second`).
        space_separated: dates may read `yyyy-MM-dd HH:mm:ss` (the mapping's `format` says so).
    """

    name: str
    mapping_type: str
    esql_type: str
    source: str
    scaling_factor: float | None = None
    epoch_scale: int = 1
    space_separated: bool = False

    @property
    def dtype(self) -> pl.DataType:
        """The polars dtype of a single-valued column."""
        return T.polars_dtype(self.esql_type)


#: Elasticsearch's default `index.mapping.depth.limit`: an object path holds at most 19 dots.
DEPTH_LIMIT = 20
#: Elasticsearch's default `index.mapping.total_fields.limit` (fields, multi-fields, objects).
TOTAL_FIELDS_LIMIT = 1000


def _depth(path: str) -> int:
    """An object's depth as Elasticsearch measures it: root fields are at 1, `a` at 2."""
    return path.count(".") + 2


class IndexMapping:
    """A parsed mapping: leaf fields by dotted name, object paths and `dynamic` settings.

    Parsing is iterative and linear in the number of fields, and enforces Elasticsearch's
    `index.mapping.depth.limit` and `index.mapping.total_fields.limit` with its own errors.

    Args:
        body: `{"properties": {...}}`, optionally with `dynamic`.
        index: the index name, for error messages.
        depth_limit: deepest object depth allowed (root fields are at depth 1).
        total_fields_limit: most fields, multi-fields and objects the mapping may hold.

    Raises:
        StoreError: the mapping is not shaped like an Elasticsearch mapping, or exceeds a limit
            (`illegal_argument_exception`, as Elasticsearch answers).
    """

    def __init__(
        self,
        body: Mapping[str, Any],
        *,
        index: str,
        depth_limit: int = DEPTH_LIMIT,
        total_fields_limit: int = TOTAL_FIELDS_LIMIT,
    ) -> None:
        if not isinstance(body, Mapping):
            raise StoreError("invalid mapping", f"index {index}: the mapping must be an object")
        self.index = index
        self.depth_limit = depth_limit
        self.total_fields_limit = total_fields_limit
        self.dynamic = _dynamic_setting(body.get("dynamic", "true"), index=index, path="")
        self.fields: dict[str, FieldSpec] = {}
        self.objects: dict[str, str] = {"": self.dynamic}
        # The depth is checked before the (recursive) copy, so that it can never be too deep.
        self._parse(body.get("properties") or {}, "", self.dynamic)
        self._check_total(0)
        self.properties: dict[str, Any] = copy.deepcopy(dict(body.get("properties") or {}))

    def body(self) -> dict[str, Any]:
        """The mapping as Elasticsearch would print it (`{"dynamic": ..., "properties": ...}`)."""
        return {"dynamic": self.dynamic, "properties": copy.deepcopy(self.properties)}

    @property
    def total_fields(self) -> int:
        """Fields, multi-fields and objects, as `index.mapping.total_fields.limit` counts."""
        return len(self.fields) + len(self.objects) - 1

    def _check_total(self, adding: int) -> None:
        if self.total_fields + adding > self.total_fields_limit:
            raise StoreError(
                "illegal_argument_exception",
                f"Limit of total fields [{self.total_fields_limit}] has been exceeded",
            )

    def _parse(self, properties: Any, prefix: str, dynamic: str) -> None:
        """Add the fields and objects of `properties` (under `prefix`), without recursion."""
        pending: list[tuple[Any, str, str]] = [(properties, prefix, dynamic)]
        while pending:
            properties, prefix, dynamic = pending.pop()
            if not isinstance(properties, Mapping):
                where = prefix.rstrip(".") or "the root"
                raise StoreError(
                    "invalid mapping",
                    f"index {self.index}: `properties` of {where} is not an object",
                )
            # Checked as fields are added, so a huge mapping fails fast, not after parsing.
            if self.total_fields + len(properties) > self.total_fields_limit:
                self._check_total(len(properties))
            for key, definition in properties.items():
                path = prefix + str(key)
                if not isinstance(definition, Mapping):
                    raise StoreError(
                        "invalid mapping", f"index {self.index}: field [{path}] is not an object"
                    )
                kind = definition.get("type", "object" if "properties" in definition else None)
                if kind is None or kind == "object":
                    if _depth(path) > self.depth_limit:
                        raise StoreError(
                            "illegal_argument_exception",
                            f"Limit of mapping depth [{self.depth_limit}] has been exceeded due "
                            f"to object field [{path}]",
                        )
                    child = _dynamic_setting(
                        definition.get("dynamic", dynamic), index=self.index, path=path
                    )
                    if definition.get("enabled") is False:
                        child = "false"  # ES keeps a disabled object in _source only
                    self.objects[path] = child
                    pending.append((definition.get("properties") or {}, path + ".", child))
                    continue
                self._add_leaf(path, str(kind), definition, source=path)
                sub_fields = definition.get("fields") or {}
                if not isinstance(sub_fields, Mapping):
                    raise StoreError(
                        "invalid mapping",
                        f"index {self.index}: `fields` of [{path}] is not an object",
                    )
                for sub, sub_definition in sub_fields.items():
                    sub_kind = (
                        sub_definition.get("type") if isinstance(sub_definition, Mapping) else None
                    )
                    if sub_kind is None:
                        raise StoreError(
                            "invalid mapping",
                            f"index {self.index}: multi-field [{path}.{sub}] has no type",
                        )
                    self._add_leaf(f"{path}.{sub}", str(sub_kind), sub_definition, source=path)

    def _add_leaf(
        self, path: str, kind: str, definition: Mapping[str, Any], *, source: str
    ) -> None:
        factor = definition.get("scaling_factor")
        if kind == "scaled_float" and (
            not isinstance(factor, int | float) or isinstance(factor, bool) or factor <= 0
        ):
            raise StoreError(
                "invalid mapping",
                f"index {self.index}: field [{path}] of type [scaled_float] needs a "
                "numeric `scaling_factor`",
            )
        formats = [option.strip() for option in str(definition.get("format", "")).split("||")]
        self.fields[path] = FieldSpec(
            name=path,
            mapping_type=kind,
            esql_type=T.esql_type_for_mapping(kind),
            source=source,
            scaling_factor=float(factor) if kind == "scaled_float" and factor else None,
            epoch_scale=1000 if "epoch_second" in formats and "epoch_millis" not in formats else 1,
            space_separated=any("yyyy-MM-dd HH:mm:ss" in option for option in formats),
        )

    def dynamic_error(self, path: str, definition: Mapping[str, Any]) -> str | None:
        """Why a document may not add `path` dynamically (a limit it would exceed), or None."""
        if definition.get("type") == "object" and _depth(path) > self.depth_limit:
            return (
                f"failed to parse: Limit of mapping depth [{self.depth_limit}] has been exceeded "
                f"due to object field [{path}]"
            )
        adding = 1 + len(definition.get("fields") or {})
        if self.total_fields + adding > self.total_fields_limit:
            return (
                f"failed to parse: Limit of total fields [{self.total_fields_limit}] has been "
                f"exceeded while adding new fields [{adding}]"
            )
        return None

    def add_dynamic(self, path: str, definition: dict[str, Any]) -> None:
        """Add a field or object found in a document (dynamic mapping).

        Only the new definition is parsed (not the whole mapping again), so adding fields one
        by one stays linear. The caller checks `dynamic_error` first.
        """
        node = self.properties
        *parents, leaf = path.split(".")
        for parent in parents:
            node = node.setdefault(parent, {"properties": {}}).setdefault("properties", {})
        node[leaf] = definition
        parent_path = path.rpartition(".")[0]
        self._parse(
            {leaf: definition},
            parent_path + "." if parent_path else "",
            self.objects.get(parent_path, self.dynamic),
        )

    def types(self) -> dict[str, str]:
        """ES|QL type per column, ordered by name as Elasticsearch lists mapped fields."""
        return {name: self.fields[name].esql_type for name in sorted(self.fields)}


def _dynamic_setting(value: Any, *, index: str, path: str) -> str:
    text = str(value).lower()
    if text not in {"true", "false", "strict", "runtime"}:
        raise StoreError(
            "invalid mapping",
            f"index {index}: `dynamic` of {path or 'the root'} must be true, false, strict or "
            f"runtime, not {value!r}",
        )
    return text


def _infer_definition(sample: Any) -> dict[str, Any]:
    """The mapping ES's dynamic mapping gives a field whose first value is `sample`."""
    if isinstance(sample, bool):
        return {"type": "boolean"}
    if isinstance(sample, int):
        return {"type": "long"}
    if isinstance(sample, float):
        return {"type": "float"}
    if isinstance(sample, datetime | date):
        return {"type": "date"}
    if isinstance(sample, str) and _ISO_DATE.fullmatch(sample.strip()):
        try:
            _to_datetime(sample, unit="ms", spec=None)
            return {"type": "date"}
        except _Rejected:
            pass
    return {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}


def _first_value(values: list[Any]) -> Any:
    for value in values:
        if isinstance(value, list | tuple):
            for item in _flatten(value):
                if item is not None:
                    return item
        elif value is not None:
            return value
    return None


# ---------------------------------------------------------------------------------------------
# Value conversion
# ---------------------------------------------------------------------------------------------


class _Rejected(ValueError):
    """A value that does not fit its field's type; the message says why."""


def _flatten(values: Iterable[Any]) -> Iterable[Any]:
    """The scalars of nested lists, in order, without recursion (arrays may nest deeply)."""
    stack = [iter(values)]
    while stack:
        for value in stack[-1]:
            if isinstance(value, list | tuple):
                stack.append(iter(value))
                break
            yield value
        else:
            stack.pop()


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _reject_object(value: Any) -> None:
    if isinstance(value, Mapping):
        raise _Rejected("found an object where a value was expected")


def _to_string(value: Any, spec: FieldSpec) -> str:
    _reject_object(value)
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise _Rejected(f"cannot index a {type(value).__name__} as a string")


def _to_ip(value: Any, spec: FieldSpec) -> str:
    import ipaddress

    if not isinstance(value, str):
        raise _Rejected("an ip must be a string")
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise _Rejected("not an IP address") from None


def _to_integer(value: Any, spec: FieldSpec) -> int:
    _reject_object(value)
    if isinstance(value, bool):
        raise _Rejected("a boolean is not a number")
    number: int
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _Rejected("not a finite number")
        number = int(value)  # ES coerces fractions by truncating them
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = int(text)
        except ValueError:
            try:
                parsed = float(text)
            except ValueError:
                raise _Rejected("not a number") from None
            if not math.isfinite(parsed):
                raise _Rejected("not a finite number") from None
            number = int(parsed)
    else:
        raise _Rejected(f"cannot index a {type(value).__name__} as a number")
    low, high = _INT_RANGES.get(spec.mapping_type, _INT_RANGES["long"])
    if not low <= number <= high:
        raise _Rejected(f"out of range for [{spec.mapping_type}]")
    return number


def _to_double(value: Any, spec: FieldSpec) -> float:
    _reject_object(value)
    if isinstance(value, bool):
        raise _Rejected("a boolean is not a number")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise _Rejected("not a number") from None
    else:
        raise _Rejected(f"cannot index a {type(value).__name__} as a number")
    if not math.isfinite(number):
        raise _Rejected(f"[{spec.mapping_type}] supports only finite values")
    return _narrow_value(number, spec)


def _narrow_value(number: float, spec: FieldSpec) -> float:
    """The value ES keeps: float32 for `float`, float16 for `half_float`, scaled longs."""
    try:
        if spec.mapping_type == "float":
            return float(struct.unpack("f", struct.pack("f", number))[0])
        if spec.mapping_type == "half_float":
            return float(struct.unpack("e", struct.pack("e", number))[0])
    except OverflowError:
        raise _Rejected(f"out of range for [{spec.mapping_type}]") from None
    if spec.scaling_factor is not None:
        return round(number * spec.scaling_factor) / spec.scaling_factor
    return number


def _to_boolean(value: Any, spec: FieldSpec) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in {"true", "false", ""}:
        return value == "true"
    raise _Rejected('a boolean must be true, false, "true", "false" or ""')


def _to_datetime(value: Any, *, unit: str, spec: FieldSpec | None) -> datetime:
    moment: datetime
    scale = spec.epoch_scale if spec is not None else 1
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif isinstance(value, bool):
        raise _Rejected("a boolean is not a date")
    elif isinstance(value, int | float):
        moment = _from_epoch_millis(value * scale)
    elif isinstance(value, str):
        text = value.strip()
        if spec is not None and spec.space_separated and _SPACED.fullmatch(text):
            text = text.replace(" ", "T")
        if _DIGITS.fullmatch(text) and len(text) == 4:  # `yyyy` is a year, as in ES
            moment = datetime(int(text), 1, 1, tzinfo=UTC)
        elif _EPOCH.fullmatch(text):
            moment = _from_epoch_millis(int(text) * scale)
        elif re.fullmatch(r"\d{4}-\d{2}", text):
            moment = datetime(int(text[:4]), int(text[5:]), 1, tzinfo=UTC)
        elif _ISO_DATE.fullmatch(text):
            try:
                parsed = datetime.fromisoformat(text.replace(",", "."))
            except ValueError:
                raise _Rejected("not a valid ISO-8601 date") from None
            moment = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
            moment = moment.astimezone(UTC)
        else:
            raise _Rejected("not an ISO-8601 date or epoch milliseconds")
    else:
        raise _Rejected(f"cannot index a {type(value).__name__} as a date")
    if unit == "ms":
        moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    return moment


def _from_epoch_millis(value: float) -> datetime:
    if not math.isfinite(value):
        raise _Rejected("not a finite number")
    try:
        return _EPOCH_START + timedelta(milliseconds=value)
    except OverflowError:
        raise _Rejected("epoch milliseconds out of range") from None


def _convert_one(value: Any, spec: FieldSpec) -> Any:
    kind = spec.esql_type
    if kind in (T.KEYWORD, T.TEXT, T.VERSION):
        return _to_string(value, spec)
    if kind in (T.LONG, T.INTEGER, T.UNSIGNED_LONG):
        return _to_integer(value, spec)
    if kind == T.DOUBLE:
        return _to_double(value, spec)
    if kind == T.BOOLEAN:
        return _to_boolean(value, spec)
    if kind == T.DATE:
        return _to_datetime(value, unit="ms", spec=spec)
    if kind == T.DATE_NANOS:
        return _to_datetime(value, unit="ns", spec=spec)
    if kind == T.IP:
        return _to_ip(value, spec)
    return None  # unsupported: ES|QL shows such fields as null


def _order(values: list[Any], spec: FieldSpec) -> list[Any]:
    if spec.esql_type in _SORTED_UNIQUE_TYPES:
        return sorted(set(values))
    if spec.esql_type in _SORTED_TYPES:
        return sorted(values)
    return values


def _error(spec: FieldSpec, reason: str, value: Any) -> str:
    return (
        f"failed to parse field [{spec.name}] of type [{spec.mapping_type}]: {reason} "
        f"(value {_preview(value)})"
    )


def _convert_values(values: list[Any], spec: FieldSpec) -> tuple[pl.Series, dict[int, str]]:
    """Convert value by value: the slow path, used when the vectorised one cannot decide."""
    converted: list[Any] = []
    errors: dict[int, str] = {}
    multi = False
    for position, value in enumerate(values):
        if value is None:
            converted.append(None)
            continue
        try:
            if isinstance(value, list | tuple):
                items = [_convert_one(item, spec) for item in _flatten(value) if item is not None]
                items = _order([item for item in items if item is not None], spec)
                if not items:
                    converted.append(None)
                elif len(items) == 1:
                    converted.append(items[0])
                else:
                    converted.append(items)
                    multi = True
            else:
                converted.append(_convert_one(value, spec))
        except _Rejected as rejected:
            errors[position] = _error(spec, str(rejected), value)
            converted.append(None)
    dtype = spec.dtype
    if multi:
        converted = [v if v is None or isinstance(v, list) else [v] for v in converted]
        return pl.Series(spec.name, converted, dtype=pl.List(dtype)), errors
    return pl.Series(spec.name, converted, dtype=dtype), errors


def _nulls(spec: FieldSpec, length: int) -> pl.Series:
    return pl.repeat(None, length, dtype=spec.dtype, eager=True).alias(spec.name)


def _narrow_series(series: pl.Series, spec: FieldSpec) -> pl.Series:
    if spec.mapping_type == "float":
        return series.cast(pl.Float32).cast(pl.Float64)
    if spec.scaling_factor is not None:
        return (series * spec.scaling_factor).round() / spec.scaling_factor
    return series


def _convert_series(series: pl.Series, spec: FieldSpec) -> tuple[pl.Series, dict[int, str]] | None:
    """Convert a whole column at once; `None` when only the value-by-value path can decide."""
    dtype = series.dtype
    length = len(series)
    kind = spec.esql_type
    if dtype == pl.Null or kind == T.UNSUPPORTED:
        return _nulls(spec, length), {}
    if isinstance(dtype, pl.List | pl.Array | pl.Struct | pl.Object):
        return None
    if kind in (T.KEYWORD, T.TEXT, T.VERSION):
        if dtype == pl.String:
            return series.alias(spec.name), {}
        if dtype.is_integer():
            return series.cast(pl.String).alias(spec.name), {}
        return None
    if kind == T.DOUBLE:
        if not (dtype.is_float() or dtype.is_integer()) or spec.mapping_type == "half_float":
            return None
        number = series.cast(pl.Float64)
        if (number.is_nan() | number.is_infinite()).any():
            return None
        narrowed = _narrow_series(number, spec)
        if spec.mapping_type == "float" and narrowed.is_infinite().any():
            return None
        return narrowed.alias(spec.name), {}
    if kind in (T.LONG, T.INTEGER, T.UNSIGNED_LONG):
        if not dtype.is_integer():
            return None
        low, high = _INT_RANGES.get(spec.mapping_type, _INT_RANGES["long"])
        if ((series < low) | (series > high)).any():
            return None
        return series.cast(spec.dtype).alias(spec.name), {}
    if kind == T.BOOLEAN:
        return (series.alias(spec.name), {}) if dtype == pl.Boolean else None
    if kind in (T.DATE, T.DATE_NANOS):
        return _convert_dates(series, spec)
    return None


def _convert_dates(series: pl.Series, spec: FieldSpec) -> tuple[pl.Series, dict[int, str]] | None:
    unit = "ns" if spec.esql_type == T.DATE_NANOS else "ms"
    dtype = series.dtype
    if isinstance(dtype, pl.Datetime):
        aware = series if dtype.time_zone else series.dt.replace_time_zone("UTC")
        moments = aware.dt.convert_time_zone("UTC").dt.cast_time_unit(unit)  # type: ignore[arg-type]
        return moments.alias(spec.name), {}
    if dtype == pl.Date:
        return series.cast(spec.dtype).alias(spec.name), {}
    if dtype.is_integer():
        millis = series.cast(pl.Int64) * spec.epoch_scale
        moments = pl.from_epoch(millis, time_unit="ms").dt.replace_time_zone("UTC")
        return moments.dt.cast_time_unit(unit).alias(spec.name), {}  # type: ignore[arg-type]
    if dtype != pl.String:
        return None
    parsed = series.str.to_datetime(
        _ISO_FORMAT,
        strict=False,
        time_unit=unit,  # type: ignore[arg-type]
        time_zone="UTC",
    ).alias(spec.name)
    missed = parsed.is_null() & series.is_not_null()
    if not missed.any():
        return parsed, {}
    # Formats the vectorised parser does not take (dates without a time, epoch millis as text,
    # a missing offset) and bad values: decide them one by one.
    positions = missed.arg_true()
    fixed, local_errors = _convert_values(series.gather(positions).to_list(), spec)
    errors = {int(positions[i]): message for i, message in local_errors.items()}
    return parsed.scatter(positions, fixed), errors


def _hides_booleans(series: pl.Series, values: list[Any]) -> bool:
    """Whether inference turned booleans into numbers (polars does after a first number)."""
    if not series.dtype.is_numeric():
        return False
    # Only a 0 or a 1 can be a boolean in disguise: check just those values' Python types.
    candidates = ((series == 0) | (series == 1)).arg_true().to_list()
    return any(type(values[position]) is bool for position in candidates)


def _nests(values: list[Any]) -> bool:
    """Whether any value is an object, or a list holding lists or objects."""
    for value in values:
        if isinstance(value, Mapping):
            return True
        if isinstance(value, list | tuple) and any(
            isinstance(item, list | tuple | Mapping) for item in value
        ):
            return True
    return False


def _convert_column(
    values: list[Any] | pl.Series, spec: FieldSpec
) -> tuple[pl.Series, dict[int, str]]:
    series: pl.Series | None
    if isinstance(values, pl.Series):
        series = values
    elif _nests(values):
        series = None  # polars would infer nested types (slowly, when deep): decide one by one
    else:
        try:  # strict type inference: mixed Python types fall through to the slow path
            series = pl.Series(spec.name, values)
        except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
            series = None
        if series is not None and _hides_booleans(series, values):
            series = None
    if series is not None:
        done = _convert_series(series, spec)
        if done is not None:
            return done
        if isinstance(values, pl.Series):
            values = values.to_list()
    return _convert_values(list(values), spec)


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


class _Table:
    """One index in memory: its mapping and the chunks written so far.

    A data stream with a `date` `@timestamp` is kept sorted by it (stably, nulls last), so a
    query's time window is found by binary search (`IndexData.sorted_by`) and expiring old
    telemetry cuts from the front: the cost of reading a window does not grow with the
    history held. Other indices keep their documents in the order they were written.
    """

    def __init__(
        self,
        name: str,
        mapping: IndexMapping,
        *,
        data_stream: bool = False,
        next_seq: int = 0,
        chunks: list[pl.DataFrame] | None = None,
    ) -> None:
        self.name = name
        self.mapping = mapping
        self.data_stream = data_stream
        self.next_seq = next_seq
        self.chunks: list[pl.DataFrame] = chunks or []
        self.multi_valued: set[str] = {
            column
            for chunk in self.chunks
            for column, dtype in chunk.schema.items()
            if isinstance(dtype, pl.List)
        }
        self._frame: pl.DataFrame | None = None
        self._newest: Any = None  # newest @timestamp held, once known (see `newest`)
        self._in_time_order = False  # the chunks, concatenated, are sorted by @timestamp
        # Written to since its text was last compacted (see `_compact_strings`).
        self.scattered = bool(self.chunks)

    def sorts_by_time(self) -> bool:
        """Whether this table is kept sorted by `@timestamp` (a data stream of dates)."""
        spec = self.mapping.fields.get(TIMESTAMP)
        return (
            self.data_stream
            and spec is not None
            and spec.esql_type == T.DATE
            and TIMESTAMP not in self.multi_valued
        )

    def newest(self) -> Any:
        """The newest `@timestamp` held (None when empty or unknown): lets a data stream
        tell cheaply that a batch is newer than everything it holds."""
        if self._newest is None and TIMESTAMP in self.mapping.fields:
            frame = self.frame()
            if frame.height and TIMESTAMP in frame.columns:
                self._newest = frame[TIMESTAMP].max()
        return self._newest

    def schema(self) -> dict[str, pl.DataType]:
        """Column -> dtype of the concatenated frame (fields by name, then `_id`)."""
        columns: dict[str, pl.DataType] = {}
        for name in sorted(self.mapping.fields):
            dtype = self.mapping.fields[name].dtype
            columns[name] = pl.List(dtype) if name in self.multi_valued else dtype
        columns[ID] = pl.String()
        return columns

    def align(self, chunk: pl.DataFrame) -> pl.DataFrame:
        """`chunk` with exactly the table's columns: missing ones null, scalars as lists."""
        expressions: list[pl.Expr] = []
        present = chunk.schema  # rebuilt on each access: read once, not once per field
        for name, dtype in self.schema().items():
            if name not in present:
                expressions.append(pl.lit(None, dtype=dtype).alias(name))
            elif isinstance(dtype, pl.List) and not isinstance(present[name], pl.List):
                column = pl.col(name)
                expressions.append(
                    pl.when(column.is_null())
                    .then(pl.lit(None, dtype=dtype))
                    .otherwise(pl.concat_list(column))
                    .alias(name)
                )
            else:
                expressions.append(pl.col(name).cast(dtype))
        return chunk.select(expressions)

    def frame(self) -> pl.DataFrame:
        """Every document, as one frame (cached until the next write)."""
        if self._frame is None:
            if not self.chunks:
                frame = pl.DataFrame(schema=self.schema())
            else:
                aligned = [self.align(chunk) for chunk in self.chunks]
                frame = pl.concat(aligned, how="vertical", rechunk=False)
                if frame.n_chunks() > 16:
                    frame = frame.rechunk()
            if self.sorts_by_time() and not self._in_time_order:
                # Once after a load or an out-of-order write; appends in time order (live
                # telemetry) keep the order without sorting what is held.
                if not frame[TIMESTAMP].is_sorted(nulls_last=True):
                    frame = frame.sort(TIMESTAMP, maintain_order=True, nulls_last=True)
                self._in_time_order = True
            self.chunks = [frame]
            self._frame = frame
        return self._frame

    def in_time_order(self) -> bool:
        """Whether `frame()` is sorted by `@timestamp` (ascending, nulls last)."""
        self.frame()
        return self._in_time_order and self.sorts_by_time()

    def note_multi_valued(self, chunk: pl.DataFrame) -> None:
        """Remember the fields `chunk` holds as lists: from now on they are list columns."""
        added = {name for name, dtype in chunk.schema.items() if isinstance(dtype, pl.List)}
        if not added <= self.multi_valued:
            self.multi_valued.update(added)
            self._frame = None

    def add(self, chunk: pl.DataFrame) -> None:
        """Append a converted chunk."""
        self.note_multi_valued(chunk)
        if self.sorts_by_time() and TIMESTAMP in chunk.columns and chunk.height:
            timestamps = chunk[TIMESTAMP]
            if not timestamps.is_sorted(nulls_last=True):
                chunk = chunk.sort(TIMESTAMP, maintain_order=True, nulls_last=True)
            newest = self.newest()  # of what is held, before the chunk joins
            oldest = chunk[TIMESTAMP].min()
            if (
                timestamps.null_count()
                or oldest is None
                or (newest is not None and oldest < newest)
            ):
                self._in_time_order = False  # `frame()` sorts once, at the next read
        self.chunks.append(chunk)
        self._frame = None
        self.scattered = True
        if self._newest is not None and TIMESTAMP in chunk.columns and chunk.height:
            latest = chunk[TIMESTAMP].max()
            if latest is not None and latest > self._newest:
                self._newest = latest

    def invalidate(self) -> None:
        """Forget the cached frame (the mapping changed)."""
        self._frame = None

    def replace_all(self, frame: pl.DataFrame) -> None:
        """Swap every chunk for one frame (after a rewrite)."""
        self.chunks = [frame]
        self._frame = None
        self._newest = None
        self._in_time_order = False  # checked (and sorted if need be) at the next read

    def record(self, segments: list[str]) -> IndexRecord:
        """What the manifest stores for this table."""
        return IndexRecord(
            mapping=self.mapping.body(),
            next_seq=self.next_seq,
            segments=segments,
            data_stream=self.data_stream,
        )


def _compact_strings(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with its text columns copied into fresh, contiguous buffers.

    polars keeps strings longer than 12 bytes in shared data buffers that `filter`, `concat`
    and `rechunk` reference rather than copy (the Arrow string-view layout:
    https://arrow.apache.org/docs/format/Columnar.html#variable-size-binary-view-layout). A
    table written a tick at a time therefore holds one small buffer per column per write for
    as long as any row of that write is kept, scattered among short-lived allocations, and
    the process grows for a whole retention window although the frame does not. Rebuilding
    the text columns once the window has moved puts what is kept in a few large buffers.
    """
    copies: list[pl.Expr] = []
    for name, dtype in frame.schema.items():
        # Appending "" builds every string anew (nulls stay null); a cast or a gather would
        # only copy the views and keep pointing at the old buffers.
        if dtype == pl.String:
            copies.append(pl.concat_str(pl.col(name), pl.lit("")).alias(name))
        elif isinstance(dtype, pl.List) and dtype.inner == pl.String:
            copies.append(pl.col(name).list.eval(pl.concat_str(pl.element(), pl.lit(""))))
    if not copies or frame.height == 0:
        return frame
    # One chunk first: the strings are rebuilt chunk by chunk, into buffers of each chunk's.
    return frame.rechunk().with_columns(copies)


def _validate_index_name(name: str) -> None:
    if (
        not name
        or name in {".", ".."}
        or name[0] in "-_+"
        or _INDEX_NAME_BAD.search(name)
        or len(name.encode("utf-8")) > 255
    ):
        raise StoreError(
            "invalid index name",
            f"[{name}]: index names are lowercase, at most 255 bytes, do not start with "
            '-, _ or +, and contain none of \\ / * ? " < > | space , # :',
        )


def _pattern_matches(pattern: str, name: str) -> bool:
    if name.startswith(".") and not pattern.startswith("."):
        return False  # `*` does not reach hidden indices, as in ES
    if "*" not in pattern:
        return pattern == name
    regex = "".join(".*" if part == "*" else re.escape(part) for part in re.split(r"(\*)", pattern))
    return re.fullmatch(regex, name) is not None


# ---------------------------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------------------------


@dataclass
class _Batch:
    """A batch converted to columns: the frame of good documents and the per-position errors."""

    frame: pl.DataFrame
    errors: dict[int, str]
    explicit_ids: bool
    duplicates: int = 0


class EmbeddedStore:
    """In-process store: polars tables per index, ES|QL through the embedded engine.

    Implements both `qs_tui.store.base.Store` and the engine's `Catalog`. Thread safe: writes
    are serialised by a lock, and readers get the frame current when they asked (polars frames
    are immutable, so a reader never sees half a write).

    Args:
        data_dir: persist indices here (created if missing); `None` keeps them in memory.
        now: the clock `esql()` uses for `NOW()` when no `now` is passed, and `expire()`
            when not given an instant; UTC wall time if omitted.
        retention: how much telemetry `expire()` keeps behind the clock (`QS_RETENTION`);
            None keeps everything.

    Raises:
        StoreError: `data_dir` cannot be opened (in use by another process, unreadable).
    """

    supports_fixed_now = True

    def __init__(
        self,
        *,
        data_dir: Path | None = None,
        now: Callable[[], datetime] | None = None,
        retention: timedelta | None = DEFAULT_RETENTION,
    ) -> None:
        self._clock = now or (lambda: datetime.now(UTC))
        self.retention = retention
        #: One line per field `ensure_templates` found mapped with another type than the
        #: spec's (left unchanged), for the caller to show.
        self.mapping_warnings: list[str] = []
        self._expired_at: datetime | None = None
        self._lock = threading.RLock()
        self._tables: dict[str, _Table] = {}
        self._closed = False
        self.data_dir = data_dir
        self._directory: DataDirectory | None = None
        if data_dir is not None:
            self._directory = DataDirectory(data_dir)
            try:
                for name, record in self._directory.manifest.indices.items():
                    self._tables[name] = _Table(
                        name,
                        IndexMapping(record.mapping, index=name),
                        data_stream=record.data_stream,
                        next_seq=record.next_seq,
                        chunks=list(self._directory.load_segments(name)),
                    )
            except BaseException:
                self._directory.close()
                raise

    # -- Catalog --------------------------------------------------------------------------

    def resolve(self, pattern: str) -> list[IndexData]:
        """Indices matching one FROM pattern (`name`, `prefix-*`, `*`), sorted by name."""
        with self._lock:
            names = sorted(name for name in self._tables if _pattern_matches(pattern, name))
            return [
                IndexData(
                    name=name,
                    frame=self._tables[name].frame(),
                    types=self._tables[name].mapping.types(),
                    sorted_by=TIMESTAMP if self._tables[name].in_time_order() else None,
                )
                for name in names
            ]

    # -- Store ----------------------------------------------------------------------------

    def esql(
        self,
        query: str,
        *,
        params: EsqlParams = None,
        now: datetime | None = None,
    ) -> EsqlResult:
        """Run ES|QL with the embedded engine over this store's indices.

        Raises:
            EsqlError: the query is invalid or unsupported (with line:column where known).
            StoreError: the engine failed in an unexpected way.
        """
        from qs_tui.esql import run_query

        self._check_open()
        instant = now if now is not None else self._clock()
        try:
            return run_query(query, self, params=params, now=instant)
        except (EsqlError, StoreError):
            raise
        except Exception as error:  # the engine's own bugs must not reach users as tracebacks
            raise StoreError("embedded query failed", f"{type(error).__name__}: {error}") from error

    def bulk(self, index: str, documents: Iterable[Document]) -> BulkResult:
        """Write many documents; those that do not fit the mapping are reported, not written.

        Errors read `document <position>: <reason>` with 0-based positions in `documents`.
        """
        batch = self._bulk_batch(index, documents)
        return BulkResult(
            written=batch.frame.height,
            errors=[
                f"document {position}: {message}"
                for position, message in sorted(batch.errors.items())
            ],
            duplicates=batch.duplicates,
        )

    def bulk_detailed(
        self, index: str, documents: Iterable[Document]
    ) -> tuple[int, list[tuple[int, str]]]:
        """Like `bulk`, with errors as `(position, message)` pairs for callers that map them."""
        batch = self._bulk_batch(index, documents)
        return batch.frame.height, sorted(batch.errors.items())

    def _bulk_batch(self, index: str, documents: Iterable[Document]) -> _Batch:
        """Convert and commit one bulk request; the batch says what was written."""
        docs = list(documents)
        with self._lock:
            self._check_open()
            table = self._table_for_write(index)
            batch = self._convert_documents(table, docs)
            self._commit(table, batch)
        return batch

    def bulk_frame(self, index: str, frame: pl.DataFrame) -> BulkResult:
        """Write documents already held as a polars frame (columns named by dotted field).

        An `_id` column, if present, gives the ids. Columns are converted like document
        values; unmapped columns follow the mapping's `dynamic` setting.
        """
        with self._lock:
            self._check_open()
            table = self._table_for_write(index)
            batch = self._convert_frame(table, frame)
            self._commit(table, batch)
        return BulkResult(
            written=batch.frame.height,
            errors=[f"document {p}: {m}" for p, m in sorted(batch.errors.items())],
        )

    def index(
        self, index: str, document: Document, *, doc_id: str | None = None, create: bool = False
    ) -> str:
        """Write one document, replacing the one with the same `doc_id`; returns its id.

        With `create=True` (always, for a data stream, as in Elasticsearch) an existing
        `doc_id` is not replaced: `DocumentExists` is raised instead.

        Raises:
            DocumentExists: `create` and the id is taken.
            StoreError: the document does not fit the index's mapping.
        """
        body = dict(document)
        if doc_id is not None:
            body[ID] = doc_id
        with self._lock:
            self._check_open()
            table = self._table_for_write(index)
            if doc_id is not None and (create or table.data_stream):
                current = table.frame()
                if current.height and bool((current[ID] == doc_id).any()):
                    raise DocumentExists(index, doc_id)
            batch = self._convert_documents(table, [body])
            if batch.errors:
                raise StoreError("document rejected", f"index {index}: {batch.errors[0]}")
            self._commit(table, batch)
            return str(batch.frame[ID][0])

    def ensure_templates(self, *, telemetry: bool = True) -> list[str]:
        """The templates are built in; like `ElasticStore`, also create the (empty) indices
        so that `FROM qs-incidents` answers with no rows instead of "Unknown index"
        (without `telemetry`, only the agents' own: see `indices_to_install`).

        An index that already exists (a data directory written by an older version) gets
        the fields the current spec adds, as `put_mapping`; a field it maps with another
        type is left as it is and reported in `mapping_warnings`.
        """
        self._check_open()
        specs = indices_to_install(telemetry=telemetry)
        for spec in specs:
            with self._lock:
                table = self._tables.get(spec.name)
                existing = None if table is None else table.mapping.body()["properties"]
            if existing is None:
                self.create_index(spec.name, spec.mapping(), data_stream=spec.data_stream)
                continue
            missing, conflicts = mapping_upgrade(spec, spec.name, existing)
            for conflict in conflicts:
                if str(conflict) not in self.mapping_warnings:
                    self.mapping_warnings.append(str(conflict))
                    # Once per store; stderr when logging is not configured (as `qs_tui.notify`).
                    log.warning("%s", conflict)
            if missing:
                self.put_mapping(spec.name, missing)
        return [spec.template for spec in specs]

    def refresh(self, index: str | None = None) -> None:
        """Nothing to do: every write is visible to queries as soon as it returns."""
        self._check_open()

    def health(self) -> Health:
        """Always serving; `detail["documents"]` holds the document count per index."""
        with self._lock:
            counts = {name: table.frame().height for name, table in sorted(self._tables.items())}
        where = "memory" if self.data_dir is None else str(self.data_dir)
        return Health(
            ok=not self._closed,
            status="embedded",
            name=f"embedded ({where})",
            version=__version__,
            detail={"documents": counts},
        )

    def close(self) -> None:
        """Release the data directory (every write is already durable). Idempotent."""
        with self._lock:
            self._closed = True
            if self._directory is not None:
                self._directory.close()

    # -- Extras -----------------------------------------------------------------------------

    def create_index(
        self, name: str, mapping: Mapping[str, Any], *, data_stream: bool = False
    ) -> None:
        """Create an empty index with an Elasticsearch mapping (`{"properties": ...}`).

        Raises:
            StoreError: the name is invalid, the index exists, or the mapping is malformed.
        """
        _validate_index_name(name)
        parsed = IndexMapping(mapping, index=name)
        with self._lock:
            self._check_open()
            if name in self._tables:
                raise StoreError("index already exists", f"[{name}] already exists")
            table = _Table(name, parsed, data_stream=data_stream)
            self._tables[name] = table
            try:
                self._persist(table, segments=[])
            except StoreError:
                del self._tables[name]
                raise

    def create_index_with(
        self,
        name: str,
        mapping: Mapping[str, Any],
        documents: list[Any] | pl.DataFrame,
    ) -> tuple[int, list[tuple[int, str]]]:
        """Create `name` with `mapping` and write `documents`, all or nothing.

        `documents` are dicts (as `bulk`) or a frame of raw values with one column per
        document path (as `bulk_frame`). The documents are converted once, before the index
        exists: when any of them does not fit, nothing is created and the errors come back as
        `(position, message)` pairs.

        Returns:
            The number of documents written and the errors (empty when written).

        Raises:
            StoreError: the name is invalid, the index exists, or the mapping is malformed.
        """
        _validate_index_name(name)
        table = _Table(name, IndexMapping(mapping, index=name))
        with self._lock:
            self._check_open()
            if name in self._tables:
                raise StoreError("index already exists", f"[{name}] already exists")
        # The table is private until registered, so converting needs no lock.
        if isinstance(documents, pl.DataFrame):
            batch = self._convert_frame(table, documents)
        else:
            batch = self._convert_documents(table, documents)
        if batch.errors:
            return 0, sorted(batch.errors.items())
        with self._lock:
            self._check_open()
            if name in self._tables:
                raise StoreError("index already exists", f"[{name}] already exists")
            self._tables[name] = table
            try:
                self._commit(table, batch)
            except StoreError:
                del self._tables[name]
                raise
        return batch.frame.height, []

    def put_mapping(self, index: str, properties: Mapping[str, Any]) -> None:
        """Add fields to an existing index, as Elasticsearch's update-mapping API does.

        Documents already held read the new fields as null (each column is filled in when
        the index is read; nothing is rewritten), and a data directory commits the new
        mapping with the same segments, so a restart sees it.

        Raises:
            StoreError: no such index; a field is already mapped with another type
                (`illegal_argument_exception`, Elasticsearch's words); a malformed mapping.
        """
        with self._lock:
            self._check_open()
            table = self._tables.get(index)
            if table is None:
                raise StoreError("index_not_found_exception", f"no such index [{index}]")
            body = table.mapping.body()
            current = table.mapping.fields
            merged = IndexMapping(body, index=index)
            for name, definition in properties.items():
                if not isinstance(definition, Mapping):
                    raise StoreError(
                        "invalid mapping", f"index {index}: field [{name}] is not an object"
                    )
                have = current.get(name)
                wanted = definition.get("type", "object")
                if have is not None:
                    if have.mapping_type != wanted:
                        raise StoreError(
                            "illegal_argument_exception",
                            f"mapper [{name}] cannot be changed from type [{have.mapping_type}] "
                            f"to [{wanted}]",
                        )
                    continue  # already there with this type: nothing to add
                merged.add_dynamic(name, copy.deepcopy(dict(definition)))
            if merged.properties == body["properties"]:
                return
            previous = table.mapping
            table.mapping = merged
            table.invalidate()
            if self._directory is not None:
                record = self._directory.manifest.indices.get(index)
                try:
                    # The same segments: only the manifest's mapping changes.
                    self._persist(table, segments=list(record.segments) if record else [])
                except StoreError:
                    table.mapping = previous
                    table.invalidate()
                    raise

    #: `expire()` and `prune()` are available: an in-process store keeps its own window of
    #: telemetry (a cluster has its lifecycle policies for that).
    supports_prune = True

    def expire(self, now: datetime | None = None, *, keep: timedelta = timedelta(0)) -> int:
        """Drop telemetry older than `now` minus the retention window.

        Only telemetry data streams are touched (`qs_tui.store.retention.is_telemetry`):
        incidents, decisions and deployments stay. It runs at most once per `PRUNE_EVERY`
        of the clock it is given (dropping rewrites an index, and its files when persisted),
        so the caller may call it on every tick. Each pass also compacts the text the telemetry
        tables keep (`_compact_strings`), whether or not anything was old enough to drop.

        Args:
            now: the instant the window ends at; the store's clock when omitted. Pass the
                pipeline's clock when it is not the store's.
            keep: keep at least this much whatever the retention (the history a simulated run
                was seeded with stays while it is still the recent past).

        Returns:
            How many documents were dropped.
        """
        if self.retention is None:
            return 0
        instant = now if now is not None else self._clock()
        instant = instant.astimezone(UTC) if instant.tzinfo else instant.replace(tzinfo=UTC)
        with self._lock:
            self._check_open()
            last = self._expired_at
            # A clock that went back (a store reopened by an earlier scenario) prunes anew.
            if last is not None and last <= instant < last + PRUNE_EVERY:
                return 0
            self._expired_at = instant
            before = instant - max(self.retention, keep)
            telemetry = [
                name
                for name, table in sorted(self._tables.items())
                if table.data_stream and is_telemetry(name)
            ]
            dropped = sum(self.prune(name, before=before) for name in telemetry)
            for name in telemetry:
                # Nothing old enough to drop yet (a window still filling): the text written
                # since the last pass is compacted all the same, so that a day's worth of
                # small buffers never builds up (the rows are the same; nothing to persist).
                table = self._tables[name]
                if table.scattered and table.chunks:
                    table.replace_all(_compact_strings(table.frame()))
                    table.scattered = False
            return dropped

    def prune(self, index: str, *, before: datetime) -> int:
        """Delete the documents of `index` whose `@timestamp` is before `before`.

        `expire()` calls this for each telemetry data stream; with a data directory the index
        is rewritten (one segment), so call it in coarse steps.

        Returns:
            How many documents were removed (0 when the index or its timestamps are absent).
        """
        with self._lock:
            self._check_open()
            table = self._tables.get(index)
            if table is None or TIMESTAMP not in table.mapping.fields:
                return 0
            frame = table.frame()
            if frame.height == 0:
                return 0
            cutoff = before.astimezone(UTC) if before.tzinfo else before.replace(tzinfo=UTC)
            old = frame.select(
                (pl.col(TIMESTAMP) < pl.lit(cutoff).cast(frame.schema[TIMESTAMP])).fill_null(False)
            ).to_series()
            removed = int(old.sum())
            if removed:
                # `filter` copies what is kept (a zero-copy slice would pin the old buffers),
                # except the text of string columns, which `_compact_strings` copies.
                kept = _compact_strings(frame.filter(~old))
                self._persist(table, rewrite=kept)
                table.replace_all(kept)
                table.scattered = False
            return removed

    def indices(self) -> list[str]:
        """Names of every index, sorted."""
        with self._lock:
            return sorted(self._tables)

    def count(self, index: str) -> int:
        """Documents in `index` (0 when it does not exist)."""
        with self._lock:
            table = self._tables.get(index)
            return 0 if table is None else table.frame().height

    def get_mapping(self, index: str) -> dict[str, Any]:
        """The mapping of `index` as it is now (dynamic fields included).

        Raises:
            StoreError: no such index.
        """
        with self._lock:
            table = self._tables.get(index)
            if table is None:
                raise StoreError("no such index", f"[{index}]")
            return table.mapping.body()

    # -- Internals ----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("store is closed", "open a new EmbeddedStore")

    def _table_for_write(self, index: str) -> _Table:
        table = self._tables.get(index)
        if table is not None:
            return table
        _validate_index_name(index)
        spec = spec_for(index)
        if spec is not None:
            table = _Table(
                index, IndexMapping(spec.mapping(), index=index), data_stream=spec.data_stream
            )
        else:
            table = _Table(index, IndexMapping({}, index=index))
        # Registered now, persisted by the commit that follows (as ES creates an index on the
        # first write even when every document of it is rejected).
        self._tables[index] = table
        return table

    def _convert_documents(self, table: _Table, docs: list[Any]) -> _Batch:
        errors: dict[int, str] = {}
        rows: list[Mapping[str, Any]]
        if all(type(doc) is dict for doc in docs):  # the common case, without per-row checks
            rows = docs
        else:
            rows = []
            for position, doc in enumerate(docs):
                if isinstance(doc, Mapping):
                    rows.append(doc)
                else:
                    errors[position] = f"a document must be a JSON object, not {type(doc).__name__}"
                    rows.append({})
        keys: set[str] = set().union(*rows) if rows else set()
        ids: list[Any] | None = None
        if ID in keys:
            keys.discard(ID)
            ids = [row.get(ID) for row in rows]
        raw: dict[str, list[Any] | pl.Series] = {}
        fast = _flat_columns(table.mapping, rows, keys) if not errors else None
        if fast is not None:
            raw.update(fast)
        else:
            walked: dict[str, list[Any]] = {}
            self._walk(
                table,
                rows,
                keys,
                prefix="",
                dynamic=table.mapping.dynamic,
                out=walked,
                errors=errors,
            )
            raw.update(walked)
        columns: dict[str, pl.Series] = {}
        length = len(rows)
        for name, spec in table.mapping.fields.items():
            values = raw.get(spec.source)
            if values is None:
                columns[name] = _nulls(spec, length)
                continue
            series, column_errors = _convert_column(values, spec)
            columns[name] = series
            for position, message in column_errors.items():
                errors.setdefault(position, message)
        id_series = None
        if ids is not None:
            texts: list[str | None] = []
            for position, value in enumerate(ids):
                if value is None or (isinstance(value, str | int) and not isinstance(value, bool)):
                    texts.append(None if value is None else str(value))
                else:
                    errors.setdefault(position, f"_id must be a string, not {_preview(value)}")
                    texts.append(None)
            id_series = pl.Series(ID, texts, dtype=pl.String)
        return self._assemble(table, columns, id_series, errors, length)

    def _convert_frame(self, table: _Table, frame: pl.DataFrame) -> _Batch:
        errors: dict[int, str] = {}
        length = frame.height
        mapping = table.mapping
        for name in frame.columns:
            if name == ID or name in mapping.fields or name in mapping.objects:
                continue
            if mapping.dynamic == "strict":
                for position in frame[name].is_not_null().arg_true().to_list():
                    errors.setdefault(
                        position,
                        f"mapping set to strict, dynamic introduction of [{name}] within "
                        "[_doc] is not allowed",
                    )
            elif mapping.dynamic == "true":
                self._unmapped(table, name, frame[name].to_list(), errors)
        columns: dict[str, pl.Series] = {}
        present = set(frame.columns)
        for name, spec in mapping.fields.items():
            if spec.source not in present:
                columns[name] = _nulls(spec, length)
                continue
            series, column_errors = _convert_column(frame[spec.source], spec)
            columns[name] = series.alias(name)
            for position, message in column_errors.items():
                errors.setdefault(position, message)
        id_series = frame[ID].cast(pl.String) if ID in frame.columns else None
        return self._assemble(table, columns, id_series, errors, length)

    def _walk(
        self,
        table: _Table,
        rows: list[Any],
        keys: Iterable[str],
        *,
        prefix: str,
        dynamic: str,
        out: dict[str, list[Any]],
        errors: dict[int, str],
    ) -> None:
        """Collect each leaf's values, one list per field across the batch, by source path.

        `rows[i]` is what document `i` holds at this object level: a mapping, a list of
        mappings (an array of objects), or `None`.
        """
        mapping = table.mapping
        all_mappings = prefix == ""
        for key in sorted(keys):
            path = prefix + key
            if all_mappings:
                column = [row.get(key) for row in rows]
            else:
                column = [_pick(row, key) for row in rows]
            spec = mapping.fields.get(path)
            if spec is not None and spec.source == path:
                _merge(out, path, column)
            elif path in mapping.objects:
                self._walk_object(table, path, column, out=out, errors=errors)
            elif spec is None:
                self._unmapped(table, path, column, errors, dynamic=dynamic, out=out)

    def _walk_object(
        self,
        table: _Table,
        path: str,
        column: list[Any],
        *,
        out: dict[str, list[Any]],
        errors: dict[int, str],
    ) -> None:
        keys: set[str] = set()
        for position, value in enumerate(column):
            if value is None:
                continue
            members = value if isinstance(value, list | tuple) else [value]
            for member in members:
                if isinstance(member, Mapping):
                    keys.update(member)
                elif member is not None:
                    errors.setdefault(
                        position,
                        f"object mapping for [{path}] tried to parse field [{path}] as object, "
                        f"but found a concrete value (value {_preview(member)})",
                    )
        self._walk(
            table,
            column,
            keys,
            prefix=path + ".",
            dynamic=table.mapping.objects[path],
            out=out,
            errors=errors,
        )

    def _unmapped(
        self,
        table: _Table,
        path: str,
        column: list[Any],
        errors: dict[int, str],
        *,
        dynamic: str | None = None,
        out: dict[str, list[Any]] | None = None,
    ) -> None:
        dynamic = table.mapping.dynamic if dynamic is None else dynamic
        if dynamic == "strict":
            parent = path.rpartition(".")[0] or "_doc"
            for position, value in enumerate(column):
                if value is not None:
                    errors.setdefault(
                        position,
                        f"mapping set to strict, dynamic introduction of [{path}] within "
                        f"[{parent}] is not allowed",
                    )
            return
        if dynamic != "true":
            return  # `false` and `runtime`: kept in _source by ES, not searchable or queryable
        sample = _first_value(column)
        if sample is None:
            return  # ES maps nothing for null-only fields
        is_object = isinstance(sample, Mapping)
        definition = (
            {"type": "object", "properties": {}} if is_object else _infer_definition(sample)
        )
        problem = table.mapping.dynamic_error(path, definition)
        if problem is not None:
            # As in ES, each document that would take the mapping past a limit is rejected
            # (and an object too deep is never walked, so no document can nest without end).
            for position, value in enumerate(column):
                if value is not None:
                    errors.setdefault(position, problem)
            return
        table.mapping.add_dynamic(path, definition)
        if out is None:
            return
        if is_object:
            self._walk_object(table, path, column, out=out, errors=errors)
        else:
            _merge(out, path, column)

    def _assemble(
        self,
        table: _Table,
        columns: dict[str, pl.Series],
        ids: pl.Series | None,
        errors: dict[int, str],
        length: int,
    ) -> _Batch:
        if table.data_stream and TIMESTAMP in columns:
            missing = columns[TIMESTAMP].is_null()
            if missing.any():
                for position in missing.arg_true().to_list():
                    errors.setdefault(
                        position, f"data stream timestamp field [{TIMESTAMP}] is missing"
                    )
        frame = pl.DataFrame(list(columns.values())) if columns else pl.DataFrame()
        start = table.next_seq
        generated = pl.int_range(start, start + length, eager=True).cast(pl.String).alias(ID)
        explicit = ids is not None and ids.null_count() < length
        id_column = generated if ids is None else ids.fill_null(generated).alias(ID)
        frame = frame.with_columns(id_column) if columns else id_column.to_frame()
        table.next_seq = start + length
        if explicit and ids is not None:
            # Keep generated ids clear of explicit numeric ids, so they never collide.
            numeric = ids.drop_nulls().filter(ids.drop_nulls().str.contains(r"^\d{1,18}$"))
            if len(numeric):
                table.next_seq = max(table.next_seq, int(numeric.cast(pl.Int64).max()) + 1)  # type: ignore[arg-type]
        if errors:
            keep = pl.Series([True] * length)
            keep = keep.scatter(sorted(errors), False)
            frame = frame.filter(keep)
        duplicates = 0
        if explicit and table.data_stream:
            # `create` ops: the first document with an id wins, later ones are conflicts.
            unique = frame.unique(subset=[ID], keep="first", maintain_order=True)
            duplicates = frame.height - unique.height
            frame = unique
        elif explicit:
            # Later documents with the same id replace earlier ones, as bulk `index` ops do.
            frame = frame.unique(subset=[ID], keep="last", maintain_order=True)
        return _Batch(frame=frame, errors=errors, explicit_ids=explicit, duplicates=duplicates)

    def _commit(self, table: _Table, batch: _Batch) -> None:
        """Make a converted batch part of the table (and durable, with a data directory)."""
        # Dynamic mapping may have added fields even if no document made it: re-align on read.
        table.invalidate()
        table.note_multi_valued(batch.frame)
        new = table.align(batch.frame)
        if batch.explicit_ids and table.data_stream:
            # A data stream never replaces: ids already there are duplicates (ES's 409).
            oldest = new[TIMESTAMP].min() if TIMESTAMP in new.columns else None
            newest = table.newest()
            if oldest is not None and newest is not None and oldest > newest:
                # Newer than everything held (live telemetry, the usual case): no id can be
                # taken, so no need to look at what is held.
                held = new.clear()
            else:
                held = table.frame()
            if held.height and oldest is not None and TIMESTAMP in held.columns:
                # Only documents as new as the batch's oldest can share its ids (the ids of
                # telemetry carry its instant): a cheap numeric filter before hashing ids.
                held = held.filter(pl.col(TIMESTAMP) >= oldest)
            if held.height:
                taken = new[ID].is_in(held[ID].implode())
                count = int(taken.sum())
                if count:
                    batch.duplicates += count
                    new = new.filter(~taken)
                    batch.frame = batch.frame.filter(~taken)
        existing = table.frame() if batch.explicit_ids and not table.data_stream else None
        replaced = (
            existing is not None
            and existing.height > 0
            and bool(existing[ID].is_in(new[ID].implode()).any())
        )
        if replaced and existing is not None:
            kept = existing.filter(~pl.col(ID).is_in(new[ID].implode()))
            merged = pl.concat([kept, new], how="vertical")
            self._persist(table, rewrite=merged)
            table.replace_all(merged)
            return
        if self._directory is None:
            if new.height:
                table.add(new)
            return
        record = self._directory.manifest.indices.get(table.name)
        segments = list(record.segments) if record is not None else []
        if new.height and len(segments) >= MAX_SEGMENTS:
            merged = pl.concat([table.frame(), new], how="vertical")
            self._persist(table, rewrite=merged)
            table.replace_all(merged)
            return
        if new.height:
            segments.append(self._directory.write_segment(table.name, new))
        self._persist(table, segments=segments)
        if new.height:
            table.add(new)

    def _persist(
        self,
        table: _Table,
        *,
        segments: list[str] | None = None,
        rewrite: pl.DataFrame | None = None,
    ) -> None:
        directory = self._directory
        if directory is None:
            return
        if rewrite is not None:
            segments = [directory.write_segment(table.name, rewrite)] if rewrite.height else []
        previous = directory.manifest.indices.get(table.name)
        directory.manifest.indices[table.name] = table.record(segments or [])
        try:
            directory.commit()
        except StoreError:
            if previous is None:
                del directory.manifest.indices[table.name]
            else:
                directory.manifest.indices[table.name] = previous
            raise


# Raw dtypes polars may build straight from the documents for these ES|QL types. Its builder
# coerces numeric strings (as ES does) but also booleans to numbers, which is checked after;
# booleans and non-text dates are left to the per-column path, where coercions cannot hide.
_FLAT_RAW_DTYPES: dict[str, pl.DataType] = {
    T.KEYWORD: pl.String(),
    T.TEXT: pl.String(),
    T.VERSION: pl.String(),
    T.IP: pl.String(),
    T.DOUBLE: pl.Float64(),
    T.LONG: pl.Int64(),
    T.INTEGER: pl.Int64(),
}


def _flat_columns(
    mapping: IndexMapping, rows: list[Mapping[str, Any]], keys: set[str]
) -> dict[str, list[Any] | pl.Series] | None:
    """Columns for flat documents in one pass through polars; `None` when documents nest.

    The fast path for the simulator's metrics: every key is a mapped leaf (or an unmapped key
    that the mapping ignores), so there is nothing to flatten and no field to add.
    """
    schema: dict[str, pl.DataType] = {}
    others: list[str] = []
    for key in keys:
        spec = mapping.fields.get(key)
        if spec is None:
            if key in mapping.objects or "." in key or mapping.dynamic not in {"false", "runtime"}:
                return None
            continue  # ignored, as ES ignores unmapped fields when dynamic is false
        if spec.source != key:
            return None
        dtype = _FLAT_RAW_DTYPES.get(spec.esql_type)
        if spec.esql_type in (T.DATE, T.DATE_NANOS) and isinstance(rows[0].get(key), str):
            # Dates given as text: anything else polars turns into text is rejected or read
            # as epoch millis by the date parser, as ES would.
            dtype = pl.String()
        if dtype is None:
            others.append(key)
        else:
            schema[key] = dtype
    try:
        frame = pl.DataFrame(rows, schema=schema, strict=True) if schema else None
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
        return None  # lists, objects or values of the wrong type: the general path decides
    columns: dict[str, list[Any] | pl.Series] = {}
    if frame is not None:
        for key in frame.columns:
            series = frame[key]
            if series.dtype.is_numeric():
                candidates = ((series == 0) | (series == 1)).arg_true().to_list()
                if any(type(rows[position].get(key)) is bool for position in candidates):
                    others.append(key)  # a boolean became a number: let the slow path reject it
                    continue
            columns[key] = series
    for key in others:
        columns[key] = [row.get(key) for row in rows]
    return columns


def _pick(row: Any, key: str) -> Any:
    if isinstance(row, Mapping):
        return row.get(key)
    if isinstance(row, list | tuple):
        values = [member.get(key) for member in row if isinstance(member, Mapping)]
        values = [value for value in values if value is not None]
        return values or None
    return None


def _merge(out: dict[str, list[Any]], path: str, column: list[Any]) -> None:
    """Add a field's values; a field given twice (dotted key and object) becomes multi-valued."""
    previous = out.get(path)
    if previous is None:
        out[path] = column
        return
    merged: list[Any] = []
    for old, new in zip(previous, column, strict=True):
        if old is None or new is None:
            merged.append(new if old is None else old)
        else:
            merged.append(
                [
                    *(old if isinstance(old, list) else [old]),
                    *(new if isinstance(new, list) else [new]),
                ]
            )
    out[path] = merged
