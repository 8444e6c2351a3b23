"""The schema-profile format: where a team's telemetry keeps each canonical signal.

A profile maps the canonical data sets the `esql/` queries read (`metrics`, `logs`,
`deployments`, see `CANONICAL_INDICES`) to the user's indices and fields. The README's "Schema
profiles" section documents the TOML form with a complete example.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: The index each canonical data set is read from in the `esql/` files.
CANONICAL_INDICES: dict[str, str] = {
    "metrics": "qs-metrics",
    "logs": "qs-logs",
    "deployments": "qs-deployments",
}

#: Canonical signal (the detector registry's `Signal` values) → its column in `qs-metrics`, in
#: the units the simulator writes: percentages 0–100 for cpu/memory/disk, error_rate a
#: fraction 0–1 of requests, latency in milliseconds, requests per second.
SIGNAL_COLUMNS: dict[str, str] = {
    "cpu": "cpu_percent",
    "memory": "memory_percent",
    "disk": "disk_percent",
    "error_rate": "error_rate",
    "latency_p95": "latency_p95_ms",
    "request_rate": "requests_per_s",
}

#: How `doctor` names each signal to a person.
SIGNAL_LABELS: dict[str, str] = {
    "cpu": "cpu",
    "memory": "memory",
    "disk": "disk",
    "error_rate": "error rate",
    "latency_p95": "p95 latency",
    "request_rate": "request rate",
}

#: The canonical metric columns a profile may map (`[metrics.signals.<column>]`).
METRIC_COLUMNS: tuple[str, ...] = tuple(SIGNAL_COLUMNS.values())
#: The dimensions every data set groups by.
DIMENSIONS: tuple[str, ...] = ("service", "region", "host")
#: The canonical log columns besides `@timestamp` and the dimensions.
LOG_COLUMNS: tuple[str, ...] = ("level", "message", "error_code")
#: The canonical deployment columns besides `@timestamp`, service and region.
DEPLOYMENT_COLUMNS: tuple[str, ...] = (
    "version",
    "previous_version",
    "author",
    "commit",
    "description",
)

Aggregation = Literal["avg", "max", "min", "sum", "percentile", "rate", "ratio", "first"]
Scalar = str | int | float | bool

# A source field: letters, digits and `_ . @ -` (backquoted in the rendered query when needed).
_IDENTIFIER = re.compile(r"^[A-Za-z0-9_.@\-]+$")
# An index name or pattern as Elasticsearch allows it (lowercase, `*` wildcards, a leading `-`
# to exclude, `cluster:` for a remote cluster); no spaces, commas or quotes.
_INDEX = re.compile(r"^-?(?:[a-z0-9_\-*]+:)?[a-z0-9_.\-*+]+$")
_VERSION = re.compile(r"^\d+\.\d+(?:\.\d+)?$")
_BUCKET = re.compile(r"^\s*(\d+)\s*(seconds?|minutes?|hours?)\s*$")
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600}


def check_identifier(value: str) -> str:
    """`value` if it is a usable field name, else a ValueError saying what is allowed."""
    if not _IDENTIFIER.match(value):
        raise ValueError(f"{value!r} is not a field name (letters, digits and _ . @ - only)")
    return value


def bucket_seconds(bucket: str) -> int:
    """The length of a bucket such as `10 seconds` or `1 minute`, in seconds."""
    match = _BUCKET.match(bucket)
    if not match:
        raise ValueError(f'{bucket!r} is not a bucket span; write e.g. "10 seconds" or "1 minute"')
    amount, unit = int(match.group(1)), match.group(2).rstrip("s")
    if amount <= 0:
        raise ValueError(f"{bucket!r}: the span must be positive")
    return amount * _UNIT_SECONDS[unit]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignalSpec(_Strict):
    """`[metrics.signals.<column>]`: how one canonical signal is computed from the source."""

    agg: Aggregation = "avg"
    """How the documents of one host and bucket combine (bucket mode only)."""
    field: str | None = None
    """The source field; omitted only for `rate` and `ratio`, which then count documents."""
    scale: float = 1.0
    """Multiplier into canonical units (e.g. 100 for a 0–1 fraction shown as a percentage)."""
    offset: float = 0.0
    """Added after `scale`."""
    invert: bool = False
    """Use `1 - value` before scaling (e.g. idle fraction → busy fraction)."""
    where: dict[str, Scalar] = Field(default_factory=dict)
    """Only documents whose fields equal these values (bucket mode; a ratio's numerator)."""
    of: dict[str, Scalar] = Field(default_factory=dict)
    """A ratio's denominator: documents whose fields equal these values (empty: all)."""
    percentile: float | None = None
    """For `agg = "percentile"`: which percentile, 0–100."""

    @field_validator("field")
    @classmethod
    def _field_name(cls, value: str | None) -> str | None:
        return None if value is None else check_identifier(value)

    @field_validator("where", "of")
    @classmethod
    def _condition_fields(cls, value: dict[str, Scalar]) -> dict[str, Scalar]:
        for name in value:
            check_identifier(name)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SignalSpec:
        if self.agg == "percentile":
            if self.percentile is None or not 0.0 <= self.percentile <= 100.0:
                raise ValueError('agg = "percentile" needs percentile = a number from 0 to 100')
        elif self.percentile is not None:
            raise ValueError('percentile only applies to agg = "percentile"')
        if self.field is None and self.agg not in ("rate", "ratio"):
            raise ValueError(f"agg = {self.agg!r} needs a field")
        if self.of and self.agg != "ratio":
            raise ValueError('of only applies to agg = "ratio"')
        return self

    @property
    def is_plain(self) -> bool:
        """The field as it is: no scale, offset or inversion."""
        return self.scale == 1.0 and self.offset == 0.0 and not self.invert


class _Source(_Strict):
    indices: list[str] = Field(min_length=1)
    """Index names or patterns to read (`FROM`)."""
    where: str = ""
    """An extra ES|QL condition on the source documents (checked when the profile loads)."""
    service: str
    """The source field holding the service name."""
    region: str
    """The source field holding the region."""

    @field_validator("indices")
    @classmethod
    def _index_names(cls, value: list[str]) -> list[str]:
        for index in value:
            if not _INDEX.match(index):
                raise ValueError(
                    f"{index!r} is not an index name or pattern "
                    "(lowercase letters, digits, _ - . + and * only)"
                )
        return value

    @field_validator("service", "region")
    @classmethod
    def _dimension(cls, value: str) -> str:
        return check_identifier(value)


class MetricsSpec(_Source):
    """`[metrics]`: where the canonical `qs-metrics` columns come from."""

    host: str
    """The source field holding the host name."""
    bucket: str | None = None
    """Present: one canonical sample per host and bucket of this span (`STATS … BY BUCKET`).
    Absent: one canonical row per source document."""
    signals: dict[str, SignalSpec] = Field(default_factory=dict)
    """Canonical metric column → how to compute it; columns left out are absent (null)."""

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return check_identifier(value)

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str | None) -> str | None:
        if value is None:
            return None
        bucket_seconds(value)
        return " ".join(value.split())

    @field_validator("signals")
    @classmethod
    def _signal_names(cls, value: dict[str, SignalSpec]) -> dict[str, SignalSpec]:
        for name in value:
            if name not in METRIC_COLUMNS:
                raise ValueError(
                    f"unknown signal {name!r}; the canonical ones are {', '.join(METRIC_COLUMNS)}"
                )
        return value


