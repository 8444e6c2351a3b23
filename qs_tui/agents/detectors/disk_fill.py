"""Disk fill: a host's disk usage climbing in a straight line towards full."""

from __future__ import annotations

from datetime import datetime, timedelta

from qs_tui.agents.detectors.base import (
    DetectionPass,
    Detector,
    DetectorHost,
    Finding,
    Remedy,
    Signal,
    TrendSpec,
    number,
)
from qs_tui.agents.detectors.trend import check_trend, rise_over, trend_finding
from qs_tui.models import ActionKind, Anomaly, AnomalyKind, SignalCheck

QUERY = "disk_fill"

TREND = TrendSpec(
    what="disk",
    signal="disk_percent",
    ttc_column="seconds_to_full",
    failure="full",
    flat_limit=lambda tuning: tuning.disk_min_rise,
    recovered_margin=lambda tuning: tuning.disk_min_rise * 2,
    longest_window=lambda tuning: tuning.disk_window_s,
)


def detect(host: DetectorHost, detection: DetectionPass) -> list[Finding]:
    """Disks that fill steadily and would be full within the horizon."""
    tuning = host.tuning
    now = detection.now
    start = now - timedelta(seconds=tuning.disk_window_s)
    findings = []
    for row in host.run(QUERY, start=start, end=now):
        slope = number(row["slope_per_s"]) or 0.0
        to_full = number(row["seconds_to_full"])
        if row["n"] < tuning.min_samples or slope <= 0 or to_full is None:
            continue
        if rise_over(row, tuning.disk_window_s) < tuning.disk_min_rise:
            continue
        if (number(row["r2"]) or 0.0) < tuning.disk_min_r2 or to_full > tuning.disk_horizon_s:
            continue
        findings.append(
            trend_finding(AnomalyKind.DISK_FILL, TREND, QUERY, row, start=start, end=now)
        )
    return findings


def check(host: DetectorHost, anomaly: Anomaly, since: datetime, now: datetime) -> SignalCheck:
    """Disk usage back near its normal level, or at least flat."""
    return check_trend(host, TREND, QUERY, anomaly, since, now)


DETECTOR = Detector(
    kind=AnomalyKind.DISK_FILL,
    query=QUERY,
    signals=(Signal.DISK,),
    detect=detect,
    check=check,
    cause_rank=2,
    critical_outcome="the disk is full and writes fail",
    search_words="disk fill full",
    log_signatures=frozenset({"disk"}),
    fault_signature="disk",
    health_metric="disk",
    quiet_logs_normal=True,
    trend=TREND,
    remedies=(Remedy(ActionKind.RESTART, 0.8, "rotates the runaway logs and frees the disk"),),
)
