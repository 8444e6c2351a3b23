"""Index templates and mappings for QuantumState's indices, defined once for both stores.

On a real cluster, Elasticsearch's built-in templates own `logs-*-*` and `metrics-*-*` at
priority 100. Ours match only `qs-*` names, so they never overlap with those patterns, and
use priority 500 so that a user's own catch-all templates cannot shadow them either.

Metrics and logs are data streams (append-only, time-stamped); deployments, incidents and
agent decisions are plain indices because incidents are updated in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

METRICS = "qs-metrics"
LOGS = "qs-logs"
DEPLOYMENTS = "qs-deployments"
INCIDENTS = "qs-incidents"
DECISIONS = "qs-agent-decisions"

TEMPLATE_PRIORITY = 500

#: The metric fields every sample carries, in order.
METRIC_FIELDS: tuple[str, ...] = (
    "cpu_percent",
    "memory_percent",
    "error_rate",
    "latency_p95_ms",
    "requests_per_s",
    "disk_percent",
)

_KEYWORD: dict[str, Any] = {"type": "keyword"}
_DATE: dict[str, Any] = {"type": "date"}
_DOUBLE: dict[str, Any] = {"type": "double"}
_TEXT: dict[str, Any] = {"type": "text"}
_LONG: dict[str, Any] = {"type": "long"}
_WHERE: dict[str, Any] = {
    "service": _KEYWORD,
    "region": _KEYWORD,
}


@dataclass(frozen=True)
class IndexSpec:
    """One of QuantumState's indices.

    Attributes:
        name: the index or data stream name that documents are written to.
        template: the composable index template's name.
        data_stream: whether the template creates a data stream (append-only).
        properties: the mapping's `properties`, shared by both stores.
        description: what lives there, shown by `qs-tui doctor`.
    """

    name: str
    template: str
    data_stream: bool
    properties: dict[str, Any]
    description: str

    @property
    def index_patterns(self) -> list[str]:
        """The template's patterns: the name itself and dated/suffixed variants."""
        return [self.name, f"{self.name}-*"]

    def mapping(self) -> dict[str, Any]:
        """The mapping body (`{"dynamic": ..., "properties": ...}`)."""
        return {"dynamic": "false", "properties": self.properties}

    def template_body(self) -> dict[str, Any]:
        """The body of `PUT _index_template/<template>`."""
        body: dict[str, Any] = {
            "index_patterns": self.index_patterns,
            "priority": TEMPLATE_PRIORITY,
            "template": {
                "settings": {"number_of_shards": 1, "number_of_replicas": 0},
                "mappings": self.mapping(),
            },
            "_meta": {"managed_by": "qs-tui", "description": self.description},
        }
        if self.data_stream:
            body["data_stream"] = {}
        return body


