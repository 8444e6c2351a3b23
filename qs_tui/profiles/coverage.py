"""`qs-tui doctor --profile`: does the store hold what a profile maps, and what can then run?

Each mapped index pattern and field is looked up with its type: on a cluster through the field
capabilities API (`POST <indices>/_field_caps` with the field names; Elastic's reference,
"Field capabilities API": per field, one entry per type family across the matched indices,
fields mapped nowhere left out), on the embedded store in the mappings it holds. From that, each
canonical signal is available or not, and so is each detector of the registry (it needs all of
its signals).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from qs_tui.doctor import Check, Status
from qs_tui.profiles.model import (
    DIMENSIONS,
    SIGNAL_COLUMNS,
    SIGNAL_LABELS,
    Profile,
    SignalSpec,
)
from qs_tui.store.base import Store

if TYPE_CHECKING:
    from qs_tui.store.embedded import EmbeddedStore

Kind = Literal["number", "string", "date", "any"]

# Field types ES|QL reads as numbers, strings and dates (ES|QL reference, "Supported types");
# mapping types (field caps) and the embedded store's ES|QL types both appear here.
USABLE: dict[Kind, frozenset[str]] = {
    "number": frozenset(
        {
            "long",
            "integer",
            "short",
            "byte",
            "double",
            "float",
            "half_float",
            "scaled_float",
            "unsigned_long",
            "counter_long",
            "counter_double",
            "counter_integer",
        }
    ),
    "string": frozenset(
        {"keyword", "text", "match_only_text", "constant_keyword", "wildcard", "version"}
    ),
    "date": frozenset({"date", "date_nanos"}),
}

#: Field name → the types it has across the matched indices.
FieldTypes = dict[str, set[str]]


@dataclass(frozen=True)
class Lookup:
    """What the store holds for one data set's index patterns."""

    indices: list[str]
    """Concrete indices the patterns matched."""
    types: FieldTypes = field(default_factory=dict)
    """Types of the requested fields that are mapped somewhere in those indices."""


def lookup_fields(store: Store, indices: Sequence[str], fields: Sequence[str]) -> Lookup:
    """The matched indices and the mapped types of `fields` in `indices`, from `store`.

    Raises:
        StoreError: the store could not answer.
    """
    from qs_tui.store.embedded import EmbeddedStore

    if isinstance(store, EmbeddedStore):
        return _from_embedded(store, indices, fields)
    # Imported only for a cluster: the embedded default never loads the client.
    from qs_tui.store.elastic import ElasticStore

    if isinstance(store, ElasticStore):
        return _from_field_caps(store.field_caps(indices, fields), fields)
    raise TypeError(f"no field lookup for {type(store).__name__}")


def _from_field_caps(body: dict[str, Any], fields: Sequence[str]) -> Lookup:
    wanted = set(fields)
    types: FieldTypes = {
        name: set(by_type)
        for name, by_type in body.get("fields", {}).items()
        if name in wanted and isinstance(by_type, dict)
    }
    # `unmapped` appears only with include_unmapped; it is not a type a query can read.
    for found in types.values():
        found.discard("unmapped")
    return Lookup(indices=list(body.get("indices", [])), types=types)


def _from_embedded(store: EmbeddedStore, indices: Sequence[str], fields: Sequence[str]) -> Lookup:
    matched: dict[str, dict[str, str]] = {}
    for pattern in indices:
        for data in store.resolve(pattern):
            matched[data.name] = dict(data.types)
    wanted = set(fields)
    types: FieldTypes = {}
    for mapping in matched.values():
        for name, kind in mapping.items():
            if name in wanted:
                types.setdefault(name, set()).add(kind)
    return Lookup(indices=sorted(matched), types=types)


def _problem(lookup: Lookup, name: str, kind: Kind, where: str) -> tuple[Status, str] | None:
    """None when `name` is usable as `kind`, else (status, why)."""
    found = lookup.types.get(name)
    if not found:
        return "warn", f"no field {name} in {where}"
    if kind != "any" and not found <= USABLE[kind]:
        listed = "/".join(sorted(found))
        return "FAIL", f"field {name} in {where} is {listed}, not a {kind} ES|QL can read"
    return None


def _signal_fields(spec: SignalSpec) -> list[tuple[str, Kind]]:
    needed: list[tuple[str, Kind]] = []
    if spec.field is not None:
        needed.append((spec.field, "number"))
    needed += [(name, "any") for name in (*spec.where, *spec.of)]
    return needed


