"""Faults that move metrics and logs together, and how each one shows on a host."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from qs_tui.sim.durations import parse_duration, parse_offset


class FaultKind(StrEnum):
    """What can go wrong."""

    MEMORY_LEAK = "memory_leak"
    ERROR_SPIKE = "error_spike"
    LATENCY_REGRESSION = "latency_regression"
    CPU_SATURATION = "cpu_saturation"
    DISK_FILL = "disk_fill"
    TRAFFIC_DROP = "traffic_drop"
    CASCADE = "cascade"
    BAD_DEPLOY = "bad_deploy"


ALL = "all"

#: Error codes the simulator writes in logs.
ERROR_CODES: tuple[str, ...] = (
    "E_DB_TIMEOUT",
    "E_OOM",
    "E_UPSTREAM_5XX",
    "E_DISK_FULL",
    "E_CONN_RESET",
)


class FaultParams(BaseModel):
    """Parameters of a fault; which apply depends on the kind (README.md, "Scenario files")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rate: float | None = Field(default=None, gt=0)
    """memory_leak: memory % per minute (default 0.5); disk_fill: disk % per minute."""

    magnitude: float | None = Field(default=None, gt=0)
    """Strength: error_spike/cascade added error rate (0-1), latency_regression latency
    multiplier, cpu_saturation CPU work multiplier, traffic_drop share of traffic lost (0-1)."""

    duration: str | None = None
    """How long the fault lasts; unset means until a remediation removes it."""

    time_to_full: str | None = None
    """disk_fill: time until the disk is full (instead of `rate`)."""

    cause: Literal["code", "cache"] = "code"
    """latency_regression: `cache` faults are removed by flush_cache."""

    error_code: str | None = None
    """error_spike: the error code in the logs (default E_UPSTREAM_5XX)."""

    latency_factor: float | None = Field(default=None, ge=1)
    """cascade: latency multiplier at the root service (default 3)."""

    delay: str | None = None
    """cascade: onset delay per hop along the dependency graph (default 2m)."""

    attenuation: float | None = Field(default=None, gt=0, le=1)
    """cascade: how much of the symptom each hop keeps (default 0.6)."""

    introduces: FaultKind | None = None
    """bad_deploy: the kind of fault the new version brings (default memory_leak)."""

    version: str | None = None
    """bad_deploy: the version deployed (default: the live version with its minor bumped)."""

    author: str | None = None
    """bad_deploy: who deployed (default: a seeded fake name)."""

    description: str | None = None
    """bad_deploy: the deployment's description."""

    @field_validator("duration", "time_to_full", "delay")
    @classmethod
    def _is_duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("error_code")
    @classmethod
    def _known_code(cls, value: str | None) -> str | None:
        if value is not None and value not in ERROR_CODES:
            raise ValueError(f"unknown error code {value!r}; use one of {', '.join(ERROR_CODES)}")
        return value

    @field_validator("introduces")
    @classmethod
    def _not_nested_deploy(cls, value: FaultKind | None) -> FaultKind | None:
        if value is FaultKind.BAD_DEPLOY:
            raise ValueError("a bad deploy introduces another kind of fault, not bad_deploy")
        return value


