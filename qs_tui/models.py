"""The pydantic models the six agents hand each other: anomaly → hypothesis → plan → approval →
execution → verification, gathered on one `Incident`."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AgentName(StrEnum):
    """The six agents, in the order an incident meets them."""

    CASSANDRA = "Cassandra"
    ARCHAEOLOGIST = "Archaeologist"
    TACTICIAN = "Tactician"
    DIPLOMAT = "Diplomat"
    SURGEON = "Surgeon"
    GUARDIAN = "Guardian"


class AnomalyKind(StrEnum):
    """What Cassandra can detect; names match the simulator's fault kinds."""

    MEMORY_LEAK = "memory_leak"
    ERROR_SPIKE = "error_spike"
    LATENCY_REGRESSION = "latency_regression"
    CPU_SATURATION = "cpu_saturation"
    DISK_FILL = "disk_fill"
    TRAFFIC_DROP = "traffic_drop"


class IncidentState(StrEnum):
    """The states of an incident's state machine."""

    DETECTED = "detected"
    INVESTIGATING = "investigating"
    PLANNED = "planned"
    AWAITING_APPROVAL = "awaiting_approval"
    EXECUTING = "executing"
    VERIFYING = "verifying"
    RESOLVED = "resolved"
    REJECTED = "rejected"
    ROLLED_BACK = "rolled_back"
    ESCALATED = "escalated"

    @property
    def terminal(self) -> bool:
        """Whether the incident is over in this state."""
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset(
    {
        IncidentState.RESOLVED,
        IncidentState.REJECTED,
        IncidentState.ROLLED_BACK,
        IncidentState.ESCALATED,
    }
)


class ActionKind(StrEnum):
    """Remediations the Tactician can choose (the simulator implements all but do_nothing)."""

    ROLLBACK = "rollback"
    RESTART = "restart"
    SCALE_OUT = "scale_out"
    FAILOVER = "failover"
    FLUSH_CACHE = "flush_cache"
    DO_NOTHING = "do_nothing"


class Anomaly(_Model):
    """Cassandra's finding: something is wrong (or will be) on one service in one region.

    Every number comes from an ES|QL query in `esql/` or a computation on its result.
    """

    kind: AnomalyKind
    service: str
    region: str
    host: str | None = None
    """The host, for per-host signals (leak, disk, CPU); None for service-wide ones."""
    signal: str
    """The metric behind it (`memory_percent`, `error_rate`, …)."""
    detected_at: datetime
    """Simulated instant of detection."""
    onset_at: datetime
    """Estimated start of the anomaly (from the fit or the first bad window)."""
    value: float
    """Current value of the signal (fitted value at detection for trends)."""
    baseline: float | None = None
    """Normal value of the signal, when a baseline window was compared."""
    critical_threshold: float
    """Value at which the service fails (100 % memory, error budget, …)."""
    slope_per_s: float | None = None
    """Trend of the signal per second, for trend detectors."""
    time_to_critical_s: float | None = None
    """Predicted seconds until the threshold is crossed; 0 when already critical."""
    confidence: float = Field(ge=0.0, le=1.0)
    """From the fit (r², residuals) or the size of the deviation — never a constant."""
    query: str
    """Name of the `esql/*.esql` query that found it."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Parameters the query ran with (time window), so the finding can be replayed."""
    summary: str
    """One sentence for the transcript."""
    symptom_of: tuple[str, str, str] | None = None
    """In a cascade: the `key` of the upstream anomaly this one is a symptom of."""

    @property
    def key(self) -> tuple[str, str, str]:
        """Deduplication key: one incident per service, region and kind."""
        return (self.service, self.region, self.kind.value)


class SignalCheck(_Model):
    """A re-reading of an anomaly's signal (Guardian's verification, Cassandra's query)."""

    healthy: bool
    """Whether the signal is back within normal bounds."""
    value: float | None
    """Current value of the signal (None when there were no samples)."""
    samples: int
    summary: str


class Deployment(_Model):
    """A deployment document from the deployments index."""

    service: str
    region: str
    version: str
    previous_version: str | None = None
    author: str | None = None
    commit: str | None = None
    at: datetime
    description: str | None = None


