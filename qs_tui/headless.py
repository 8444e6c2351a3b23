"""`qs-tui run --headless`: the simulator and the six-agent pipeline without the TUI."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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
    StoreDegraded,
    StoreRecovered,
)
from qs_tui.agents.guardian import format_duration
from qs_tui.agents.pipeline import Pipeline
from qs_tui.bench.scoring import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_UNRESOLVED,
    ExpectedMatch,
    exit_status,
    match_expected,
)
from qs_tui.clock import AcceleratedClock, ManualClock, iso_instant
from qs_tui.config import Settings
from qs_tui.models import ActionKind, Incident
from qs_tui.notify import Notifier, SlackNotifier
from qs_tui.profiles import Profile, ProfileError, load_profile
from qs_tui.session import (
    LIVE_NEEDS_DATA,
    Session,
    SessionError,
    SessionPlan,
    SourceKind,
    build_session,
    choose_source,
    open_session_store,
)
from qs_tui.sim.cluster import Simulation
from qs_tui.sim.scenario import Scenario, ScenarioError, load_scenario
from qs_tui.store.base import Store, StoreError
from qs_tui.topology import Topology

#: Exit status: the scenario, settings or store could not be used.
EXIT_ERROR = 1

#: Simulated seconds without an open incident, after the last one closed, before an early stop.
QUIET_S = 300.0
#: Simulated seconds between metric lines in `--json` output.
JSON_METRICS_EVERY_S = 60.0

ApproveMode = Literal["auto", "deny", "prompt"]


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
    settings: Settings | None = None,
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
        settings: the app settings the session is built with (None: defaults).
        profile: the schema profile whose shape the simulator writes and the queries read
            through (None: `qs`).
    """
    started = time.monotonic()
    session = build_session(
        SessionPlan(
            source="simulated",
            scenario=scenario,
            settings=settings,
            store=store,
            speed=speed,
            pipeline_settings=pipeline_settings,
            notifier=notifier,
            progress=progress,
            profile=profile,
        )
    )
    clock = session.clock
    manual = clock if isinstance(clock, ManualClock) else None
    simulation = session.simulation
    assert simulation is not None  # a simulated session always has one
    if isinstance(clock, AcceleratedClock):
        clock.pause()  # held until the loop starts, as during the history
    pipeline = session.pipeline(sink)
    run = ScenarioRun(
        scenario,
        pipeline,
        simulation,
        session.store,
        backfill_wall_s=time.monotonic() - started,
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
        if isinstance(event, StoreDegraded):
            return {
                "event": "store_degraded",
                "at": _iso(event.at),
                "error": event.error,
                "since": _iso(event.since),
                "last_ok_at": _iso(event.last_ok_at),
                "failures": event.failures,
                "retry_at": _iso(event.retry_at),
                "queued": event.queued,
            }
        if isinstance(event, StoreRecovered):
            return {
                "event": "store_recovered",
                "at": _iso(event.at),
                "since": _iso(event.since),
                "written": event.written,
                "queued": event.queued,
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
        "executed": bool(
            incident.execution and not incident.execution.dry_run and not incident.execution.advised
        ),
        "advice": list(incident.execution.advice) if incident.execution else [],
        "mttr_s": verification.mttr_s if verification else None,
        "closed_at": _iso(incident.closed_at),
        "outcome": incident.history[-1].reason if incident.history else "",
    }


def write_incidents(incidents: Sequence[Incident], out: TextIO) -> None:
    """Each incident's facts: detection, root cause, action, outcome."""
    if not incidents:
        out.write("no incidents opened\n")
    for incident in incidents:
        facts = incident_summary(incident)
        link = f" (symptom of {incident.root_incident_id})" if incident.root_incident_id else ""
        if incident.caused_by is not None:
            link += (
                f" (caused by {incident.caused_by.incident_id}'s {incident.caused_by.action.value})"
            )
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
            first = "".join(f"{p.action.value} {p.region}, then " for p in chosen.prepare)
            out.write(
                f"  action      {first}{chosen.action.value} on {chosen.service}/{chosen.region}"
            )
            if incident.approval is not None:
                out.write(f" ({incident.approval.decision.value} by {incident.approval.by})")
            elif chosen.action is ActionKind.DO_NOTHING:
                out.write(" (nothing to approve)")
            out.write("\n")
        for command in facts["advice"]:
            out.write(f"  advice      {command}  (not carried out: advisory)\n")
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


def write_summary(run: ScenarioRun, status: int, why: str, out: TextIO) -> None:
    """The closing incident summary, as text."""
    incidents = run.incidents
    simulated = (run.ended_at or run.scenario.start_time) - run.scenario.start_time
    out.write(
        f"\n== Incident summary: {run.scenario.name} "
        f"({format_duration(simulated.total_seconds())} simulated, {run.wall_s:.1f} s wall"
        f"{', stopped early: all quiet' if run.stopped_early else ''}) ==\n"
    )
    write_incidents(incidents, out)
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
    scenario: str | None,
    speed: float | None,
    approve: str,
    json_lines: bool,
    out: TextIO,
    err: TextIO,
    stdin: TextIO | None,
    settings: Settings | None = None,
    pipeline_settings: PipelineSettings | None = None,
    store: Store | None = None,
    source: str | None = None,
    run_for: timedelta | None = None,
) -> int:
    """Run the six agents without the TUI and print the transcript and a summary.

    On a simulated source a scenario plays (as fast as possible, or at `speed`); on a live
    source the agents watch the telemetry already in the store on the wall clock, for
    `run_for` or until interrupted (Ctrl-C ends with the summary).

    Args:
        scenario: a shipped scenario's name or a TOML file (None: QS_SCENARIO; refused on
            a live source).
        speed: None runs as fast as possible (manual clock); a number is simulated seconds
            per wall second (simulated source only).
        approve: `auto` approves every plan, `deny` rejects every plan, `prompt` asks on
            `stdin` (questions go to `err`, keeping `out` clean for `--json`).
        json_lines: print one JSON object per event, then one `summary` object.
        out: where the transcript and summary go.
        err: where errors and prompts go.
        stdin: where `prompt` answers come from (None or closed: `prompt` is refused).
        settings: app settings (store choice, Slack webhook); None reads the environment.
        pipeline_settings: the pipeline's knobs (defaults otherwise).
        store: write here instead of the store the settings choose (closed at the end).
        source: `--source` (None: QS_SOURCE, else live with a cluster, else simulated).
        run_for: how long a live run watches (wall time; None: until interrupted).

    Returns:
        EXIT_OK (0) when every incident ended resolved or correctly left alone; EXIT_ERROR
        (1) for a bad scenario, settings, store or combination of options; EXIT_UNRESOLVED
        (2) when an incident was missed, rolled back without a later fix, escalated or left
        open; EXIT_REJECTED (3) when plans were rejected by the approver and so nothing was
        executed. A run whose audit trail could not be completely written ends EXIT_ERROR
        (1), saying what is missing, whatever the incidents' outcome.
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
    if settings is None:
        settings = Settings.load()
    try:
        profile = load_profile(settings.profile)
        kind = choose_source(settings, source, scenario_named=scenario is not None)
        check_options(kind, scenario=scenario, speed=speed, run_for=run_for)
        loaded = load_scenario(scenario or settings.scenario) if kind == "simulated" else None
        # A cluster, or an embedded store persisted in QS_DATA_DIR / --data-dir: the audit
        # trail must land where the user said, not in a store that vanishes at exit.
        store = open_session_store(settings, given=store)
        if kind == "live" and store is None:
            raise SessionError(LIVE_NEEDS_DATA)
    except (ProfileError, ScenarioError, SessionError, StoreError) as error:
        err.write(f"error: {error}\n")
        return EXIT_ERROR
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

    if loaded is None:
        assert store is not None  # refused above
        return _run_live(
            store=store,
            settings=settings,
            profile=profile,
            sink=sink,
            notifier=notifier,
            pipeline_settings=pipeline_settings,
            run_for=run_for,
            human_turn=human_turn,
            json_lines=json_lines,
            out=out,
            err=err,
        )
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
            settings=settings,
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
    status, why = _audit_verdict(run.pipeline, status, why)
    records = run.pipeline.records
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


def check_options(
    source: SourceKind,
    *,
    scenario: str | None,
    speed: float | None,
    run_for: timedelta | None,
) -> None:
    """Refuse headless options that make no sense for `source`, in one line.

    Raises:
        SessionError: `--scenario` or `--speed` on a live source, `--for` on a simulated
            one (a scenario runs for its own duration), or a `--for` that is not positive.
    """
    if source == "live":
        if scenario is not None:
            raise SessionError(
                f"--scenario {scenario}: --source live reads the telemetry already in the "
                "store and plays no scenario; drop --scenario, or use --source simulated"
            )
        if speed is not None:
            raise SessionError(
                "--speed: --source live runs on the wall clock; drop --speed, or use "
                "--source simulated"
            )
    elif run_for is not None:
        raise SessionError(
            "--for: a simulated run lasts its scenario's duration; --for limits "
            "--source live runs only"
        )
    if run_for is not None and run_for <= timedelta(0):
        raise SessionError("--for: give a positive duration, e.g. 90s, 15m or 2h")


def _audit_verdict(pipeline: Pipeline, status: int, why: str) -> tuple[int, str]:
    """Nothing counts as done before its record is written: a last, patient try for
    whatever waited for the store, and a run whose audit trail is incomplete says so and
    fails."""
    records = pipeline.records
    if records.pending:
        records.flush(retry=True)
    audit_problem = records.problem()
    if audit_problem is not None:
        return EXIT_ERROR, f"{audit_problem}; outcome otherwise: {why}"
    return status, why


@dataclass
class LiveRun:
    """A finished (or interrupted) live run.

    Attributes:
        pipeline: the pipeline that watched.
        started_at: wall instant the watch began.
        ended_at: wall instant it stopped.
        ticks: pipeline ticks.
        interrupted: whether Ctrl-C ended it.
    """

    pipeline: Pipeline
    started_at: datetime
    ended_at: datetime
    ticks: int = 0
    interrupted: bool = False


def watch_live(
    session: Session,
    pipeline: Pipeline,
    *,
    run_for: timedelta | None,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    human_turn: Callable[[], object] | None = None,
) -> LiveRun:
    """Tick `pipeline` once per source interval on the wall clock until `run_for` is over
    (or forever when None); Ctrl-C ends the watch and still returns what was seen."""
    run = LiveRun(pipeline, started_at=session.clock.now(), ended_at=session.clock.now())
    deadline = None if run_for is None else monotonic() + run_for.total_seconds()
    interval = session.interval_s
    try:
        while deadline is None or monotonic() < deadline:
            began = monotonic()
            pipeline.tick()
            run.ticks += 1
            if human_turn is not None:
                human_turn()
            wait = interval - (monotonic() - began)
            if deadline is not None:
                wait = min(wait, deadline - monotonic())
            if wait > 0:
                sleep(wait)
    except KeyboardInterrupt:
        run.interrupted = True
    run.ended_at = session.clock.now()
    return run


def _run_live(
    *,
    store: Store,
    settings: Settings,
    profile: Profile | None = None,
    sink: EventSink,
    notifier: SlackNotifier | None,
    pipeline_settings: PipelineSettings | None,
    run_for: timedelta | None,
    human_turn: Callable[[], object] | None,
    json_lines: bool,
    out: TextIO,
    err: TextIO,
) -> int:
    """`run --headless --source live`: watch the store's telemetry, then the summary."""
    try:
        session = build_session(
            SessionPlan(
                source="live",
                settings=settings,
                store=store,
                profile=profile,
                pipeline_settings=pipeline_settings,
                notifier=notifier,
            )
        )
    except (SessionError, StoreError) as error:
        err.write(f"error: {error}\n")
        store.close()
        if notifier is not None:
            notifier.close()
        return EXIT_ERROR
    pipeline = session.pipeline(sink)
    err.write(
        "watching the telemetry in the store on the wall clock "
        + (f"for {format_duration(run_for.total_seconds())}" if run_for else "until Ctrl-C")
        + "\n"
    )
    err.flush()
    try:
        run = watch_live(session, pipeline, run_for=run_for, human_turn=human_turn)
        incidents = pipeline.incidents()
        status, why = exit_status(incidents, [])
        if run.interrupted:
            why = f"interrupted; {why}"
        status, why = _audit_verdict(pipeline, status, why)
    finally:
        session.close()
        if notifier is not None:
            notifier.close()
    watched = (run.ended_at - run.started_at).total_seconds()
    if json_lines:
        records = pipeline.records
        summary = {
            "event": "summary",
            "source": "live",
            "exit_status": status,
            "why": why,
            "watched_s": round(watched, 3),
            "interrupted": run.interrupted,
            "incidents": [incident_summary(i) for i in incidents],
            "audit": {
                "written": records.written,
                "pending": records.pending,
                "lost": records.lost,
                "refused": len(records.rejected),
            },
        }
        out.write(json.dumps(summary, default=_json_default) + "\n")
    else:
        out.write(
            f"\n== Incident summary: live ({format_duration(watched)} watched"
            f"{', interrupted' if run.interrupted else ''}) ==\n"
        )
        write_incidents(incidents, out)
        out.write(f"exit status {status}: {why}\n")
    out.flush()
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
    "LiveRun",
    "ScenarioRun",
    "TranscriptPrinter",
    "check_options",
    "play_scenario",
    "run_headless",
    "watch_live",
]
