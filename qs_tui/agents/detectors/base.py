"""What a detector is: its query, the signals it reads, how it detects, re-checks and explains."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from qs_tui.models import ActionKind, Anomaly, AnomalyKind, SignalCheck

if TYPE_CHECKING:
    from qs_tui.agents.detectors.tuning import DetectionTuning

Key = tuple[str, str, str]
Group = tuple[str, str]
Row = dict[str, Any]


class Signal(StrEnum):
    """The canonical signals detectors read; a schema profile says where each one lives."""

    CPU = "cpu"
    MEMORY = "memory"
    DISK = "disk"
    ERROR_RATE = "error_rate"
    LATENCY_P95 = "latency_p95"
    REQUEST_RATE = "request_rate"


@dataclass(frozen=True)
class Finding:
    """A detector's raw finding for one host or service/region, before roll-up."""

    anomaly: Anomaly
    severity: float
    """Orders findings of one kind inside a group: the worst host wins."""
    detail: dict[str, Any] = field(default_factory=dict)


class DetectorHost(Protocol):
    """What a detector may ask of Cassandra: queries, tuning and what she remembers."""

    @property
    def tuning(self) -> DetectionTuning: ...

    def run(self, name: str, **params: Any) -> list[Row]:
        """Run a query of the library and return its rows as records."""
        ...

    def baseline_start(self, start: datetime) -> datetime:
        """Where the baseline window before a current window starting at `start` begins."""
        ...

    def robust_baseline(self, group: Group, column: str, start: datetime) -> float | None:
        """Median of the per-minute averages of `column` before `start`."""
        ...

    def remembered(self, key: Key) -> Anomaly | None:
        """The anomaly seen under `key` in the last pass, if any."""
        ...

    def spread(self, key: Key) -> float | None:
        """The baseline spread measured when the anomaly under `key` was new."""
        ...

    def traffic_baselines(self, service: str) -> dict[str, float] | None:
        """Per region, the throughput measured before `service`'s last drop began."""
        ...

    def dropping(self, service: str) -> bool:
        """Whether a traffic drop of `service` was seen in the last pass."""
        ...

    def cpu_rows(self, start: datetime, end: datetime) -> tuple[list[Row], dict[Group, float]]:
        """Per-host CPU rows for a window, and per group the number of hosts that served."""
        ...


@dataclass(frozen=True)
class DetectionPass:
    """One detection pass: when it runs and what the detectors before this one found."""

    now: datetime
    earlier: tuple[Finding, ...] = ()
    """Findings of the detectors that ran before this one in the same pass."""
    saturation_symptoms: frozenset[AnomalyKind] = frozenset()
    """The kinds a hot CPU in the same place explains (see `Detector.saturation_symptom`)."""

    def strained(self) -> set[Group]:
        """Service/regions where an earlier detector found a symptom of saturation."""
        return {
            (f.anomaly.service, f.anomaly.region)
            for f in self.earlier
            if f.anomaly.kind in self.saturation_symptoms
        }


@dataclass(frozen=True)
class Remedy:
    """How well an action fixes this kind of fault when no deploy is to blame.

    Attributes:
        action: the remediation.
        effectiveness: chance it fixes the fault.
        why: the reason, with `{service}`, `{region}` and `{regions}` (healthy regions)
            filled in.
        when_log: only when the dominant new log signature is this one.
        unless_cascade: not when the hypothesis calls the fault a cascade.
        despite_deploy: holds even when a suspect deploy is live (the action works around
            the fault, not the version).
        with_deploy: (effectiveness, why) while a suspect deploy stays live; `{version}`
            names it.
    """

    action: ActionKind
    effectiveness: float
    why: str
    when_log: str | None = None
    unless_cascade: bool = False
    despite_deploy: bool = False
    with_deploy: tuple[float, str] | None = None


@dataclass(frozen=True)
class TrendSpec:
    """How a trend detector (a resource filling towards 100 %) names and bounds its trend.

    Attributes:
        what: the resource in words (`memory`, `disk`).
        signal: the anomaly's signal name.
        ttc_column: the query column with the seconds left until the resource is exhausted.
        failure: what exhaustion is called (`OOM`, `full`).
        flat_limit: percentage points a window may rise and still count as flat.
        recovered_margin: points above the normal level that still count as recovered.
        longest_window: the longest fit window, in seconds.
    """

    what: str
    signal: str
    ttc_column: str
    failure: str
    flat_limit: Callable[[DetectionTuning], float]
    recovered_margin: Callable[[DetectionTuning], float]
    longest_window: Callable[[DetectionTuning], float]


DetectFn = Callable[[DetectorHost, DetectionPass], list[Finding]]
CheckFn = Callable[[DetectorHost, Anomaly, datetime, datetime], SignalCheck]
MinutePredicate = Callable[[Row], bool]
MinuteFn = Callable[[DetectorHost, Anomaly, list[Row]], MinutePredicate | None]


