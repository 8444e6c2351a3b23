"""`qs-tui run --headless`: the simulator and the six-agent pipeline without the TUI."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TextIO, cast

from qs_tui.agents.base import PipelineSettings
from qs_tui.agents.events import (
    AgentSpoke,
    ApprovalRequested,
    ApprovalSettled,
    Event,
    EventSink,
    IncidentChanged,
    MetricsSampled,
)
from qs_tui.agents.guardian import format_duration
from qs_tui.agents.pipeline import Pipeline
from qs_tui.clock import AcceleratedClock, Clock, ManualClock, iso_instant
from qs_tui.config import Settings
from qs_tui.models import ActionKind, Incident, IncidentState
from qs_tui.notify import Notifier
from qs_tui.profiles import Profile, ProfileError, load_profile
from qs_tui.remediation import SimulatedExecutor
from qs_tui.sim.cluster import Simulation
from qs_tui.sim.faults import ALL, FaultKind
from qs_tui.sim.scenario import ExpectedIncident, Scenario, ScenarioError, load_scenario
from qs_tui.sim.shapes import simulated_shape
from qs_tui.store.base import Store, StoreError
from qs_tui.topology import Topology

#: Exit status: every incident resolved (or correctly left alone) and every expected one found.
EXIT_OK = 0
#: Exit status: the scenario, settings or store could not be used.
EXIT_ERROR = 1
#: Exit status: an incident was missed, rolled back without a later fix, escalated or still open.
EXIT_UNRESOLVED = 2
#: Exit status: everything found, but the approver rejected a plan, so it was not executed
#: (what `--approve deny` is expected to end with).
EXIT_REJECTED = 3

#: Simulated seconds without an open incident, after the last one closed, before an early stop.
QUIET_S = 300.0
#: Simulated seconds between metric lines in `--json` output.
JSON_METRICS_EVERY_S = 60.0

ApproveMode = Literal["auto", "deny", "prompt"]


# ---- matching incidents against a scenario's [expected] section -----------------------------


def _regions_match(expected: str, actual: str) -> bool:
    return ALL in (expected, actual) or expected == actual


def fault_start(scenario: Scenario, expected: ExpectedIncident) -> datetime:
    """When the fault behind an expected incident begins (the first matching fault's offset)."""
    start = scenario.start_time
    fallback: datetime | None = None
    for fault in scenario.faults:
        if fault.service != expected.service or not _regions_match(fault.region, expected.region):
            continue
        at = start + fault.offset
        introduces = fault.params.introduces
        if fault.kind == expected.kind or (
            fault.kind is FaultKind.BAD_DEPLOY
            and expected.kind in (FaultKind.BAD_DEPLOY, introduces or FaultKind.MEMORY_LEAK)
        ):
            return at
        fallback = fallback or at
    return fallback or start


@dataclass(frozen=True)
class ExpectedMatch:
    """How the run fared against one `[[expected.incidents]]` entry.

    Attributes:
        expected: the entry.
        fault_start: when its fault began.
        related: incidents on the expected service or its dependents in the expected region
            (detection counts these: a cascade seen first upstream is still seen).
        localized: root incidents on exactly the expected service and region.
    """

    expected: ExpectedIncident
    fault_start: datetime
    related: tuple[Incident, ...]
    localized: tuple[Incident, ...]

    @property
    def detected(self) -> bool:
        """Whether anything was raised for this fault."""
        return bool(self.related)

    @property
    def first(self) -> Incident | None:
        """The first localized incident (or the first related one)."""
        if self.localized:
            return self.localized[0]
        return self.related[0] if self.related else None

    @property
    def final(self) -> Incident | None:
        """The last localized incident: the one whose outcome counts."""
        return self.localized[-1] if self.localized else None

    @property
    def resolved(self) -> bool:
        """Whether the last localized incident ended resolved."""
        final = self.final
        return final is not None and final.state is IncidentState.RESOLVED

    @property
    def root_cause_correct(self) -> bool:
        """Whether the localized incident's hypothesis names the expected root cause."""
        return any(root_cause_matches(self.expected, i) for i in self.localized)

    @property
    def actions(self) -> list[str]:
        """Actions chosen for the localized incidents, in order."""
        return [i.plan.chosen.action.value for i in self.localized if i.plan is not None]

    @property
    def action_correct(self) -> bool:
        """Whether a chosen action is one the scenario accepts."""
        accepted = {"do_nothing" if a == "none" else a for a in self.expected.actions}
        return any(action in accepted for action in self.actions)


def root_cause_matches(expected: ExpectedIncident, incident: Incident) -> bool:
    """Whether `incident`'s hypothesis names `expected.root_cause`.

    `deploy vX` needs the suspect deploy to be version X; a fault kind needs a non-deploy
    cause located at the expected service (and region), of that kind unless it is a cascade.
    """
    hypothesis = incident.hypothesis
    if hypothesis is None:
        return False
    wanted = expected.root_cause.strip()
    if wanted.lower().startswith("deploy"):
        version = wanted.split()[-1].lstrip("vV")
        deploy = hypothesis.suspect_deploy
        return (
            hypothesis.cause_kind == "deploy"
            and deploy is not None
            and deploy.version.lstrip("vV") == version
        )
    if hypothesis.cause_kind == "deploy":
        return False
    if hypothesis.root_service != expected.service:
        return False
    if not _regions_match(expected.region, hypothesis.root_region):
        return False
    if wanted == FaultKind.CASCADE.value:
        return True
    return incident.kind.value == wanted or wanted in hypothesis.cause


def match_expected(
    scenario: Scenario, incidents: Sequence[Incident], topology: Topology
) -> list[ExpectedMatch]:
    """Pair each expected incident with what the pipeline raised."""
    matches = []
    for expected in scenario.expected.incidents:
        around = {expected.service, *topology.dependents(expected.service)}
        related = tuple(
            i
            for i in incidents
            if i.service in around and _regions_match(expected.region, i.region)
        )
        localized = tuple(
            i
            for i in related
            if i.root_incident_id is None
            and i.service == expected.service
            and _regions_match(expected.region, i.region)
        )
        matches.append(ExpectedMatch(expected, fault_start(scenario, expected), related, localized))
    return matches


def false_incidents(
    incidents: Sequence[Incident], matches: Sequence[ExpectedMatch]
) -> list[Incident]:
    """Incidents no expected incident accounts for (a symptom counts with its root)."""
    accounted = {i.id for match in matches for i in match.related}
    by_id = {i.id: i for i in incidents}
    found = []
    for incident in incidents:
        if incident.id in accounted:
            continue
        root = by_id.get(incident.root_incident_id or "")
        if root is not None and root.id in accounted:
            continue
        found.append(incident)
    return found


def handled(incident: Incident, incidents: Sequence[Incident]) -> bool:
    """Resolved, or rolled back and then fixed by a later incident on the same signal."""
    if incident.state is IncidentState.RESOLVED:
        return True
    if incident.state is IncidentState.ROLLED_BACK:
        # Later by position (incidents come oldest first): ids continue across runs and need
        # not sort as text (INC-9999 < INC-10000).
        position = next((n for n, i in enumerate(incidents) if i.id == incident.id), -1)
        return any(
            later.anomaly.key == incident.anomaly.key and later.state is IncidentState.RESOLVED
            for later in incidents[position + 1 :]
        )
    return False


def exit_status(incidents: Sequence[Incident], matches: Sequence[ExpectedMatch]) -> tuple[int, str]:
    """The run's exit status and a sentence saying why (see the EXIT_* constants)."""
    missed = [m.expected for m in matches if not m.detected]
    if missed:
        names = ", ".join(f"{e.kind} on {e.service}/{e.region}" for e in missed)
        return EXIT_UNRESOLVED, f"missed: {names}"
    open_ = [i.id for i in incidents if not i.state.terminal]
    if open_:
        return EXIT_UNRESOLVED, f"still open: {', '.join(open_)}"
    rejected = [i for i in incidents if i.state is IncidentState.REJECTED]
    failed = [
        i for i in incidents if i.state is not IncidentState.REJECTED and not handled(i, incidents)
    ]
    if failed:
        listed = ", ".join(f"{i.id} {i.state.value}" for i in failed)
        return EXIT_UNRESOLVED, f"not resolved: {listed}"
    if rejected:
        listed = ", ".join(i.id for i in rejected)
        return EXIT_REJECTED, f"plans rejected, nothing executed for: {listed}"
    if not incidents:
        return EXIT_OK, "no incidents, as expected" if scenario_quiet(matches) else "no incidents"
    return EXIT_OK, "every incident resolved or correctly left alone"


def scenario_quiet(matches: Sequence[ExpectedMatch]) -> bool:
    """True when nothing was expected."""
    return not matches


# ---- running a scenario -----------------------------------------------------------------


@dataclass
class ScenarioRun:
    """A finished (or stopped) scenario run.

    Attributes:
        scenario: what was played.
        pipeline: the pipeline that ran it (incidents, decision timings).
        simulation: the simulated production.
        store: the store it wrote to.
        ticks: pipeline ticks.
        wall_s: wall seconds of the live part (backfill excluded).
        backfill_wall_s: wall seconds spent writing the history.
        ended_at: simulated instant the run stopped.
        stopped_early: whether it stopped before the scenario's end because all was quiet.
    """

    scenario: Scenario
    pipeline: Pipeline
    simulation: Simulation
    store: Store
    ticks: int = 0
    wall_s: float = 0.0
    backfill_wall_s: float = 0.0
    ended_at: datetime | None = None
    stopped_early: bool = False
    matches: list[ExpectedMatch] = field(default_factory=list)

    @property
    def incidents(self) -> list[Incident]:
        """Every incident of the run."""
        return self.pipeline.incidents()


def quiet_stop(scenario: Scenario, topology: Topology) -> Callable[[Pipeline], bool]:
    """A `stop_when` for runs that should end once every expected incident is closed and
    `QUIET_S` simulated seconds passed without an open incident. Never stops a scenario
    that expects nothing (a false alarm can come at any time)."""

    def done(pipeline: Pipeline) -> bool:
        if scenario.expected.none:
            return False
        incidents = pipeline.incidents()
        if not incidents or any(not i.state.terminal for i in incidents):
            return False
        matches = match_expected(scenario, incidents, topology)
        if not all(m.final is not None for m in matches):
            return False
        last_closed = max(i.closed_at for i in incidents if i.closed_at is not None)
        return (pipeline.clock.now() - last_closed).total_seconds() >= QUIET_S

    return done


def play_scenario(
    scenario: Scenario,
    *,
    sink: EventSink,
    speed: float | None = None,
    pipeline_settings: PipelineSettings | None = None,
    store: Store | None = None,
    notifier: Notifier | None = None,
    stop_early: bool = True,
    step_s: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    human_turn: Callable[[], object] | None = None,
    progress: Callable[[int, int], None] | None = None,
    profile: Profile | None = None,
) -> ScenarioRun:
    """Backfill the scenario's history, then run the pipeline over its duration.

    Args:
        scenario: what to play.
        sink: receives every event (approval requests included: answer them there).
        speed: None runs as fast as possible on a manual clock; a number runs accelerated
            real time (simulated seconds per wall second).
        pipeline_settings: the pipeline's knobs.
        store: where telemetry goes (default: a fresh in-memory embedded store).
        notifier: the Diplomat's notifier (None: no notifications).
        stop_early: stop once every expected incident is closed and things are quiet.
        step_s: simulated seconds per tick on the manual clock (default: the scenario's
            sample interval).
        sleep: how to wait between ticks in accelerated mode.
        human_turn: called after every tick with simulated time held (an accelerated clock
            is paused meanwhile): the `--approve prompt` questions are asked here, so
            however long a person takes, the incident waits for them.
        progress: called during the backfill with (metric samples done, in total).
        profile: the schema profile the agents' queries are rendered through (None: `qs`).
    """
    clock: Clock
    manual: ManualClock | None = None
    if speed is None:
        manual = ManualClock(scenario.start_time)
        clock = manual
    else:
        clock = AcceleratedClock(scenario.start_time, speed=speed)
    if store is None:
        from qs_tui.store.embedded import EmbeddedStore

        store = EmbeddedStore(now=clock.now)
    store.ensure_templates()
    simulation = Simulation.from_scenario(scenario, clock=clock, shape=simulated_shape(profile))
    started = time.monotonic()
    if isinstance(clock, AcceleratedClock):
        clock.pause()  # history is written "as of" the start, however long it takes
    simulation.backfill(store, scenario.history_span, progress=progress)
    pipeline = Pipeline(
        store=store,
        source=simulation,
        executor=SimulatedExecutor(simulation),
        clock=clock,
        sink=sink,
        topology=simulation.topology,
        settings=pipeline_settings,
        notifier=notifier,
        profile=profile,
    )
    run = ScenarioRun(
        scenario, pipeline, simulation, store, backfill_wall_s=time.monotonic() - started
    )
    end = scenario.start_time + scenario.duration_span
    stop_when = quiet_stop(scenario, simulation.topology) if stop_early else None
    started = time.monotonic()
    if manual is not None:
        after_tick = stop_when
        if human_turn is not None:
            turn = human_turn

            def after_tick(pipeline: Pipeline) -> bool:
                turn()  # the manual clock only moves between ticks: it waits for the answer
                return stop_when is not None and stop_when(pipeline)

        run.ticks = pipeline.run_until(end, stop_when=after_tick, step_s=step_s)
    else:
        interval = float(simulation.interval_s)
        if isinstance(clock, AcceleratedClock):
            clock.resume()
        while clock.now() < end:
            began = time.monotonic()
            pipeline.tick()
            run.ticks += 1
            if human_turn is not None and isinstance(clock, AcceleratedClock):
                clock.pause()
                try:
                    human_turn()
                finally:
                    clock.resume()
            if stop_when is not None and stop_when(pipeline):
                break
            assert speed is not None
            sleep(max(0.0, interval / speed - (time.monotonic() - began)))
    run.wall_s = time.monotonic() - started
    run.ended_at = clock.now()
    run.stopped_early = run.ended_at < end
    run.matches = match_expected(scenario, pipeline.incidents(), simulation.topology)
    return run


# ---- printing ---------------------------------------------------------------------------


def _clock(at: datetime) -> str:
    return at.strftime("%H:%M:%S")


def _iso(at: datetime | None) -> str | None:
    return None if at is None else iso_instant(at)


def _json_default(value: object) -> str:
    """JSON for what `json` cannot write: instants in the one ISO 8601 form with `Z`."""
    return iso_instant(value) if isinstance(value, datetime) else str(value)


class TranscriptPrinter:
    """Prints events as transcript lines (`12:04:10 Cassandra     …`) or JSON lines.

    Args:
        out: where lines go.
        json_lines: one JSON object per event instead of text.
    """

    def __init__(self, out: TextIO, *, json_lines: bool = False) -> None:
        self.out = out
        self.json_lines = json_lines
        self._last_metrics: datetime | None = None
        self._lock = threading.Lock()
        self._held: list[str] | None = None

    def __call__(self, event: Event) -> None:
        """Print one event (or keep it for later while a question is on screen)."""
        if self.json_lines:
            record = self._record(event)
            text = None if record is None else json.dumps(record, default=_json_default)
        else:
            text = self._line(event)
        if text is None:
            return
        with self._lock:
            if self._held is not None:
                self._held.append(text)
                return
            self.out.write(text + "\n")
            self.out.flush()

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Keep lines back while a question waits on the terminal, then print them in order
        (a line from another thread, say a Slack delivery warning, never lands mid-prompt)."""
        with self._lock:
            self._held = []
        try:
            yield
        finally:
            with self._lock:
                held, self._held = self._held or [], None
                for text in held:
                    self.out.write(text + "\n")
                self.out.flush()

    def _line(self, event: Event) -> str | None:
        if isinstance(event, AgentSpoke):
            tag = f"[{event.incident_id}] " if event.incident_id else ""
            marker = {"warn": "! ", "error": "!! "}.get(event.level, "")
            return f"{_clock(event.at)} {event.agent.value:<13} {marker}{tag}{event.text}"
        if isinstance(event, IncidentChanged):
            incident = event.incident
            if event.previous is None:
                change = f"opened {incident.kind.value} on {incident.service}/{incident.region}"
            elif event.previous is incident.state:
                change = "updated"
            else:
                change = f"{event.previous.value} -> {incident.state.value}"
            return f"{_clock(event.at)} {'Incident':<13} [{incident.id}] {change}: {event.reason}"
        # Approval requests and answers are the Diplomat's own transcript lines.
        return None

    def _record(self, event: Event) -> dict[str, Any] | None:
        if isinstance(event, AgentSpoke):
            return {
                "event": "agent_spoke",
                "at": _iso(event.at),
                "agent": event.agent.value,
                "incident_id": event.incident_id,
                "level": event.level,
                "text": event.text,
                "data": event.data,
            }
        if isinstance(event, IncidentChanged):
            incident = event.incident
            return {
                "event": "incident_changed",
                "at": _iso(event.at),
                "incident_id": incident.id,
                "state": incident.state.value,
                "previous": event.previous.value if event.previous else None,
                "reason": event.reason,
                "kind": incident.kind.value,
                "service": incident.service,
                "region": incident.region,
                "root_incident_id": incident.root_incident_id,
            }
        if isinstance(event, ApprovalRequested):
            return {
                "event": "approval_requested",
                "incident_id": event.incident.id,
                "action": event.plan.chosen.action.value,
                "service": event.plan.chosen.service,
                "region": event.plan.chosen.region,
                "reason": event.plan.reason,
                "timeout_s": event.timeout_s,
            }
        if isinstance(event, ApprovalSettled):
            return {
                "event": "approval_settled",
                "at": _iso(event.at),
                "incident_id": event.incident_id,
                "decision": event.decision.value,
                "by": event.by,
            }
        if isinstance(event, MetricsSampled):
            # One metrics line per simulated minute keeps the stream readable.
            if (
                self._last_metrics is not None
                and (event.at - self._last_metrics).total_seconds() < JSON_METRICS_EVERY_S
            ):
                return None
            self._last_metrics = event.at
            return {
                "event": "metrics_sampled",
                "at": _iso(event.at),
                "series": [
                    {
                        "service": service,
                        "region": region,
                        "state": event.states.get((service, region), "healthy"),
                        **{k: round(v, 4) for k, v in values.items()},
                    }
                    for (service, region), values in sorted(event.series.items())
                ],
            }
        return None


def incident_summary(incident: Incident) -> dict[str, Any]:
    """The facts of one incident for the closing summary (text and JSON)."""
    anomaly = incident.anomaly
    hypothesis = incident.hypothesis
    plan = incident.plan
    approval = incident.approval
    verification = incident.verification
    return {
        "incident_id": incident.id,
        "kind": incident.kind.value,
        "service": incident.service,
        "region": incident.region,
        "state": incident.state.value,
        "root_incident_id": incident.root_incident_id,
        "symptom_ids": list(incident.symptom_ids),
        "detected_at": _iso(anomaly.detected_at),
        "onset_at": _iso(anomaly.onset_at),
        "time_to_critical_s": anomaly.time_to_critical_s,
        "detection": anomaly.summary,
        "root_cause": hypothesis.cause if hypothesis else None,
        "root_cause_kind": hypothesis.cause_kind if hypothesis else None,
        "confidence": hypothesis.confidence if hypothesis else None,
        "action": plan.chosen.action.value if plan else None,
        "approval": approval.decision.value if approval else None,
        "approved_by": approval.by if approval else None,
        "executed": bool(incident.execution and not incident.execution.dry_run),
        "mttr_s": verification.mttr_s if verification else None,
        "closed_at": _iso(incident.closed_at),
        "outcome": incident.history[-1].reason if incident.history else "",
    }


def write_summary(run: ScenarioRun, status: int, why: str, out: TextIO) -> None:
    """The closing incident summary, as text."""
    incidents = run.incidents
    simulated = (run.ended_at or run.scenario.start_time) - run.scenario.start_time
    out.write(
        f"\n== Incident summary: {run.scenario.name} "
        f"({format_duration(simulated.total_seconds())} simulated, {run.wall_s:.1f} s wall"
        f"{', stopped early: all quiet' if run.stopped_early else ''}) ==\n"
    )
    if not incidents:
        out.write("no incidents opened\n")
    for incident in incidents:
        facts = incident_summary(incident)
        link = f" (symptom of {incident.root_incident_id})" if incident.root_incident_id else ""
        out.write(
            f"{incident.id}  {incident.kind.value} on {incident.service}/{incident.region}"
            f"{link}: {incident.state.value.upper().replace('_', ' ')}\n"
        )
        ttc = incident.anomaly.time_to_critical_s
        out.write(
            f"  detected    {_clock(incident.anomaly.detected_at)} "
            f"(onset {_clock(incident.anomaly.onset_at)})"
            + (f"; time to critical {format_duration(ttc)}" if ttc is not None else "")
            + "\n"
        )
        if facts["root_cause"] is not None:
            out.write(
                f"  root cause  {facts['root_cause']} ({facts['root_cause_kind']}), "
                f"{facts['confidence']:.0%} sure\n"
            )
        if incident.plan is not None:
            chosen = incident.plan.chosen
            out.write(f"  action      {chosen.action.value} on {chosen.service}/{chosen.region}")
            if incident.approval is not None:
                out.write(f" ({incident.approval.decision.value} by {incident.approval.by})")
            elif chosen.action is ActionKind.DO_NOTHING:
                out.write(" (nothing to approve)")
            out.write("\n")
        mttr = facts["mttr_s"]
        out.write(
            f"  outcome     {facts['outcome']}"
            + (
                f" [MTTR {format_duration(mttr)}]"
                if mttr is not None and "MTTR" not in facts["outcome"]
                else ""
            )
            + "\n"
        )
    for match in run.matches:
        expected = match.expected
        final = match.final
        verdict = (
            f"found as {', '.join(i.id for i in match.localized)}, {final.state.value}"
            if final is not None
            else ("seen only as symptoms" if match.detected else "MISSED")
        )
        out.write(f"expected {expected.kind} on {expected.service}/{expected.region}: {verdict}\n")
    out.write(f"exit status {status}: {why}\n")
    out.flush()


# ---- the command ------------------------------------------------------------------------


def run_headless(
    *,
    scenario: str,
    speed: float | None,
    approve: str,
    json_lines: bool,
    out: TextIO,
    err: TextIO,
    stdin: TextIO | None,
    settings: Settings | None = None,
    pipeline_settings: PipelineSettings | None = None,
    store: Store | None = None,
) -> int:
    """Run a scenario through the six agents and print the transcript and a summary.

    Args:
        scenario: a shipped scenario's name or a TOML file.
        speed: None runs as fast as possible (manual clock); a number is simulated seconds
            per wall second.
        approve: `auto` approves every plan, `deny` rejects every plan, `prompt` asks on
            `stdin` (questions go to `err`, keeping `out` clean for `--json`).
        json_lines: print one JSON object per event, then one `summary` object.
        out: where the transcript and summary go.
        err: where errors and prompts go.
        stdin: where `prompt` answers come from (None or closed: `prompt` is refused).
        settings: app settings (store choice, Slack webhook); None reads the environment.
        pipeline_settings: the pipeline's knobs (defaults otherwise).
        store: write here instead of the store the settings choose (closed at the end).

    Returns:
        EXIT_OK (0) when every incident ended resolved or correctly left alone; EXIT_ERROR
        (1) for a bad scenario, settings or store; EXIT_UNRESOLVED (2) when an incident was
        missed, rolled back without a later fix, escalated or left open; EXIT_REJECTED (3)
        when plans were rejected by the approver and so nothing was executed. A run whose
        audit trail could not be completely written ends EXIT_ERROR (1), saying what is
        missing, whatever the incidents' outcome.
    """
    from qs_tui.agents.diplomat import PromptApprover, approval_handler

    if approve not in ("auto", "deny", "prompt"):
        err.write(f"error: --approve must be auto, deny or prompt, not {approve!r}\n")
        return EXIT_ERROR
    if approve == "prompt" and (stdin is None or stdin.closed):
        # `<&-`: there is nobody to ask, so say so before anything runs.
        err.write(
            "error: --approve prompt reads answers from stdin, but stdin is closed; "
            "use --approve deny (or auto)\n"
        )
        return EXIT_ERROR
    try:
        loaded = load_scenario(scenario)
    except ScenarioError as error:
        err.write(f"error: {error}\n")
        return EXIT_ERROR
    if settings is None:
        settings = Settings.load()
    try:
        profile = load_profile(settings.profile)
    except ProfileError as error:
        err.write(f"error: {error}\n")
        return EXIT_ERROR
    if store is None and (settings.store_kind == "elastic" or settings.data_dir is not None):
        # A cluster, or an embedded store persisted in QS_DATA_DIR / --data-dir: the audit
        # trail must land where the user said, not in a store that vanishes at exit.
        from qs_tui.store.factory import open_store

        try:
            store = open_store(settings)
        except StoreError as error:
            err.write(f"error: {error}\n")
            return EXIT_ERROR
    from qs_tui.notify import SlackNotifier

    notifier = SlackNotifier.from_settings(settings)
    mode = cast(ApproveMode, approve)  # checked against the three modes above
    answer = approval_handler(mode, input_stream=stdin, output_stream=err)
    printer = TranscriptPrinter(out, json_lines=json_lines)

    def sink(event: Event) -> None:
        printer(event)
        if isinstance(event, ApprovalRequested):
            answer(event)

    human_turn: Callable[[], object] | None = None
    if isinstance(answer, PromptApprover):
        prompter = answer

        def human_turn() -> None:
            # Between ticks, with simulated time held: the question stays readable and the
            # incident waits for the person (up to the request's deadline).
            if prompter.waiting:
                with printer.holding():
                    prompter.ask_waiting()

    try:
        run = play_scenario(
            loaded,
            sink=sink,
            speed=speed,
            pipeline_settings=pipeline_settings,
            store=store,
            notifier=notifier,
            human_turn=human_turn,
            progress=BackfillProgress(err),
            profile=profile,
        )
    except StoreError as error:
        err.write(f"error: {error}\n")
        if store is not None:
            store.close()
        return EXIT_ERROR
    except KeyboardInterrupt:
        err.write("interrupted\n")
        return EXIT_UNRESOLVED
    finally:
        if notifier is not None:
            notifier.close()
    status, why = exit_status(run.incidents, run.matches)
    # Nothing counts as done before its record is written: a last, patient try for whatever
    # waited for the store, and a run whose audit trail is incomplete says so and fails.
    records = run.pipeline.records
    if records.pending:
        records.flush(retry=True)
    audit_problem = records.problem()
    if audit_problem is not None:
        status, why = EXIT_ERROR, f"{audit_problem}; outcome otherwise: {why}"
    notes = run_notes(run, settings)
    if json_lines:
        summary = {
            "event": "summary",
            "scenario": loaded.name,
            "exit_status": status,
            "why": why,
            "simulated_s": (
                (run.ended_at or loaded.start_time) - loaded.start_time
            ).total_seconds(),
            "wall_s": round(run.wall_s, 3),
            "incidents": [incident_summary(i) for i in run.incidents],
            "audit": {
                "written": records.written,
                "pending": records.pending,
                "lost": records.lost,
                "refused": len(records.rejected),
            },
            "telemetry_failed_ticks": run.pipeline.telemetry_failures,
            "notes": notes,
        }
        out.write(json.dumps(summary, default=_json_default) + "\n")
    else:
        write_summary(run, status, why, out)
        for note in notes:
            out.write(f"note: {note}\n")
        out.flush()
    run.store.close()
    return status


class BackfillProgress:
    """Progress of a long backfill on stderr, one line per tenth (short ones stay silent).

    Args:
        err: where the lines go.
        threshold: samples below which nothing is printed.
    """

    def __init__(self, err: TextIO, *, threshold: int = 200_000) -> None:
        self.err = err
        self.threshold = threshold
        self._shown = 0

    def __call__(self, done: int, total: int) -> None:
        """Print a line each time another tenth of `total` is done."""
        if total < self.threshold or total <= 0:
            return
        tenth = min(10, done * 10 // total)
        if tenth > self._shown:
            self._shown = tenth
            self.err.write(f"writing history: {done:,} of {total:,} samples ({tenth * 10}%)\n")
            self.err.flush()


def run_notes(run: ScenarioRun, settings: Settings) -> list[str]:
    """What the user should know about where this run's records went."""
    notes = []
    failures = run.pipeline.telemetry_failures
    if failures:
        notes.append(f"telemetry could not be written on {failures} ticks and was retried")
    skipped = run.simulation.backfill_skipped
    if skipped:
        notes.append(f"{skipped:,} history samples were already in the store and not rewritten")
    if settings.store_kind == "embedded" and settings.data_dir is None:
        notes.append(
            "the embedded store was in memory: this run's incidents and audit trail are gone; "
            "set QS_DATA_DIR or --data-dir to keep them"
        )
    return notes


__all__ = [
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_REJECTED",
    "EXIT_UNRESOLVED",
    "ExpectedMatch",
    "ScenarioRun",
    "TranscriptPrinter",
    "exit_status",
    "false_incidents",
    "match_expected",
    "play_scenario",
    "run_headless",
]
