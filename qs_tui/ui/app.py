"""The war room: a full-screen Textual app where the six agents work live."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from qs_tui.agents.base import PipelineSettings
from qs_tui.agents.events import ApprovalRequested, Event
from qs_tui.agents.pipeline import Pipeline
from qs_tui.clock import AcceleratedClock, Clock, ManualClock, SystemClock
from qs_tui.config import Settings
from qs_tui.models import AgentName, ApprovalDecision, Incident
from qs_tui.session import SourceKind
from qs_tui.sim.faults import FaultSpec
from qs_tui.sim.scenario import Scenario
from qs_tui.store.base import Store
from qs_tui.ui.messages import (
    AgentSpokeMessage,
    ApprovalRequestedMessage,
    ApprovalSettledMessage,
    IncidentChangedMessage,
    MetricsSampledMessage,
    RuntimeFailed,
    RuntimeReady,
    StoreDegradedMessage,
    StoreRecoveredMessage,
    message_for,
)
from qs_tui.ui.runner import DEFAULT_SPEED, Runtime, RuntimePlan, build_runtime
from qs_tui.ui.widgets import (
    AgentPane,
    DegradedBanner,
    IncidentTimeline,
    OutageFacts,
    ServicesPane,
    StatusBar,
    agent_states,
    war_room_panes,
)

if TYPE_CHECKING:
    from textual.screen import ModalScreen

#: The steps `+` and `-` move through (simulated seconds per wall second).
SPEED_STEPS: tuple[float, ...] = (1, 2, 5, 10, 20, 30, 60, 120, 300)
#: Message latencies kept for the benchmark (seconds from post to handling).
LATENCY_SAMPLES = 10_000

_ANSWERS = frozenset(
    {ApprovalDecision.APPROVED, ApprovalDecision.REJECTED, ApprovalDecision.DRY_RUN}
)


class _Flushed(Message):
    """Marks the end of a batch of worker messages (see `WarRoomApp.advance`)."""

    def __init__(self, done: asyncio.Event) -> None:
        super().__init__()
        self.done = done


class WarRoomApp(App[int]):
    """Services, agents, timeline and approvals, fed by the pipeline running in a worker.

    Args:
        plan: what to build (scenario, clock, store, pipeline settings).
        live: True runs the pipeline in a thread worker at the clock's pace; False only
            builds it, and tests drive it with `advance()` (deterministic).
        speed: the speed shown (and set on an AcceleratedClock by `+`/`-`).
    """

    CSS_PATH = "app.tcss"
    TITLE = "QuantumState"
    SUB_TITLE = "SRE war room"
    HORIZONTAL_BREAKPOINTS = [  # noqa: RUF012 - Textual reads these class attributes
        (0, "-narrow"),
        (100, "-wide"),
    ]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]  # noqa: RUF012

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help"),
        Binding("slash", "filter", "Filter"),
        Binding("space", "toggle_pause", "Pause"),
        Binding("i", "inject", "Inject fault"),
        Binding("t", "time_travel", "Time travel"),
        Binding("plus,equals_sign", "speed(1)", "Faster", key_display="+"),
        Binding("minus", "speed(-1)", "Slower", key_display="-"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self, plan: RuntimePlan, *, live: bool = True, speed: float = DEFAULT_SPEED
    ) -> None:
        super().__init__()
        self.plan = plan
        self.live = live
        self.speed = plan.clock.speed if isinstance(plan.clock, AcceleratedClock) else speed
        self.paused = False
        self.runtime: Runtime | None = None
        self.failure: str | None = None
        self.incidents: dict[str, Incident] = {}
        self.approvals: dict[str, ModalScreen[Any]] = {}
        self.message_latencies: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self.metrics_messages = 0
        self._runtime_ready = asyncio.Event()
        self._leave_lock = threading.Lock()
        self._leaving = False
        self._left = False
        self.left_behind: list[Incident] = []
        #: Audit records the store had not taken when the war room closed (they are lost).
        self.unwritten_records = 0
        """Incidents closed because the operator left while they waited for an answer."""
        self._stop = threading.Event()
        self._segment = threading.Event()

    # ---- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """Status bar; services and timeline; the six agents; key footer."""
        yield StatusBar(id="status")
        # In the flow under the docked status bar (two widgets docked to one edge overlap);
        # hidden, it takes no room.
        yield DegradedBanner(id="degraded")
        yield from war_room_panes()
        yield Footer()

    def on_mount(self) -> None:
        """Show the layout at once; the worker writes the history and starts the pipeline."""
        self.query_one("#timeline-box").border_title = "Incident timeline"
        self.services.border_subtitle = "writing history…"
        self.status.show(
            scenario=self._source_name(),
            wall_clock=self.plan.source == "live",
            store="embedded (memory)" if self.plan.store is None else "connecting…",
            now=self.plan.clock.now(),
            speed=self.speed,
        )
        self.query_one("#rows").focus()
        self.start_pipeline()

    def _source_name(self) -> str:
        """The scenario played, or on a live source `live` and the profile read through."""
        if self.plan.source != "live" and self.plan.scenario is not None:
            return self.plan.scenario.name
        profile = self.plan.profile.name if self.plan.profile is not None else "qs"
        return f"live · {profile} profile"

    @property
    def status(self) -> StatusBar:
        """The status bar."""
        return self.query_one(StatusBar)

    @property
    def services(self) -> ServicesPane:
        """The services pane."""
        return self.query_one(ServicesPane)

    @property
    def timeline(self) -> IncidentTimeline:
        """The incident timeline."""
        return self.query_one(IncidentTimeline)

    def agent_pane(self, agent: AgentName) -> AgentPane:
        """The transcript pane of `agent`."""
        return self.query_one(f"#agent-{agent.value.lower()}", AgentPane)

    @property
    def pipeline(self) -> Pipeline:
        """The running pipeline.

        Raises:
            RuntimeError: before the worker has built it.
        """
        if self.runtime is None:
            raise RuntimeError("the pipeline is not ready yet (await app.wait_ready())")
        return self.runtime.pipeline

    @property
    def clock(self) -> Clock:
        """Simulated time."""
        return self.plan.clock

    # ---- the worker ---------------------------------------------------------------------

    def _sink(self, event: Event) -> None:
        # Runs on the worker thread: post only (thread-safe), never touch widgets.
        self.post_message(message_for(event))

    @work(thread=True, exclusive=True, exit_on_error=False, group="pipeline")
    def start_pipeline(self) -> None:
        """Write the history, build the pipeline and (live) tick it until quit."""
        try:
            runtime = build_runtime(self.plan, self._sink)
        except Exception as error:
            self.post_message(RuntimeFailed(_describe(error)))
            return
        self.runtime = runtime  # before the message, so its handler finds it
        self.post_message(
            RuntimeReady(
                health=runtime.health, history_s=runtime.history_s, setup_s=runtime.setup_s
            )
        )
        if not self.live:
            return
        try:
            while not self._stop.is_set():
                # One `run` per speed: `+`/`-` end the segment so the next one ticks at the
                # new pace.
                self._segment = segment = threading.Event()
                if self._stop.is_set():
                    break
                runtime.pipeline.run(segment, tick_wall_s=runtime.tick_wall_s())
        except Exception as error:
            self.post_message(RuntimeFailed(_describe(error)))
        finally:
            runtime.close()

    def stop_pipeline(self) -> None:
        """Ask the worker to stop after its current tick."""
        self._stop.set()
        self._segment.set()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker that died unexpectedly shows up in the status bar."""
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self._fail(_describe(event.worker.error))

    async def wait_ready(self) -> None:
        """Wait until the history is written and the pipeline is built.

        Raises:
            RuntimeError: when the worker could not build it (the message says why).
        """
        await self._runtime_ready.wait()
        if self.runtime is None:
            raise RuntimeError(f"the war room could not start: {self.failure}")

    async def advance(self, ticks: int = 1) -> None:
        """Non-live mode: run `ticks` pipeline ticks in a thread and handle their messages.

        With a ManualClock each tick first moves the clock one sample interval, unless the
        war room is paused (then time stands still and the ticks only poll approvals).
        """
        await self.wait_ready()
        runtime = self.runtime
        assert runtime is not None

        def run() -> None:
            clock = runtime.clock
            for _ in range(ticks):
                if isinstance(clock, ManualClock) and not self.paused:
                    clock.advance(runtime.interval_s)
                runtime.pipeline.tick()

        await asyncio.to_thread(run)
        await self.flush()

    async def flush(self) -> None:
        """Wait until every message posted so far has been handled."""
        done = asyncio.Event()
        self.post_message(_Flushed(done))
        while not done.is_set():
            try:
                await asyncio.wait_for(done.wait(), timeout=0.5)
            except TimeoutError:
                if not self.is_running or self._exception is not None:
                    raise RuntimeError(
                        "the war room stopped before handling its messages"
                    ) from None

    def on__flushed(self, message: _Flushed) -> None:
        """The batch before this marker has been handled."""
        message.done.set()

    # ---- pipeline messages --------------------------------------------------------------

    async def on_runtime_ready(self, message: RuntimeReady) -> None:
        """Rows for the estate; the store's health in the status bar."""
        runtime = self.runtime
        assert runtime is not None
        topology = runtime.topology
        await self.services.set_services(
            ((service, region) for service in topology.services for region in topology.regions),
            history=runtime.recent,
        )
        health = message.health
        self.status.show(store=health.name, health=health.status, healthy=health.ok)
        self._runtime_ready.set()

    def on_runtime_failed(self, message: RuntimeFailed) -> None:
        """Show what went wrong (the user can still quit)."""
        self._fail(message.text)

    def _fail(self, text: str) -> None:
        self.failure = text
        self._runtime_ready.set()  # nobody waits for a start that will not come
        self.status.show(problem=text, healthy=False, health="error")
        self.notify(text, title="The pipeline stopped", severity="error", timeout=30)

    def on_metrics_sampled_message(self, message: MetricsSampledMessage) -> None:
        """New samples: sparklines, row colours, clock."""
        event = message.event
        self.metrics_messages += 1
        self.services.apply(event)
        self.status.show(now=event.at)
        self.query_one(DegradedBanner).at(event.at)
        self.message_latencies.append(time.monotonic() - message.posted_at)

    def on_store_degraded_message(self, message: StoreDegradedMessage) -> None:
        """The store stopped answering: the degraded banner (from the event, no store call)."""
        event = message.event
        facts = OutageFacts(
            error=event.error, since=event.since, last_ok_at=event.last_ok_at, queued=event.queued
        )
        self.query_one(DegradedBanner).show_outage(facts, now=event.at)

    def on_store_recovered_message(self, message: StoreRecoveredMessage) -> None:
        """The store answers again: the banner goes."""
        self.query_one(DegradedBanner).clear()

    def on_agent_spoke_message(self, message: AgentSpokeMessage) -> None:
        """A transcript line into its agent's pane."""
        self.agent_pane(message.event.agent).add_line(message.event)

    def on_incident_changed_message(self, message: IncidentChangedMessage) -> None:
        """Timeline, agent states, open-incident count, chart prediction."""
        event = message.event
        incident = event.incident
        self.incidents[incident.id] = incident
        self.timeline.add_change(event)
        self.services.note_incident(incident)
        self._refresh_agent_states()
        open_count = sum(1 for i in self.incidents.values() if not i.state.terminal)
        self.status.show(open_incidents=open_count)
        self._follow_on_detail_screens(incident)

    def _follow_on_detail_screens(self, incident: Incident) -> None:
        # An open detail screen of this incident follows it as it moves on.
        for screen in self.screen_stack:
            shown = getattr(screen, "incident", None)
            show = getattr(screen, "show", None)
            if isinstance(shown, Incident) and shown.id == incident.id and callable(show):
                show(incident)

    def _refresh_agent_states(self) -> None:
        for agent, (text, kind) in agent_states(self.incidents.values()).items():
            self.agent_pane(agent).set_state(text, kind)

    def on_approval_requested_message(self, message: ApprovalRequestedMessage) -> None:
        """Ask the human: the approval modal (the rest of the UI keeps updating)."""
        from qs_tui.ui.screens.approval import ApprovalModal

        request = message.event
        if self._leaving:
            return  # the operator is leaving: `leave()` closes this request with a record
        options: dict[str, Any] = {}
        if self.plan.approval_monotonic is not None:
            options["monotonic"] = self.plan.approval_monotonic
        modal = ApprovalModal(request, **options)
        self.approvals[request.incident.id] = modal
        self.push_screen(modal, callback=partial(self._approval_answered, request, modal))
        self.bell()

    def _approval_answered(
        self, request: ApprovalRequested, modal: ModalScreen[Any], decision: Any
    ) -> None:
        self.approvals.pop(request.incident.id, None)
        if getattr(modal, "answered_elsewhere", False) or decision not in _ANSWERS:
            return  # settled by the pipeline (timeout) or closed without an answer
        accepted: bool | None = getattr(modal, "accepted", None)
        if accepted is None:
            # A modal that did not answer on its key press: answer now.
            from qs_tui.agents.diplomat import answer_approval

            accepted = answer_approval(request.future, decision, by="keyboard")
        if not accepted:
            self.notify(
                f"{request.incident.id}: too late, the request had already timed out",
                severity="warning",
            )

    def on_approval_settled_message(self, message: ApprovalSettledMessage) -> None:
        """Close the modal of a request settled elsewhere (timeout, another answer)."""
        event = message.event
        modal = self.approvals.pop(event.incident_id, None)
        if modal is not None:
            settled: Callable[[ApprovalDecision], None] | None = getattr(modal, "settled", None)
            if settled is not None:
                settled(event.decision)
        verdict = event.decision.value.replace("_", " ")
        severity: Literal["information", "warning"] = (
            "information" if event.decision is ApprovalDecision.APPROVED else "warning"
        )
        self.notify(f"{event.incident_id}: {verdict} by {event.by}", severity=severity)

    def on_incident_timeline_incident_selected(
        self, message: IncidentTimeline.IncidentSelected
    ) -> None:
        """Open the incident's detail screen."""
        incident = self.incidents.get(message.incident_id)
        if incident is None:
            return
        from qs_tui.ui.screens.incident import IncidentScreen

        self.push_screen(IncidentScreen(incident))

    # ---- actions ------------------------------------------------------------------------

    def action_help(self) -> None:
        """Key reference."""
        from qs_tui.ui.screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def action_filter(self) -> None:
        """Focus the services filter."""
        self.services.open_filter()

    def action_toggle_pause(self) -> None:
        """Stop or restart simulated time (the worker keeps polling approvals)."""
        self.set_paused(not self.paused)

    def set_paused(self, paused: bool) -> None:
        """Pause (simulated time stands still) or resume."""
        self.paused = paused
        clock = self.plan.clock
        if isinstance(clock, AcceleratedClock):
            if paused:
                clock.pause()
            else:
                clock.resume()
        self.status.show(paused=paused)

    def action_speed(self, step: int) -> None:
        """Go one step faster (+1) or slower (-1)."""
        if self.plan.source == "live":
            self.notify("a live source runs on the wall clock: +/- set the simulation's speed")
            return
        faster = [s for s in SPEED_STEPS if s > self.speed]
        slower = [s for s in SPEED_STEPS if s < self.speed]
        if step > 0 and faster:
            self.set_speed(faster[0])
        elif step < 0 and slower:
            self.set_speed(slower[-1])

    def set_speed(self, speed: float) -> None:
        """Run simulated time at `speed` seconds per wall second."""
        self.speed = speed
        clock = self.plan.clock
        if isinstance(clock, AcceleratedClock):
            clock.set_speed(speed)
        self._segment.set()  # the worker starts a new segment at the new pace
        self.status.show(speed=speed)

    def action_inject(self) -> None:
        """Pick a fault and a target, and place it on the simulation's timeline now."""
        if self.runtime is None:
            self.notify("still writing the history; try again in a moment")
            return
        from qs_tui.ui.screens.inject import InjectFaultScreen

        if self.runtime.simulation is None:
            # A live estate is the team's production: nothing here may break it on purpose.
            self.notify("faults are injected into the simulation only (--source simulated)")
            return
        topology = self.runtime.topology
        self.push_screen(InjectFaultScreen(topology), callback=self._inject)

    def _inject(self, spec: FaultSpec | None) -> None:
        if spec is None or self.runtime is None or self.runtime.simulation is None:
            return
        try:
            self.runtime.simulation.inject(spec)
        except ValueError as error:
            self.notify(f"cannot inject: {error}", severity="error")
            return
        self.notify(f"injected {spec.kind.value} on {spec.service}/{spec.region}")

    def action_time_travel(self) -> None:
        """Scrub back through time (queries run in the screen's thread worker)."""
        if self.runtime is None:
            self.notify("still writing the history; try again in a moment")
            return
        from qs_tui.ui.screens.timetravel import TimeTravelScreen

        topology = self.runtime.topology
        onsets = [(i.id, i.anomaly.onset_at) for i in self.incidents.values()]
        services = [(s, r) for s in topology.services for r in topology.regions]
        self.push_screen(
            TimeTravelScreen(
                self.runtime.store,
                now=self.clock.now(),
                onsets=onsets,
                services=services,
                profile=self.runtime.plan.profile,
            )
        )

    async def action_quit(self) -> None:
        """Close what waits for an answer, stop the pipeline and leave."""
        self._leaving = True
        # Off the UI thread: leaving waits for the worker's current tick to end.
        await asyncio.to_thread(self.leave)
        self.stop_pipeline()
        # The result is what `run()` returns; `return_code` is the process's exit status.
        code = 1 if self.failure else 0
        self.exit(code, return_code=code)

    def leave(self) -> list[Incident]:
        """Close the approval requests nobody will answer now that the operator leaves.

        An unanswered request is rejected (by: operator left); one answered just before
        leaving keeps its answer on record but is not carried out, because nobody would
        watch the change or its verification. Each such incident is closed and recorded, and
        listed in `left_behind` (`qs-tui` prints them after the screen closes). Safe from any
        thread; only the first call closes anything.
        """
        runtime = self.runtime
        if runtime is None:
            return []
        with self._leave_lock:
            if self._left:
                return []
            self._left = self._leaving = True
            try:
                closed = runtime.pipeline.leave(by="operator left", reason="the war room closed")
                self.unwritten_records = runtime.pipeline.unwritten_records
            except Exception as error:  # a failing store must not keep the operator in
                self.failure = self.failure or f"could not close open approvals: {error}"
                return []
        self.left_behind.extend(closed)
        return closed

    def on_unmount(self) -> None:
        """Leaving by any route closes waiting approvals and stops the worker; a non-live
        session closes its store here."""
        try:
            self.leave()  # before the worker is told to stop: it closes the store after
        finally:
            self.stop_pipeline()
        if not self.live and self.runtime is not None:
            self.runtime.close()
        elif self.runtime is None and self.failure is not None and self.plan.store is not None:
            self.plan.store.close()  # the worker failed before it took the store over

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The war room's actions in the command palette, next to Textual's (themes, …)."""
        for command in super().get_system_commands(screen):
            # Textual's "Keys" panel says less than the war room's own key reference ("Help").
            if command.title != "Keys":
                yield command
        yield SystemCommand("Help", "Key reference", self.action_help)
        yield SystemCommand("Filter services", "Narrow the services pane", self.action_filter)
        yield SystemCommand(
            "Pause / resume", "Stop or restart simulated time", self.action_toggle_pause
        )
        yield SystemCommand("Inject fault", "Pick a fault and a target", self.action_inject)
        yield SystemCommand("Time travel", "Scrub back through time", self.action_time_travel)
        yield SystemCommand("Faster", "Speed simulated time up", partial(self.action_speed, 1))
        yield SystemCommand("Slower", "Slow simulated time down", partial(self.action_speed, -1))


def _describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text.splitlines()[0] if text else type(error).__name__


def make_app(
    *,
    store: Store | None = None,
    scenario: str | Scenario | None = "healthy",
    clock: Clock | None = None,
    seed: int | None = None,
    speed: float | None = None,
    settings: Settings | None = None,
    live: bool = True,
    pipeline_settings: PipelineSettings | None = None,
    history: timedelta | None = None,
    approval_monotonic: Callable[[], float] | None = None,
    start: datetime | None = None,
    source: SourceKind = "simulated",
) -> WarRoomApp:
    """Build the war room (for `qs-tui` and for tests).

    Args:
        store: where telemetry goes (None: a fresh in-memory embedded store).
        scenario: a scenario name, TOML path or loaded `Scenario`.
        clock: simulated time (default: AcceleratedClock at `speed` when live, else a
            ManualClock), starting at the scenario's start.
        seed: overrides the scenario's seed.
        speed: simulated seconds per wall second (default 10: one sample a second).
        settings: app settings (a Slack notifier when `SLACK_WEBHOOK_URL` is set).
        live: run the pipeline in a worker (False: tests drive `await app.advance(n)`).
        pipeline_settings: the pipeline's knobs (approval timeout, …).
        history: how much history to write first (a timedelta; default 40 min).
        approval_monotonic: wall clock for approval deadlines (tests).
        start: overrides the scenario's start instant.
        source: `simulated` (the scenario plays) or `live` (no scenario: pass None, a
            store holding telemetry and a wall clock).

    Raises:
        ScenarioError: for an unknown or invalid scenario.
    """
    from qs_tui.profiles import load_profile
    from qs_tui.sim.scenario import load_scenario
    from qs_tui.ui.runner import DEFAULT_HISTORY

    loaded: Scenario | None = None
    if source == "simulated":
        loaded = (
            scenario
            if isinstance(scenario, Scenario)
            else load_scenario(scenario if scenario is not None else "healthy")
        )
        updates: dict[str, Any] = {}
        if seed is not None:
            updates["seed"] = seed
        if start is not None:
            updates["start"] = start
        if updates:
            loaded = loaded.model_copy(update=updates)
    chosen_speed = speed if speed is not None else DEFAULT_SPEED
    if clock is None:
        if loaded is None:
            clock = SystemClock()
        elif live:
            clock = AcceleratedClock(loaded.start_time, speed=chosen_speed)
        else:
            clock = ManualClock(loaded.start_time)
    notifier = None
    if settings is not None and live:
        from qs_tui.notify import SlackNotifier

        notifier = SlackNotifier.from_settings(settings)
    plan = RuntimePlan(
        scenario=loaded,
        clock=clock,
        store=store,
        pipeline_settings=pipeline_settings,
        history=history if history is not None else DEFAULT_HISTORY,
        notifier=notifier,
        approval_monotonic=approval_monotonic,
        source=source,
        settings=settings,
        profile=load_profile(settings.profile) if settings is not None else None,
    )
    return WarRoomApp(plan, live=live, speed=chosen_speed)


__all__ = ["SPEED_STEPS", "WarRoomApp", "make_app"]