class LogsSpec(_Source):
    """`[logs]`: where the canonical `qs-logs` columns come from (one row per document)."""

    host: str
    """The source field holding the host name."""
    fields: dict[str, str] = Field(default_factory=dict)
    """Canonical log column (`level`, `message`, `error_code`) → source field."""

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return check_identifier(value)

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: dict[str, str]) -> dict[str, str]:
        for name, source in value.items():
            if name not in LOG_COLUMNS:
                raise ValueError(f"unknown log column {name!r}; known: {', '.join(LOG_COLUMNS)}")
            check_identifier(source)
        return value


class DeploymentsSpec(_Source):
    """`[deployments]`: where deployments come from.

    Either `versions` (a version's first appearance per service and region is its deployment)
    or `[deployments.fields]` mapping a deployments index field by field (`version` required).
    """

    versions: str | None = None
    """The source field holding the running version (e.g. APM's `service.version`)."""
    fields: dict[str, str] = Field(default_factory=dict)
    """Canonical deployment column → source field."""

    @field_validator("versions")
    @classmethod
    def _versions(cls, value: str | None) -> str | None:
        return None if value is None else check_identifier(value)

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: dict[str, str]) -> dict[str, str]:
        for name, source in value.items():
            if name not in DEPLOYMENT_COLUMNS:
                raise ValueError(
                    f"unknown deployment column {name!r}; known: {', '.join(DEPLOYMENT_COLUMNS)}"
                )
            check_identifier(source)
        return value

    @model_validator(mode="after")
    def _one_way(self) -> DeploymentsSpec:
        if self.versions is not None and self.fields:
            raise ValueError("give either versions or [deployments.fields], not both")
        if self.versions is None and "version" not in self.fields:
            raise ValueError('needs versions = "<field>" or [deployments.fields] with version')
        return self


class Profile(_Strict):
    """One schema profile: a name and where each canonical data set lives."""

    name: str
    """Shown by `doctor` and `queries`."""
    description: str = ""
    """One line saying what data the profile reads."""
    min_elasticsearch: str = "8.19"
    """The oldest Elasticsearch whose ES|QL runs the rendered queries."""
    metrics: MetricsSpec | None = None
    """The metrics data set; absent: no metric signal is available."""
    logs: LogsSpec | None = None
    """The logs data set; absent: no log evidence."""
    deployments: DeploymentsSpec | None = None
    """The deployments data set; absent: no deploy suspects."""
    path: Path | None = Field(default=None, exclude=True)
    """The file the profile was read from."""

    @field_validator("min_elasticsearch")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _VERSION.match(value):
            raise ValueError(f'{value!r} is not a version such as "8.19"')
        return value

    @property
    def min_version(self) -> tuple[int, int]:
        """`min_elasticsearch` as (major, minor)."""
        major, minor = self.min_elasticsearch.split(".")[:2]
        return int(major), int(minor)

    def signal_available(self, signal: str) -> bool:
        """Whether the profile maps canonical signal `signal` (a `Signal` value)."""
        return self.metrics is not None and SIGNAL_COLUMNS[signal] in self.metrics.signals