INDICES: tuple[IndexSpec, ...] = (
    IndexSpec(
        name=METRICS,
        template="qs-metrics-template",
        data_stream=True,
        description="one sample per host and interval: cpu, memory, errors, latency, traffic, disk",
        properties={
            "@timestamp": _DATE,
            **_WHERE,
            "host": _KEYWORD,
            **{name: _DOUBLE for name in METRIC_FIELDS},
        },
    ),
    IndexSpec(
        name=LOGS,
        template="qs-logs-template",
        data_stream=True,
        description="application logs with level and error code",
        properties={
            "@timestamp": _DATE,
            **_WHERE,
            "host": _KEYWORD,
            "level": _KEYWORD,
            "error_code": _KEYWORD,
            "message": _TEXT,
            "trace_id": _KEYWORD,
        },
    ),
    IndexSpec(
        name=DEPLOYMENTS,
        template="qs-deployments-template",
        data_stream=False,
        description="deployments: service, region, version, author, commit",
        properties={
            "@timestamp": _DATE,
            **_WHERE,
            "version": _KEYWORD,
            "previous_version": _KEYWORD,
            "author": _KEYWORD,
            "commit": _KEYWORD,
            "description": _TEXT,
        },
    ),
    IndexSpec(
        name=INCIDENTS,
        template="qs-incidents-template",
        data_stream=False,
        description="incidents with root cause, action, MTTR and runbook",
        properties={
            "@timestamp": _DATE,
            "incident_id": _KEYWORD,
            **_WHERE,
            "kind": _KEYWORD,
            "state": _KEYWORD,
            "title": _TEXT,
            "summary": _TEXT,
            "root_cause": _TEXT,
            "action": _KEYWORD,
            "confidence": _DOUBLE,
            "opened_at": _DATE,
            "resolved_at": _DATE,
            "mttr_s": _DOUBLE,
            "runbook": _TEXT,
            # What the flight recorder needs to show the evidence again exactly: the
            # anomaly's estimated onset, and the parameters each evidence query ran with
            # as JSON text ({query name: {param: value}}). Text, because ES|QL reads no
            # object as a whole; a keyword with doc values and no index: read back, never
            # searched.
            "onset_at": _DATE,
            "evidence_params": {"type": "keyword", "index": False},
        },
    ),
    IndexSpec(
        name=DECISIONS,
        template="qs-agent-decisions-template",
        data_stream=False,
        description="the audit trail: every agent decision with its reasons",
        properties={
            "@timestamp": _DATE,
            "incident_id": _KEYWORD,
            "agent": _KEYWORD,
            "decision": _KEYWORD,
            "message": _TEXT,
            "confidence": _DOUBLE,
            "sequence": _LONG,
            # A transcript line (`record: transcript`, no decision): its level (info, warn,
            # error) and its text in `message`.
            "record": _KEYWORD,
            "level": _KEYWORD,
            # A call to a real system (the Surgeon writes one before and one after it):
            # what, where, approved by whom; the request, target and answer as JSON text
            # with credentials masked.
            "action": _KEYWORD,
            "service": _KEYWORD,
            "region": _KEYWORD,
            "executor": _KEYWORD,
            "call": _KEYWORD,
            "approved_by": _KEYWORD,
            "target": _TEXT,
            "request": _TEXT,
            "answer": _TEXT,
        },
    ),
)

BY_NAME: dict[str, IndexSpec] = {spec.name: spec for spec in INDICES}
#: The indices the simulator writes telemetry to. A live session reads the team's own
#: telemetry and writes only incidents and the audit trail, so it leaves these alone.
TELEMETRY_INDICES: frozenset[str] = frozenset({METRICS, LOGS, DEPLOYMENTS})


def indices_to_install(*, telemetry: bool) -> tuple[IndexSpec, ...]:
    """`INDICES`, or (without `telemetry`) only the agents' own: incidents and decisions."""
    return tuple(spec for spec in INDICES if telemetry or spec.name not in TELEMETRY_INDICES)


# ---- Upgrading an existing index to the current mapping -----------------------------------
#
# A composable template only applies to indices created after it is installed, and a
# persisted embedded store keeps the mapping it was created with. So an index made by an
# older version lacks the fields added since (say `record` and `level` on the audit trail):
# with `dynamic: false` their values are kept in `_source` but not indexed, and queries that
# name them fail. Elasticsearch's update-mapping API adds new fields to an existing index or
# data stream (to all its backing indices) but never changes a field's type
# (https://www.elastic.co/guide/en/elasticsearch/reference/current/indices-put-mapping.html),
# so both stores bring an old index up to date additively: the missing fields are added and
# a field mapped with another type is reported and left alone.


@dataclass(frozen=True)
class MappingConflict:
    """A field an existing index maps with another type than the spec's.

    Attributes:
        index: the concrete index (a data stream's backing index) holding the field.
        field: the dotted field name.
        existing: the type the index has.
        expected: the type the spec asks for.
    """

    index: str
    field: str
    existing: str
    expected: str

    def __str__(self) -> str:
        return (
            f"mapping conflict in {self.index}: field [{self.field}] is [{self.existing}], "
            f"expected [{self.expected}]; left unchanged (a type change needs a reindex)"
        )


