"""The incident pipeline: a state machine per incident, advanced one non-blocking tick at a time."""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from qs_tui.agents.archaeologist import Archaeologist
from qs_tui.agents.availability import Backoff, Outage, WatchedStore
from qs_tui.agents.base import AgentContext, PipelineSettings
from qs_tui.agents.cassandra import Cassandra
from qs_tui.agents.diplomat import Diplomat
from qs_tui.agents.events import (
    AgentSpoke,
    Event,
    EventSink,
    IncidentChanged,
    MetricsSampled,
    StoreDegraded,
    StoreRecovered,
)
from qs_tui.agents.guardian import Guardian, SignalChecker, format_duration
from qs_tui.agents.records import RecordWriter
from qs_tui.agents.source import TelemetrySource, TelemetryStep
from qs_tui.agents.surgeon import Surgeon
from qs_tui.agents.tactician import Tactician
from qs_tui.clock import Clock
from qs_tui.esql.errors import EsqlError
from qs_tui.models import (
    ActionKind,
    AgentName,
    Anomaly,
    Approval,
    ApprovalDecision,
    ExecutionReport,
    Hypothesis,
    Incident,
    IncidentState,
    Plan,
)
from qs_tui.notify import Notifier
from qs_tui.profiles import Profile, query_text
from qs_tui.remediation.base import RemediationExecutor
from qs_tui.store.base import DocumentExists, Store, StoreError, StoreUnavailable
from qs_tui.store.templates import INCIDENTS
from qs_tui.topology import EstateUpdate, Topology

#: Metrics averaged per service/region for `MetricsSampled`.
SAMPLED_METRICS = (
    "cpu_percent",
    "memory_percent",
    "error_rate",
    "latency_p95_ms",
    "requests_per_s",
    "disk_percent",
)

_REMEDIATING = frozenset({IncidentState.EXECUTING, IncidentState.VERIFYING})
#: Ids tried in a row before giving up when other runs keep taking them.
_ID_ATTEMPTS = 100


# ---- what the pipeline needs from each agent (the real agents satisfy these) ---------------


class Detector(SignalChecker, Protocol):
    """Cassandra's side of the pipeline."""

    def detect(self) -> list[Anomaly]:
        """Every anomaly in the window ending now."""
        ...


class Investigator(Protocol):
    """The Archaeologist's side of the pipeline."""

    def investigate(self, incident: Incident) -> Hypothesis:
        """A hypothesis with its evidence chain."""
        ...


class Planner(Protocol):
    """The Tactician's side of the pipeline."""

    def plan(self, incident: Incident) -> Plan:
        """The chosen remediation and the options weighed."""
        ...


class Approver(Protocol):
    """The Diplomat's side of the pipeline."""

    def request(
        self, incident: Incident, plan: Plan, *, dry_run: ExecutionReport | None = None
    ) -> Any:
        """An `Approval` at once, or a pending handle to `poll` (after a dry run: always)."""
        ...

    def poll(self, pending: Any) -> Approval | None:
        """The settled approval, or None while waiting."""
        ...

    def withdraw(self, pending: Any, *, reason: str, by: str = "withdrawn") -> Approval:
        """Close an open request: an answer given in time stands, otherwise rejected."""
        ...

    def notify(self, incident: Incident, text: str) -> None:
        """Tell the humans (never blocks)."""
        ...


class Operator(Protocol):
    """The Surgeon's side of the pipeline."""

    def execute(self, incident: Incident, plan: Plan, approval: Approval) -> ExecutionReport:
        """Run the chosen remediation's workflow."""
        ...

    def undo(self, report: ExecutionReport) -> ExecutionReport:
        """Roll back a completed remediation."""
        ...


@dataclass
class Crew:
    """The six agents a pipeline drives.

    Attributes:
        cassandra: detects and re-checks signals.
        archaeologist: investigates.
        tactician: plans.
        diplomat: asks for approval and notifies.
        surgeon: executes and undoes.
        guardian: verifies, records, cools down.
    """

    cassandra: Detector
    archaeologist: Investigator
    tactician: Planner
    diplomat: Approver
    surgeon: Operator
    guardian: Guardian


def default_crew(
    context: AgentContext,
    *,
    executor: RemediationExecutor,
    notifier: Notifier | None = None,
) -> Crew:
    """The real six agents; the Surgeon acts through `executor` (chosen by whoever builds
    the session: the agents do not know whether production is simulated)."""
    cassandra = Cassandra(context)
    return Crew(
        cassandra=cassandra,
        archaeologist=Archaeologist(context),
        tactician=Tactician(context),
        diplomat=Diplomat(context, notifier=notifier),
        surgeon=Surgeon(context, executor=executor),
        guardian=Guardian(context, cassandra=cassandra),
    )


@dataclass
class _Tracked:
    """Pipeline-side bookkeeping for one open incident (not part of the immutable model)."""

    pending: Any = None
    detect_wall: float = 0.0
    decided_wall: float | None = None


@dataclass(frozen=True)
class DecisionTiming:
    """Wall time from detection (Cassandra returning the anomaly) to the Tactician's plan.

    Attributes:
        incident_id: the incident.
        seconds: wall seconds of investigation and planning (the detection queries
            themselves are timed per pass: `Pipeline.detection_pass_timings()`).
    """

    incident_id: str
    seconds: float


