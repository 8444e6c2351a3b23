"""Latency regression: a service's p95 latency in one region well above its baseline."""

from __future__ import annotations

from datetime import datetime, timedelta

from qs_tui.agents.detectors.base import (
    NO_SAMPLES,
    DetectionPass,
    Detector,
    DetectorHost,
    Finding,
    MinutePredicate,
    Remedy,
    Row,
    Signal,
    current_value,
    margin_confidence,
    number,
)
from qs_tui.models import ActionKind, Anomaly, AnomalyKind, SignalCheck
from qs_tui.queries import bind_params

QUERY = "latency_regression"
#: Ceiling of a healthy baseline p95 relative to the median per-minute average latency.
_P95_OVER_MEDIAN = 1.2


def detect(host: DetectorHost, detection: DetectionPass) -> list[Finding]:
    """Service/regions whose current p95 is a multiple of the baseline p95."""
    tuning = host.tuning
    now = detection.now
    start = now - timedelta(seconds=tuning.latency_window_s)
    baseline_start = host.baseline_start(start)
    findings = []
    for row in host.run(QUERY, baseline_start=baseline_start, start=start, end=now):
        current = number(row["current_p95"])
        baseline = number(row["baseline_p95"])
        samples = int(row["samples"] or 0)
        if current is None or baseline is None or samples < tuning.min_samples:
            continue
        median = host.robust_baseline((row["service"], row["region"]), "latency", start)
        if median is not None:
            # p95 of healthy samples sits ~10% above the median minute; a p95 far above that
            # comes from a regression already inside the baseline window.
            baseline = min(baseline, median * _P95_OVER_MEDIAN)
        key = (row["service"], row["region"], AnomalyKind.LATENCY_REGRESSION.value)
        remembered = host.remembered(key)
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
            confidence=margin_confidence(ratio / tuning.latency_ratio, samples),
            query=QUERY,
            params=bind_params(dict(baseline_start=baseline_start, start=start, end=now)),
            summary=summary,
        )
        findings.append(Finding(anomaly, severity=ratio))
    return findings


def _recovery_bound(host: DetectorHost, baseline: float) -> float:
    """Halfway back: the baseline times half the regression ratio's excess."""
    return baseline * (1 + (host.tuning.latency_ratio - 1) / 2)


def check(host: DetectorHost, anomaly: Anomaly, since: datetime, now: datetime) -> SignalCheck:
    """The p95 since `since` back under the recovery bound."""
    current = current_value(host, QUERY, anomaly, "current_p95", since, now)
    if current is None:
        return NO_SAMPLES
    value, samples = current
    baseline = anomaly.baseline or value
    bound = _recovery_bound(host, baseline)
    healthy = samples >= host.tuning.min_samples and value <= bound
    summary = (
        f"p95 latency on {anomaly.service}/{anomaly.region} {value:.0f} ms "
        f"(bound {bound:.0f} ms, baseline {baseline:.0f} ms) over {samples} samples"
    )
    return SignalCheck(healthy=healthy, value=value, samples=samples, summary=summary)


def bad_minute(host: DetectorHost, anomaly: Anomaly, rows: list[Row]) -> MinutePredicate | None:
    """A minute whose average latency is past the recovery bound."""
    if anomaly.baseline is None:
        return None
    bound = _recovery_bound(host, anomaly.baseline)
    return lambda row: (number(row["latency"]) or 0.0) >= bound


DETECTOR = Detector(
    kind=AnomalyKind.LATENCY_REGRESSION,
    query=QUERY,
    signals=(Signal.LATENCY_P95,),
    detect=detect,
    check=check,
    bad_minute=bad_minute,
    cause_rank=5,
    critical_outcome="requests time out",
    search_words="latency regression slow p95",
    log_signatures=frozenset({"cache", "query_plan", "timeout"}),
    saturation_symptom=True,
    remedies=(
        Remedy(ActionKind.SCALE_OUT, 0.35, "more hosts absorb slow requests"),
        Remedy(
            ActionKind.FLUSH_CACHE,
            0.9,
            "the logs show a cache miss storm; a flush rebuilds the cache",
            when_log="cache",
        ),
        Remedy(
            ActionKind.FLUSH_CACHE, 0.2, "may help if the cache is involved; the logs do not say so"
        ),
    ),
)
