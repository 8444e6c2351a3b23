"""Traffic drop: a region losing requests that did not move to the service's other regions."""

from __future__ import annotations

from datetime import datetime, timedelta

from qs_tui.agents.detectors.base import (
    NO_SAMPLES,
    DetectionPass,
    Detector,
    DetectorHost,
    Finding,
    Group,
    MinutePredicate,
    Remedy,
    Row,
    Signal,
    margin_confidence,
    number,
)
from qs_tui.models import ActionKind, Anomaly, AnomalyKind, SignalCheck
from qs_tui.queries import bind_params

QUERY = "traffic_drop"


def throughput(
    host: DetectorHost,
    baseline_start: datetime,
    start: datetime,
    end: datetime,
    *,
    robust: bool = False,
) -> dict[Group, tuple[float, float, int]]:
    """Per group: (baseline, current) requests/s of the whole group, and current samples.

    The query averages per host sample; multiplying by the hosts that served keeps a
    scale-out (more hosts, fewer requests each) from looking like lost traffic. With
    `robust` (detection), baselines also resist a drop already inside their window.
    """
    tuning = host.tuning
    rows = host.run(QUERY, baseline_start=baseline_start, start=start, end=end)
    _, hosts_now = host.cpu_rows(start, end)
    # Host counts of the baseline window cost a query; only a group whose traffic per host
    # fell far enough to matter (or a check) needs them.
    hosts_before: dict[Group, float] = hosts_now
    if not robust or any(
        (number(r["current_rps"]) or 0.0)
        < (number(r["baseline_rps"]) or 0.0) * (1 - tuning.traffic_min_drop)
        for r in rows
    ):
        _, hosts_before = host.cpu_rows(baseline_start, start)
    out: dict[Group, tuple[float, float, int]] = {}
    for row in rows:
        group = (row["service"], row["region"])
        baseline_rps = number(row["baseline_rps"]) or 0.0  # none: a window that only checks
        median = host.robust_baseline(group, "rps", start) if robust else None
        if median is not None and baseline_rps > 0:
            # A drop already inside the baseline window lowers its mean, not its median.
            baseline_rps = max(baseline_rps, median)
        current_rps = number(row["current_rps"])
        if current_rps is None:
            continue
        out[group] = (
            baseline_rps * hosts_before.get(group, 1.0),
            current_rps * hosts_now.get(group, 1.0),
            int(row["samples"] or 0),
        )
    return out


def detect(host: DetectorHost, detection: DetectionPass) -> list[Finding]:
    """Regions whose throughput fell and whose lost requests were not absorbed elsewhere."""
    tuning = host.tuning
    now = detection.now
    start = now - timedelta(seconds=tuning.traffic_window_s)
    baseline_start = host.baseline_start(start)
    flows = throughput(host, baseline_start, start, now, robust=True)
    # While a drop lasts, every region of its service keeps the throughput measured before
    # it as baseline (otherwise the drop slowly becomes "normal").
    for (service, region), (_, current, samples) in list(flows.items()):
        before = (host.traffic_baselines(service) or {}) if host.dropping(service) else {}
        if region in before:
            flows[(service, region)] = (before[region], current, samples)
    findings = []
    for (service, region), (baseline, current, samples) in flows.items():
        if samples < tuning.min_samples or baseline <= 0:
            continue
        lost = baseline - current
        if lost / baseline < tuning.traffic_min_drop:
            continue
        gained = sum(
            max(0.0, other_now - other_before)
            for (other_service, other_region), (other_before, other_now, _) in flows.items()
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
            confidence=margin_confidence(drop / tuning.traffic_min_drop, samples) * unabsorbed,
            query=QUERY,
            params=bind_params(dict(baseline_start=baseline_start, start=start, end=now)),
            summary=summary,
        )
        regional = {r: b for (s, r), (b, _, _) in flows.items() if s == service}
        findings.append(Finding(anomaly, severity=drop, detail={"regional": regional}))
    return findings


def check(host: DetectorHost, anomaly: Anomaly, since: datetime, now: datetime) -> SignalCheck:
    """The region's traffic back, or the service's traffic served from its other regions."""
    tuning = host.tuning
    flows = throughput(host, since - timedelta(seconds=1), since, now)
    group = (anomaly.service, anomaly.region)
    if group not in flows:
        return NO_SAMPLES
    _, current, samples = flows[group]
    baseline = anomaly.baseline or current
    before = host.traffic_baselines(anomaly.service)
    if before is None:
        before = {anomaly.region: baseline}
    service_before = sum(before.values())
    service_now = sum(c for (s, _), (_, c, _) in flows.items() if s == anomaly.service)
    regional_ok = current >= baseline * (1 - tuning.traffic_min_drop / 2)
    served_ok = service_now >= service_before * (1 - tuning.traffic_min_drop / 2) and (
        len(before) > 1
    )
    healthy = samples >= tuning.min_samples and (regional_ok or served_ok)
    summary = (
        f"traffic on {anomaly.service}/{anomaly.region} {current:.0f} req/s "
        f"(baseline {baseline:.0f}); service-wide {service_now:.0f} vs "
        f"{service_before:.0f} req/s"
    )
    return SignalCheck(healthy=healthy, value=current, samples=samples, summary=summary)


def bad_minute(host: DetectorHost, anomaly: Anomaly, rows: list[Row]) -> MinutePredicate | None:
    """A minute whose per-host traffic sits below the midpoint of before and after the drop."""
    baseline = anomaly.baseline
    if not baseline:
        return None
    # The timeline averages per host while the anomaly counts the whole group: scale the
    # newest minutes' per-host level back to before the drop, and call a minute bad when it
    # sits below the midpoint of the two.
    ratio = max(anomaly.value / baseline, 1e-6)
    recent = [number(r["rps"]) or 0.0 for r in rows[-2:]]
    now_level = min(recent) if recent else 0.0
    cut = (now_level + now_level / ratio) / 2
    return lambda row: (number(row["rps"]) or 0.0) <= cut


DETECTOR = Detector(
    kind=AnomalyKind.TRAFFIC_DROP,
    query=QUERY,
    signals=(Signal.REQUEST_RATE, Signal.CPU),
    detect=detect,
    check=check,
    bad_minute=bad_minute,
    cause_rank=3,
    critical_outcome="users in the region cannot reach the service",
    search_words="traffic drop requests",
    log_signatures=frozenset({"load_balancer"}),
    fault_signature="load_balancer",
    health_metric="traffic",
    remedies=(
        Remedy(
            ActionKind.FAILOVER,
            0.88,
            "{region} loses traffic; users are served from {regions}",
            despite_deploy=True,
        ),
    ),
)