def field_types(properties: Any) -> dict[str, str]:
    """Dotted path -> mapping type of every field and object in a mapping's `properties`.

    Objects (a definition with `properties` and no `type`) are listed as `object` and their
    fields under `parent.child`, as Elasticsearch resolves a dotted name.
    """
    types: dict[str, str] = {}
    pending: list[tuple[Any, str]] = [(properties, "")]
    while pending:
        node, prefix = pending.pop()
        if not isinstance(node, dict):
            continue
        for key, definition in node.items():
            if not isinstance(definition, dict):
                continue
            path = prefix + str(key)
            # No `type` means an object, with or without `properties` (as in Elasticsearch).
            types[path] = str(definition.get("type", "object"))
            if "properties" in definition:
                pending.append((definition["properties"], path + "."))
    return types


def mapping_upgrade(
    spec: IndexSpec, index: str, existing_properties: Any
) -> tuple[dict[str, Any], list[MappingConflict]]:
    """What `index` (mapped with `existing_properties`) lacks of `spec`'s mapping.

    Returns:
        The spec's definitions of the fields `index` does not map (the body of an additive
        `PUT <index>/_mapping`; empty when it is up to date), and the fields it maps with
        another type (never changed: reported).
    """
    have = field_types(existing_properties)
    missing: dict[str, Any] = {}
    conflicts: list[MappingConflict] = []
    for name, definition in spec.properties.items():
        expected = str(definition.get("type", "object"))
        existing = have.get(name)
        if existing is None:
            missing[name] = dict(definition)
        elif existing != expected:
            conflicts.append(MappingConflict(index, name, existing, expected))
    return missing, conflicts


# ---- The simulator's ECS and OpenTelemetry shapes (`qs_tui.sim.shapes`) -------------------
#
# Data streams named as Elastic Agent, APM and the OpenTelemetry Elasticsearch exporter name
# theirs (`<type>-<dataset>-<namespace>`), in the namespace `qssim` so that simulated data is
# never mixed with a real estate's `default` namespace. These specs only type the embedded
# store's tables: on a real cluster Elasticsearch's own templates (`metrics-*-*`,
# `logs-*-*`, `traces-apm*` from the APM integration, the 9.x `*-*.otel-*` templates) create
# and type these data streams exactly as they do for real telemetry, so nothing of ours is
# installed there and nothing shadows them.

#: The namespace of every simulated ECS/OTel data stream.
SIM_NAMESPACE = "qssim"
ECS_CPU = f"metrics-system.cpu-{SIM_NAMESPACE}"
ECS_MEMORY = f"metrics-system.memory-{SIM_NAMESPACE}"
ECS_FILESYSTEM = f"metrics-system.filesystem-{SIM_NAMESPACE}"
ECS_TRACES = f"traces-apm-{SIM_NAMESPACE}"
ECS_LOGS = f"logs-generic-{SIM_NAMESPACE}"
OTEL_HOSTMETRICS = f"metrics-hostmetricsreceiver.otel-{SIM_NAMESPACE}"
OTEL_TRACES = f"traces-generic.otel-{SIM_NAMESPACE}"
OTEL_LOGS = f"logs-generic.otel-{SIM_NAMESPACE}"

# The System integration maps its `*.pct` fields as scaled_float with Fleet's default
# scaling factor of 1000 (https://www.elastic.co/guide/en/beats/metricbeat/current/
# exported-fields-system.html lists them as scaled_float).
_PCT: dict[str, Any] = {"type": "scaled_float", "scaling_factor": 1000}
_ECS_COMMON: dict[str, Any] = {
    "@timestamp": _DATE,
    "service.name": _KEYWORD,
    "cloud.region": _KEYWORD,
    "host.name": _KEYWORD,
    "event.dataset": _KEYWORD,
    "data_stream.type": _KEYWORD,
    "data_stream.dataset": _KEYWORD,
    "data_stream.namespace": _KEYWORD,
}
# otel@mappings: resource and scope attributes are passthrough objects whose strings map to
# keyword; `metrics.*` doubles are gauge_double (double), `duration` is long (ns).
_OTEL_COMMON: dict[str, Any] = {
    "@timestamp": _DATE,
    "resource.attributes.service.name": _KEYWORD,
    "resource.attributes.service.version": _KEYWORD,
    "resource.attributes.cloud.region": _KEYWORD,
    "resource.attributes.host.name": _KEYWORD,
    "scope.name": _KEYWORD,
    "data_stream.type": _KEYWORD,
    "data_stream.dataset": _KEYWORD,
    "data_stream.namespace": _KEYWORD,
}


