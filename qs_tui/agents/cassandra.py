"""Cassandra detects and predicts: six ES|QL detectors, deduplication and cascade linking."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from qs_tui.agents.base import Agent, AgentContext
from qs_tui.models import AgentName, Anomaly, AnomalyKind, SignalCheck
from qs_tui.queries import bind_params
from qs_tui.sim.clock import iso_instant

Key = tuple[str, str, str]
Group = tuple[str, str]
Row = dict[str, Any]

#: A check starts just after `since`: a sample stamped exactly then predates an action.
_AFTER = timedelta(milliseconds=1)
#: Shortest climb worth refitting on its own (fewer samples make a noisier slope).
_MIN_REFIT_S = 180.0
#: Rounds of (onset, slope) refinement for a new trend, and when they have settled.
_REFIT_ROUNDS = 3
_ONSET_TOLERANCE_S = 30.0
#: How many windows before a trend's fit the onset search looks back for a flat stretch.
_ONSET_LOOKBACK_WINDOWS = 4
#: Ceiling of a healthy baseline p95 relative to the median per-minute average latency.
_P95_OVER_MEDIAN = 1.2

#: Inside one service/region, which kind explains the others (lower explains higher): a
#: saturated CPU slows requests and makes them time out, not the other way round.
_CAUSE_ORDER: dict[AnomalyKind, int] = {
    AnomalyKind.CPU_SATURATION: 0,
    AnomalyKind.MEMORY_LEAK: 1,
    AnomalyKind.DISK_FILL: 2,
    AnomalyKind.TRAFFIC_DROP: 3,
    AnomalyKind.ERROR_SPIKE: 4,
    AnomalyKind.LATENCY_REGRESSION: 5,
}


class DetectionTuning(BaseModel):
    """Thresholds of Cassandra's detectors; the defaults give no false positive on a noisy
    healthy day and catch every shipped fault scenario."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    leak_windows: tuple[tuple[float, float], ...] = ((300.0, 10.0), (900.0, 8.0), (1800.0, 8.0))
    """Fit windows for the memory trend as (seconds, percentage points the fitted line must
    climb across the window): short windows catch fast leaks early, the long one sees slow
    leaks. Healthy wobble climbs at most ~6 points in any of them."""
    leak_min_r2: float = Field(default=0.85, ge=0, le=1)
    """How straight the climb must be."""
    leak_horizon_s: float = Field(default=12 * 3600.0, gt=0)
    """Ignore climbs that would reach OOM later than this."""
    leak_recovered_margin: float = Field(default=5.0, gt=0)
    """Memory within this many points of its baseline counts as recovered."""
    disk_window_s: float = Field(default=1800.0, gt=0)
    """Fit window for disk usage."""
    disk_min_rise: float = Field(default=1.0, gt=0)
    """Percentage points the disk must fill across the window."""
    disk_min_r2: float = Field(default=0.9, ge=0, le=1)
    disk_horizon_s: float = Field(default=24 * 3600.0, gt=0)
    """Ignore disks that would fill later than this."""
    spike_window_s: float = Field(default=120.0, gt=0)
    """Current window of the error-rate detector (short, so spikes show within minutes)."""
    error_min_delta: float = Field(default=0.05, gt=0)
    """Smallest rise of the error rate (as a share of requests) that counts as a spike."""
    error_sigmas: float = Field(default=6.0, gt=0)
    """The rise must also exceed this many baseline standard deviations (noisy services)."""
    error_min_rps: float = Field(default=1.0, ge=0)
    """Minimum volume: average requests/s per host sample in the current window."""
    error_min_samples: int = Field(default=6, ge=1)
    error_critical: float = Field(default=0.10, gt=0, le=1)
    """Error rate at which the service counts as failing."""
    latency_window_s: float = Field(default=180.0, gt=0)
    latency_ratio: float = Field(default=1.5, gt=1)
    """Current p95 over baseline p95 that counts as a regression."""
    latency_min_increase_ms: float = Field(default=10.0, ge=0)
    latency_critical_ratio: float = Field(default=3.0, gt=1)
    """p95 this many times the baseline breaks the latency objective."""
    cpu_window_s: float = Field(default=180.0, gt=0)
    cpu_threshold: float = Field(default=85.0, gt=0, le=100)
    """A sample at or above this CPU percent is hot (healthy peaks stay below 65)."""
    cpu_min_share: float = Field(default=0.5, gt=0, le=1)
    """Share of hot samples on a host that counts as sustained saturation."""
    cpu_explains_share: float = Field(default=0.1, gt=0, le=1)
    """A smaller hot share that still counts when the same service and region shows a
    latency or error anomaly in the same pass: the saturation is then the likelier cause,
    and it is named as the root instead of its symptoms."""
    traffic_window_s: float = Field(default=180.0, gt=0)
    traffic_min_drop: float = Field(default=0.4, gt=0, lt=1)
    """Share of a region's throughput lost (against the baseline) that counts as a drop."""
    traffic_unabsorbed: float = Field(default=0.5, gt=0, le=1)
    """At least this share of the lost requests must not have moved to other regions (a
    failover moves traffic on purpose; that is not a drop)."""
    min_samples: int = Field(default=3, ge=1)
    """Samples a window needs before any verdict."""


@dataclass(frozen=True)
class _Finding:
    """A detector's raw finding for one host or service/region, before roll-up."""

    anomaly: Anomaly
    severity: float
    """Orders findings of one kind inside a group: the worst host wins."""
    detail: dict[str, Any]


