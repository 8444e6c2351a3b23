"""Replay: a past incident played back in the war room's look, from its flight record only.

The timeline is the affected service's telemetry in 10-second steps with every recorded
decision as a step of its own at its instant (decisions made in the same tick stay apart, so
each can be looked at). `space` plays or pauses, `←`/`→` step, `[`/`]` jump between state
changes, `home`/`end` go to either end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Footer, Sparkline, Static

from qs_tui.recorder.flight import Decision, FlightRecord

#: The metric that shows each kind of incident (the replay's chart).
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
#: Wall seconds between steps while playing.
PLAY_INTERVAL_S = 0.25


@dataclass(frozen=True)
class Frame:
    """One position on the replay's timeline: an instant, and the decision made there if any."""

    at: datetime
    decision: Decision | None


def build_frames(record: FlightRecord) -> list[Frame]:
    """The timeline: telemetry steps and decisions merged by time (decisions after the step
    that holds their instant)."""
    frames = [Frame(step.at, None) for step in record.telemetry]
    for decision in record.decisions:
        # After every frame at or before the decision's instant: the telemetry it saw.
        where = sum(1 for frame in frames if frame.at <= decision.at)
        frames.insert(where, Frame(decision.at, decision))
    return frames


class ReplayApp(App[None]):
    """The war room's look on one past incident, on a timeline you can pause, step and scrub."""

    TITLE = "QuantumState replay"
    DEFAULT_CSS = """
    #replay-head { height: 1; background: $primary-background; color: $text; padding: 0 1; }
    #replay-states { height: 1; padding: 0 1; }
    #replay-timeline { height: 1; padding: 0 1; color: $accent; }
    #replay-body { height: 1fr; }
    #replay-left { width: 1fr; }
    #replay-chart-title { height: 1; padding: 0 1; color: $text-muted; }
    #replay-chart { height: 6; margin: 0 1; }
    #replay-chart > .sparkline--max-color { color: $error; }
    #replay-chart > .sparkline--min-color { color: $success; }
    #replay-values { height: 3; padding: 0 1; }
    #replay-approval { height: auto; padding: 0 1; border-top: solid $panel; }
    #replay-transcript { width: 2fr; padding: 0 1; border-left: solid $panel; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "play_pause", "Play/pause"),
        Binding("left", "step(-1)", "Back"),
        Binding("right", "step(1)", "Forward"),
        Binding("left_square_bracket", "jump(-1)", "Prev state"),
        Binding("right_square_bracket", "jump(1)", "Next state"),
        Binding("home", "go_to(0)", "Start", show=False),
        Binding("end", "go_to(-1)", "End", show=False),
        Binding("q", "quit", "Quit"),
    ]

    position: reactive[int] = reactive(0)
    playing: reactive[bool] = reactive(False)

    def __init__(self, record: FlightRecord, *, playing: bool = True) -> None:
        super().__init__()
        self.record = record
        self.frames = build_frames(record) or [Frame(record.opened_at, None)]
        self.signal = SIGNAL_BY_KIND.get(str(record.incident.get("kind")), "cpu")
        self._start_playing = playing
        self._timer: Timer | None = None
        self._drawn = False

    # ---- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """Head, state ribbon, timeline bar, chart and values beside the transcript."""
        yield Static(id="replay-head")
        yield Static(id="replay-states")
        yield Static(id="replay-timeline")
        with Horizontal(id="replay-body"):
            with Vertical(id="replay-left"):
                yield Static(id="replay-chart-title")
                yield Sparkline([], id="replay-chart")
                yield Static(id="replay-values")
                yield Static(id="replay-approval")
            yield Static(id="replay-transcript")
        yield Footer()

    def on_mount(self) -> None:
        """Draw the first frame and start playing when asked."""
        self._drawn = True
        self._render_frame()
        self.playing = self._start_playing

    # ---- where we are -------------------------------------------------------------------

    @property
    def frame(self) -> Frame:
        """The frame on screen."""
        return self.frames[self.position]

    def visible_decisions(self) -> list[Decision]:
        """The decisions made up to the frame on screen."""
        return [f.decision for f in self.frames[: self.position + 1] if f.decision is not None]

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
            self._render_head()

    def watch_position(self, position: int) -> None:
        """Redraw for the new position."""
        if self._drawn:
            self._render_frame()

    # ---- drawing ------------------------------------------------------------------------

    def _render_head(self) -> None:
        inc = self.record.incident
        mode = "▶ playing" if self.playing else "‖ paused"
        offset = round((self.frame.at - self.record.opened_at).total_seconds())
        sign = "-" if offset < 0 else "+"
        minutes, seconds = divmod(abs(offset), 60)
        head = (
            f"REPLAY {self.record.incident_id}  {inc.get('title')}  ·  "
            f"{self.frame.at.strftime('%Y-%m-%d %H:%M:%S')} "
            f"(detection {sign}{minutes}m{seconds:02d}s)  ·  {mode}  ·  "
            f"step {self.position + 1}/{len(self.frames)}"
        )
        self.query_one("#replay-head", Static).update(head)

    def _render_frame(self) -> None:
        self._render_head()
        current = self.current_state()
        ribbon = Text()
        for state in STATE_ORDER:
            style = "bold reverse" if state == current else "dim"
            ribbon.append(f" {state.replace('_', ' ')} ", style=style)
            ribbon.append(" ")
        if current not in STATE_ORDER:
            ribbon.append(f" {current.replace('_', ' ')} ", style="bold reverse")
        self.query_one("#replay-states", Static).update(ribbon)
        self.query_one("#replay-timeline", Static).update(self._timeline_bar())
        steps = [s for s in self.record.telemetry if s.at <= self.frame.at]
        series = [float(s.values.get(self.signal) or 0.0) for s in steps]
        self.query_one("#replay-chart-title", Static).update(
            f"{self.signal} on {self.record.incident.get('service')}/"
            f"{self.record.incident.get('region')} (10 s steps)"
        )
        self.query_one("#replay-chart", Sparkline).data = series[-120:] or [0.0]
        latest = steps[-1].values if steps else {}
        values = "  ".join(
            f"{name} {value:.2f}" if isinstance(value, int | float) else f"{name} -"
            for name, value in latest.items()
        )
        self.query_one("#replay-values", Static).update(values or "no telemetry yet")
        self.query_one("#replay-approval", Static).update(self._approval_text())
        lines = Text()
        for decision in self.visible_decisions()[-30:]:
            lines.append(decision.at.strftime("%H:%M:%S "), style="dim")
            lines.append(f"{decision.agent:<13} ", style="bold")
            lines.append(f"[{decision.decision}] ", style="italic")
            lines.append(decision.message + "\n")
        self.query_one("#replay-transcript", Static).update(lines or "(no decision yet)")

    def _timeline_bar(self) -> Text:
        width = 60
        last = max(1, len(self.frames) - 1)
        marks = {round(i * (width - 1) / last) for i in self.state_positions()}
        cursor = round(self.position * (width - 1) / last)
        bar = Text()
        for column in range(width):
            if column == cursor:
                bar.append("●", style="bold")
            elif column in marks:
                bar.append("◆")
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
        if seen & {"executed", "failed", "dry_run", "advised", "already_done"}:
            parts += [f"  {step}" for step in self.record.execution_steps()]
        return "\n".join(parts) or "approval: not asked yet"