@dataclass
class _Counters:
    ticks: int = 0
    detections: int = 0
    detect_wall_s: list[float] = field(default_factory=list)
    next_id: int | None = None  # read from the store at the first incident
    timings: list[DecisionTiming] = field(default_factory=list)


class Pipeline:
    """Drives incidents through detected -> … -> resolved | rejected | rolled_back | escalated.

    `tick()` runs on one worker thread and never blocks on a human: approvals are polled on
    every tick, so several incidents can be in flight at once. `incidents()` may be read from
    any thread.

    When the store stops answering, ticks go on: telemetry and audit records wait, incidents
    wait in their state, approvals are still polled, and the store is tried again with a
    capped exponential backoff on the pipeline's clock (`availability.WatchedStore`). The
    outage is announced as `StoreDegraded` events and ends with `StoreRecovered`, after the
    queued records are written in order.

    Args:
        store: the one door to data.
        source: where telemetry comes from; each tick steps it up to the clock's now.
        clock: simulated time.
        sink: where events go (TUI, headless printer, tests).
        topology: the estate.
        settings: the pipeline's knobs.
        executor: remediation executor; needed unless `crew` is given.
        notifier: the Diplomat's Slack notifier (None: no notifications).
        crew: the agents to drive (default: the real six; tests may pass their own).
        profile: the schema profile the agents' queries are rendered through (None: `qs`).
    """

    def __init__(
        self,
        *,
        store: Store,
        source: TelemetrySource,
        clock: Clock,
        sink: EventSink,
        topology: Topology,
        settings: PipelineSettings | None = None,
        executor: RemediationExecutor | None = None,
        notifier: Notifier | None = None,
        crew: Crew | Callable[[AgentContext], Crew] | None = None,
        profile: Profile | None = None,
    ) -> None:
        self.settings = settings or PipelineSettings()
        # Every call the pipeline and its agents make goes through the watch: it knows the
        # last good answer and backs off while the store is down.
        self._watch = WatchedStore(
            store,
            clock,
            backoff=Backoff(
                first_s=self.settings.store_retry_first_s,
                max_s=self.settings.store_retry_max_s,
                jitter=self.settings.store_retry_jitter,
            ),
        )
        self.store: Store = self._watch
        self.source = source
        self.clock = clock
        self.sink = sink
        self.topology = topology
        self.context = AgentContext(
            store=self._watch,
            clock=clock,
            sink=sink,
            topology=topology,
            settings=self.settings,
            profile=profile,
        )
        if crew is None:
            if executor is None:
                raise ValueError("a pipeline with the default crew needs an executor")
            self.crew = default_crew(self.context, executor=executor, notifier=notifier)
        elif isinstance(crew, Crew):
            self.crew = crew
        else:
            self.crew = crew(self.context)
        self._lock = threading.RLock()
        self._tick_lock = threading.Lock()
        self._incidents: dict[str, Incident] = {}
        self._tracked: dict[str, _Tracked] = {}
        self._suppressed_until: dict[tuple[str, str, str], datetime] = {}
        self._cooldown_noted: dict[tuple[str, str, str], datetime] = {}
        self._last_detect: datetime | None = None
        self._left = False
        self._counters = _Counters()
        self._telemetry_down = False
        self._telemetry_failures = 0
        self._outage_since: datetime | None = None
        self._outage_shown: tuple[str, int, int] | None = None
        self._written_at_outage = 0
        self._handlers: dict[IncidentState, Callable[[Incident], Incident | None]] = {
            IncidentState.DETECTED: self._on_detected,
            IncidentState.INVESTIGATING: self._on_investigating,
            IncidentState.PLANNED: self._on_planned,
            IncidentState.AWAITING_APPROVAL: self._on_awaiting,
            IncidentState.VERIFYING: self._on_verifying,
        }

    # ---- reading ------------------------------------------------------------------------

    def incidents(self) -> list[Incident]:
        """Every incident so far (open and closed), oldest first. Safe from any thread."""
        with self._lock:
            return list(self._incidents.values())

    def open_incidents(self) -> list[Incident]:
        """Incidents not yet in a terminal state."""
        return [i for i in self.incidents() if not i.state.terminal]

    def decision_timings(self) -> list[DecisionTiming]:
        """Detection -> decision wall times, one per planned incident."""
        with self._lock:
            return list(self._counters.timings)

    def detection_pass_timings(self) -> list[float]:
        """Wall seconds each detection pass (all of Cassandra's queries) took."""
        with self._lock:
            return list(self._counters.detect_wall_s)

    @property
    def ticks(self) -> int:
        """How many ticks ran."""
        return self._counters.ticks

    # ---- driving ------------------------------------------------------------------------

    def tick(self) -> None:
        """Write telemetry up to now, detect when due, and advance every open incident.

        After `leave()` a tick does nothing: nobody is there to answer a new question.
        """
        with self._tick_lock:
            if self._left:
                return
            self._counters.ticks += 1
            with self._watch.tick():
                if self.context.records.pending:
                    # Audit records queued while the store was down go first, in order (and
                    # are the probe that finds the store back).
                    self.context.records.flush()
                result = self.source.step(self.store)
                self._note_telemetry(result)
                if result.estate is not None:
                    self._adopt_estate(result.estate)
                if result.failure is None:
                    with contextlib.suppress(StoreUnavailable):  # reported as an outage below
                        self.store.refresh()
                now = self.clock.now()
                due = self._last_detect is None or (
                    (now - self._last_detect).total_seconds() >= self.settings.detect_every_s
                )
                if due:
                    previous, self._last_detect = self._last_detect, now
                    if not self._detect():
                        self._last_detect = previous  # not done: try again once it answers
                self._advance_all()
            self._report_availability(now)
            # Sampled last, so each service's state reflects this tick's incidents.
            self._emit_metrics(now, result.latest)

    @property
    def outage(self) -> StoreDegraded | None:
        """The outage as a `StoreDegraded` event would show it now; None while the store
        answers."""
        watched = self._watch.outage
        if watched is None:
            return None
        return self._degraded(watched, self.clock.now())

    def _degraded(self, watched: Outage, now: datetime) -> StoreDegraded:
        return StoreDegraded(
            at=now,
            error=watched.error,
            since=watched.since,
            last_ok_at=watched.last_ok_at,
            failures=watched.failures,
            retry_at=watched.retry_at,
            queued=self.context.records.pending,
        )

    def _report_availability(self, now: datetime) -> None:
        """Announce an outage when it starts and whenever what it shows changes, and its end
        once the store answers again (after the queued records were written)."""
        watched = self._watch.outage
        if watched is not None:
            if self._outage_since is None:
                self._outage_since = watched.since
                self._written_at_outage = self.context.records.written
                last = (
                    f"last good answer at {watched.last_ok_at:%H:%M:%S}"
                    if watched.last_ok_at is not None
                    else "no answer since the start"
                )
                wait = format_duration((watched.retry_at - now).total_seconds())
                self._say(
                    AgentName.GUARDIAN,
                    f"the store stopped answering ({watched.error}); {last}; retrying in "
                    f"{wait}, with backoff; incidents wait and audit records are queued",
                    level="error",
                )
            # After the line above: it is recorded too, so the queue it shows includes it.
            event = self._degraded(watched, now)
            shown = (event.error, event.failures, event.queued)
            if shown != self._outage_shown:
                self._outage_shown = shown
                self._emit(event)
            return
        if self._outage_since is None:
            return
        since, self._outage_since, self._outage_shown = self._outage_since, None, None
        queued = self.context.records.pending
        self._say(
            AgentName.GUARDIAN,
            "the store answers again after "
            f"{format_duration((now - since).total_seconds())} without it"
            + (f"; {queued} audit records still queued" if queued else ""),
        )
        # Nothing is written while the store is down: what was written since it went away
        # is the queue, written when it came back.
        written = self.context.records.written - self._written_at_outage
        self._emit(StoreRecovered(at=now, since=since, written=written, queued=queued))

    @property
    def records(self) -> RecordWriter:
        """The audit trail's writer (`pending` records queued while the store is down)."""
        return self.context.records

    @property
    def telemetry_failures(self) -> int:
        """Ticks whose telemetry could not be written (it waited for a later tick)."""
        return self._telemetry_failures

    def _adopt_estate(self, update: EstateUpdate) -> None:
        """Plan and link cascades on the estate the source found again, and say what changed."""
        self.topology = update.topology
        self.context.topology = update.topology
        for change in update.changes:
            self._say(AgentName.CASSANDRA, f"estate: {change}")

    def _note_telemetry(self, result: TelemetryStep) -> None:
        """Say when telemetry writes start failing and when they recover (not every tick)."""
        if result.failure is not None:
            self._telemetry_failures += 1
            if not self._telemetry_down:
                self._telemetry_down = True
                self._say(
                    AgentName.GUARDIAN,
                    f"telemetry could not be written ({result.failure}); retrying every tick, "
                    f"{result.pending:,} documents waiting",
                    level="error",
                )
        elif self._telemetry_down:
            self._telemetry_down = False
            dropped = f" ({result.dropped:,} dropped while waiting)" if result.dropped else ""
            self._say(AgentName.GUARDIAN, f"telemetry writes recovered{dropped}")

    def run(self, stop: threading.Event, *, tick_wall_s: float) -> None:
        """Tick until `stop` is set, waiting `tick_wall_s` wall seconds between tick starts.

        With an accelerated clock, pass the simulated tick interval divided by the clock's
        speed, so each tick sees one new interval of telemetry. A `StoreError` during a tick
        is reported as a transcript line and the loop goes on; other errors propagate.
        """
        while not stop.is_set():
            started = time.monotonic()
            try:
                self.tick()
            except StoreError as error:
                # A store hiccup (cluster restarting, network) must not end the war room:
                # say so and try again on the next tick.
                self._say(
                    AgentName.GUARDIAN,
                    f"the store failed this tick, retrying: {error}",
                    level="error",
                )
            spent = time.monotonic() - started
            stop.wait(max(0.0, tick_wall_s - spent))

    def run_until(
        self,
        end: datetime,
        *,
        max_ticks: int | None = None,
        step_s: float | None = None,
        stop_when: Callable[[Pipeline], bool] | None = None,
    ) -> int:
        """Advance a manual clock one interval per tick until `end` (no sleeping).

        Args:
            end: simulated instant to stop at.
            max_ticks: stop after this many ticks even before `end`.
            step_s: simulated seconds per tick (default: the source's sample interval).
            stop_when: checked after every tick; True stops early.

        Returns:
            The number of ticks run.

        Raises:
            TypeError: if the clock cannot be advanced by hand.
        """
        advance = getattr(self.clock, "advance", None)
        if advance is None:
            raise TypeError("run_until needs a clock with advance(seconds), e.g. ManualClock")
        step = step_s if step_s is not None else float(self.source.interval_s)
        ticks = 0
        while self.clock.now() < end and (max_ticks is None or ticks < max_ticks):
            remaining = (end - self.clock.now()).total_seconds()
            advance(min(step, remaining))
            self.tick()
            ticks += 1
            if stop_when is not None and stop_when(self):
                break
        return ticks

    def leave(
        self, *, by: str = "operator left", reason: str = "the operator left"
    ) -> list[Incident]:
        """Close every request still waiting for a human, because nobody will answer it.

        Called when the war room closes (after its last tick). A request with no answer is
        rejected (`by`); one answered in time but not yet carried out keeps its answer in
        the record, and the incident is escalated, not executed: nobody is left to watch the
        change or its verification, and a fix that does not verify must be undone under
        someone's eye. Either way the incident is closed and recorded, and queued audit
        records are flushed (with retries). Later ticks do nothing, so no new question is
        asked of nobody; calling it again closes nothing.

        Returns:
            The incidents this closed.
        """
        closed: list[Incident] = []
        with self._tick_lock:
            self._left = True
            for incident in self.open_incidents():
                if incident.state is not IncidentState.AWAITING_APPROVAL:
                    continue
                with self._lock:
                    tracked = self._tracked.get(incident.id)
                pending = tracked.pending if tracked is not None else None
                if pending is None:
                    continue
                tracked.pending = None  # type: ignore[union-attr]
                approval = self.crew.diplomat.withdraw(pending, reason=reason, by=by)
                given = f"{approval.decision.value.replace('_', ' ')} by {approval.by}"
                if approval.approved or approval.decision is ApprovalDecision.DRY_RUN:
                    moved = self._move(
                        incident,
                        IncidentState.ESCALATED,
                        f"{given}, but {reason} before it ran; nothing executed, over to a human",
                        approval=approval,
                    )
                else:
                    moved = self._move(
                        incident,
                        IncidentState.REJECTED,
                        f"plan {given} ({reason}); nothing executed",
                        approval=approval,
                    )
                closed.append(moved)
            # What leaving recorded, and anything queued while the store was down, is
            # written now: after this the store closes. A store known to be down gets one
            # try, not the retries (each may last a whole request timeout when it hangs).
            self.context.records.flush(retry=self._watch.outage is None)
        return closed

    @property
    def unwritten_records(self) -> int:
        """Audit records still queued because the store did not take them."""
        return self.context.records.pending

    # ---- events -------------------------------------------------------------------------

    def _emit(self, event: Event) -> None:
        self.sink(event)

    def _say(
        self, agent: AgentName, text: str, *, incident_id: str | None = None, level: str = "info"
    ) -> None:
        # Through the context: the line is recorded in the audit trail as well.
        self.context.speak(
            AgentSpoke(
                agent=agent, text=text, at=self.clock.now(), incident_id=incident_id, level=level
            )
        )

    def _emit_metrics(self, now: datetime, latest: Mapping[str, Mapping[str, Any]]) -> None:
        sums: dict[tuple[str, str], dict[str, float]] = {}
        counts: dict[tuple[str, str], int] = {}
        for document in latest.values():
            key = (str(document.get("service")), str(document.get("region")))
            totals = sums.setdefault(key, dict.fromkeys(SAMPLED_METRICS, 0.0))
            counts[key] = counts.get(key, 0) + 1
            for metric in SAMPLED_METRICS:
                value = document.get(metric)
                if isinstance(value, int | float):
                    totals[metric] += float(value)
        series = {
            key: {metric: total / counts[key] for metric, total in totals.items()}
            for key, totals in sums.items()
        }
        states = dict.fromkeys(series, "healthy")
        for incident in self.open_incidents():
            key = (incident.service, incident.region)
            state = "remediating" if incident.state in _REMEDIATING else "anomalous"
            if states.get(key) != "remediating":
                states[key] = state
        self._emit(MetricsSampled(at=now, series=series, states=states))

    def _store(self, incident: Incident, previous: IncidentState | None, reason: str) -> Incident:
        with self._lock:
            self._incidents[incident.id] = incident
        self._emit(
            IncidentChanged(
                incident=incident, previous=previous, at=self.clock.now(), reason=reason
            )
        )
        return incident

    def _move(
        self, incident: Incident, state: IncidentState, reason: str, **changes: Any
    ) -> Incident:
        moved = incident.moved(state, self.clock.now(), reason, **changes)
        self._store(moved, incident.state, reason)
        if state.terminal:
            self._closed(moved)
        return moved

    def _update(self, incident: Incident, **changes: Any) -> Incident:
        """A change without a state transition (kept quiet: the next transition carries it)."""
        updated = incident.model_copy(update=changes)
        with self._lock:
            self._incidents[updated.id] = updated
        return updated

    # ---- detection ----------------------------------------------------------------------

    def _detect(self) -> bool:
        """One detection pass; False when the store did not answer (the outage is reported
        once, not as a failed pass every tick)."""
        started = time.monotonic()
        try:
            anomalies = self.crew.cassandra.detect()
        except StoreUnavailable:
            return False
        except Exception as error:
            self._say(AgentName.CASSANDRA, f"detection pass failed: {error}", level="error")
            return True
        detected = time.monotonic()
        with self._lock:
            self._counters.detections += 1
            self._counters.detect_wall_s.append(detected - started)
        # Roots first, so a cascade's symptoms find their root's incident in the same pass.
        ordered = sorted(anomalies, key=lambda a: (a.symptom_of is not None, a.onset_at))
        for anomaly in ordered:
            self._consider(anomaly, detected)
        return True

    def _open_by_key(self, key: tuple[str, str, str]) -> Incident | None:
        for incident in self.open_incidents():
            if incident.anomaly.key == key:
                return incident
        return None

    def _open_root_at(self, service: str, region: str) -> Incident | None:
        for incident in self.open_incidents():
            if (
                incident.service == service
                and incident.region == region
                and incident.root_incident_id is None
            ):
                return incident
        return None

    def _consider(self, anomaly: Anomaly, detect_wall: float) -> None:
        key = anomaly.key
        if self._open_by_key(key) is not None:
            return
        now = self.clock.now()
        guardian = self.crew.guardian
        remaining = guardian.cooldown_remaining_s(anomaly.service, anomaly.region)
        if remaining > 0:
            self._note_cooldown(anomaly, anomaly.service, anomaly.region, remaining)
            return
        suppressed = self._suppressed_until.get(key)
        if suppressed is not None and now < suppressed:
            return  # closed lately (rejected, escalated, fixed): not re-raised until then
        root: Incident | None = None
        if anomaly.symptom_of is not None:
            root_service, root_region, _ = anomaly.symptom_of
            remaining = guardian.cooldown_remaining_s(root_service, root_region)
            if remaining > 0:
                # The tail of a cascade whose root was just fixed.
                self._note_cooldown(anomaly, root_service, root_region, remaining)
                return
            root = self._open_by_key(anomaly.symptom_of)
            if root is not None and root.root_incident_id is not None:
                root = self._incidents.get(root.root_incident_id, root)
        if root is None:
            # Another signal of a service/region already being handled is the same problem.
            root = self._open_root_at(anomaly.service, anomaly.region)
        reason = anomaly.summary
        if root is not None:
            reason = f"{anomaly.summary} (symptom of {root.id})"
        caused_by = guardian.consequence_of(anomaly, self.incidents()) if root is None else None
        if caused_by is not None:
            reason = f"{anomaly.summary} (consequence of {caused_by.incident_id}'s action)"

        def build(incident_id: str) -> Incident:
            incident = Incident(
                id=incident_id,
                kind=anomaly.kind,
                service=anomaly.service,
                region=anomaly.region,
                state=IncidentState.DETECTED,
                opened_at=now,
                anomaly=anomaly,
                root_incident_id=root.id if root is not None else None,
                caused_by=caused_by,
                history=[],
            )
            return incident.moved(IncidentState.DETECTED, now, reason)

        incident = self._open_with_unique_id(build)
        incident_id = incident.id
        with self._lock:
            self._tracked[incident_id] = _Tracked(detect_wall=detect_wall)
        self._store(incident, None, reason)
        if root is not None:
            linked = self._update(root, symptom_ids=[*root.symptom_ids, incident_id])
            self._emit(
                IncidentChanged(
                    incident=linked,
                    previous=linked.state,
                    at=now,
                    reason=f"{incident_id} linked as a symptom of {linked.id}",
                )
            )
            if linked.state is IncidentState.VERIFYING and linked.execution is not None:
                self._follow_root_into_verification(incident, linked)
        else:
            self._notify(incident, f"{incident_id} opened: {anomaly.summary}")
        cause = self._incidents.get(caused_by.incident_id) if caused_by is not None else None
        if cause is not None:
            cause = self._update(cause, consequence_ids=[*cause.consequence_ids, incident_id])
            self.crew.guardian.note_consequence(incident, cause)

    def _open_with_unique_id(self, build: Callable[[str], Incident]) -> Incident:
        """The incident under the next free id, claimed in the store before anything is
        written under it.

        Ids continue from the highest one stored (`esql/incident_last_number.esql`), so
        runs against the same store never reuse one; and each id is claimed with a
        create-if-absent write, so two processes racing for the same number cannot both
        get it: the loser takes the next. Short to read (`INC-0042`) and unique.

        With the store unavailable the claim waits in the audit queue with the other
        records; if even the highest stored id could not be read, the id also carries a short
        random part (`INC-0001-3fa2`) so it cannot replace another run's incident.
        """
        counters = self._counters
        if counters.next_id is None:
            highest = self._highest_stored_number()
            if highest is None:
                incident = build(f"INC-{1:04d}-{secrets.token_hex(2)}")
                self._claim_later(incident, "the highest stored incident id could not be read")
                return incident
            counters.next_id = highest + 1
        for _ in range(_ID_ATTEMPTS):
            incident = build(f"INC-{counters.next_id:04d}")
            counters.next_id += 1
            try:
                self.crew.guardian.reserve(incident)
            except DocumentExists:
                # Another run holds it: jump past everything stored, not one at a time.
                highest = self._highest_stored_number() or 0
                counters.next_id = max(counters.next_id, highest + 1)
                continue
            except StoreError as error:
                landed = isinstance(error, StoreUnavailable) and error.may_have_landed
                self._claim_later(incident, str(error), may_have_landed=landed)
            return incident
        raise StoreError(
            "no free incident id",
            f"{_ID_ATTEMPTS} ids in a row were taken by other runs writing to {INCIDENTS}",
        )

    def _claim_later(self, incident: Incident, why: str, *, may_have_landed: bool = False) -> None:
        """Queue the claim of `incident.id` (create-if-absent) behind the other records."""
        self._say(
            AgentName.GUARDIAN,
            f"could not claim {incident.id} in {INCIDENTS} ({why}); its claim is queued",
            incident_id=incident.id,
            level="warn",
        )
        self.context.records.write(
            INCIDENTS,
            self.crew.guardian.claim_document(incident),
            doc_id=incident.id,
            create=True,
            what=f"the claim of {incident.id}",
            may_have_landed=may_have_landed,
        )

    def _highest_stored_number(self) -> int | None:
        """The highest `INC-n` number in the incidents index: 0 when there is none, None
        when the store cannot say."""
        try:
            result = self.store.esql(query_text("incident_last_number", self.context.profile))
        except (StoreError, EsqlError):
            return None
        value = result.values[0][0] if result.values else None
        return int(value) if isinstance(value, int | float) else 0

    def _note_cooldown(
        self, anomaly: Anomaly, service: str, region: str, remaining_s: float
    ) -> None:
        """Say once per cooldown why a finding is not raised (the data still shows the
        problem for a while after a fix: the detectors' windows reach back before it)."""
        now = self.clock.now()
        last = self._cooldown_noted.get(anomaly.key)
        if last is not None and (now - last).total_seconds() < self.settings.cooldown_s:
            return
        self._cooldown_noted[anomaly.key] = now
        self._say(
            AgentName.GUARDIAN,
            f"not raising {anomaly.kind.value} on {anomaly.service}/{anomaly.region}: "
            f"{service}/{region} was just remediated (cooldown, {format_duration(remaining_s)} "
            "left) and the detection window still reaches back before the fix",
        )

    # ---- the state machine --------------------------------------------------------------

    def _advance_all(self) -> None:
        advanced: set[str] = set()
        while True:
            # Roots before symptoms: a root's transition moves its symptoms along. Incidents
            # opened meanwhile (a reopened one) get their turn in the same tick.
            waiting = sorted(
                (i for i in self.open_incidents() if i.id not in advanced),
                key=lambda i: (i.root_incident_id is not None, i.id),
            )
            if not waiting:
                return
            for incident in waiting:
                advanced.add(incident.id)
                current = self._incidents[incident.id]
                if not current.state.terminal:
                    self._advance_one(current)

    def _advance_one(self, incident: Incident) -> None:
        try:
            self._advance(incident)
        except StoreUnavailable as error:
            latest = self._incidents[incident.id]
            if latest.state in self._handlers or latest.state.terminal:
                # The step is tried again on a later tick, once the store answers (or the
                # incident already ended, and only a follow-up check went unanswered).
                return
            self._move(
                latest,
                IncidentState.ESCALATED,
                f"the store stopped answering in the middle of {latest.state.value} "
                f"({error}); a human must take over",
            )
        except Exception as error:
            latest = self._incidents[incident.id]
            if not latest.state.terminal:
                self._move(
                    latest,
                    IncidentState.ESCALATED,
                    f"the pipeline hit an error ({type(error).__name__}: {error}); "
                    "a human must take over",
                )

    def _advance(self, incident: Incident) -> None:
        # Each handler returns the incident when it moved (so it may move again this tick) or
        # None when it has to wait for a later tick.
        current: Incident | None = incident
        while current is not None and not current.state.terminal:
            handler = self._handlers.get(current.state)
            if handler is None:
                return
            current = handler(current)

    def _on_detected(self, incident: Incident) -> Incident | None:
        if incident.root_incident_id is not None:
            return None  # a symptom follows its root
        investigating = self._move(
            incident, IncidentState.INVESTIGATING, "Archaeologist is looking for the cause"
        )
        return investigating

    def _on_investigating(self, incident: Incident) -> Incident | None:
        hypothesis = self.crew.archaeologist.investigate(incident)
        incident = self._update(incident, hypothesis=hypothesis)
        plan = self.crew.tactician.plan(incident)
        tracked = self._tracked.get(incident.id)
        if tracked is not None and tracked.decided_wall is None:
            tracked.decided_wall = time.monotonic()
            with self._lock:
                self._counters.timings.append(
                    DecisionTiming(incident.id, tracked.decided_wall - tracked.detect_wall)
                )
        return self._move(
            incident,
            IncidentState.PLANNED,
            f"{hypothesis.cause} ({hypothesis.confidence:.0%} sure of the root cause); plan: "
            f"{plan.chosen.action.value} on {plan.chosen.service}/{plan.chosen.region}",
            plan=plan,
        )

    def _on_planned(self, incident: Incident) -> Incident | None:
        plan = incident.plan
        if plan is None:
            return self._move(incident, IncidentState.ESCALATED, "no plan was made")
        if plan.chosen.action is ActionKind.DO_NOTHING:
            self._say(
                AgentName.GUARDIAN,
                f"{incident.id}: leaving {incident.service}/{incident.region} alone as planned; "
                "watching the signal to confirm it is benign",
                incident_id=incident.id,
            )
            return self._move(
                incident,
                IncidentState.VERIFYING,
                "left alone: watching whether the signal settles by itself",
            )
        allowed, why = self.crew.guardian.may_act(plan.chosen.service, plan.chosen.region)
        if not allowed:
            self._say(
                AgentName.GUARDIAN, f"{incident.id}: {why}", incident_id=incident.id, level="warn"
            )
            return self._move(incident, IncidentState.ESCALATED, why)
        answer = self.crew.diplomat.request(incident, plan)
        if isinstance(answer, Approval):
            return self._settle(incident, answer)
        with self._lock:
            self._tracked.setdefault(incident.id, _Tracked()).pending = answer
        return self._move(
            incident,
            IncidentState.AWAITING_APPROVAL,
            f"waiting for approval of {plan.chosen.action.value} ({plan.approval_reason})",
        )

    def _ask_again_after_dry_run(
        self, executing: Incident, plan: Plan, report: ExecutionReport
    ) -> Incident | None:
        """The human asked to see a dry run first: show its findings and ask for a real yes
        or no (a dry run is a question, not an answer, so it never ends the incident)."""
        if not report.success:
            return self._move(
                executing,
                IncidentState.ESCALATED,
                f"the dry run found the plan cannot run: {report.summary}; over to a human",
                execution=report,
            )
        answer = self.crew.diplomat.request(executing, plan, dry_run=report)
        if isinstance(answer, Approval):  # an approver that decides at once
            return self._settle(self._update(executing, execution=report), answer)
        with self._lock:
            self._tracked.setdefault(executing.id, _Tracked()).pending = answer
        return self._move(
            executing,
            IncidentState.AWAITING_APPROVAL,
            f"{report.summary}; waiting for a real yes or no on {plan.chosen.action.value}",
            execution=report,
        )

    def _on_awaiting(self, incident: Incident) -> Incident | None:
        tracked = self._tracked.get(incident.id)
        if tracked is None or tracked.pending is None:
            return self._move(incident, IncidentState.ESCALATED, "approval request was lost")
        approval = self.crew.diplomat.poll(tracked.pending)
        if approval is None:
            return None
        tracked.pending = None
        return self._settle(incident, approval)

    def _settle(self, incident: Incident, approval: Approval) -> Incident | None:
        plan = incident.plan
        assert plan is not None
        by = f"{approval.decision.value} by {approval.by}"
        if not (approval.approved or approval.decision is ApprovalDecision.DRY_RUN):
            return self._move(
                incident,
                IncidentState.REJECTED,
                f"plan {by}; nothing executed",
                approval=approval,
            )
        if (
            approval.decision is ApprovalDecision.DRY_RUN
            and incident.execution is not None
            and incident.execution.dry_run
        ):
            # The dry run was done and its findings shown: only a real yes may go on.
            return self._move(
                incident,
                IncidentState.REJECTED,
                f"plan {by} again after its dry run; a second dry run is not a yes, "
                "nothing executed",
                approval=approval,
            )
        executing = self._move(
            incident,
            IncidentState.EXECUTING,
            f"{plan.chosen.action.value} on {plan.chosen.service}/{plan.chosen.region} ({by})",
            approval=approval,
        )
        report = self.crew.surgeon.execute(executing, plan, approval)
        if report.dry_run and approval.decision is ApprovalDecision.DRY_RUN:
            return self._ask_again_after_dry_run(executing, plan, report)
        if report.dry_run:
            return self._move(
                executing,
                IncidentState.ESCALATED,
                f"dry run only, nothing changed: {report.summary}; over to a human",
                execution=report,
            )
        if report.advised:
            # Advice is not a failed action: nothing was carried out, a human takes it from here.
            return self._move(
                executing,
                IncidentState.ESCALATED,
                f"{report.summary}; over to a human",
                execution=report,
            )
        if not report.success:
            self.crew.guardian.note_remediation(self._update(executing, execution=report))
            self.crew.guardian.clear_cooldown(incident.service, incident.region)
            return self._move(
                executing,
                IncidentState.ROLLED_BACK,
                f"execution failed: {report.summary}",
                execution=report,
            )
        verifying = self._update(executing, execution=report)
        self.crew.guardian.note_remediation(verifying)
        verifying = self._move(
            verifying,
            IncidentState.VERIFYING,
            f"{report.summary}; Guardian re-checks {incident.anomaly.signal}",
        )
        for symptom_id in verifying.symptom_ids:
            symptom = self._incidents.get(symptom_id)
            if symptom is not None and not symptom.state.terminal:
                self._follow_root_into_verification(symptom, verifying)
        return verifying

    def _follow_root_into_verification(self, symptom: Incident, root: Incident) -> None:
        assert root.execution is not None
        following = self._update(symptom, execution=root.execution)
        self.crew.guardian.note_remediation(following)
        self._move(
            following,
            IncidentState.VERIFYING,
            f"{root.id}'s {root.execution.action.value} should clear this symptom; re-checking",
        )

    def _on_verifying(self, incident: Incident) -> Incident | None:
        verification = self.crew.guardian.verify(incident)
        if verification is None:
            return None
        left_alone = incident.execution is None
        if verification.recovered:
            self.crew.guardian.note_recovered(incident)
            if left_alone:
                reason = f"left alone, and rightly: {verification.summary}"
            elif incident.root_incident_id is not None:
                reason = f"cleared by {incident.root_incident_id}: {verification.summary}"
            else:
                reason = verification.summary
            return self._move(incident, IncidentState.RESOLVED, reason, verification=verification)
        if left_alone:
            return self._move(
                incident,
                IncidentState.ESCALATED,
                f"left alone but not settling: {verification.summary}; a human should look",
                verification=verification,
            )
        if incident.root_incident_id is not None:
            # The root's action did not clear this one: handle it as a problem of its own.
            self._say(
                AgentName.GUARDIAN,
                f"{incident.id} did not clear with {incident.root_incident_id}; "
                "investigating it on its own",
                incident_id=incident.id,
                level="warn",
            )
            self._handle_on_its_own(incident.id)
            self.crew.guardian.clear_cooldown(incident.service, incident.region)
            return self._move(
                incident,
                IncidentState.DETECTED,
                f"not cleared by {incident.root_incident_id}: {verification.summary}",
                root_incident_id=None,
                execution=None,
                verification=verification,
            )
        assert incident.execution is not None
        # Undoing is a change to production too: it runs under the approval of the action
        # (the approval question said a fix that does not verify is undone automatically).
        undo = self.crew.surgeon.undo(incident.execution)
        self.crew.guardian.clear_cooldown(incident.service, incident.region)
        covered = ""
        if incident.approval is not None:
            covered = f" (covered by the approval by {incident.approval.by})"
        rolled_back = self._move(
            incident,
            IncidentState.ROLLED_BACK,
            f"{verification.summary}; undone{covered}: {undo.summary}",
            verification=verification,
        )
        self._reopen(rolled_back)
        return rolled_back

    def _reopen(self, closed: Incident) -> None:
        check = self.crew.cassandra.check(
            closed.anomaly, since=self.crew.guardian.watch_since(closed)
        )
        if check.healthy:
            return
        # The original detection instant stays, so the MTTR of the fix that finally holds
        # counts the failed attempt too.
        anomaly = closed.anomaly.model_copy(update={"symptom_of": None})
        self._say(
            AgentName.GUARDIAN,
            f"{closed.id} rolled back and {anomaly.signal} is still unhealthy: reopening",
            incident_id=closed.id,
            level="warn",
        )
        self._consider(anomaly, time.monotonic())

    # ---- closing ------------------------------------------------------------------------

    def _closed(self, incident: Incident) -> None:
        """Bookkeeping when an incident reaches a terminal state."""
        guardian = self.crew.guardian
        if incident.state is not IncidentState.ROLLED_BACK:
            # Don't reopen the same problem right away: a human said no, or it was fixed
            # (the cooldown covers it), or it was handed over.
            until = self.clock.now() + timedelta(seconds=self.settings.cooldown_s)
            self._suppressed_until[incident.anomaly.key] = until
        with_runbook = self._update(incident, runbook=guardian.runbook(incident))
        try:
            guardian.record(with_runbook)
        except Exception as error:
            self._say(
                AgentName.GUARDIAN,
                f"could not record {incident.id}: {error}",
                incident_id=incident.id,
                level="error",
            )
        with self._lock:
            self._tracked.pop(incident.id, None)
        if incident.root_incident_id is None:
            self._close_symptoms(with_runbook)
            self._notify(with_runbook, _closing_line(with_runbook))

    def _close_symptoms(self, root: Incident) -> None:
        for symptom_id in root.symptom_ids:
            symptom = self._incidents.get(symptom_id)
            if symptom is None or symptom.state.terminal:
                continue
            if root.state is not IncidentState.RESOLVED:
                self._move(symptom, root.state, f"root {root.id} ended {root.state.value}")
            elif symptom.state is IncidentState.DETECTED:
                # The root recovered without touching this one: it stands on its own now.
                self._handle_on_its_own(symptom.id)
                self._update(symptom, root_incident_id=None)
            # Symptoms already verifying settle on their own signal.

    def _handle_on_its_own(self, incident_id: str) -> None:
        """A symptom becomes a problem of its own: its detection -> decision clock starts now
        (the time it waited for its root is not decision time)."""
        with self._lock:
            tracked = self._tracked.setdefault(incident_id, _Tracked())
            tracked.detect_wall = time.monotonic()
            tracked.decided_wall = None

    def _notify(self, incident: Incident, text: str) -> None:
        try:
            self.crew.diplomat.notify(incident, text)
        except Exception as error:
            self._say(AgentName.DIPLOMAT, f"notification failed: {error}", level="warn")


def _closing_line(incident: Incident) -> str:
    state = incident.state.value.replace("_", " ")
    text = f"{incident.id} {state}: {incident.kind.value} on {incident.service}/{incident.region}"
    if incident.verification is not None and incident.verification.mttr_s is not None:
        text += f", MTTR {format_duration(incident.verification.mttr_s)}"
    return text


def summarize_states(incidents: Sequence[Incident]) -> dict[str, int]:
    """How many incidents are in each state (for summaries and tests)."""
    counts: dict[str, int] = {}
    for incident in incidents:
        counts[incident.state.value] = counts.get(incident.state.value, 0) + 1
    return counts


__all__ = [
    "SAMPLED_METRICS",
    "Crew",
    "DecisionTiming",
    "Pipeline",
    "default_crew",
    "summarize_states",
]
