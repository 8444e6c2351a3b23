"""The simulator's telemetry in the shape of a schema profile: `qs`, `ecs` or `otel`.

The simulator generates canonical documents (one `qs-metrics` sample per host and interval,
`qs-logs` lines, `qs-deployments` events). A shape turns a batch of them into the documents
the profile's sources hold, in the profile's data streams, so that reading them back through
that profile gives the same canonical sample:

- `ecs`: per host sample one document per System integration metricset (cpu, memory,
  filesystem; the `*.pct` fields are fractions) and two APM transactions, a success and a
  failure, whose `transaction.representative_count` carries the interval's request count
  split by the error rate and whose `transaction.duration.us` is the sample's p95. Log
  lines become ECS log documents. Deployments are not written anywhere: the transactions
  carry `service.version`, and a version's first appearance is the deployment.
- `otel`: the same through the host metrics receiver (`system.cpu.utilization` of the idle
  state, `system.memory.utilization` of the used state, `system.filesystem.utilization`),
  two HTTP server spans (status Unset and Error), and OTel log records.
- `qs`: unchanged.

Ids are deterministic (the canonical document's id plus what the document is), so writing an
interval again lands on the same ids, as with the `qs` shape; OTel host metrics carry none, as
a time series data stream makes its own from the dimensions and the timestamp.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from qs_tui.store import templates as T

if TYPE_CHECKING:
    from qs_tui.profiles import Profile

#: The shapes the simulator can write (the built-in profiles).
SHAPES: tuple[str, ...] = ("qs", "ecs", "otel")
#: The bucket of the built-in `ecs` and `otel` profiles, in seconds: a sample's request count
#: is spread over it (the profile's rate is the per-second sum over a bucket).
PROFILE_BUCKET_S = 10

Document = dict[str, Any]
Batch = dict[str, list[Document]]

ID = "_id"


def _keep_id(source: Mapping[str, Any], document: Document) -> None:
    """Carry the canonical document's id over (lines written by actions have none: the store
    gives them one, as it does in the qs shape)."""
    if ID in source:
        document[ID] = source[ID]


class ShapeError(ValueError):
    """A shape that does not exist, or a simulation it cannot represent."""


def _base_id(document: Mapping[str, Any]) -> str:
    """`<host>/<epoch ms>` from a canonical metric document's id (`.../metrics`)."""
    return str(document[ID]).rsplit("/", 1)[0]


class Shape:
    """Turns the simulator's canonical batches into one profile's documents.

    Stateful only in the versions it has seen deployed: every transaction or span carries
    the version its service runs in that region at that instant.
    """

    name = "qs"

    def __init__(self, *, initial_versions: Mapping[str, str], interval_s: int) -> None:
        """Create a shape.

        Args:
            initial_versions: the version each service runs when the simulation starts.
            interval_s: the simulation's sampling interval in seconds.

        Raises:
            ShapeError: the interval is not a whole number of the profile's buckets, so a
                sample's requests could not be spread over buckets exactly.
        """
        if self.name != "qs" and interval_s % PROFILE_BUCKET_S:
            raise ShapeError(
                f"the {self.name} shape needs a sampling interval that is a multiple of "
                f"{PROFILE_BUCKET_S}s (its profile's bucket), not {interval_s}s"
            )
        self.interval_s = interval_s
        self._initial = dict(initial_versions)
        self._versions: dict[tuple[str, str], str] = {}

    @property
    def indices(self) -> tuple[str, ...]:
        """The data streams this shape writes."""
        return (T.METRICS, T.LOGS, T.DEPLOYMENTS)

    def convert(self, batch: Mapping[str, list[Document]]) -> Batch:
        """The documents to write for one batch of canonical documents (index -> documents).

        Logs and deployments of the batch come before metrics, as the simulator orders them.
        """
        return {index: list(documents) for index, documents in batch.items()}

    def _version_at(
        self, service: str, region: str, stamp: str, deploys: list[Document], start: int
    ) -> tuple[str, int]:
        """The version running at `stamp`, advancing through `deploys` (sorted by time)."""
        index = start
        while index < len(deploys) and deploys[index]["@timestamp"] <= stamp:
            deploy = deploys[index]
            self._versions[(deploy["service"], deploy["region"])] = deploy["version"]
            index += 1
        version = self._versions.get((service, region)) or self._initial.get(service, "unknown")
        return version, index


class QsShape(Shape):
    """Today's shape: what the simulator writes, unchanged."""

    name = "qs"