@dataclass(frozen=True)
class Detector:
    """One anomaly kind, everything the agents need to know about it in one place.

    Attributes:
        kind: the anomaly kind it finds.
        query: the `esql/` query it detects with.
        signals: the canonical signals it needs (a profile that lacks one cannot feed it).
        detect: finds anomalies in one pass.
        check: re-reads the signal after an action (the Guardian's verification).
        cause_rank: inside one service and region, lower explains higher (a saturated CPU
            slows requests, not the other way round).
        critical_outcome: what happens when the signal reaches its critical threshold.
        search_words: words for the full-text search of similar past incidents.
        log_signatures: log signatures (from `investigate_error_logs.esql`) this kind shows.
        fault_signature: a log signature that names this kind as a fault of its own.
        health_metric: the health-query deviation (`cpu`, `memory`, …) that confirms it.
        quiet_logs_normal: a fault that only logs near its limit (quiet logs are no doubt).
        saturation_symptom: a hot CPU in the same place explains it (it is how saturation
            shows).
        capacity: the fault is a lack of capacity, not a defect (the cause is "capacity").
        trend: for a trend detector, how its trend is named and bounded (the onset then
            comes from the fit, not from a run of bad minutes).
        bad_minute: for non-trend kinds, which minutes of the timeline count as bad (for
            the onset); None when the anomaly carries too little to tell.
        remedies: how well each action fixes it when no deploy is to blame.
    """

    kind: AnomalyKind
    query: str
    signals: tuple[Signal, ...]
    detect: DetectFn
    check: CheckFn
    cause_rank: int
    critical_outcome: str
    search_words: str
    log_signatures: frozenset[str]
    remedies: tuple[Remedy, ...] = ()
    fault_signature: str | None = None
    health_metric: str | None = None
    quiet_logs_normal: bool = False
    saturation_symptom: bool = False
    capacity: bool = False
    trend: TrendSpec | None = None
    bad_minute: MinuteFn | None = None

    def remedy(
        self, action: ActionKind, *, dominant_log: str | None, cascade: bool
    ) -> Remedy | None:
        """The first of this kind's remedies for `action` that fits the situation."""
        for remedy in self.remedies:
            if remedy.action is not action:
                continue
            if remedy.when_log is not None and remedy.when_log != dominant_log:
                continue
            if remedy.unless_cascade and cascade:
                continue
            return remedy
        return None


def number(value: Any) -> float | None:
    """A query value as a float (None stays None)."""
    return None if value is None else float(value)


def fmt_duration(seconds: float | None) -> str:
    """A time-to-critical for people: `now`, `~12 min`, `~3.5 h` or `never`."""
    if seconds is None:
        return "never"
    if seconds <= 0:
        return "now"
    minutes = seconds / 60
    if minutes < 90:
        return f"~{minutes:.0f} min"
    return f"~{minutes / 60:.1f} h"


def margin_confidence(excess: float, samples: float) -> float:
    """Confidence from how far past its threshold a signal is (`excess` = value / threshold)
    and how many samples back it: 0.5 at the threshold, towards 1 far beyond it."""
    if excess <= 0:
        return 0.0
    size = 1.0 - 0.5 / max(1.0, excess)
    volume = samples / (samples + 5.0)
    return max(0.0, min(1.0, size * volume))


def trend_confidence(row: Mapping[str, Any]) -> float:
    """r² discounted by the slope's relative standard error (few or scattered samples)."""
    n = float(row["n"])
    r2 = float(row["r2"] or 0.0)
    slope = float(row["slope_per_s"] or 0.0)
    sxx_centered = float(row["sxx"]) - float(row["sx"]) ** 2 / n
    syy_centered = float(row["syy"]) - float(row["sy"]) ** 2 / n
    if n <= 2 or sxx_centered <= 0 or slope == 0:
        return 0.0
    residual_var = max(0.0, (1.0 - r2) * syy_centered / (n - 2))
    slope_se = math.sqrt(residual_var / sxx_centered)
    return max(0.0, min(1.0, r2 * (1.0 - min(1.0, slope_se / abs(slope)))))


def group_rows(host: DetectorHost, query: str, anomaly: Anomaly, **params: Any) -> list[Row]:
    """The rows of `query` for the anomaly's service and region."""
    return [
        r
        for r in host.run(query, **params)
        if r["service"] == anomaly.service and r["region"] == anomaly.region
    ]


def current_value(
    host: DetectorHost, query: str, anomaly: Anomaly, column: str, since: datetime, now: datetime
) -> tuple[float, int] | None:
    """The anomaly's group's `column` over [since, now), and how many samples back it, from a
    baseline-against-current query whose baseline window is left empty; None before any."""
    rows = group_rows(
        host, query, anomaly, baseline_start=since - timedelta(seconds=1), start=since, end=now
    )
    if not rows or rows[0][column] is None:
        return None
    return float(rows[0][column]), int(rows[0]["samples"])


NO_SAMPLES = SignalCheck(healthy=False, value=None, samples=0, summary="no samples yet")
"""What a check says before the window holds any sample."""