class Evidence(_Model):
    """One link in the Archaeologist's evidence chain."""

    kind: Literal["logs", "deploy", "similar_incident", "state_at_onset", "metric", "topology"]
    summary: str
    """One sentence for the transcript and the approval modal."""
    weight: float = Field(ge=-1.0, le=1.0)
    """How much this supports (positive) or weakens (negative) the hypothesis."""
    query: str | None = None
    """The `esql/*.esql` query (or inline ES|QL) it came from."""
    data: dict[str, Any] = Field(default_factory=dict)
    """The numbers behind the summary (JSON-ready)."""


class Hypothesis(_Model):
    """The Archaeologist's conclusion about an incident's root cause."""

    incident_id: str
    cause: str
    """What caused it, e.g. `deploy payment-service v2.4.0` or `memory_leak`."""
    cause_kind: Literal["deploy", "fault", "dependency", "capacity", "unknown"]
    suspect_deploy: Deployment | None = None
    root_service: str
    """The service where the problem starts (differs from the incident's in a cascade)."""
    root_region: str
    evidence: list[Evidence]
    confidence: float = Field(ge=0.0, le=1.0)
    """Derived from the evidence weights — never a constant."""
    similar_incidents: list[str] = Field(default_factory=list)
    """Ids of past incidents that look alike (full-text search on the incidents index)."""
    summary: str
    queries: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """The parameters (JSON-ready) each query of the investigation first ran with, by query
    name: what the incident record keeps so that the evidence can be shown again exactly."""


class LoadForecast(_Model):
    """What an option does to a region that takes on load (a failover's receiving region).

    Forecast from the region's current headroom: CPU grows with the requests each host
    serves, and p95 latency with the queueing delay of a busier host.
    """

    service: str
    region: str
    hosts: int
    """Hosts serving the service in the region now."""
    added_hosts: int = 0
    """Hosts the plan adds before moving the traffic (a scale-out first)."""
    rps_before: float
    """Requests per second the region serves now (all its hosts)."""
    rps_after: float
    cpu_before: float
    """Average CPU percent of the region's hosts now."""
    cpu_after: float
    """Forecast average CPU percent after the move (with the added hosts)."""
    cpu_after_alone: float
    """Forecast average CPU percent after the move without adding hosts."""
    latency_before_ms: float | None = None
    latency_after_ms: float | None = None
    ceiling: float
    """The CPU percent a region may run at after the move and stay out of saturation."""

    @property
    def within_capacity(self) -> bool:
        """Whether the region stays under the ceiling after the move (with added hosts)."""
        return self.cpu_after <= self.ceiling

    @property
    def summary(self) -> str:
        """One line: `eu-central-1 goes from 45% to ~92% CPU (…)`."""
        latency = ""
        if self.latency_before_ms is not None and self.latency_after_ms is not None:
            latency = f", p95 {self.latency_before_ms:.0f} -> ~{self.latency_after_ms:.0f} ms"
        line = (
            f"{self.region} goes from {self.cpu_before:.0f}% to ~{self.cpu_after_alone:.0f}% CPU "
            f"({self.rps_before:.0f} -> ~{self.rps_after:.0f} req/s"
            + (latency if not self.added_hosts else "")
            + ")"
        )
        if self.added_hosts:
            plural = "s" if self.added_hosts != 1 else ""
            line += (
                f"; with {self.added_hosts} more host{plural} first: ~{self.cpu_after:.0f}%"
                f"{latency}"
            )
        verdict = "within" if self.within_capacity else "over"
        return f"{line} ({verdict} the {self.ceiling:.0f}% ceiling)"


class RemediationOption(_Model):
    """One option the Tactician weighed."""

    action: ActionKind
    service: str
    region: str
    expected_recovery_s: float
    """Expected seconds until the signal is back to normal after acting."""
    risk: float = Field(ge=0.0, le=1.0)
    """Chance the action makes things worse."""
    blast_radius: str
    """Who is affected while it runs (`2 hosts of payment-service in us-east-1`)."""
    blast_radius_hosts: int = 0
    score: float
    """Higher is better; comparable across the options of one plan."""
    rationale: str
    target_version: str | None = None
    """For rollbacks: the version to go back to."""
    forecast: list[LoadForecast] = Field(default_factory=list)
    """The load the option puts on the rest of the estate (a failover's receiving regions)."""
    prepare: list[RemediationOption] = Field(default_factory=list)
    """Steps carried out first, in order (a scale-out of a receiving region before a
    failover), so the option stays within capacity."""