class _ProfileShape(Shape):
    """Common walk for the ecs and otel shapes: metrics with versions, logs, no deploys."""

    def convert(self, batch: Mapping[str, list[Document]]) -> Batch:
        out: Batch = {index: [] for index in self.indices}
        for line in batch.get(T.LOGS, ()):
            index, document = self._log(line)
            out[index].append(document)
        deploys = sorted(batch.get(T.DEPLOYMENTS, ()), key=lambda d: str(d["@timestamp"]))
        # Metric documents are in time order (tick by tick); deploys apply from their instant.
        position = 0
        for sample in batch.get(T.METRICS, ()):
            version, position = self._version_at(
                sample["service"], sample["region"], sample["@timestamp"], deploys, position
            )
            for index, document in self._metric(sample, version):
                out[index].append(document)
        # Deploys after the batch's last sample still change the running version.
        self._version_at("", "", "\uffff", deploys, position)
        return out

    def _requests(self, sample: Mapping[str, Any]) -> tuple[float, float]:
        """The bucket's successful and failed request counts."""
        requests = float(sample["requests_per_s"]) * PROFILE_BUCKET_S
        failed = requests * float(sample["error_rate"])
        return requests - failed, failed

    def _metric(self, sample: Document, version: str) -> list[tuple[str, Document]]:
        raise NotImplementedError

    def _log(self, line: Document) -> tuple[str, Document]:
        raise NotImplementedError


class EcsShape(_ProfileShape):
    """Elastic Agent's System integration, APM transactions and ECS logs."""

    name = "ecs"

    @property
    def indices(self) -> tuple[str, ...]:
        return (T.ECS_LOGS, T.ECS_CPU, T.ECS_MEMORY, T.ECS_FILESYSTEM, T.ECS_TRACES)

    @staticmethod
    def _common(document: Mapping[str, Any], dataset: str, kind: str) -> Document:
        return {
            "@timestamp": document["@timestamp"],
            "service.name": document["service"],
            "cloud.region": document["region"],
            "host.name": document["host"],
            "event.dataset": dataset,
            "data_stream.type": kind,
            "data_stream.dataset": dataset,
            "data_stream.namespace": T.SIM_NAMESPACE,
        }

    def _metric(self, sample: Document, version: str) -> list[tuple[str, Document]]:
        base = _base_id(sample)
        common = self._common
        succeeded, failed = self._requests(sample)
        duration_us = round(float(sample["latency_p95_ms"]) * 1000)
        documents: list[tuple[str, Document]] = [
            (
                T.ECS_CPU,
                common(sample, "system.cpu", "metrics")
                | {
                    ID: f"{base}/system.cpu",
                    "metricset.name": "cpu",
                    "system.cpu.total.norm.pct": sample["cpu_percent"] / 100.0,
                },
            ),
            (
                T.ECS_MEMORY,
                common(sample, "system.memory", "metrics")
                | {
                    ID: f"{base}/system.memory",
                    "metricset.name": "memory",
                    "system.memory.actual.used.pct": sample["memory_percent"] / 100.0,
                },
            ),
            (
                T.ECS_FILESYSTEM,
                common(sample, "system.filesystem", "metrics")
                | {
                    ID: f"{base}/system.filesystem",
                    "metricset.name": "filesystem",
                    "system.filesystem.mount_point": "/",
                    "system.filesystem.used.pct": sample["disk_percent"] / 100.0,
                },
            ),
        ]
        for outcome, count in (("success", succeeded), ("failure", failed)):
            documents.append(
                (
                    T.ECS_TRACES,
                    common(sample, "apm", "traces")
                    | {
                        ID: f"{base}/transaction-{outcome}",
                        "service.version": version,
                        "processor.event": "transaction",
                        "transaction.type": "request",
                        "transaction.name": f"{sample['service']} requests",
                        "transaction.duration.us": duration_us,
                        "transaction.representative_count": count,
                        "event.outcome": outcome,
                    },
                )
            )
        return documents

    def _log(self, line: Document) -> tuple[str, Document]:
        document = self._common(line, "generic", "logs") | {
            "log.level": line["level"],
            "message": line["message"],
            "trace.id": line.get("trace_id"),
        }
        _keep_id(line, document)
        if line.get("error_code") is not None:
            document["error.code"] = line["error_code"]
        return T.ECS_LOGS, document


