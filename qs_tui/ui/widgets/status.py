"""The one-line status bar: store, health, simulated clock and speed, incidents, pause."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from textual.content import Content
from textual.widgets import Static

#: Terminal widths below which the status line drops the scenario and the date.
COMPACT_BELOW = 100


@dataclass(frozen=True)
class StatusFacts:
    """What the status bar shows.

    Attributes:
        store: where the data lives (`Health.name`: never credentials).
        health: `green`, `yellow`, `red`, `embedded`, or `starting` before the store answered.
        healthy: whether the store said it can serve queries.
        now: the simulated instant, once known.
        speed: simulated seconds per wall second.
        open_incidents: incidents not yet closed.
        paused: whether simulated time stands still.
        scenario: the scenario being played (on a live source: `live` and the profile).
        wall_clock: whether time is the wall clock (a live source): no speed is shown.
        problem: a failure to show instead of the live state.
        mode: what runs while not paused (`live`, or `replay` for a recorded incident).
    """

    store: str = "store"
    health: str = "starting"
    healthy: bool = True
    now: datetime | None = None
    speed: float = 1.0
    open_incidents: int = 0
    paused: bool = False
    scenario: str = ""
    wall_clock: bool = False
    problem: str | None = None
    mode: str = "live"


class StatusBar(Static):
    """The war room's header line; `show(**changes)` updates only what changed."""

    DEFAULT_CSS = """
    StatusBar {
        dock: top;
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $foreground;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.facts = StatusFacts()

    def on_mount(self) -> None:
        """Draw the initial state."""
        self._draw()

    def on_resize(self) -> None:
        """Switch between the full and the compact line."""
        self._draw()

    def _draw(self) -> None:
        compact = self.size.width < COMPACT_BELOW
        # One docked line of fixed height: redrawing it never needs a layout pass.
        self.update(self.render_facts(self.facts, compact=compact), layout=False)

    def show(self, **changes: object) -> None:
        """Apply `changes` to the facts (fields of `StatusFacts`) and redraw if anything moved."""
        facts = replace(self.facts, **changes)  # type: ignore[arg-type]
        if facts != self.facts:
            self.facts = facts
            self._draw()

    @staticmethod
    def render_facts(facts: StatusFacts, *, compact: bool = False) -> Content:
        """The status line for `facts` (`compact` drops the scenario and the date)."""
        parts: list[Content] = [
            Content.from_markup("[b $accent]◆ QS[/]" if compact else "[b $accent]◆ QuantumState[/]")
        ]
        if facts.scenario and not compact:
            parts.append(Content.from_markup("[dim]$scenario[/]", scenario=facts.scenario))
        if not facts.healthy or facts.health == "red":
            health = "[$error]● $health[/]"
        elif facts.health in ("yellow", "starting"):
            health = "[$warning]● $health[/]"
        else:
            health = "[$success]● $health[/]"
        shown = "ok" if facts.health == "embedded" else facts.health
        parts.append(Content.from_markup(f"$store {health}", store=facts.store, health=shown))
        if facts.problem is not None:
            parts.append(Content.from_markup("[b $error]$problem[/]", problem=facts.problem))
            return Content(" │ ").join(parts)
        shape = "%H:%M:%S" if compact else "%Y-%m-%d %H:%M:%S"
        clock = facts.now.strftime(shape) if facts.now else "--:--:--"
        if facts.wall_clock:
            parts.append(Content.from_markup("[b]$clock[/] UTC", clock=clock))
        else:
            speed = f"{facts.speed:g}"
            parts.append(Content.from_markup("[b]$clock[/] ×$speed", clock=clock, speed=speed))
        count = facts.open_incidents
        if count:
            noun = "incident" if count == 1 else "incidents"
            opened = f"{count} open" if compact else f"{count} open {noun}"
            parts.append(Content.from_markup("[b $warning]$opened[/]", opened=opened))
        else:
            quiet = "0 open" if compact else "no open incidents"
            parts.append(Content.from_markup("[$success]$quiet[/]", quiet=quiet))
        if facts.paused:
            parts.append(Content.from_markup("[reverse b $warning] ⏸ PAUSED [/]"))
        else:
            parts.append(Content.from_markup("[$success]▶ $mode[/]", mode=facts.mode))
        return Content(" │ ").join(parts)


@dataclass(frozen=True)
class OutageFacts:
    """What the degraded banner shows (from the pipeline's `StoreDegraded` event).

    Attributes:
        error: one line on the last failure (never credentials).
        since: when the store first failed.
        last_ok_at: when it last answered (None: not since the war room started).
        queued: audit records waiting to be written.
    """

    error: str
    since: datetime
    last_ok_at: datetime | None
    queued: int


class DegradedBanner(Static):
    """A line under the status bar while the store does not answer; hidden otherwise.

    Fed only by pipeline events (`show_outage`, `clear`) and the clock they carry (`at`):
    it never asks the store anything.
    """

    DEFAULT_CSS = """
    DegradedBanner {
        height: 1;
        padding: 0 1;
        background: $error;
        color: $text;
        text-style: bold;
        display: none;
    }
    DegradedBanner.-shown {
        display: block;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.facts: OutageFacts | None = None
        self.now: datetime | None = None

    @property
    def text(self) -> str:
        """The banner's words (empty while the store answers)."""
        if self.facts is None:
            return ""
        return self.render_text(self.facts, now=self.now)

    def show_outage(self, facts: OutageFacts, *, now: datetime) -> None:
        """Show (or update) the banner."""
        self.facts, self.now = facts, now
        self.set_class(True, "-shown")
        self.update(self.text, layout=False)

    def at(self, now: datetime) -> None:
        """The clock moved: the time since the last good answer grows."""
        self.now = now
        if self.facts is not None:
            self.update(self.text, layout=False)

    def clear(self) -> None:
        """The store answers again: hide the banner."""
        self.facts = None
        self.set_class(False, "-shown")
        self.update("", layout=False)

    @staticmethod
    def render_text(facts: OutageFacts, *, now: datetime | None) -> str:
        """The banner line: how long without an answer, the queue, then the error."""
        from qs_tui.agents.guardian import format_duration

        if facts.last_ok_at is None:
            last = "no answer since the start"
        elif now is None:
            last = f"last good answer at {facts.last_ok_at:%H:%M:%S}"
        else:
            ago = format_duration(max(0.0, (now - facts.last_ok_at).total_seconds()))
            last = f"last good answer {ago} ago"
        noun = "record" if facts.queued == 1 else "records"
        return (
            f"▲ DEGRADED: the store is not answering; {last} │ "
            f"{facts.queued} audit {noun} queued │ {facts.error}"
        )
