"""How long the embedded store keeps telemetry, and which indices count as telemetry."""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["DEFAULT_RETENTION", "PRUNE_EVERY", "TELEMETRY_PATTERNS", "is_telemetry"]

#: Telemetry the embedded store keeps behind its clock by default (`QS_RETENTION`): the
#: detectors look back 40 minutes and the war room's charts an hour, so a day is ample, and
#: it bounds the memory of a war room left running (about 21 MB per simulated hour of the
#: default estate otherwise, forever).
DEFAULT_RETENTION = timedelta(hours=24)

#: How often (on the store's clock) old telemetry is dropped: coarse, because dropping
#: rewrites the index (and its files, when persisted). The store holds at most the
#: retention window plus this much.
PRUNE_EVERY = timedelta(hours=1)

#: The data streams retention applies to: the simulator's own, and those Elastic Agent, APM
#: and OpenTelemetry write, named `<type>-<dataset>-<namespace>` with type `logs`, `metrics`
#: or `traces` (Elastic's data stream naming scheme:
#: https://www.elastic.co/guide/en/fleet/current/data-streams.html). Incidents, agent
#: decisions and deployments are records, not telemetry: they are never dropped.
TELEMETRY_PATTERNS: tuple[str, ...] = ("qs-metrics", "qs-logs", "metrics-*", "logs-*", "traces-*")

_TELEMETRY = re.compile(
    "|".join(re.escape(pattern).replace(r"\*", ".*") for pattern in TELEMETRY_PATTERNS)
)


def is_telemetry(index: str) -> bool:
    """Whether `index` is named as telemetry (a data stream retention may shorten)."""
    return _TELEMETRY.fullmatch(index) is not None
