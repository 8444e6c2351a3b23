"""Rendering a canonical query for a profile: its `FROM qs-…` becomes the profile's source part.

The source part reads the team's indices and ends in the canonical columns, so the rest of the
query runs untouched. What comes out is one plain ES|QL query that Elasticsearch accepts
(see `tests/profiles/test_render.py`, which parses every rendered query and checks each command
and function against the version that introduced it); the embedded engine runs it too.

Syntax followed (Elastic's ES|QL reference, docs corpus):
- identifiers with characters other than letters, digits and `_` are quoted with backticks
  ("ES|QL syntax reference › Identifiers");
- string literals are double-quoted with `\\"`, `\\\\`, `\\n`, `\\r`, `\\t` escapes ("Literals");
- `STATS … WHERE` filters an aggregation (8.16+) and `BY name = BUCKET(@timestamp, <span>)`
  groups by fixed time buckets ("STATS", "BUCKET").
"""

from __future__ import annotations

import re

from qs_tui.profiles.model import (
    CANONICAL_INDICES,
    DEPLOYMENT_COLUMNS,
    DIMENSIONS,
    LOG_COLUMNS,
    METRIC_COLUMNS,
    DeploymentsSpec,
    LogsSpec,
    MetricsSpec,
    Profile,
    Scalar,
    SignalSpec,
    bucket_seconds,
)
from qs_tui.queries import QueryFile

_PLAIN = re.compile(r"^[A-Za-z_@][A-Za-z0-9_]*$")
# Words the ES|QL grammar reserves inside expressions: a field named so must be quoted.
_KEYWORDS = frozenset(
    {
        "and", "or", "not", "by", "in", "is", "like", "rlike", "null", "true", "false",
        "as", "on", "with", "metadata", "asc", "desc", "nulls", "first", "last", "where",
    }
)  # fmt: skip
_FROM = re.compile(r"^FROM[ \t]+(qs-metrics|qs-logs|qs-deployments)[ \t]*$")
_DATASET_OF_INDEX = {index: name for name, index in CANONICAL_INDICES.items()}
# Columns the renderer adds and drops again before the canonical query sees the rows.
_HELPER = "_qs_"


def quote(identifier: str) -> str:
    """An identifier as ES|QL reads it: bare when plain, else backquoted (`` `host.name` ``)."""
    if _PLAIN.match(identifier) and identifier.lower() not in _KEYWORDS:
        return identifier
    return "`" + identifier.replace("`", "``") + "`"