class Plan(_Model):
    """The Tactician's decision."""

    incident_id: str
    options: list[RemediationOption]
    chosen: RemediationOption
    reason: str
    """Why this option, in one or two sentences."""
    time_to_critical_s: float | None
    inaction_forecast: str
    """What happens if nothing is done (cost of inaction)."""
    requires_approval: bool
    approval_reason: str


class ApprovalDecision(StrEnum):
    """A human's (or the policy's) answer to an approval request."""

    APPROVED = "approved"
    REJECTED = "rejected"
    DRY_RUN = "dry_run"
    TIMED_OUT = "timed_out"


class Approval(_Model):
    """The Diplomat's record of how the plan was approved or not."""

    incident_id: str
    decision: ApprovalDecision
    by: str
    """Who answered: `keyboard`, `auto-approval policy`, `--approve deny`, `timeout`."""
    at: datetime
    note: str = ""

    @property
    def approved(self) -> bool:
        """Whether the plan may be executed for real."""
        return self.decision is ApprovalDecision.APPROVED


class StepStatus(StrEnum):
    """Where one workflow step stands."""

    PENDING = "pending"
    OK = "ok"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    SKIPPED = "skipped"
    DRY_RUN = "dry_run"
    ADVISED = "advised"
    """Not carried out: the executor is advisory and said what a human would run."""


class ExecutionStep(_Model):
    """One step of the Surgeon's workflow."""

    name: str
    status: StepStatus
    detail: str = ""
    at: datetime | None = None


class ExecutionReport(_Model):
    """What the Surgeon did."""

    incident_id: str
    action: ActionKind
    service: str
    region: str
    dry_run: bool
    steps: list[ExecutionStep]
    success: bool
    rolled_back: bool = False
    started_at: datetime
    finished_at: datetime
    summary: str
    advice: list[str] = Field(default_factory=list)
    """What a human would run, when an advisory executor carried nothing out (one entry per
    target); non-empty means the report is advice, not a failure."""

    @property
    def advised(self) -> bool:
        """Whether nothing was carried out because the target is advisory."""
        return bool(self.advice)


class Verification(_Model):
    """The Guardian's verdict after an action."""

    incident_id: str
    recovered: bool
    checks: int
    """How many times the signal was re-queried."""
    last_value: float | None
    threshold: float
    recovered_at: datetime | None = None
    mttr_s: float | None = None
    """Seconds from detection to recovery (simulated time)."""
    summary: str


class ActionConsequence(_Model):
    """Our own remediation that explains an incident (the incident is its consequence)."""

    incident_id: str
    """The incident whose remediation caused this one."""
    action: ActionKind
    service: str
    region: str
    """Where the action acted (a failover's drained region)."""
    acted_at: datetime
    explanation: str


class StateChange(_Model):
    """One transition in an incident's history (the timeline shows these)."""

    state: IncidentState
    at: datetime
    reason: str


class Incident(_Model):
    """Everything known about one incident. Immutable: each change makes a new copy."""

    id: str
    kind: AnomalyKind
    service: str
    region: str
    state: IncidentState
    opened_at: datetime
    anomaly: Anomaly
    root_incident_id: str | None = None
    """Set on symptom incidents in a cascade: the incident of the root cause."""
    symptom_ids: list[str] = Field(default_factory=list)
    caused_by: ActionConsequence | None = None
    """Set when our own action on another incident explains this one (not independent)."""
    consequence_ids: list[str] = Field(default_factory=list)
    """Incidents this incident's own remediation caused."""
    hypothesis: Hypothesis | None = None
    plan: Plan | None = None
    approval: Approval | None = None
    execution: ExecutionReport | None = None
    verification: Verification | None = None
    history: list[StateChange] = Field(default_factory=list)
    runbook: str | None = None
    closed_at: datetime | None = None

    def moved(self, state: IncidentState, at: datetime, reason: str, **changes: Any) -> Incident:
        """A copy in `state`, with the transition appended to the history and `changes` applied."""
        history = [*self.history, StateChange(state=state, at=at, reason=reason)]
        closed_at = at if state.terminal else None
        return self.model_copy(
            update={"state": state, "history": history, "closed_at": closed_at, **changes}
        )
