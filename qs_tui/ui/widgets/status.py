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
        scenario: the scenario being played.
        problem: a failure to show instead of the live state.
    """

    store: str = "store"
    health: str = "starting"
    healthy: bool = True
    now: datetime | None = None
    speed: float = 1.0
    open_incidents: int = 0
    paused: bool = False
    scenario: str = ""
    problem: str | None = None


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
            parts.append(Content.from_markup("[$success]▶ live[/]"))
        return Content(" │ ").join(parts)
