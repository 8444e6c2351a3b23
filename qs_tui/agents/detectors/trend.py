"""What the two trend detectors (memory leak, disk fill) share: fit, onset, refit, re-check."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from qs_tui.agents.detectors.base import (
    NO_SAMPLES,
    DetectorHost,
    Finding,
    Row,
    TrendSpec,
    fmt_duration,
    number,
    trend_confidence,
)
from qs_tui.models import Anomaly, AnomalyKind, SignalCheck
from qs_tui.queries import bind_params

#: Shortest climb worth refitting on its own (fewer samples make a noisier slope).
_MIN_REFIT_S = 180.0
#: How many windows before a trend's fit the onset search looks back for a flat stretch.
_ONSET_LOOKBACK_WINDOWS = 4
#: Share of a fit's window its samples must span for the fit to speak for the whole window.
COVERED_SHARE = 0.9


def covered_s(row: Row) -> float:
    """How many seconds a fit's samples span, from the sums the trend queries return.

    n samples spread evenly over S seconds have a variance of t of S²/12 (to within one
    sampling interval), so S is about √(12·var(t)) with var(t) = Σt²/n − (Σt/n)². The fit
    itself does not say it: a store that holds five minutes gives a 30-minute window five
    minutes of samples, and their slope times 30 minutes is a climb nobody saw.
    """
    n = number(row.get("n")) or 0.0
    sx = number(row.get("sx"))
    sxx = number(row.get("sxx"))
    if n < 2 or sx is None or sxx is None:
        return 0.0
    variance = sxx / n - (sx / n) ** 2
    return math.sqrt(max(0.0, 12.0 * variance))


def rise_over(row: Row, window_s: float) -> float:
    """How far a fitted trend climbed: over its window when the samples span it, else only
    over the span they cover (never extrapolated past the data)."""
    slope = number(row["slope_per_s"]) or 0.0
    covered = covered_s(row)
    return slope * (window_s if covered >= COVERED_SHARE * window_s else covered)


def trend_finding(
    kind: AnomalyKind,
    spec: TrendSpec,
    query: str,
    row: Row,
    *,
    start: datetime,
    end: datetime,
) -> Finding:
    """A finding from one host's fitted trend over [start, end)."""
    slope = float(row["slope_per_s"])
    value = float(row["projected_at_end"])
    ttc = max(0.0, float(row[spec.ttc_column]))
    confidence = trend_confidence(row)
    summary = (
        f"{spec.what} on {row['host']} climbs {slope * 60:.2f} %/min "
        f"(r²={float(row['r2']):.2f}, n={row['n']}); now {value:.1f}%, {spec.failure} in "
        f"{fmt_duration(ttc)}"
    )
    anomaly = Anomaly(
        kind=kind,
        service=row["service"],
        region=row["region"],
        host=row["host"],
        signal=spec.signal,
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
    return Finding(anomaly, severity=-ttc, detail={"window_s": (end - start).total_seconds()})


def trend_onset(
    host: DetectorHost, spec: TrendSpec, query: str, anomaly: Anomaly, now: datetime
) -> tuple[datetime, float | None]:
    """Where the fitted line left the level the host held before the climb, and that level.

    Walks back window by window (same length as the fit) to the newest flat one; its mean is
    the normal level, and the fitted line crosses it at the onset.
    """
    window = now - anomaly.onset_at
    fit_start = now - window
    slope = anomaly.slope_per_s or 0.0
    if slope <= 0:
        return fit_start, None
    end = fit_start
    for _ in range(_ONSET_LOOKBACK_WINDOWS):
        start = end - window
        rows = [r for r in host.run(query, start=start, end=end) if r["host"] == anomaly.host]
        if not rows:
            return end, None
        earlier = rows[0]
        rise = (number(earlier["slope_per_s"]) or 0.0) * window.total_seconds()
        if abs(rise) < spec.flat_limit(host.tuning):
            level = float(earlier["sy"]) / float(earlier["n"])
            onset = now - timedelta(seconds=max(0.0, (anomaly.value - level) / slope))
            return max(start + window / 2, min(now, onset)), level
        end = start
    return end, None


def refit(
    host: DetectorHost, spec: TrendSpec, anomaly: Anomaly, onset: datetime, now: datetime
) -> Anomaly:
    """The trend refitted over [onset, now): a fit that starts on the flat part before the
    climb understates the slope and so overstates the time left."""
    # Only when the fit window began before the climb did (else it is all climb already).
    if onset <= anomaly.onset_at or (now - onset).total_seconds() < _MIN_REFIT_S:
        return anomaly
    query = anomaly.query
    rows = [r for r in host.run(query, start=onset, end=now) if r["host"] == anomaly.host]
    if not rows or (number(rows[0]["slope_per_s"]) or 0.0) <= (anomaly.slope_per_s or 0.0):
        return anomaly
    refitted = trend_finding(anomaly.kind, spec, query, rows[0], start=onset, end=now).anomaly
    suffix = anomaly.summary[len(anomaly.summary.split(" [")[0]) :]
    return refitted.model_copy(update={"summary": refitted.summary + suffix})


def check_trend(
    host: DetectorHost,
    spec: TrendSpec,
    query: str,
    anomaly: Anomaly,
    since: datetime,
    now: datetime,
) -> SignalCheck:
    """Is the resource back near its normal level, or at least no longer climbing?"""
    rows = [
        r
        for r in host.run(query, start=since, end=now)
        if r["service"] == anomaly.service
        and r["region"] == anomaly.region
        and (anomaly.host is None or r["host"] == anomaly.host)
    ]
    if not rows:
        return NO_SAMPLES
    row = max(rows, key=lambda r: float(r["projected_at_end"]))
    samples = int(row["n"])
    value = float(row["projected_at_end"])
    slope = float(row["slope_per_s"])
    reference = anomaly.baseline
    if reference is None:
        reference = anomaly.value - (anomaly.slope_per_s or 0.0) * max(
            0.0, (anomaly.detected_at - anomaly.onset_at).total_seconds()
        )
    tuning = host.tuning
    dropped = value <= reference + spec.recovered_margin(tuning)
    flat_limit = spec.flat_limit(tuning) / spec.longest_window(tuning)
    flat = samples >= 30 and slope <= flat_limit
    healthy = samples >= tuning.min_samples and (dropped or flat)
    summary = (
        f"{spec.what} on {row['host']} {value:.1f}% (normal ~{reference:.1f}%), "
        f"{slope * 60:+.2f} %/min over {samples} samples: "
        + ("recovered" if healthy else "still climbing")
    )
    return SignalCheck(healthy=healthy, value=value, samples=samples, summary=summary)