def literal(value: Scalar) -> str:
    """A value as an ES|QL literal: strings double-quoted with backslash escapes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    escaped = (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'


def _number(value: float) -> str:
    return repr(float(value))


def _conditions(values: dict[str, Scalar]) -> str:
    return " AND ".join(f"{quote(name)} == {literal(value)}" for name, value in values.items())


def dataset_of(query: QueryFile) -> str | None:
    """The canonical data set (`metrics`, `logs`, `deployments`) the query reads, if any."""
    index = _first_body_line(query.text)
    if index is None:
        return None
    match = _FROM.match(query.text.splitlines()[index])
    return _DATASET_OF_INDEX[match.group(1)] if match else None


def _first_body_line(text: str) -> int | None:
    for number, line in enumerate(text.splitlines()):
        stripped = line.strip()
        if stripped and not stripped.startswith("//"):
            return number
    return None


def render_query(query: QueryFile, profile: Profile) -> str:
    """The text of `query` as it runs on `profile`'s data (header comment kept).

    A query whose first command is not `FROM qs-metrics`, `qs-logs` or `qs-deployments`
    (the agents' own indices) comes back unchanged, and so does every query when the profile
    maps a data set exactly as the canonical index holds it (the `qs` profile).
    """
    dataset = dataset_of(query)
    if dataset is None:
        return query.text
    lines = query.text.splitlines(keepends=True)
    index = _first_body_line(query.text)
    assert index is not None  # dataset_of found the FROM line
    rest = "".join(lines[index + 1 :])
    bounds = _timestamp_bounds(rest)
    if dataset == "metrics":
        source = _metrics_source(profile.metrics, bounds)
    elif dataset == "logs":
        source = _logs_source(profile.logs, bounds)
    else:
        source = _deployments_source(profile.deployments, bounds)
    if source is None:
        return query.text
    ending = "\n" if lines[index].endswith("\n") else ""
    return "".join(lines[:index]) + source + ending + rest


# --- the canonical query's window ---------------------------------------------------------


def _timestamp_bounds(rest: str) -> list[str]:
    """The `@timestamp` conditions of the query's first command when it is a WHERE.

    Copied into the source part so the cluster scans only the window before bucketing.
    """
    commands = re.split(r"\n\s*\|", "\n" + rest)
    first = commands[1].strip() if len(commands) > 1 else ""
    if not first.upper().startswith("WHERE "):
        return []
    condition = " ".join(first[len("WHERE ") :].split())
    return [part for part in _split_and(condition) if "@timestamp" in part]


def _split_and(condition: str) -> list[str]:
    """Top-level `AND` operands of a condition (not inside parentheses or strings)."""
    parts: list[str] = []
    depth = 0
    quote_char = ""
    start = 0
    i = 0
    while i < len(condition):
        char = condition[i]
        if quote_char:
            if char == "\\":
                i += 2
                continue
            if char == quote_char:
                quote_char = ""
        elif char in '"`':
            quote_char = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0 and condition[i : i + 5].upper() == " AND ":
            parts.append(condition[start:i].strip())
            start = i + 5
            i += 5
            continue
        i += 1
    parts.append(condition[start:].strip())
    return [part for part in parts if part]


def _where_line(conditions: list[str]) -> list[str]:
    present = [c for c in conditions if c]
    return [f"| WHERE {' AND '.join(present)}"] if present else []


def _extra_where(where: str) -> list[str]:
    return [f"({' '.join(where.split())})"] if where.strip() else []


def _absent(columns: list[tuple[str, str]]) -> str:
    """A source with the canonical columns and no rows, for a data set the profile lacks."""
    fields = ", ".join(f"{name} = {kind}(null)" for name, kind in columns)
    return f"ROW {fields}\n| WHERE @timestamp IS NOT NULL"


# --- metrics ----------------------------------------------------------------------------------


def _metrics_identity(spec: MetricsSpec) -> bool:
    return (
        spec.indices == [CANONICAL_INDICES["metrics"]]
        and spec.bucket is None
        and not spec.where.strip()
        and all(getattr(spec, d) == d for d in DIMENSIONS)
        and set(spec.signals) == set(METRIC_COLUMNS)
        and all(s.field == c and s.is_plain for c, s in spec.signals.items())
    )


def _value(field: str, signal: SignalSpec) -> str:
    """A source value in canonical units: `(1 - f)`, then `* scale`, then `+ offset`."""
    expr = quote(field)
    if signal.invert:
        expr = f"(1 - {expr})"
    return _scaled(expr, signal)


def _scaled(expr: str, signal: SignalSpec) -> str:
    if signal.scale != 1.0:
        expr = f"{expr} * {_number(signal.scale)}"
    if signal.offset > 0:
        expr = f"{expr} + {_number(signal.offset)}"
    elif signal.offset < 0:
        expr = f"{expr} - {_number(-signal.offset)}"
    return expr


def _filtered(aggregate: str, where: dict[str, Scalar]) -> str:
    return f"{aggregate} WHERE {_conditions(where)}" if where else aggregate


def _total(field: str | None, where: dict[str, Scalar]) -> str:
    """Sum of `field` (or a document count) over the documents matching `where`."""
    return _filtered(f"SUM({quote(field)})" if field else "COUNT(*)", where)


def _metrics_source(spec: MetricsSpec | None, bounds: list[str]) -> str | None:
    if spec is None:
        columns = [("@timestamp", "TO_DATETIME")]
        columns += [(d, "TO_STRING") for d in DIMENSIONS]
        columns += [(c, "TO_DOUBLE") for c in METRIC_COLUMNS]
        return _absent(columns)
    if _metrics_identity(spec):
        return None
    head = [f"FROM {', '.join(spec.indices)}"]
    missing = [c for c in METRIC_COLUMNS if c not in spec.signals]
    nulls = [f"{c} = TO_DOUBLE(null)" for c in missing]
    if spec.bucket is None:
        evals = [f"{d} = {quote(getattr(spec, d))}" for d in DIMENSIONS if getattr(spec, d) != d]
        for column, signal in spec.signals.items():
            assert signal.field is not None  # per-document signals always name a field
            if signal.field != column or not signal.is_plain:
                evals.append(f"{column} = {_value(signal.field, signal)}")
        evals += nulls
        lines = head + _where_line(bounds + _extra_where(spec.where))
        if evals:
            lines.append("| EVAL " + ",\n       ".join(evals))
        lines.append("| KEEP " + ", ".join(["@timestamp", *DIMENSIONS, *METRIC_COLUMNS]))
        return "\n".join(lines)
    seconds = bucket_seconds(spec.bucket)
    aggregates: list[str] = []
    derived: list[str] = []
    helpers: list[str] = []
    for column, signal in spec.signals.items():
        if signal.agg == "rate":
            helper = f"{_HELPER}{column}_total"
            helpers.append(helper)
            aggregates.append(f"{helper} = {_total(signal.field, signal.where)}")
            per_second = f"COALESCE(TO_DOUBLE({helper}), 0.0) / {_number(seconds)}"
            if signal.invert:
                per_second = f"(1 - {per_second})"
            derived.append(f"{column} = {_scaled(per_second, signal)}")
        elif signal.agg == "ratio":
            part, whole = f"{_HELPER}{column}_part", f"{_HELPER}{column}_whole"
            helpers += [part, whole]
            aggregates.append(f"{part} = {_total(signal.field, signal.where)}")
            aggregates.append(f"{whole} = {_total(signal.field, signal.of)}")
            share = f"COALESCE(TO_DOUBLE({part}), 0.0) / {whole}"
            if signal.invert:
                share = f"(1 - {share})"
            if signal.field:
                # Documents that stand for no requests (a drained host's) failed nothing: a
                # weighted ratio over a zero weight is 0, as the qs shape says; no documents
                # at all (a null sum) stay unknown.
                nothing = _scaled("(1 - 0.0)" if signal.invert else "0.0", signal)
                derived.append(
                    f"{column} = CASE({whole} > 0, {_scaled(share, signal)}, "
                    f"{whole} == 0, {nothing}, null)"
                )
            else:
                derived.append(f"{column} = CASE({whole} > 0, {_scaled(share, signal)}, null)")
        else:
            assert signal.field is not None  # the model requires it for these aggregations
            value = _value(signal.field, signal)
            if signal.agg == "percentile":
                call = f"PERCENTILE({value}, {_number(signal.percentile or 0.0)})"
            else:
                # `first`: a gauge reported once per host and bucket; MAX picks that one value
                # deterministically (ES 8.19 has no FIRST aggregation).
                function = {"first": "MAX"}.get(signal.agg, signal.agg.upper())
                call = f"{function}({value})"
            aggregates.append(f"{column} = {_filtered(call, signal.where)}")
    groups = [f"@timestamp = BUCKET(@timestamp, {spec.bucket})"]
    groups += [f"{d} = {quote(getattr(spec, d))}" for d in DIMENSIONS]
    lines = head + _where_line(bounds + _extra_where(spec.where))
    lines.append("| STATS " + ",\n        ".join(aggregates))
    lines.append("     BY " + ",\n        ".join(groups))
    if derived or nulls:
        lines.append("| EVAL " + ",\n       ".join(derived + nulls))
    if helpers:
        lines.append("| DROP " + ", ".join(helpers))
    lines.append("| WHERE service IS NOT NULL AND host IS NOT NULL")
    return "\n".join(lines)


# --- logs ---------------------------------------------------------------------------------------


def _logs_source(spec: LogsSpec | None, bounds: list[str]) -> str | None:
    columns = ["@timestamp", *DIMENSIONS, *LOG_COLUMNS]
    if spec is None:
        return _absent([("@timestamp", "TO_DATETIME"), *[(c, "TO_STRING") for c in columns[1:]]])
    identity = (
        spec.indices == [CANONICAL_INDICES["logs"]]
        and not spec.where.strip()
        and all(getattr(spec, d) == d for d in DIMENSIONS)
        and spec.fields == {c: c for c in LOG_COLUMNS}
    )
    if identity:
        return None
    evals = [f"{d} = {quote(getattr(spec, d))}" for d in DIMENSIONS if getattr(spec, d) != d]
    for column in LOG_COLUMNS:
        source = spec.fields.get(column)
        if source is None:
            evals.append(f"{column} = TO_STRING(null)")
        elif column == "level" and source != column:
            # ECS and OpenTelemetry write levels in any case ("error", "Error"); the queries
            # compare with the upper-case names the simulator writes.
            evals.append(f"level = TO_UPPER({quote(source)})")
        elif source != column:
            evals.append(f"{column} = {quote(source)}")
    lines = [f"FROM {', '.join(spec.indices)}"]
    lines += _where_line(bounds + _extra_where(spec.where))
    if evals:
        lines.append("| EVAL " + ",\n       ".join(evals))
    lines.append("| KEEP " + ", ".join(columns))
    return "\n".join(lines)


# --- deployments --------------------------------------------------------------------------------


def _deployments_source(spec: DeploymentsSpec | None, bounds: list[str]) -> str | None:
    columns = ["@timestamp", "service", "region", *DEPLOYMENT_COLUMNS]
    if spec is None:
        return _absent([("@timestamp", "TO_DATETIME"), *[(c, "TO_STRING") for c in columns[1:]]])
    dims = [f"{d} = {quote(getattr(spec, d))}" for d in ("service", "region")]
    lines = [f"FROM {', '.join(spec.indices)}"]
    if spec.versions is not None:
        # A version's first appearance is its deployment: only the window's upper bounds
        # apply, or a version first seen before the window would look deployed at its start.
        upper = [b for b in bounds if "<" in b and ">" not in b]
        lines += _where_line(upper + _extra_where(spec.where))
        lines.append(
            "| STATS @timestamp = MIN(@timestamp) BY "
            + ", ".join([*dims, f"version = {quote(spec.versions)}"])
        )
        lines.append(
            "| EVAL previous_version = TO_STRING(null), author = TO_STRING(null), "
            'commit = TO_STRING(null), description = CONCAT("version ", version, " first seen")'
        )
        lines.append("| WHERE service IS NOT NULL AND version IS NOT NULL")
        lines.append("| KEEP " + ", ".join(columns))
        return "\n".join(lines)
    identity = (
        spec.indices == [CANONICAL_INDICES["deployments"]]
        and not spec.where.strip()
        and all(getattr(spec, d) == d for d in ("service", "region"))
        and spec.fields == {c: c for c in DEPLOYMENT_COLUMNS}
    )
    if identity:
        return None
    evals = [e for e, d in zip(dims, ("service", "region"), strict=True) if getattr(spec, d) != d]
    for column in DEPLOYMENT_COLUMNS:
        source = spec.fields.get(column)
        if source is None:
            evals.append(f"{column} = TO_STRING(null)")
        elif source != column:
            evals.append(f"{column} = {quote(source)}")
    lines += _where_line(bounds + _extra_where(spec.where))
    if evals:
        lines.append("| EVAL " + ",\n       ".join(evals))
    lines.append("| KEEP " + ", ".join(columns))
    return "\n".join(lines)
