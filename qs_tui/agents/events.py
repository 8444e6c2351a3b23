"""Typed events the pipeline emits; the TUI and the headless runner subscribe to them.

Events are frozen dataclasses named as things that happened. The pipeline hands each one to
an `EventSink` (a plain callable) from its worker thread; subscribers must not block.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from qs_tui.models import (
    AgentName,
    ApprovalDecision,
    ExecutionReport,
    Incident,
    IncidentState,
    Plan,
)


@dataclass(frozen=True)
class AgentSpoke:
    """An agent said something (a transcript line).

    Attributes:
        agent: who spoke.
        text: the line, with every number taken from a query or a computation on it.
        at: simulated instant.
        incident_id: the incident it is about, if any.
        level: `info`, `warn` or `error` (how the transcript colours it).
        data: the numbers behind the line (JSON-ready), for `--json` and the audit trail.
    """

    agent: AgentName
    text: str
    at: datetime
    incident_id: str | None = None
    level: str = "info"
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IncidentChanged:
    """An incident entered a new state (opened, investigated, planned, …, closed).

    Attributes:
        incident: the incident as it is now (immutable snapshot).
        previous: its state before, or None when it was just opened.
        at: simulated instant of the change.
        reason: one sentence for the timeline.
    """

    incident: Incident
    previous: IncidentState | None
    at: datetime
    reason: str

    @property
    def state(self) -> IncidentState:
        """The state entered."""
        return self.incident.state


@dataclass(frozen=True)
class ApprovalRequested:
    """The Diplomat asks a human to approve a plan.

    The subscriber answers by setting `future`'s result to an `ApprovalDecision`
    (APPROVED, REJECTED or DRY_RUN). If nothing is set before `deadline` (wall clock,
    `time.monotonic()` seconds), the pipeline treats it as TIMED_OUT, which rejects.

    Attributes:
        incident: the incident awaiting approval (with hypothesis and plan).
        plan: the plan to approve.
        future: where the answer goes.
        timeout_s: seconds the human has.
        deadline: `time.monotonic()` value after which the request times out.
        dry_run: the findings of the dry run this request follows (the human asked to see
            them first; now a real yes or no is wanted, and a second dry run is not offered).
        policy: the remediation policy's rule that decides whatever the answer (read-only,
            a rate limit, a change freeze), shown with the question; None when none does.
    """

    incident: Incident
    plan: Plan
    future: Future[ApprovalDecision]
    timeout_s: float
    deadline: float
    dry_run: ExecutionReport | None = None
    policy: str | None = None


@dataclass(frozen=True)
class ApprovalSettled:
    """An approval request was answered or timed out (the TUI closes its modal)."""

    incident_id: str
    decision: ApprovalDecision
    by: str
    at: datetime


@dataclass(frozen=True)
class MetricsSampled:
    """New telemetry was written; the newest values per service and region.

    Attributes:
        at: simulated instant the samples reach.
        series: `(service, region)` -> metric name -> value (averaged over the hosts).
        states: `(service, region)` -> `healthy`, `anomalous` or `remediating`.
    """

    at: datetime
    series: dict[tuple[str, str], dict[str, float]]
    states: dict[tuple[str, str], str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoreDegraded:
    """The store stopped answering (or is still not answering after another try).

    Emitted when an outage starts and whenever what it shows changes (another failed try,
    more records queued). The war room shows it as a banner until `StoreRecovered`.

    Attributes:
        at: pipeline-clock instant.
        error: one line on the last failure (names the cluster, never credentials).
        since: when the store first failed.
        last_ok_at: when it last answered (None: not since the pipeline started).
        failures: tries that failed in a row.
        retry_at: when the next try goes out.
        queued: audit records (decisions, incident records) waiting to be written.
    """

    at: datetime
    error: str
    since: datetime
    last_ok_at: datetime | None
    failures: int
    retry_at: datetime
    queued: int


@dataclass(frozen=True)
class StoreRecovered:
    """The store answers again.

    Attributes:
        at: pipeline-clock instant.
        since: when the outage started.
        written: audit records written from the queue when it came back.
        queued: records still waiting (normally 0).
    """

    at: datetime
    since: datetime
    written: int
    queued: int = 0


Event = (
    AgentSpoke
    | IncidentChanged
    | ApprovalRequested
    | ApprovalSettled
    | MetricsSampled
    | StoreDegraded
    | StoreRecovered
)
EventSink = Callable[[Event], None]
