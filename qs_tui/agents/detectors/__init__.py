"""One module per anomaly kind, registered in one table that the agents read.

Adding a kind is adding one module here (its query, tuning, detection, re-check, signals, log
signatures, cause rank, what "critical" means and which actions fix it) and one line below;
`tests/agents/test_detectors.py` checks that the table covers every kind.
"""

from __future__ import annotations

from qs_tui.agents.detectors import (
    cpu_saturation,
    disk_fill,
    error_spike,
    latency_regression,
    memory_leak,
    traffic_drop,
)
from qs_tui.agents.detectors.base import Detector, DetectorHost, Finding, Remedy, Signal
from qs_tui.agents.detectors.tuning import DetectionTuning
from qs_tui.models import AnomalyKind

#: Every detector, in the order a pass runs them: CPU saturation reads what the error and
#: latency detectors found, so it runs after them.
DETECTORS: tuple[Detector, ...] = (
    memory_leak.DETECTOR,
    disk_fill.DETECTOR,
    error_spike.DETECTOR,
    latency_regression.DETECTOR,
    cpu_saturation.DETECTOR,
    traffic_drop.DETECTOR,
)

_BY_KIND: dict[AnomalyKind, Detector] = {d.kind: d for d in DETECTORS}


def detector_for(kind: AnomalyKind) -> Detector:
    """The detector of `kind`."""
    return _BY_KIND[kind]


def signature_kinds() -> dict[str, Detector]:
    """Log signatures that name a fault of their own, with the detector of that fault."""
    return {d.fault_signature: d for d in DETECTORS if d.fault_signature is not None}


__all__ = [
    "DETECTORS",
    "DetectionTuning",
    "Detector",
    "DetectorHost",
    "Finding",
    "Remedy",
    "Signal",
    "detector_for",
    "signature_kinds",
]
