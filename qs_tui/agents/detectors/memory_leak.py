"""Memory leak: a host's memory climbing in a straight line towards OOM."""

from __future__ import annotations

from datetime import datetime, timedelta

from qs_tui.agents.detectors.base import (
    DetectionPass,
    Detector,
    DetectorHost,
    Finding,
    Remedy,
    Row,
    Signal,
    TrendSpec,
    number,
    trend_confidence,
)
from qs_tui.agents.detectors.trend import (
    COVERED_SHARE,
    check_trend,
    covered_s,
    rise_over,
    trend_finding,
)
from qs_tui.models import ActionKind, Anomaly, AnomalyKind, SignalCheck

QUERY = "memory_leak"

TREND = TrendSpec(
    what="memory",
    signal="memory_percent",
    ttc_column="seconds_to_oom",
    failure="OOM",
    flat_limit=lambda tuning: min(rise for _, rise in tuning.leak_windows) / 2,
    recovered_margin=lambda tuning: tuning.leak_recovered_margin,
    longest_window=lambda tuning: max(window for window, _ in tuning.leak_windows),
)


def detect(host: DetectorHost, detection: DetectionPass) -> list[Finding]:
    """The best-fitting climb per host over several windows (short ones catch fast leaks).

    A longer window counts only where its samples span it: with less data it is the
    shorter window's fit again, judged against a lower bar.
    """
    tuning = host.tuning
    now = detection.now
    shortest = min(window for window, _ in tuning.leak_windows)
    best: dict[str, tuple[Row, float]] = {}
    for window_s, min_rise in tuning.leak_windows:
        start = now - timedelta(seconds=window_s)
        for row in host.run(QUERY, start=start, end=now):
            slope = number(row["slope_per_s"]) or 0.0
            r2 = number(row["r2"]) or 0.0
            to_oom = number(row["seconds_to_oom"])
            if row["n"] < tuning.min_samples or slope <= 0:
                continue
            if window_s > shortest and covered_s(row) < COVERED_SHARE * window_s:
                continue
            if rise_over(row, window_s) < min_rise or r2 < tuning.leak_min_r2:
                continue
            if to_oom is None or to_oom > tuning.leak_horizon_s:
                continue
            seen = best.get(row["host"])
            if seen is None or trend_confidence(row) > trend_confidence(seen[0]):
                best[row["host"]] = (row, window_s)
    return [
        trend_finding(
            AnomalyKind.MEMORY_LEAK,
            TREND,
            QUERY,
            row,
            start=now - timedelta(seconds=window_s),
            end=now,
        )
        for row, window_s in best.values()
    ]


def check(host: DetectorHost, anomaly: Anomaly, since: datetime, now: datetime) -> SignalCheck:
    """Memory back near its normal level, or at least flat."""
    return check_trend(host, TREND, QUERY, anomaly, since, now)


DETECTOR = Detector(
    kind=AnomalyKind.MEMORY_LEAK,
    query=QUERY,
    signals=(Signal.MEMORY,),
    detect=detect,
    check=check,
    cause_rank=1,
    critical_outcome="the process is OOM-killed",
    search_words="memory leak OOM",
    log_signatures=frozenset({"memory"}),
    fault_signature="memory",
    health_metric="memory",
    quiet_logs_normal=True,
    trend=TREND,
    remedies=(
        Remedy(
            ActionKind.RESTART,
            0.85,
            "a fresh process starts from normal memory; no deploy to blame",
            with_deploy=(
                0.3,
                "frees memory for a while; the leak returns while {version} runs",
            ),
        ),
    ),
)
