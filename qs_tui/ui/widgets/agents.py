"""The six agent panes: each streams one agent's transcript and shows its state in its title."""

from __future__ import annotations

from collections.abc import Iterable

from rich.style import Style
from rich.text import Text
from textual.widgets import RichLog

from qs_tui.agents.events import AgentSpoke
from qs_tui.models import AgentName, Incident, IncidentState
from qs_tui.ui.widgets.colours import theme_style

#: The panes' order on screen: the order an incident meets the agents.
AGENT_ORDER: tuple[AgentName, ...] = tuple(AgentName)

#: Lines each transcript keeps (older ones scroll away).
TRANSCRIPT_LINES = 500

# Which incident states keep which agent busy, and how its title says so.
_BUSY: dict[AgentName, tuple[frozenset[IncidentState], str]] = {
    AgentName.ARCHAEOLOGIST: (
        frozenset({IncidentState.DETECTED, IncidentState.INVESTIGATING}),
        "investigating",
    ),
    AgentName.TACTICIAN: (frozenset({IncidentState.PLANNED}), "planning"),
    AgentName.DIPLOMAT: (frozenset({IncidentState.AWAITING_APPROVAL}), "waiting for approval of"),
    AgentName.SURGEON: (frozenset({IncidentState.EXECUTING}), "executing"),
    AgentName.GUARDIAN: (frozenset({IncidentState.VERIFYING}), "verifying"),
}


def agent_states(incidents: Iterable[Incident]) -> dict[AgentName, tuple[str, str]]:
    """Each agent's state line and CSS state (`idle`, `busy`, `waiting`) from the incidents.

    Cassandra watches all the time; the others are busy while an open incident is in the
    states they handle (the Diplomat is *waiting* on a human).
    """
    open_incidents = [i for i in incidents if not i.state.terminal]
    states: dict[AgentName, tuple[str, str]] = {}
    watching = len(open_incidents)
    states[AgentName.CASSANDRA] = (
        f"watching · {watching} open" if watching else "watching",
        "busy" if watching else "idle",
    )
    for agent, (handled, verb) in _BUSY.items():
        ids = [i.id for i in open_incidents if i.state in handled]
        if not ids:
            states[agent] = ("idle", "idle")
            continue
        shown = ", ".join(ids[:2]) + (f" +{len(ids) - 2}" if len(ids) > 2 else "")
        kind = "waiting" if agent is AgentName.DIPLOMAT else "busy"
        states[agent] = (f"{verb} {shown}", kind)
    return states


class AgentPane(RichLog):
    """One agent's transcript; the border title names the agent, the subtitle its state."""

    DEFAULT_CSS = """
    AgentPane {
        border: round $panel-lighten-2;
        border-title-color: $text-accent;
        border-title-style: bold;
        border-subtitle-color: $text-muted;
        background: $surface;
        overflow-x: hidden;
        /* Always reserve the scrollbar: lines are wrapped once, at the width they had. */
        overflow-y: scroll;
        scrollbar-size-vertical: 1;
        scrollbar-background: $surface;
        scrollbar-background-hover: $surface;
        scrollbar-background-active: $surface;
        scrollbar-color: $panel-lighten-2;
        padding: 0 0 0 1;
    }
    AgentPane.-busy { border: round $accent; border-subtitle-color: $accent; }
    AgentPane.-waiting { border: round $warning; border-subtitle-color: $warning; }
    """

    def __init__(self, agent: AgentName, *, id: str | None = None) -> None:
        super().__init__(
            id=id,
            wrap=True,
            markup=False,
            highlight=False,
            max_lines=TRANSCRIPT_LINES,
            min_width=20,  # wrap at the pane's width (RichLog's default is 78 columns)
        )
        self.agent = agent
        self.border_title = agent.value
        self.border_subtitle = "idle"
        self.can_focus = False
        self.lines_written = 0

    def set_state(self, text: str, kind: str) -> None:
        """Show `text` in the border and colour it by `kind` (`idle`, `busy`, `waiting`)."""
        if self.border_subtitle != text:
            self.border_subtitle = text
        self.set_class(kind == "busy", "-busy")
        self.set_class(kind == "waiting", "-waiting")

    def add_line(self, event: AgentSpoke) -> None:
        """Append one transcript line: time, incident and text, coloured by level."""
        line = Text(no_wrap=False)
        line.append(event.at.strftime("%H:%M:%S "), style=Style(dim=True))
        if event.incident_id:
            line.append(f"{event.incident_id} ", style=theme_style(self.app, "accent", bold=True))
        style = Style()
        if event.level == "warn":
            style = theme_style(self.app, "warning")
        elif event.level == "error":
            style = theme_style(self.app, "error", bold=True)
        line.append(event.text, style=style)
        self.write(line)
        self.lines_written += 1