def _sim_stream(name: str, description: str, properties: dict[str, Any]) -> IndexSpec:
    return IndexSpec(
        name=name,
        template=f"qs-sim-{name}",
        data_stream=True,
        properties=properties,
        description=description,
    )


SHAPE_INDICES: tuple[IndexSpec, ...] = (
    _sim_stream(
        ECS_CPU,
        "simulated System integration cpu metricset",
        {**_ECS_COMMON, "metricset.name": _KEYWORD, "system.cpu.total.norm.pct": _PCT},
    ),
    _sim_stream(
        ECS_MEMORY,
        "simulated System integration memory metricset",
        {**_ECS_COMMON, "metricset.name": _KEYWORD, "system.memory.actual.used.pct": _PCT},
    ),
    _sim_stream(
        ECS_FILESYSTEM,
        "simulated System integration filesystem metricset",
        {
            **_ECS_COMMON,
            "metricset.name": _KEYWORD,
            "system.filesystem.mount_point": _KEYWORD,
            "system.filesystem.used.pct": _PCT,
        },
    ),
    _sim_stream(
        ECS_TRACES,
        "simulated APM transactions",
        {
            **_ECS_COMMON,
            "service.version": _KEYWORD,
            "processor.event": _KEYWORD,
            "transaction.type": _KEYWORD,
            "transaction.name": _KEYWORD,
            "transaction.duration.us": _LONG,
            # 1 / sample rate: fractional, so a floating type.
            "transaction.representative_count": _DOUBLE,
            "event.outcome": _KEYWORD,
        },
    ),
    _sim_stream(
        ECS_LOGS,
        "simulated application logs in ECS",
        {
            **_ECS_COMMON,
            "log.level": _KEYWORD,
            "message": {"type": "match_only_text"},
            "error.code": _KEYWORD,
            "trace.id": _KEYWORD,
        },
    ),
    _sim_stream(
        OTEL_HOSTMETRICS,
        "simulated OpenTelemetry host metrics receiver",
        {
            **_OTEL_COMMON,
            "attributes.state": _KEYWORD,
            "attributes.mountpoint": _KEYWORD,
            "unit": _KEYWORD,
            "metrics.system.cpu.utilization": _DOUBLE,
            "metrics.system.memory.utilization": _DOUBLE,
            "metrics.system.filesystem.utilization": _DOUBLE,
        },
    ),
    _sim_stream(
        OTEL_TRACES,
        "simulated OpenTelemetry HTTP server spans",
        {
            **_OTEL_COMMON,
            "trace_id": _KEYWORD,
            "span_id": _KEYWORD,
            "name": _KEYWORD,
            "kind": _KEYWORD,
            "duration": _LONG,
            "status.code": _KEYWORD,
            "attributes.http.response.status_code": _LONG,
            "attributes.transaction.representative_count": _DOUBLE,
        },
    ),
    _sim_stream(
        OTEL_LOGS,
        "simulated OpenTelemetry logs",
        {
            **_OTEL_COMMON,
            "severity_text": _KEYWORD,
            "body.text": {"type": "match_only_text"},
            "attributes.error.type": _KEYWORD,
            "trace_id": _KEYWORD,
        },
    ),
)


def spec_for(index: str) -> IndexSpec | None:
    """The spec whose template would apply to `index` (`qs-metrics`, `qs-metrics-2026.11`),
    the simulator's ECS/OTel data streams included."""
    for spec in INDICES + SHAPE_INDICES:
        if index == spec.name or index.startswith(f"{spec.name}-"):
            return spec
    return None