class FaultSpec(BaseModel):
    """A fault as a scenario file (or `Simulation.inject`) describes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FaultKind
    """What goes wrong."""

    service: str
    """The affected service (`all` only for traffic_drop)."""

    region: str = ALL
    """The affected region, or `all`."""

    host: str | None = None
    """Only this host (memory_leak, cpu_saturation, disk_fill); unset means every host."""

    start: str = "0"
    """Offset from the scenario start: `+30m`, `-1h` (already underway), `0`."""

    params: FaultParams = Field(default_factory=FaultParams)
    """Kind-specific parameters."""

    name: str | None = None
    """An optional label shown in `active_faults()`."""

    @field_validator("start")
    @classmethod
    def _is_offset(cls, value: str) -> str:
        parse_offset(value)
        return value

    @model_validator(mode="after")
    def _service_all_only_for_traffic(self) -> FaultSpec:
        if self.service == ALL and self.kind is not FaultKind.TRAFFIC_DROP:
            raise ValueError("service = 'all' is allowed only for traffic_drop")
        return self

    @property
    def offset(self) -> timedelta:
        """`start` as a signed offset from the scenario start."""
        return parse_offset(self.start)


@dataclass
class Fault:
    """A fault placed on the timeline of a simulation.

    Attributes:
        fault_id: a short unique id (`f1-memory_leak-payment-service`).
        kind: the effective kind (for a bad deploy, the kind it introduces).
        service: the affected service (or `all` for a global traffic drop).
        region: the affected region or `all`.
        host: the one affected host, if any.
        start: when it begins.
        params: the parameters.
        deploy_version: for a bad deploy, the version that carries the fault; the fault acts
            only while that version is live.
        end: when it ends by itself (from `duration`), if ever.
        removed_at: when a remediation removed it.
        removed_by: the action that removed it.
        deployed: for a bad deploy, whether its deployment has happened.
        cleared_regions: regions where a remediation removed a fault that spans all regions.
    """

    fault_id: str
    kind: FaultKind
    service: str
    region: str
    host: str | None
    start: datetime
    params: FaultParams
    deploy_version: str | None = None
    end: datetime | None = None
    removed_at: datetime | None = None
    removed_by: str | None = None
    deployed: bool = False
    cleared_regions: set[str] = field(default_factory=set)

    @property
    def from_deploy(self) -> bool:
        """Whether a bad deploy introduced this fault."""
        return self.deploy_version is not None

    def covers(self, service: str, region: str, host: str | None = None) -> bool:
        """Whether this fault's target includes the given service/region (and host)."""
        if self.service not in (ALL, service):
            return False
        if self.region not in (ALL, region) or region in self.cleared_regions:
            return False
        return self.host is None or host is None or self.host == host

    def live_at(self, at: datetime) -> bool:
        """Whether the fault is within its time window and not removed (ignores deploys)."""
        if at < self.start:
            return False
        if self.end is not None and at >= self.end:
            return False
        return self.removed_at is None or at < self.removed_at

    def describe(self) -> dict[str, object]:
        """A plain summary for `active_faults()` and snapshots."""
        return {
            "id": self.fault_id,
            "kind": str(self.kind),
            "service": self.service,
            "region": self.region,
            "host": self.host,
            "start": self.start.isoformat(),
            "end": self.end.isoformat() if self.end else None,
            "deploy_version": self.deploy_version,
            "removed_by": self.removed_by,
        }


# Defaults per kind, used when a parameter is not given.
LEAK_RATE_PER_MIN = 0.5
DISK_RATE_PER_MIN = 0.2
ERROR_SPIKE_MAGNITUDE = 0.2
LATENCY_MAGNITUDE = 4.0
CPU_MAGNITUDE = 2.5
TRAFFIC_DROP_MAGNITUDE = 0.7
CASCADE_MAGNITUDE = 0.3
CASCADE_LATENCY_FACTOR = 3.0
CASCADE_DELAY = timedelta(minutes=2)
CASCADE_ATTENUATION = 0.6
#: Added error rate while a disk is full, and for the one interval in which a host crashes.
DISK_FULL_ERRORS = 0.35
CRASH_ERRORS = 0.6


@dataclass
class LogCause:
    """Why a host writes non-INFO lines in an interval.

    Attributes:
        level: `ERROR` or `WARN`.
        code: the error code written in the line.
        template: key into the message templates.
        weight: for ERROR, the share of the error rate this cause explains; for WARN, the
            expected number of lines per interval.
        context: values for the template (`dep`, `pct`...).
    """

    level: str
    code: str
    template: str
    weight: float
    context: dict[str, str] = field(default_factory=dict)


@dataclass
class HostEffects:
    """Everything active faults do to one host in one interval; neutral by default.

    Attributes:
        traffic_factor: multiplies the requests reaching the host.
        work_factor: multiplies the CPU each request costs.
        latency_factor: multiplies p95 latency.
        error_add: added to the error rate (a fraction of requests).
        memory_extra: memory percentage points accumulated by a leak.
        disk_extra: disk percentage points accumulated by a fill.
        crashed: the host was OOM-killed and restarted during this interval.
        causes: why the host writes WARN/ERROR lines.
    """

    traffic_factor: float = 1.0
    work_factor: float = 1.0
    latency_factor: float = 1.0
    error_add: float = 0.0
    memory_extra: float = 0.0
    disk_extra: float = 0.0
    crashed: bool = False
    causes: list[LogCause] = field(default_factory=list)


def _seconds(value: str | None, default: timedelta) -> float:
    return (parse_duration(value) if value else default).total_seconds()


