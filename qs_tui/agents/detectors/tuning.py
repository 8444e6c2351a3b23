"""Thresholds of Cassandra's detectors, grouped by the detector that reads them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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
