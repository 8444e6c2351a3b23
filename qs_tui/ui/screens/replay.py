"""Replay: a past incident played back in the war room's own widgets, from its flight record only.

The screen is the war room's (status bar, services pane with the affected service's sparklines
and chart, incident timeline, the six agents' transcript panes), fed from what was recorded
instead of a running pipeline: the affected service's telemetry in 10-second steps, the audit
trail's decisions (the incident's state changes) and each agent's transcript lines, merged on
one timeline in the order they happened (a decision or a line said in the same tick is a
position of its own, so each can be looked at). A bar under the status line shows where the
playback is, the state changes on the way, and the approval once it was given.

`space` plays or pauses, `←`/`→` step, `[`/`]` jump between state changes, `home`/`end` go to
either end, and a click on the bar jumps there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.events import Click
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Footer, Static

from qs_tui.agents.events import AgentSpoke, IncidentChanged, MetricsSampled
from qs_tui.models import AgentName, Anomaly, AnomalyKind, Incident, IncidentState
from qs_tui.queries import TIMELINE_COLUMNS
from qs_tui.recorder.flight import Decision, FlightRecord, TelemetryStep, TranscriptLine
from qs_tui.ui.widgets import (
    AGENT_ORDER,
    METRIC_KEYS,
    AgentPane,
    IncidentTimeline,
    ServicesPane,
    StatusBar,
    agent_states,
    war_room_panes,
)

#: The metric that shows each kind of incident (the column of `incident_telemetry.esql`).
SIGNAL_BY_KIND: dict[str, str] = {
    "memory_leak": "memory",
    "cpu_saturation": "cpu",
    "error_spike": "errors",
    "latency_regression": "latency",
    "traffic_drop": "rps",
    "disk_fill": "disk",
}
#: The states in the order an incident normally goes through them.
STATE_ORDER = (
    "detected",
    "investigating",
    "planned",
    "awaiting_approval",
    "executing",
    "verifying",
    "resolved",
)
#: Wall seconds between positions while playing.
PLAY_INTERVAL_S = 0.25
#: Simulated seconds one telemetry step covers (`BUCKET(@timestamp, 10 seconds)`).
STEP_S = 10.0
#: States in which the service is being acted on (the war room colours its row so).
_REMEDIATING = frozenset({"executing", "verifying"})
#: Decisions that mean the plan was carried out (its steps are in the runbook).
_EXECUTED = frozenset({"executed", "failed", "dry_run", "advised", "already_done"})


@dataclass(frozen=True)
class Frame:
    """One position on the replay's timeline: an instant, and what happened there.

    A frame holds one telemetry step, one decision or one transcript line.
    """

    at: datetime
    step: TelemetryStep | None = None
    decision: Decision | None = None
    line: TranscriptLine | None = None


def build_frames(record: FlightRecord) -> list[Frame]:
    """The timeline: telemetry steps, decisions and transcript lines merged by time.

    At one instant the telemetry comes first (what the agents saw), then decisions and
    lines in the order the run recorded them (they share one sequence).
    """
    frames = [Frame(step.at, step=step) for step in record.telemetry]
    frames += [Frame(d.at, decision=d) for d in record.decisions]
    frames += [Frame(line.at, line=line) for line in record.transcript]

    def order(frame: Frame) -> tuple[datetime, int, int]:
        if frame.step is not None:
            return (frame.at, 0, 0)
        said = frame.decision or frame.line
        return (frame.at, 1, said.sequence if said is not None else 0)

    return sorted(frames, key=order)


class ReplayApp(App[None]):
    """The war room on one past incident, on a timeline you can pause, step and scrub."""

    CSS_PATH = "../app.tcss"
    TITLE = "QuantumState replay"
    # The war room's breakpoints, so its stylesheet lays the same widgets out the same way.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]  # noqa: RUF012
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]  # noqa: RUF012
    DEFAULT_CSS = """
    #replay-bar { height: 3; padding: 0 1; background: $surface; }
    #replay-head { height: 1; color: $text; }
    #replay-scrub { height: 1; color: $accent; }
    #replay-approval { height: 1; color: $text-muted; }
    """
    # Priority: the services list and the timeline have their own arrow and home/end keys.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "play_pause", "Play/pause", priority=True),
        Binding("left", "step(-1)", "Back", priority=True),
        Binding("right", "step(1)", "Forward", priority=True),
        Binding("left_square_bracket", "jump(-1)", "Prev state", priority=True),
        Binding("right_square_bracket", "jump(1)", "Next state", priority=True),
        Binding("home", "go_to(0)", "Start", show=False, priority=True),
        Binding("end", "go_to(-1)", "End", show=False, priority=True),
        Binding("q", "quit", "Quit"),
    ]

    position: reactive[int] = reactive(0)
    playing: reactive[bool] = reactive(False)

    def __init__(self, record: FlightRecord, *, playing: bool = True) -> None:
        super().__init__()
        self.record = record
        self.frames = build_frames(record) or [Frame(record.opened_at)]
        self.signal = SIGNAL_BY_KIND.get(str(record.incident.get("kind")), "cpu")
        self.key = (str(record.incident.get("service")), str(record.incident.get("region")))
        # A trail recorded before transcript lines were: the decisions speak in the panes.
        self.decisions_speak = not record.transcript
        self._start_playing = playing
        self._timer: Timer | None = None
        self._drawn = False
        self._applied = -1  # the last frame fed to the widgets

    # ---- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """The war room's layout with the playback bar under its status line."""
        yield StatusBar(id="status")
        with Vertical(id="replay-bar"):
            yield Static(id="replay-head")
            yield Static(id="replay-scrub")
            yield Static(id="replay-approval")
        yield from war_room_panes()
        yield Footer()

    async def on_mount(self) -> None:
        """One row for the affected service with its chart open; the first frame; play."""
        self.query_one("#timeline-box").border_title = "Incident timeline"
        services = self.query_one(ServicesPane)
        services.chart_metric = TIMELINE_COLUMNS[self.signal]
        await services.set_services([self.key])
        services.select_row(services.rows[self.key], open_chart=True)
        # As in the war room: the rows have the focus (the hidden filter would take `[`).
        self.query_one("#rows").focus()
        self.query_one(StatusBar).show(
            scenario=f"replay of {self.record.incident_id}",
            store="flight record",
            health="embedded",
            speed=STEP_S / PLAY_INTERVAL_S,
            mode="replay",
        )
        self._drawn = True
        self._render_frame()
        self.playing = self._start_playing

    def agent_pane(self, agent: AgentName) -> AgentPane:
        """The transcript pane of `agent`."""
        return self.query_one(f"#agent-{agent.value.lower()}", AgentPane)

    # ---- where we are -------------------------------------------------------------------

    @property
    def frame(self) -> Frame:
        """The frame on screen."""
        return self.frames[self.position]

    def visible_decisions(self) -> list[Decision]:
        """The decisions made up to the frame on screen."""
        return [f.decision for f in self.frames[: self.position + 1] if f.decision is not None]

    def visible_lines(self) -> list[TranscriptLine]:
        """The transcript lines said up to the frame on screen."""
        return [f.line for f in self.frames[: self.position + 1] if f.line is not None]

    def current_state(self) -> str:
        """The incident's state at the frame on screen (`before detection` until then)."""
        states = [d.state for d in self.visible_decisions() if d.state is not None]
        return states[-1] if states else "before detection"

    def state_positions(self) -> list[int]:
        """Positions of the frames where the incident changed state."""
        return [
            i
            for i, f in enumerate(self.frames)
            if f.decision is not None and f.decision.state is not None
        ]

    # ---- actions ------------------------------------------------------------------------

    def action_play_pause(self) -> None:
        """Play or pause (playing from the end starts over)."""
        if not self.playing and self.position == len(self.frames) - 1:
            self.position = 0
        self.playing = not self.playing

    def action_step(self, delta: int) -> None:
        """Pause and move `delta` frames."""
        self.playing = False
        self.position = max(0, min(len(self.frames) - 1, self.position + delta))

    def action_jump(self, direction: int) -> None:
        """Pause and go to the previous (-1) or next (1) state change."""
        self.playing = False
        marks = self.state_positions()
        if direction > 0:
            later = [i for i in marks if i > self.position]
            self.position = later[0] if later else len(self.frames) - 1
        else:
            earlier = [i for i in marks if i < self.position]
            self.position = earlier[-1] if earlier else 0

    def action_go_to(self, position: int) -> None:
        """Pause at the start (0) or the end (-1)."""
        self.playing = False
        self.position = position % len(self.frames)

    def on_click(self, event: Click) -> None:
        """A click on the playback bar jumps to that point of the timeline."""
        scrub = self.query_one("#replay-scrub", Static)
        if event.widget is not scrub:
            return
        width = max(1, scrub.content_region.width - 1)
        column = max(0, min(width, event.x - scrub.gutter.left))
        self.playing = False
        self.position = round(column * (len(self.frames) - 1) / width)

    def _advance(self) -> None:
        if self.position >= len(self.frames) - 1:
            self.playing = False
            return
        self.position += 1

    def watch_playing(self, playing: bool) -> None:
        """Start or stop the playback timer."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if playing:
            self._timer = self.set_interval(PLAY_INTERVAL_S, self._advance)
        if self._drawn:
            self.query_one(StatusBar).show(paused=not playing)
            self._render_bar()

    def watch_position(self, position: int) -> None:
        """Feed the widgets up to the new position."""
        if self._drawn:
            self._render_frame()

    def on_resize(self) -> None:
        """The bar spans the width it has."""
        if self._drawn:
            self._render_bar()

    # ---- feeding the war room's widgets -------------------------------------------------

    def _render_frame(self) -> None:
        if self.position < self._applied:
            self._forget()  # going back: start over, then play forward to the position
        for index in range(self._applied + 1, self.position + 1):
            self._apply(index)
        self._applied = self.position
        self.query_one(ServicesPane).sync_visible()
        states = agent_states([self._incident(self.current_state())])
        if self.current_state() == "before detection":
            states = agent_states([])
        for agent, (text, kind) in states.items():
            self.agent_pane(agent).set_state(text, kind)
        state = self.current_state()
        open_now = state not in ("before detection", "resolved", "rejected", "escalated")
        self.query_one(StatusBar).show(
            now=self.frame.at, open_incidents=int(open_now and state != "rolled_back")
        )
        self._render_bar()

    def _forget(self) -> None:
        """Empty every widget the frames feed (to play forward again from the start)."""
        services = self.query_one(ServicesPane)
        services.last_sample = None
        services.incidents.clear()
        for row in services.rows.values():
            row.times.clear()
            row.history.clear()
        self.query_one(IncidentTimeline).clear_changes()
        for agent in AGENT_ORDER:
            self.agent_pane(agent).clear()
        self._applied = -1

    def _apply(self, index: int) -> None:
        frame = self.frames[index]
        state = self._state_at(index)
        if frame.step is not None:
            values = {
                TIMELINE_COLUMNS[name]: float(value)
                for name, value in frame.step.values.items()
                if name in TIMELINE_COLUMNS and isinstance(value, int | float)
            }
            row_state = "healthy"
            if state is not None and state not in ("resolved", "rejected", "escalated"):
                row_state = "remediating" if state in _REMEDIATING else "anomalous"
            self.query_one(ServicesPane).apply(
                MetricsSampled(frame.at, {self.key: values}, {self.key: row_state})
            )
        elif frame.decision is not None:
            decision = frame.decision
            if decision.state is not None:
                before = self._state_at(index - 1)
                incident = self._incident(decision.state)
                self.query_one(IncidentTimeline).add_change(
                    IncidentChanged(
                        incident=incident,
                        previous=_known_state(before),
                        at=decision.at,
                        reason=f"{decision.agent}: {decision.message}",
                    )
                )
                self.query_one(ServicesPane).note_incident(incident)
            if self.decisions_speak and decision.agent in AgentName._value2member_map_:
                self.agent_pane(AgentName(decision.agent)).add_line(
                    AgentSpoke(
                        agent=AgentName(decision.agent),
                        text=f"[{decision.decision}] {decision.message}",
                        at=decision.at,
                        incident_id=self.record.incident_id,
                    )
                )
        elif frame.line is not None and frame.line.agent in AgentName._value2member_map_:
            line = frame.line
            self.agent_pane(AgentName(line.agent)).add_line(
                AgentSpoke(
                    agent=AgentName(line.agent),
                    text=line.text,
                    at=line.at,
                    incident_id=line.incident_id,
                    level=line.level,
                )
            )

    def _state_at(self, index: int) -> str | None:
        """The incident's state after frame `index` (None before detection)."""
        for frame in reversed(self.frames[: index + 1]):
            if frame.decision is not None and frame.decision.state is not None:
                return frame.decision.state
        return None

    def _incident(self, state: str) -> Incident:
        """The incident as the war room's widgets take it, in `state`, from the record.

        The record keeps no slope, so the chart draws no prediction line from it.
        """
        inc = self.record.incident
        kind = AnomalyKind(str(inc.get("kind")))
        metric = TIMELINE_COLUMNS[self.signal]
        threshold = next((t for m, _, t in METRIC_KEYS.values() if m == metric), None)
        detected = self.record.telemetry_at(self.record.opened_at)
        confidence = inc.get("confidence")
        anomaly = Anomaly(
            kind=kind,
            service=self.key[0],
            region=self.key[1],
            signal=metric,
            detected_at=self.record.opened_at,
            onset_at=self.record.onset_at,
            value=float(detected.get(self.signal) or 0.0) if detected else 0.0,
            critical_threshold=threshold or 0.0,
            confidence=float(confidence) if isinstance(confidence, int | float) else 0.0,
            query=kind.value,
            summary=str(inc.get("title") or kind.value),
        )
        return Incident(
            id=self.record.incident_id,
            kind=kind,
            service=self.key[0],
            region=self.key[1],
            state=_known_state(state) or IncidentState.DETECTED,
            opened_at=self.record.opened_at,
            anomaly=anomaly,
        )

    # ---- the playback bar ---------------------------------------------------------------

    def _render_bar(self) -> None:
        mode = "▶ playing" if self.playing else "‖ paused"
        offset = round((self.frame.at - self.record.opened_at).total_seconds())
        sign = "-" if offset < 0 else "+"
        minutes, seconds = divmod(abs(offset), 60)
        head = Text.assemble(
            (f"REPLAY {self.record.incident_id} ", "bold"),
            f"{self.record.incident.get('title')} · detection {sign}{minutes}m{seconds:02d}s"
            f" · {self.current_state().replace('_', ' ')} · {mode} · "
            f"{self.position + 1}/{len(self.frames)}",
        )
        self.query_one("#replay-head", Static).update(head)
        self.query_one("#replay-scrub", Static).update(self._scrub_bar())
        self.query_one("#replay-approval", Static).update(self._approval_text())

    def _scrub_bar(self) -> Text:
        scrub = self.query_one("#replay-scrub", Static)
        width = max(10, scrub.content_region.width or 60)
        last = max(1, len(self.frames) - 1)
        marks = {round(i * (width - 1) / last) for i in self.state_positions()}
        cursor = round(self.position * (width - 1) / last)
        bar = Text()
        for column in range(width):
            if column == cursor:
                bar.append("●", style="bold")
            elif column in marks:
                bar.append("◆")
            elif column < cursor:
                bar.append("━")
            else:
                bar.append("─", style="dim")
        return bar

    def _approval_text(self) -> str:
        seen = {d.decision for d in self.visible_decisions()}
        approval = self.record.approval()
        parts: list[str] = []
        if approval is not None and approval.outcome in seen:
            waited = f"{approval.waited_s:.0f} s" if approval.waited_s is not None else "?"
            parts.append(
                f"approval: {approval.outcome} by {approval.by} at "
                f"{approval.answered_at.strftime('%H:%M:%S')} after {waited}"
            )
        elif "approval_requested" in seen:
            parts.append("approval: waiting for an answer")
        else:
            parts.append("approval: not asked yet")
        if seen & _EXECUTED:
            parts += self.record.execution_steps()
        return "  ·  ".join(parts)


def _known_state(state: str | None) -> IncidentState | None:
    """The pipeline's state of that name (None before detection or for one it lacks)."""
    if state is None:
        return None
    try:
        return IncidentState(state)
    except ValueError:
        return None
