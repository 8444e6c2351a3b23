"""Error spike: a service's error rate in one region well above its baseline."""

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
from qs_tui.agents.detectors.tuning import DetectionTuning
from qs_tui.models import ActionKind, Anomaly, AnomalyKind, SignalCheck
from qs_tui.queries import bind_params

QUERY = "error_spike"


def threshold(tuning: DetectionTuning, baseline_sd: float) -> float:
    """The rise that counts as a spike: the floor, or many baseline deviations when noisy."""
    return max(tuning.error_min_delta, tuning.error_sigmas * baseline_sd)


def detect(host: DetectorHost, detection: DetectionPass) -> list[Finding]:
    """Service/regions whose error rate rose past the floor and the noise of the baseline."""
    tuning = host.tuning
    now = detection.now
    start = now - timedelta(seconds=tuning.spike_window_s)
    baseline_start = host.baseline_start(start)
    findings = []
    for row in host.run(QUERY, baseline_start=baseline_start, start=start, end=now):
        samples = int(row["samples"] or 0)
        current = number(row["current_rate"])
        baseline = number(row["baseline_rate"])
        if current is None or baseline is None or samples < tuning.error_min_samples:
            continue
        rps = float(row["current_requests"] or 0.0) / samples
        if rps < tuning.error_min_rps:
            continue  # too little traffic for a rate to mean anything
        spread = number(row["baseline_sd"]) or 0.0
        group = (row["service"], row["region"])
        median = host.robust_baseline(group, "errors", start)
        if median is not None and baseline - median > tuning.error_min_delta / 4:
            # The baseline window already holds part of the spike: trust its median and the
            # floor, not a mean and spread inflated by the spike itself.
            baseline, spread = median, 0.0
        key = (row["service"], row["region"], AnomalyKind.ERROR_SPIKE.value)
        remembered = host.remembered(key)
        if remembered is not None and remembered.baseline is not None:
            # Keep the pre-incident baseline while the spike lasts.
            known_spread = host.spread(key)
            baseline = remembered.baseline
            spread = spread if known_spread is None else known_spread
        bound = threshold(tuning, spread)
        delta = current - baseline
        if delta < bound:
            continue
        summary = (
            f"error rate on {row['service']}/{row['region']} {current:.1%} vs "
            f"{baseline:.2%} baseline (+{delta * 100:.1f} pts; bound +{bound * 100:.1f} "
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
            confidence=margin_confidence(delta / bound, samples),
            query=QUERY,
            params=bind_params(dict(baseline_start=baseline_start, start=start, end=now)),
            summary=summary,
        )
        findings.append(Finding(anomaly, severity=delta, detail={"spread": spread}))
    return findings


def _recovery_bound(host: DetectorHost, anomaly: Anomaly) -> float:
    """Halfway back: the baseline plus half the spike threshold."""
    return (anomaly.baseline or 0.0) + threshold(host.tuning, host.spread(anomaly.key) or 0.0) / 2


def check(host: DetectorHost, anomaly: Anomaly, since: datetime, now: datetime) -> SignalCheck:
    """The error rate since `since` back under the recovery bound."""
    current = current_value(host, QUERY, anomaly, "current_rate", since, now)
    if current is None:
        return NO_SAMPLES
    value, samples = current
    baseline = anomaly.baseline or 0.0
    bound = _recovery_bound(host, anomaly)
    healthy = samples >= host.tuning.min_samples and value <= bound
    summary = (
        f"error rate on {anomaly.service}/{anomaly.region} {value:.2%} "
        f"(bound {bound:.2%}, baseline {baseline:.2%}) over {samples} samples"
    )
    return SignalCheck(healthy=healthy, value=value, samples=samples, summary=summary)


def bad_minute(host: DetectorHost, anomaly: Anomaly, rows: list[Row]) -> MinutePredicate | None:
    """A minute whose error rate is past the recovery bound."""
    if anomaly.baseline is None:
        return None
    bound = _recovery_bound(host, anomaly)
    return lambda row: (number(row["errors"]) or 0.0) >= bound


DETECTOR = Detector(
    kind=AnomalyKind.ERROR_SPIKE,
    query=QUERY,
    signals=(Signal.ERROR_RATE, Signal.REQUEST_RATE),
    detect=detect,
    check=check,
    bad_minute=bad_minute,
    cause_rank=4,
    critical_outcome="the error budget burns",
    search_words="error spike errors 5xx",
    log_signatures=frozenset({"upstream", "timeout", "connection_pool", "other"}),
    saturation_symptom=True,
    remedies=(
        Remedy(
            ActionKind.FAILOVER,
            0.75,
            "errors are confined to {region}; {regions} are healthy",
            unless_cascade=True,
        ),
    ),
)
