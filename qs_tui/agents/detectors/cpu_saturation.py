"""CPU saturation: hosts whose CPU stays at or above the hot threshold."""

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
    margin_confidence,
    number,
)
from qs_tui.models import ActionKind, Anomaly, AnomalyKind, SignalCheck
from qs_tui.queries import bind_params

QUERY = "cpu_saturation"


def detect(host: DetectorHost, detection: DetectionPass) -> list[Finding]:
    """Hosts hot in most samples of the window; in fewer when the same place already shows
    slow or failing requests (the saturation is then the likelier cause)."""
    tuning = host.tuning
    now = detection.now
    start = now - timedelta(seconds=tuning.cpu_window_s)
    rows, _ = host.cpu_rows(start, now)
    strained = detection.strained()
    findings = []
    for row in rows:
        share = number(row["hot_share"]) or 0.0
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
            confidence=margin_confidence(share / needed, samples) * min(1.0, share / 0.5),
            query=QUERY,
            params=bind_params(dict(start=start, end=now, threshold=tuning.cpu_threshold)),
            summary=summary,
        )
        findings.append(Finding(anomaly, severity=share * 100 + avg))
    return findings


def check(host: DetectorHost, anomaly: Anomaly, since: datetime, now: datetime) -> SignalCheck:
    """Every host of the group back under the threshold in most samples."""
    tuning = host.tuning
    rows, _ = host.cpu_rows(since, now)
    rows = [r for r in rows if (r["service"], r["region"]) == (anomaly.service, anomaly.region)]
    if not rows:
        return NO_SAMPLES
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


def bad_minute(host: DetectorHost, anomaly: Anomaly, rows: list[Row]) -> MinutePredicate | None:
    """A minute whose average CPU is close to the hot threshold."""
    bound = host.tuning.cpu_threshold * 0.85
    return lambda row: (number(row["cpu"]) or 0.0) >= bound


DETECTOR = Detector(
    kind=AnomalyKind.CPU_SATURATION,
    query=QUERY,
    signals=(Signal.CPU,),
    detect=detect,
    check=check,
    bad_minute=bad_minute,
    cause_rank=0,
    critical_outcome="requests queue and time out",
    search_words="cpu saturation",
    log_signatures=frozenset({"saturation"}),
    fault_signature="saturation",
    health_metric="cpu",
    capacity=True,
    remedies=(
        Remedy(ActionKind.FAILOVER, 0.45, "moves load to {regions}, which then run hotter"),
        Remedy(
            ActionKind.SCALE_OUT,
            0.88,
            "adds a host so each of {service}'s hosts takes less load",
            with_deploy=(0.35, "spreads load, but {version} stays expensive"),
        ),
    ),
)