def apply_fault(
    fault: Fault,
    effects: HostEffects,
    *,
    at: datetime,
    interval_s: float,
    service: str,
    depth: int,
    anchor: datetime,
    base_memory: float,
    base_disk: float,
) -> None:
    """Add what `fault` does to a host at `at` into `effects`.

    Args:
        fault: an active fault covering the host (or, for a cascade, one of its dependents).
        effects: the accumulator for this host and interval.
        at: the sample's timestamp.
        interval_s: the sampling interval, to detect the interval in which a crash happens.
        service: the host's service (differs from `fault.service` for cascade dependents).
        depth: hops from the cascade's root (0 for the root and for every other kind).
        anchor: when accumulation (memory, disk) last started: the fault's start or the
            host's last restart, whichever is later.
        base_memory: the host's normal memory %, where a leak starts from.
        base_disk: the host's normal disk %, where a fill starts from.
    """
    params = fault.params
    kind = fault.kind
    elapsed = max(0.0, (at - anchor).total_seconds())
    if kind is FaultKind.MEMORY_LEAK:
        rate = (params.rate or LEAK_RATE_PER_MIN) / 60.0
        headroom = max(1.0, 100.0 - base_memory)
        cycle = headroom / rate  # seconds from a fresh process to OOM
        crashes_now = math.floor(elapsed / cycle)
        crashes_before = math.floor(max(0.0, elapsed - interval_s) / cycle)
        effects.memory_extra += rate * (elapsed % cycle)
        if elapsed >= interval_s and crashes_now > crashes_before:
            effects.crashed = True
            effects.error_add += CRASH_ERRORS
            effects.causes.append(LogCause("ERROR", "E_OOM", "oom", 1.0))
        elif base_memory + effects.memory_extra > 85.0:
            pct = f"{base_memory + effects.memory_extra:.0f}"
            effects.causes.append(LogCause("WARN", "E_OOM", "heap_high", 0.6, {"pct": pct}))
    elif kind is FaultKind.ERROR_SPIKE:
        magnitude = params.magnitude or ERROR_SPIKE_MAGNITUDE
        effects.error_add += magnitude
        code = params.error_code or "E_UPSTREAM_5XX"
        effects.causes.append(LogCause("ERROR", code, _TEMPLATE_FOR_CODE[code], magnitude))
    elif kind is FaultKind.LATENCY_REGRESSION:
        factor = params.magnitude or LATENCY_MAGNITUDE
        effects.latency_factor *= factor
        template = "cache_miss" if params.cause == "cache" else "slow_query"
        effects.causes.append(LogCause("WARN", "E_DB_TIMEOUT", template, 1.5))
        # Slow calls start timing out at the edges: a few errors, proportional to the slowdown.
        timeouts = min(0.05, 0.004 * factor)
        effects.error_add += timeouts
        effects.causes.append(LogCause("ERROR", "E_DB_TIMEOUT", "db_timeout", timeouts))
    elif kind is FaultKind.CPU_SATURATION:
        effects.work_factor *= params.magnitude or CPU_MAGNITUDE
        effects.causes.append(LogCause("WARN", "E_CONN_RESET", "thread_pool", 1.0))
    elif kind is FaultKind.DISK_FILL:
        if params.time_to_full:
            rate = max(1.0, 100.0 - base_disk) / _seconds(params.time_to_full, timedelta(hours=1))
        else:
            rate = (params.rate or DISK_RATE_PER_MIN) / 60.0
        effects.disk_extra += rate * elapsed
        disk = base_disk + effects.disk_extra
        if disk >= 100.0:
            effects.error_add += DISK_FULL_ERRORS
            effects.causes.append(LogCause("ERROR", "E_DISK_FULL", "disk_full", DISK_FULL_ERRORS))
        elif disk > 85.0:
            effects.causes.append(
                LogCause("WARN", "E_DISK_FULL", "disk_high", 0.5, {"pct": f"{disk:.0f}"})
            )
    elif kind is FaultKind.TRAFFIC_DROP:
        effects.traffic_factor *= 1.0 - min(1.0, params.magnitude or TRAFFIC_DROP_MAGNITUDE)
        effects.causes.append(LogCause("WARN", "E_CONN_RESET", "health_check", 0.8))
    elif kind is FaultKind.CASCADE:
        magnitude = params.magnitude or CASCADE_MAGNITUDE
        latency = params.latency_factor or CASCADE_LATENCY_FACTOR
        keep = (params.attenuation or CASCADE_ATTENUATION) ** depth
        effects.error_add += magnitude * keep
        effects.latency_factor *= 1.0 + (latency - 1.0) * keep
        if depth == 0:
            effects.causes.append(LogCause("ERROR", "E_DB_TIMEOUT", "pool_exhausted", magnitude))
        else:
            effects.causes.append(
                LogCause(
                    "ERROR",
                    "E_UPSTREAM_5XX",
                    "upstream",
                    magnitude * keep,
                    {"dep": fault.service},
                )
            )


def cascade_onset(fault: Fault, depth: int) -> datetime:
    """When a cascade reaches a service `depth` hops from its root."""
    return fault.start + depth * timedelta(seconds=_seconds(fault.params.delay, CASCADE_DELAY))


_TEMPLATE_FOR_CODE: dict[str, str] = {
    "E_DB_TIMEOUT": "db_timeout",
    "E_OOM": "oom",
    "E_UPSTREAM_5XX": "upstream",
    "E_DISK_FULL": "disk_full",
    "E_CONN_RESET": "conn_reset",
}