def _f(value: Any) -> float | None:
    return None if value is None else float(value)


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds <= 0:
        return "now"
    minutes = seconds / 60
    if minutes < 90:
        return f"~{minutes:.0f} min"
    return f"~{minutes / 60:.1f} h"


def _trend_confidence(row: Row) -> float:
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


def _margin_confidence(excess: float, samples: float) -> float:
    """Confidence from how far past its threshold a signal is (`excess` = value / threshold)
    and how many samples back it: 0.5 at the threshold, towards 1 far beyond it."""
    if excess <= 0:
        return 0.0
    size = 1.0 - 0.5 / max(1.0, excess)
    volume = samples / (samples + 5.0)
    return max(0.0, min(1.0, size * volume))


class Cassandra(Agent):
    """Detect and predict: memory leaks, error spikes, latency regressions, CPU saturation,
    disk fill and regional traffic drops, each from an ES|QL query in `esql/`.

    Cassandra remembers what it currently sees (one anomaly per service, region and kind):
    while an anomaly lasts its baseline stays the one measured before the onset, so a long
    incident does not become "normal"; it speaks and writes the audit trail only when a
    finding is new.

    Args:
        context: the shared agent context.
        tuning: detector thresholds (defaults suit the simulator and real noisy traffic).
    """

    name = AgentName.CASSANDRA

    def __init__(self, context: AgentContext, *, tuning: DetectionTuning | None = None) -> None:
        super().__init__(context)
        self.tuning = tuning or DetectionTuning()
        self._active: dict[Key, Anomaly] = {}
        self._spreads: dict[Key, float] = {}
        self._traffic_baselines: dict[str, dict[str, float]] = {}
        self._timeline: dict[Group, list[Row]] = {}

    # ---- public API ---------------------------------------------------------------------

    @property
    def active(self) -> dict[Key, Anomaly]:
        """The anomalies seen in the last pass, by key."""
        return dict(self._active)

    def detect(self) -> list[Anomaly]:
        """Run every detector for the window ending now.

        Returns:
            One anomaly per (service, region, kind), roots first; a symptom (of a cascade
            along the dependency graph, or of another kind in the same service and region)
            carries `symptom_of` = its root's key.
        """
        now = self.now
        longest = max(
            self.tuning.spike_window_s, self.tuning.latency_window_s, self.tuning.traffic_window_s
        )
        self._timeline = self._minutes(self._baseline_start(now - self._span(longest)), now)
        findings: list[_Finding] = []
        findings += self._detect_leaks(now)
        findings += self._detect_disk(now)
        findings += self._detect_errors(now)
        findings += self._detect_latency(now)
        cpu_rows, hosts_now = self._cpu_rows(now - self._span(self.tuning.cpu_window_s), now)
        strained = {
            (f.anomaly.service, f.anomaly.region)
            for f in findings
            if f.anomaly.kind in (AnomalyKind.ERROR_SPIKE, AnomalyKind.LATENCY_REGRESSION)
        }
        findings += self._detect_cpu(now, cpu_rows, strained)
        findings += self._detect_traffic(now, hosts_now)
        anomalies = self._roll_up(findings)
        anomalies = self._estimate_onsets(now, anomalies)
        anomalies = self._link(anomalies)
        self._report(anomalies)
        return anomalies

    def check(self, anomaly: Anomaly, *, since: datetime) -> SignalCheck:
        """Re-read `anomaly`'s signal over [since, now): is it back within bounds?

        Args:
            anomaly: a finding of `detect()`.
            since: start of the window (usually when the remediation finished).

        Returns:
            Whether the signal is healthy, its current value and how many samples said so.
        """
        now = self.now
        # A sample stamped exactly at `since` was written before an action taken then.
        after = since + _AFTER
        if after >= now:
            return SignalCheck(healthy=False, value=None, samples=0, summary="no samples yet")
        checker = _CHECKS[anomaly.kind]
        return checker(self, anomaly, after, now)

    # ---- helpers ------------------------------------------------------------------------

    @staticmethod
    def _span(seconds: float) -> timedelta:
        return timedelta(seconds=seconds)

    def _baseline_start(self, start: datetime) -> datetime:
        return start - self._span(self.context.settings.baseline_s)

    def _run(self, name: str, **params: Any) -> list[Row]:
        return self.query(name, **params).records()

    def _remembered(self, kind: AnomalyKind, service: str, region: str) -> Anomaly | None:
        return self._active.get((service, region, kind.value))

    def _robust_baseline(self, group: Group, column: str, start: datetime) -> float | None:
        """Median of the per-minute averages of `column` before `start` (`metrics_timeline`).

        A fault already underway when Cassandra first looks pollutes a baseline window's mean,
        standard deviation and p95; the median of its minutes holds until half of them are bad.
        """
        stamp = iso_instant(start)
        values = sorted(
            float(row[column])
            for row in self._timeline.get(group, [])
            if row[column] is not None and str(row["minute"]) < stamp
        )
        if len(values) < self.tuning.min_samples:
            return None
        middle = len(values) // 2
        if len(values) % 2:
            return values[middle]
        return (values[middle - 1] + values[middle]) / 2

    def _dropping(self, service: str) -> bool:
        """Whether a traffic drop of `service` was seen in the last pass."""
        return any(k[0] == service and k[2] == AnomalyKind.TRAFFIC_DROP.value for k in self._active)

    # ---- memory leak --------------------------------------------------------------------

    def _detect_leaks(self, now: datetime) -> list[_Finding]:
        tuning = self.tuning
        best: dict[str, tuple[Row, float]] = {}
        for window_s, min_rise in tuning.leak_windows:
            start = now - self._span(window_s)
            for row in self._run("memory_leak", start=start, end=now):
                slope = _f(row["slope_per_s"]) or 0.0
                r2 = _f(row["r2"]) or 0.0
                to_oom = _f(row["seconds_to_oom"])
                if row["n"] < tuning.min_samples or slope <= 0:
                    continue
                if slope * window_s < min_rise or r2 < tuning.leak_min_r2:
                    continue
                if to_oom is None or to_oom > tuning.leak_horizon_s:
                    continue
                seen = best.get(row["host"])
                if seen is None or _trend_confidence(row) > _trend_confidence(seen[0]):
                    best[row["host"]] = (row, window_s)
        findings = []
        for row, window_s in best.values():
            start = now - self._span(window_s)
            findings.append(
                self._trend_finding(
                    AnomalyKind.MEMORY_LEAK,
                    "memory_percent",
                    "memory_leak",
                    row,
                    start=start,
                    end=now,
                    ttc_column="seconds_to_oom",
                    failure="OOM",
                )
            )
        return findings

    def _trend_finding(
        self,
        kind: AnomalyKind,
        signal: str,
        query: str,
        row: Row,
        *,
        start: datetime,
        end: datetime,
        ttc_column: str,
        failure: str,
    ) -> _Finding:
        slope = float(row["slope_per_s"])
        value = float(row["projected_at_end"])
        ttc = max(0.0, float(row[ttc_column]))
        confidence = _trend_confidence(row)
        what = "memory" if kind is AnomalyKind.MEMORY_LEAK else "disk"
        summary = (
            f"{what} on {row['host']} climbs {slope * 60:.2f} %/min (r²={float(row['r2']):.2f}, "
            f"n={row['n']}); now {value:.1f}%, {failure} in {_fmt_duration(ttc)}"
        )
        anomaly = Anomaly(
            kind=kind,
            service=row["service"],
            region=row["region"],
            host=row["host"],
            signal=signal,
            detected_at=end,
            onset_at=start,
            value=value,
            critical_threshold=100.0,
            slope_per_s=slope,
            time_to_critical_s=ttc,
            confidence=confidence,
            query=query,
            params=bind_params(dict(start=start, end=end)),
            summary=summary,
        )
        return _Finding(anomaly, severity=-ttc, detail={"window_s": (end - start).total_seconds()})

    # ---- disk fill ----------------------------------------------------------------------

    def _detect_disk(self, now: datetime) -> list[_Finding]:
        tuning = self.tuning
        start = now - self._span(tuning.disk_window_s)
        findings = []
        for row in self._run("disk_fill", start=start, end=now):
            slope = _f(row["slope_per_s"]) or 0.0
            to_full = _f(row["seconds_to_full"])
            if row["n"] < tuning.min_samples or slope <= 0 or to_full is None:
                continue
            if slope * tuning.disk_window_s < tuning.disk_min_rise:
                continue
            if (_f(row["r2"]) or 0.0) < tuning.disk_min_r2 or to_full > tuning.disk_horizon_s:
                continue
            findings.append(
                self._trend_finding(
                    AnomalyKind.DISK_FILL,
                    "disk_percent",
                    "disk_fill",
                    row,
                    start=start,
                    end=now,
                    ttc_column="seconds_to_full",
                    failure="full",
                )
            )
        return findings

    # ---- CPU saturation -----------------------------------------------------------------

    def _cpu_rows(self, start: datetime, end: datetime) -> tuple[list[Row], dict[Group, float]]:
        """Per-host CPU rows for a window, and per group the number of hosts that served
        (sum of samples over the most samples of one host: a host added midway counts in
        part)."""
        rows = self._run(
            "cpu_saturation", start=start, end=end, threshold=self.tuning.cpu_threshold
        )
        samples: dict[Group, list[int]] = {}
        for row in rows:
            samples.setdefault((row["service"], row["region"]), []).append(int(row["samples"]))
        hosts = {g: sum(counts) / max(counts) for g, counts in samples.items() if max(counts) > 0}
        return rows, hosts

    def _detect_cpu(self, now: datetime, rows: list[Row], strained: set[Group]) -> list[_Finding]:
        tuning = self.tuning
        start = now - self._span(tuning.cpu_window_s)
        findings = []
        for row in rows:
            share = _f(row["hot_share"]) or 0.0
            samples = int(row["samples"])
            needed = tuning.cpu_min_share
            if (row["service"], row["region"]) in strained:
                needed = tuning.cpu_explains_share
            if samples < tuning.min_samples or share < needed:
                continue
            avg = float(row["avg_cpu"])
            summary = (
                f"CPU on {row['host']} ≥ {tuning.cpu_threshold:.0f}% in {share:.0%} of "
                f"{samples} samples over {tuning.cpu_window_s / 60:.0f} min "
                f"(avg {avg:.1f}%, peak {float(row['peak_cpu']):.1f}%)"
            )
            anomaly = Anomaly(
                kind=AnomalyKind.CPU_SATURATION,
                service=row["service"],
                region=row["region"],
                host=row["host"],
                signal="cpu_percent",
                detected_at=now,
                onset_at=start,
                value=avg,
                critical_threshold=tuning.cpu_threshold,
                time_to_critical_s=0.0 if avg >= tuning.cpu_threshold else None,
                confidence=_margin_confidence(share / needed, samples) * min(1.0, share / 0.5),
                query="cpu_saturation",
                params=bind_params(dict(start=start, end=now, threshold=tuning.cpu_threshold)),
                summary=summary,
            )
            findings.append(_Finding(anomaly, severity=share * 100 + avg, detail={}))
        return findings

    # ---- error-rate spike ---------------------------------------------------------------

    def _error_threshold(self, baseline_sd: float) -> float:
        return max(self.tuning.error_min_delta, self.tuning.error_sigmas * baseline_sd)

    def _detect_errors(self, now: datetime) -> list[_Finding]:
        tuning = self.tuning
        start = now - self._span(tuning.spike_window_s)
        baseline_start = self._baseline_start(start)
        findings = []
        rows = self._run("error_spike", baseline_start=baseline_start, start=start, end=now)
        for row in rows:
            samples = int(row["samples"] or 0)
            current = _f(row["current_rate"])
            baseline = _f(row["baseline_rate"])
            if current is None or baseline is None or samples < tuning.error_min_samples:
                continue
            rps = float(row["current_requests"] or 0.0) / samples
            if rps < tuning.error_min_rps:
                continue  # too little traffic for a rate to mean anything
            spread = _f(row["baseline_sd"]) or 0.0
            group = (row["service"], row["region"])
            median = self._robust_baseline(group, "errors", start)
            if median is not None and baseline - median > tuning.error_min_delta / 4:
                # The baseline window already holds part of the spike: trust its median and
                # the floor, not a mean and spread inflated by the spike itself.
                baseline, spread = median, 0.0
            key = (row["service"], row["region"], AnomalyKind.ERROR_SPIKE.value)
            remembered = self._active.get(key)
            if remembered is not None and remembered.baseline is not None:
                # Keep the pre-incident baseline while the spike lasts.
                baseline, spread = remembered.baseline, self._spreads.get(key, spread)
            threshold = self._error_threshold(spread)
            delta = current - baseline
            if delta < threshold:
                continue
            summary = (
                f"error rate on {row['service']}/{row['region']} {current:.1%} vs "
                f"{baseline:.2%} baseline (+{delta * 100:.1f} pts; bound +{threshold * 100:.1f} "
                f"pts = max(floor, {tuning.error_sigmas:.0f}σ)) over "
                f"{tuning.spike_window_s / 60:.0f} min at {rps:.0f} req/s per host"
            )
            anomaly = Anomaly(
                kind=AnomalyKind.ERROR_SPIKE,
                service=row["service"],
                region=row["region"],
                signal="error_rate",
                detected_at=now,
                onset_at=start,
                value=current,
                baseline=baseline,
                critical_threshold=tuning.error_critical,
                time_to_critical_s=0.0 if current >= tuning.error_critical else None,
                confidence=_margin_confidence(delta / threshold, samples),
                query="error_spike",
                params=bind_params(dict(baseline_start=baseline_start, start=start, end=now)),
                summary=summary,
            )
            findings.append(_Finding(anomaly, severity=delta, detail={"spread": spread}))
        return findings

    # ---- latency regression -------------------------------------------------------------

    def _detect_latency(self, now: datetime) -> list[_Finding]:
        tuning = self.tuning
        start = now - self._span(tuning.latency_window_s)
        baseline_start = self._baseline_start(start)
        findings = []
        rows = self._run("latency_regression", baseline_start=baseline_start, start=start, end=now)
        for row in rows:
            current = _f(row["current_p95"])
            baseline = _f(row["baseline_p95"])
            samples = int(row["samples"] or 0)
            if current is None or baseline is None or samples < tuning.min_samples:
                continue
            median = self._robust_baseline((row["service"], row["region"]), "latency", start)
            if median is not None:
                # p95 of healthy samples sits ~10% above the median minute; a p95 far above
                # that comes from a regression already inside the baseline window.
                baseline = min(baseline, median * _P95_OVER_MEDIAN)
            remembered = self._remembered(
                AnomalyKind.LATENCY_REGRESSION, row["service"], row["region"]
            )
            if remembered is not None and remembered.baseline is not None:
                baseline = remembered.baseline
            ratio = current / max(baseline, 1.0)
            if ratio < tuning.latency_ratio:
                continue
            if current - baseline < tuning.latency_min_increase_ms:
                continue
            critical = baseline * tuning.latency_critical_ratio
            summary = (
                f"p95 latency on {row['service']}/{row['region']} {current:.0f} ms vs "
                f"{baseline:.0f} ms baseline ({ratio:.1f}×) over "
                f"{tuning.latency_window_s / 60:.0f} min, {samples} samples"
            )
            anomaly = Anomaly(
                kind=AnomalyKind.LATENCY_REGRESSION,
                service=row["service"],
                region=row["region"],
                signal="latency_p95_ms",
                detected_at=now,
                onset_at=start,
                value=current,
                baseline=baseline,
                critical_threshold=critical,
                time_to_critical_s=0.0 if current >= critical else None,
                confidence=_margin_confidence(ratio / tuning.latency_ratio, samples),
                query="latency_regression",
                params=bind_params(dict(baseline_start=baseline_start, start=start, end=now)),
                summary=summary,
            )
            findings.append(_Finding(anomaly, severity=ratio, detail={}))
        return findings

    # ---- regional traffic drop ----------------------------------------------------------

    def _throughput(
        self,
        baseline_start: datetime,
        start: datetime,
        end: datetime,
        hosts_now: dict[Group, float] | None = None,
        *,
        robust: bool = False,
    ) -> dict[Group, tuple[float, float, int]]:
        """Per group: (baseline, current) requests/s of the whole group, and current samples.

        The query averages per host sample; multiplying by the hosts that served keeps a
        scale-out (more hosts, fewer requests each) from looking like lost traffic. With
        `robust` (detection), baselines also resist a drop already inside their window.
        """
        rows = self._run("traffic_drop", baseline_start=baseline_start, start=start, end=end)
        if hosts_now is None:
            _, hosts_now = self._cpu_rows(start, end)
        # Host counts of the baseline window cost a query; only a group whose traffic per
        # host fell far enough to matter (or a check) needs them.
        hosts_before: dict[Group, float] = hosts_now
        if not robust or any(
            (_f(r["current_rps"]) or 0.0)
            < (_f(r["baseline_rps"]) or 0.0) * (1 - self.tuning.traffic_min_drop)
            for r in rows
        ):
            _, hosts_before = self._cpu_rows(baseline_start, start)
        out: dict[Group, tuple[float, float, int]] = {}
        for row in rows:
            group = (row["service"], row["region"])
            baseline_rps = _f(row["baseline_rps"]) or 0.0  # none: a window that only checks
            median = self._robust_baseline(group, "rps", start) if robust else None
            if median is not None and baseline_rps > 0:
                # A drop already inside the baseline window lowers its mean, not its median.
                baseline_rps = max(baseline_rps, median)
            current_rps = _f(row["current_rps"])
            if current_rps is None:
                continue
            out[group] = (
                baseline_rps * hosts_before.get(group, 1.0),
                current_rps * hosts_now.get(group, 1.0),
                int(row["samples"] or 0),
            )
        return out

    def _detect_traffic(self, now: datetime, hosts_now: dict[Group, float]) -> list[_Finding]:
        tuning = self.tuning
        start = now - self._span(tuning.traffic_window_s)
        baseline_start = self._baseline_start(start)
        same_window = tuning.traffic_window_s == tuning.cpu_window_s
        throughput = self._throughput(
            baseline_start, start, now, hosts_now if same_window else None, robust=True
        )
        # While a drop lasts, every region of its service keeps the throughput measured
        # before it as baseline (otherwise the drop slowly becomes "normal").
        for (service, region), (_, current, samples) in list(throughput.items()):
            before = self._traffic_baselines.get(service, {}) if self._dropping(service) else {}
            if region in before:
                throughput[(service, region)] = (before[region], current, samples)
        findings = []
        for (service, region), (baseline, current, samples) in throughput.items():
            if samples < tuning.min_samples or baseline <= 0:
                continue
            lost = baseline - current
            if lost / baseline < tuning.traffic_min_drop:
                continue
            gained = sum(
                max(0.0, other_now - other_before)
                for (other_service, other_region), (other_before, other_now, _) in (
                    throughput.items()
                )
                if other_service == service and other_region != region
            )
            unabsorbed = max(0.0, lost - gained) / lost
            if unabsorbed < tuning.traffic_unabsorbed:
                continue  # the requests went to other regions (a failover), not away
            drop = lost / baseline
            summary = (
                f"traffic on {service}/{region} down {drop:.0%} ({current:.0f} req/s vs "
                f"{baseline:.0f} req/s baseline over {tuning.traffic_window_s / 60:.0f} min); "
                f"{1 - unabsorbed:.0%} of the loss absorbed by other regions"
            )
            anomaly = Anomaly(
                kind=AnomalyKind.TRAFFIC_DROP,
                service=service,
                region=region,
                signal="requests_per_s",
                detected_at=now,
                onset_at=start,
                value=current,
                baseline=baseline,
                critical_threshold=baseline * (1.0 - tuning.traffic_min_drop),
                time_to_critical_s=0.0,
                confidence=_margin_confidence(drop / tuning.traffic_min_drop, samples) * unabsorbed,
                query="traffic_drop",
                params=bind_params(dict(baseline_start=baseline_start, start=start, end=now)),
                summary=summary,
            )
            regional = {r: b for (s, r), (b, _, _) in throughput.items() if s == service}
            findings.append(_Finding(anomaly, severity=drop, detail={"regional": regional}))
        return findings

    # ---- roll-up, onset, cascade ----------------------------------------------------------

    def _roll_up(self, findings: Iterable[_Finding]) -> list[Anomaly]:
        """One anomaly per (service, region, kind): the worst host names the group."""
        by_key: dict[Key, list[_Finding]] = {}
        for finding in findings:
            by_key.setdefault(finding.anomaly.key, []).append(finding)
        anomalies = []
        for key, group in by_key.items():
            group.sort(key=lambda f: (-f.severity, f.anomaly.host or ""))
            worst = group[0]
            anomaly = worst.anomaly
            if len(group) > 1:
                anomaly = anomaly.model_copy(
                    update={"summary": f"{anomaly.summary} [{len(group)} hosts affected]"}
                )
            # Baselines measured when a finding is new stay with it (detection and checks).
            if "spread" in worst.detail and key not in self._active:
                self._spreads[key] = float(worst.detail["spread"])
            if "regional" in worst.detail and not self._dropping(key[0]):
                self._traffic_baselines[key[0]] = dict(worst.detail["regional"])
            anomalies.append(anomaly)
        return anomalies

    def _estimate_onsets(self, now: datetime, anomalies: list[Anomaly]) -> list[Anomaly]:
        """Onset: from the fit for trends, else the first bad minute of the trailing run."""
        if not anomalies:
            return anomalies
        out = []
        for anomaly in anomalies:
            trend = anomaly.kind in (AnomalyKind.MEMORY_LEAK, AnomalyKind.DISK_FILL)
            known = self._active.get(anomaly.key)
            if known is not None:
                onset = known.onset_at
                if trend:
                    anomaly = self._refit(anomaly, onset, now)
                    anomaly = anomaly.model_copy(update={"baseline": known.baseline})
            elif trend:
                onset, level = self._trend_onset(anomaly, now)
                anomaly = self._refit(anomaly, onset, now)
                if level is not None:
                    # The steeper refit moves the crossing with the normal level later: a few
                    # rounds settle onset and slope together.
                    for _ in range(_REFIT_ROUNDS):
                        slope = anomaly.slope_per_s or 0.0
                        crossing = now - self._span(max(0.0, (anomaly.value - level) / slope))
                        if abs((crossing - onset).total_seconds()) < _ONSET_TOLERANCE_S:
                            break
                        onset = max(onset, crossing)
                        anomaly = self._refit(anomaly, onset, now)
                    anomaly = anomaly.model_copy(update={"baseline": level})
            else:
                rows = self._timeline.get((anomaly.service, anomaly.region), [])
                onset = self._run_onset(anomaly, rows)
            out.append(anomaly.model_copy(update={"onset_at": min(onset, now)}))
        return out

    def _minutes(self, start: datetime, end: datetime) -> dict[Group, list[Row]]:
        series: dict[Group, list[Row]] = {}
        for row in self._run("metrics_timeline", start=start, end=end):
            series.setdefault((row["service"], row["region"]), []).append(row)
        for rows in series.values():
            rows.sort(key=lambda r: str(r["minute"]))
        return series

    def _run_onset(self, anomaly: Anomaly, rows: list[Row]) -> datetime:
        """Start of the earliest minute of the bad run that reaches the present."""
        bad = self._minute_predicate(anomaly, rows)
        onset = anomaly.onset_at
        misses = 0
        for row in reversed(rows):
            if bad(row):
                onset = _parse_time(str(row["minute"]))
                misses = 0
            else:
                misses += 1
                # The newest bucket may hold a few seconds only; one good minute ends a run.
                if misses > 1 or onset != anomaly.onset_at:
                    break
        return onset

    def _minute_predicate(self, anomaly: Anomaly, rows: list[Row]) -> Callable[[Row], bool]:
        tuning = self.tuning
        baseline = anomaly.baseline
        kind = anomaly.kind
        if kind is AnomalyKind.ERROR_SPIKE and baseline is not None:
            bound = baseline + self._error_threshold(self._spreads.get(anomaly.key, 0.0)) / 2
            return lambda row: (_f(row["errors"]) or 0.0) >= bound
        if kind is AnomalyKind.LATENCY_REGRESSION and baseline is not None:
            bound = baseline * (1 + (tuning.latency_ratio - 1) / 2)
            return lambda row: (_f(row["latency"]) or 0.0) >= bound
        if kind is AnomalyKind.CPU_SATURATION:
            bound = tuning.cpu_threshold * 0.85
            return lambda row: (_f(row["cpu"]) or 0.0) >= bound
        if kind is AnomalyKind.TRAFFIC_DROP and baseline:
            # The timeline averages per host while the anomaly counts the whole group: scale
            # the newest minutes' per-host level back to before the drop, and call a minute
            # bad when it sits below the midpoint of the two.
            ratio = max(anomaly.value / baseline, 1e-6)
            recent = [_f(r["rps"]) or 0.0 for r in rows[-2:]]
            now_level = min(recent) if recent else 0.0
            cut = (now_level + now_level / ratio) / 2
            return lambda row: (_f(row["rps"]) or 0.0) <= cut
        return lambda row: False

    def _trend_onset(self, anomaly: Anomaly, now: datetime) -> tuple[datetime, float | None]:
        """Where the fitted line left the level the host held before the climb, and that level.

        Walks back window by window (same length as the fit) to the newest flat one; its
        mean is the normal level, and the fitted line crosses it at the onset.
        """
        window = now - anomaly.onset_at
        fit_start = now - window
        query = "memory_leak" if anomaly.kind is AnomalyKind.MEMORY_LEAK else "disk_fill"
        slope = anomaly.slope_per_s or 0.0
        if slope <= 0:
            return fit_start, None
        end = fit_start
        for _ in range(_ONSET_LOOKBACK_WINDOWS):
            start = end - window
            rows = [r for r in self._run(query, start=start, end=end) if r["host"] == anomaly.host]
            if not rows:
                return end, None
            earlier = rows[0]
            rise = (_f(earlier["slope_per_s"]) or 0.0) * window.total_seconds()
            if abs(rise) < self._flat_limit(anomaly.kind):
                level = float(earlier["sy"]) / float(earlier["n"])
                onset = now - self._span(max(0.0, (anomaly.value - level) / slope))
                return max(start + window / 2, min(now, onset)), level
            end = start
        return end, None

    def _refit(self, anomaly: Anomaly, onset: datetime, now: datetime) -> Anomaly:
        """The trend refitted over [onset, now): a fit that starts on the flat part before
        the climb understates the slope and so overstates the time left."""
        # Only when the fit window began before the climb did (else it is all climb already).
        if onset <= anomaly.onset_at or (now - onset).total_seconds() < _MIN_REFIT_S:
            return anomaly
        query = anomaly.query
        rows = [r for r in self._run(query, start=onset, end=now) if r["host"] == anomaly.host]
        if not rows or (_f(rows[0]["slope_per_s"]) or 0.0) <= (anomaly.slope_per_s or 0.0):
            return anomaly
        kind = anomaly.kind
        refit = self._trend_finding(
            kind,
            anomaly.signal,
            query,
            rows[0],
            start=onset,
            end=now,
            ttc_column="seconds_to_oom" if kind is AnomalyKind.MEMORY_LEAK else "seconds_to_full",
            failure="OOM" if kind is AnomalyKind.MEMORY_LEAK else "full",
        ).anomaly
        suffix = anomaly.summary[len(anomaly.summary.split(" [")[0]) :]
        return refit.model_copy(update={"summary": refit.summary + suffix})

    def _flat_limit(self, kind: AnomalyKind) -> float:
        tuning = self.tuning
        if kind is AnomalyKind.MEMORY_LEAK:
            return min(rise for _, rise in tuning.leak_windows) / 2
        return tuning.disk_min_rise

    def _link(self, anomalies: list[Anomaly]) -> list[Anomaly]:
        """Mark symptoms: other kinds in the same service/region, then cascades upstream."""
        by_group: dict[Group, list[Anomaly]] = {}
        for anomaly in anomalies:
            by_group.setdefault((anomaly.service, anomaly.region), []).append(anomaly)
        parent: dict[Key, Key] = {}
        roots: list[Anomaly] = []
        for members in by_group.values():
            members.sort(key=lambda a: (_CAUSE_ORDER[a.kind], a.onset_at))
            roots.append(members[0])
            for other in members[1:]:
                parent[other.key] = members[0].key
        topology = self.context.topology
        remaining = sorted(roots, key=lambda a: (a.onset_at, a.service, a.region))
        while remaining:
            candidates = [
                a
                for a in remaining
                if any(_depends(topology, b, a) for b in remaining if b is not a)
            ]
            if not candidates:
                break
            root = min(candidates, key=lambda a: (a.onset_at, a.service))
            followers = [b for b in remaining if b is not root and _depends(topology, b, root)]
            for follower in followers:
                parent[follower.key] = root.key
            remaining = [a for a in remaining if a is not root and a not in followers]

        def ultimate(key: Key) -> Key:
            seen = set()
            while key in parent and key not in seen:
                seen.add(key)
                key = parent[key]
            return key

        linked = []
        for anomaly in anomalies:
            if anomaly.key in parent:
                anomaly = anomaly.model_copy(update={"symptom_of": ultimate(anomaly.key)})
            linked.append(anomaly)
        linked.sort(key=lambda a: (a.symptom_of is not None, a.onset_at, a.service, a.region))
        return linked

    def _report(self, anomalies: list[Anomaly]) -> None:
        """Speak about new findings and record them; forget the ones that cleared."""
        current = {a.key: a for a in anomalies}
        for key, anomaly in current.items():
            previous = self._active.get(key)
            if previous is not None and previous.symptom_of == anomaly.symptom_of:
                continue
            data = {
                "kind": anomaly.kind.value,
                "service": anomaly.service,
                "region": anomaly.region,
                "host": anomaly.host,
                "value": anomaly.value,
                "baseline": anomaly.baseline,
                "time_to_critical_s": anomaly.time_to_critical_s,
                "confidence": round(anomaly.confidence, 3),
                "onset_at": iso_instant(anomaly.onset_at),
                "query": anomaly.query,
            }
            text = anomaly.summary
            if anomaly.symptom_of is not None:
                text += f" — symptom of {anomaly.symptom_of[2]} on {anomaly.symptom_of[0]}"
                text += f"/{anomaly.symptom_of[1]}"
            level = "warn" if anomaly.symptom_of is None else "info"
            self.say(text, level=level, data=data)
            decision = "detected" if anomaly.symptom_of is None else "linked_symptom"
            self.decide(decision, text, incident_id=None, confidence=anomaly.confidence)
        self._active = current

    # ---- checks (Guardian's verification) ------------------------------------------------

    def _check_trend(self, anomaly: Anomaly, since: datetime, now: datetime) -> SignalCheck:
        query = "memory_leak" if anomaly.kind is AnomalyKind.MEMORY_LEAK else "disk_fill"
        rows = [
            r
            for r in self._run(query, start=since, end=now)
            if r["service"] == anomaly.service
            and r["region"] == anomaly.region
            and (anomaly.host is None or r["host"] == anomaly.host)
        ]
        if not rows:
            return SignalCheck(healthy=False, value=None, samples=0, summary="no samples yet")
        row = max(rows, key=lambda r: float(r["projected_at_end"]))
        samples = int(row["n"])
        value = float(row["projected_at_end"])
        slope = float(row["slope_per_s"])
        what = "memory" if anomaly.kind is AnomalyKind.MEMORY_LEAK else "disk"
        reference = anomaly.baseline
        if reference is None:
            reference = anomaly.value - (anomaly.slope_per_s or 0.0) * max(
                0.0, (anomaly.detected_at - anomaly.onset_at).total_seconds()
            )
        margin = (
            self.tuning.leak_recovered_margin
            if anomaly.kind is AnomalyKind.MEMORY_LEAK
            else self.tuning.disk_min_rise * 2
        )
        dropped = value <= reference + margin
        longest = (
            max(w for w, _ in self.tuning.leak_windows)
            if what == "memory"
            else self.tuning.disk_window_s
        )
        flat_limit = self._flat_limit(anomaly.kind) / longest
        flat = samples >= 30 and slope <= flat_limit
        healthy = samples >= self.tuning.min_samples and (dropped or flat)
        summary = (
            f"{what} on {row['host']} {value:.1f}% (normal ~{reference:.1f}%), "
            f"{slope * 60:+.2f} %/min over {samples} samples: "
            + ("recovered" if healthy else "still climbing")
        )
        return SignalCheck(healthy=healthy, value=value, samples=samples, summary=summary)

    def _check_errors(self, anomaly: Anomaly, since: datetime, now: datetime) -> SignalCheck:
        rows = self._group_rows(
            "error_spike",
            anomaly,
            baseline_start=since - timedelta(seconds=1),
            start=since,
            end=now,
        )
        if not rows or rows[0]["current_rate"] is None:
            return SignalCheck(healthy=False, value=None, samples=0, summary="no samples yet")
        row = rows[0]
        value = float(row["current_rate"])
        samples = int(row["samples"])
        baseline = anomaly.baseline or 0.0
        bound = baseline + self._error_threshold(self._spreads.get(anomaly.key, 0.0)) / 2
        healthy = samples >= self.tuning.min_samples and value <= bound
        summary = (
            f"error rate on {anomaly.service}/{anomaly.region} {value:.2%} "
            f"(bound {bound:.2%}, baseline {baseline:.2%}) over {samples} samples"
        )
        return SignalCheck(healthy=healthy, value=value, samples=samples, summary=summary)

    def _check_latency(self, anomaly: Anomaly, since: datetime, now: datetime) -> SignalCheck:
        rows = self._group_rows(
            "latency_regression",
            anomaly,
            baseline_start=since - timedelta(seconds=1),
            start=since,
            end=now,
        )
        if not rows or rows[0]["current_p95"] is None:
            return SignalCheck(healthy=False, value=None, samples=0, summary="no samples yet")
        row = rows[0]
        value = float(row["current_p95"])
        samples = int(row["samples"])
        baseline = anomaly.baseline or value
        bound = baseline * (1 + (self.tuning.latency_ratio - 1) / 2)
        healthy = samples >= self.tuning.min_samples and value <= bound
        summary = (
            f"p95 latency on {anomaly.service}/{anomaly.region} {value:.0f} ms "
            f"(bound {bound:.0f} ms, baseline {baseline:.0f} ms) over {samples} samples"
        )
        return SignalCheck(healthy=healthy, value=value, samples=samples, summary=summary)

    def _check_cpu(self, anomaly: Anomaly, since: datetime, now: datetime) -> SignalCheck:
        tuning = self.tuning
        rows, _ = self._cpu_rows(since, now)
        rows = [r for r in rows if (r["service"], r["region"]) == (anomaly.service, anomaly.region)]
        if not rows:
            return SignalCheck(healthy=False, value=None, samples=0, summary="no samples yet")
        worst = max(rows, key=lambda r: (float(r["hot_share"] or 0.0), float(r["avg_cpu"])))
        share = float(worst["hot_share"] or 0.0)
        value = float(worst["avg_cpu"])
        samples = sum(int(r["samples"]) for r in rows)
        healthy = (
            samples >= tuning.min_samples
            and share < tuning.cpu_min_share / 2
            and value < tuning.cpu_threshold
        )
        summary = (
            f"CPU on {anomaly.service}/{anomaly.region}: worst host {worst['host']} avg "
            f"{value:.1f}%, {share:.0%} of samples ≥ {tuning.cpu_threshold:.0f}% "
            f"({len(rows)} hosts)"
        )
        return SignalCheck(healthy=healthy, value=value, samples=samples, summary=summary)

    def _check_traffic(self, anomaly: Anomaly, since: datetime, now: datetime) -> SignalCheck:
        throughput = self._throughput(since - timedelta(seconds=1), since, now)
        group = (anomaly.service, anomaly.region)
        if group not in throughput:
            return SignalCheck(healthy=False, value=None, samples=0, summary="no samples yet")
        _, current, samples = throughput[group]
        baseline = anomaly.baseline or current
        before = self._traffic_baselines.get(anomaly.service, {anomaly.region: baseline})
        service_before = sum(before.values())
        service_now = sum(c for (s, _), (_, c, _) in throughput.items() if s == anomaly.service)
        regional_ok = current >= baseline * (1 - self.tuning.traffic_min_drop / 2)
        served_ok = service_now >= service_before * (1 - self.tuning.traffic_min_drop / 2) and (
            len(before) > 1
        )
        healthy = samples >= self.tuning.min_samples and (regional_ok or served_ok)
        summary = (
            f"traffic on {anomaly.service}/{anomaly.region} {current:.0f} req/s "
            f"(baseline {baseline:.0f}); service-wide {service_now:.0f} vs "
            f"{service_before:.0f} req/s"
        )
        return SignalCheck(healthy=healthy, value=current, samples=samples, summary=summary)

    def _group_rows(self, query: str, anomaly: Anomaly, **params: datetime) -> list[Row]:
        return [
            r
            for r in self._run(query, **params)
            if r["service"] == anomaly.service and r["region"] == anomaly.region
        ]


def _depends(topology: Any, dependent: Anomaly, upstream: Anomaly) -> bool:
    """Whether `dependent` can be a symptom of `upstream`: same region, its service calls
    `upstream`'s (directly or not), and it did not start clearly before it."""
    if dependent.region != upstream.region or dependent.service == upstream.service:
        return False
    if dependent.service not in topology.dependents(upstream.service):
        return False
    return dependent.onset_at >= upstream.onset_at - timedelta(seconds=60)


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


_CHECKS: dict[AnomalyKind, Callable[[Cassandra, Anomaly, datetime, datetime], SignalCheck]] = {
    AnomalyKind.MEMORY_LEAK: Cassandra._check_trend,
    AnomalyKind.DISK_FILL: Cassandra._check_trend,
    AnomalyKind.ERROR_SPIKE: Cassandra._check_errors,
    AnomalyKind.LATENCY_REGRESSION: Cassandra._check_latency,
    AnomalyKind.CPU_SATURATION: Cassandra._check_cpu,
    AnomalyKind.TRAFFIC_DROP: Cassandra._check_traffic,
}

__all__ = ["Cassandra", "DetectionTuning"]