def profile_coverage(profile: Profile, store: Store) -> list[Check]:
    """The coverage report of `profile` on `store`: data sets, signals, then detectors.

    Raises:
        StoreError: the store could not answer.
    """
    from qs_tui.agents.detectors import DETECTORS

    lines = [
        Check(
            "ok",
            "profile",
            f"{profile.name}: {profile.description or 'no description'} "
            f"(needs Elasticsearch {profile.min_elasticsearch} or later)",
        )
    ]
    available: set[str] = set()
    metrics = profile.metrics
    if metrics is None:
        lines.append(Check("warn", "metrics", "the profile maps no metrics"))
    else:
        where = ", ".join(metrics.indices)
        fields = ["@timestamp", *(getattr(metrics, d) for d in DIMENSIONS)]
        for spec in metrics.signals.values():
            fields += [name for name, _ in _signal_fields(spec)]
        lookup = lookup_fields(store, metrics.indices, sorted(set(fields)))
        dimensions: list[tuple[str, Kind]] = [("@timestamp", "date")]
        dimensions += [(getattr(metrics, d), "string") for d in DIMENSIONS]
        base = _dataset_problem(lookup, where, dimensions)
        lines.append(_dataset_line("metrics", lookup, where, base))
        for signal, column in SIGNAL_COLUMNS.items():
            label = SIGNAL_LABELS[signal]
            mapped = metrics.signals.get(column)
            if mapped is None:
                lines.append(Check("warn", label, "missing — the profile does not map it"))
                continue
            problem = base or next(
                (p for n, k in _signal_fields(mapped) if (p := _problem(lookup, n, k, where))),
                None,
            )
            if problem is None:
                available.add(signal)
                source = mapped.field or f"{mapped.agg} of documents"
                lines.append(Check("ok", label, f"available — {source} in {where}"))
            else:
                lines.append(Check(problem[0], label, f"missing — {problem[1]}"))
    lines += _logs_and_deployments(profile, store)
    for detector in DETECTORS:
        needs = [SIGNAL_LABELS[str(s)] for s in detector.signals if str(s) not in available]
        if needs:
            message = f"cannot run — needs {', '.join(needs)}"
            lines.append(Check("warn", f"detector {detector.kind}", message))
        else:
            signals = ", ".join(SIGNAL_LABELS[str(s)] for s in detector.signals)
            lines.append(Check("ok", f"detector {detector.kind}", f"available ({signals})"))
    runnable = sum(1 for d in DETECTORS if all(str(s) in available for s in d.signals))
    summary = (
        f"{len(available)} of {len(SIGNAL_COLUMNS)} signals, "
        f"{runnable} of {len(DETECTORS)} detectors available"
    )
    lines.append(Check("ok" if runnable else "FAIL", "coverage", summary))
    return lines


def _dataset_problem(
    lookup: Lookup, where: str, needed: list[tuple[str, Kind]]
) -> tuple[Status, str] | None:
    if not lookup.indices:
        return "warn", f"no index matches {where}"
    return next((p for n, k in needed if (p := _problem(lookup, n, k, where))), None)


def _dataset_line(
    name: str, lookup: Lookup, where: str, problem: tuple[Status, str] | None
) -> Check:
    if problem is not None:
        return Check(problem[0], name, f"unusable — {problem[1]}")
    count = len(lookup.indices)
    return Check("ok", name, f"{count} {'index' if count == 1 else 'indices'} match {where}")


def _logs_and_deployments(profile: Profile, store: Store) -> Iterator[Check]:
    logs = profile.logs
    if logs is None:
        yield Check("warn", "logs", "the profile maps no logs (no log evidence)")
    else:
        where = ", ".join(logs.indices)
        needed: list[tuple[str, Kind]] = [("@timestamp", "date")]
        needed += [(getattr(logs, d), "string") for d in DIMENSIONS]
        needed += [(source, "string") for source in logs.fields.values()]
        lookup = lookup_fields(store, logs.indices, sorted({n for n, _ in needed}))
        yield _dataset_line("logs", lookup, where, _dataset_problem(lookup, where, needed))
    deployments = profile.deployments
    if deployments is None:
        yield Check("warn", "deployments", "the profile maps none (no deploy suspects)")
        return
    where = ", ".join(deployments.indices)
    needed = [("@timestamp", "date"), (deployments.service, "string")]
    needed.append((deployments.region, "string"))
    if deployments.versions is not None:
        needed.append((deployments.versions, "string"))
    needed += [(source, "any") for source in deployments.fields.values()]
    lookup = lookup_fields(store, deployments.indices, sorted({n for n, _ in needed}))
    yield _dataset_line("deployments", lookup, where, _dataset_problem(lookup, where, needed))