class OtelShape(_ProfileShape):
    """OpenTelemetry as Elasticsearch 9 stores it: host metrics, HTTP server spans, logs."""

    name = "otel"

    @property
    def indices(self) -> tuple[str, ...]:
        return (T.OTEL_LOGS, T.OTEL_HOSTMETRICS, T.OTEL_TRACES)

    @staticmethod
    def _resource(
        document: Mapping[str, Any], dataset: str, kind: str, version: str | None = None
    ) -> Document:
        resource: Document = {
            "@timestamp": document["@timestamp"],
            "resource.attributes.service.name": document["service"],
            "resource.attributes.cloud.region": document["region"],
            "resource.attributes.host.name": document["host"],
            "data_stream.type": kind,
            "data_stream.dataset": dataset,
            "data_stream.namespace": T.SIM_NAMESPACE,
        }
        if version is not None:
            resource["resource.attributes.service.version"] = version
        return resource

    def _metric(self, sample: Document, version: str) -> list[tuple[str, Document]]:
        base = _base_id(sample)
        host = self._resource(sample, "hostmetricsreceiver.otel", "metrics")
        scraper = "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/"
        scraper += "hostmetricsreceiver/internal/scraper/"
        succeeded, failed = self._requests(sample)
        duration_ns = round(float(sample["latency_p95_ms"]) * 1000) * 1000
        # No `_id` on host metrics: Elasticsearch 9 keeps `metrics-*.otel-*` as time series
        # data streams, which refuse a client's id and derive one from the dimensions and the
        # timestamp instead (so a re-written interval is still stored once there).
        documents: list[tuple[str, Document]] = [
            (
                T.OTEL_HOSTMETRICS,
                host
                | {
                    "scope.name": scraper + "cpuscraper",
                    "unit": "1",
                    "attributes.state": "idle",
                    "metrics.system.cpu.utilization": 1.0 - sample["cpu_percent"] / 100.0,
                },
            ),
            (
                T.OTEL_HOSTMETRICS,
                host
                | {
                    "scope.name": scraper + "memoryscraper",
                    "unit": "1",
                    "attributes.state": "used",
                    "metrics.system.memory.utilization": sample["memory_percent"] / 100.0,
                },
            ),
            (
                T.OTEL_HOSTMETRICS,
                host
                | {
                    "scope.name": scraper + "filesystemscraper",
                    "unit": "1",
                    "attributes.mountpoint": "/",
                    "metrics.system.filesystem.utilization": sample["disk_percent"] / 100.0,
                },
            ),
        ]
        spans = self._resource(sample, "generic.otel", "traces", version)
        for status, http_status, count in (("Unset", 200, succeeded), ("Error", 500, failed)):
            documents.append(
                (
                    T.OTEL_TRACES,
                    spans
                    | {
                        ID: f"{base}/server-span-{status.lower()}",
                        "name": f"{sample['service']} request",
                        "kind": "Server",
                        "duration": duration_ns,
                        "status.code": status,
                        "attributes.http.response.status_code": http_status,
                        "attributes.transaction.representative_count": count,
                    },
                )
            )
        return documents

    def _log(self, line: Document) -> tuple[str, Document]:
        document = self._resource(line, "generic.otel", "logs") | {
            "severity_text": line["level"],
            "body.text": line["message"],
            "trace_id": line.get("trace_id"),
        }
        _keep_id(line, document)
        if line.get("error_code") is not None:
            document["attributes.error.type"] = line["error_code"]
        return T.OTEL_LOGS, document


def simulated_shape(profile: Profile | None) -> str:
    """The shape the simulator writes so that `profile` reads it: a built-in profile's own
    (`qs`, `ecs`, `otel`), else `qs` (a custom profile has no simulated shape)."""
    if profile is not None and profile.path is None and profile.name in SHAPES:
        return profile.name
    return "qs"


_BY_NAME: dict[str, type[Shape]] = {"qs": QsShape, "ecs": EcsShape, "otel": OtelShape}


def make_shape(name: str, *, initial_versions: Mapping[str, str], interval_s: int) -> Shape:
    """The shape called `name` (`qs`, `ecs` or `otel`).

    Raises:
        ShapeError: no such shape, or the interval does not suit it.
    """
    try:
        kind = _BY_NAME[name]
    except KeyError:
        raise ShapeError(
            f"the simulator writes no shape called {name!r}; choose one of {', '.join(SHAPES)}"
        ) from None
    return kind(initial_versions=initial_versions, interval_s=interval_s)


__all__ = [
    "PROFILE_BUCKET_S",
    "SHAPES",
    "EcsShape",
    "OtelShape",
    "QsShape",
    "Shape",
    "ShapeError",
    "make_shape",
    "simulated_shape",
]
