"""The war room's panes, composed once for the live war room and the incident replay."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical

from qs_tui.ui.widgets.agents import AGENT_ORDER, AgentPane
from qs_tui.ui.widgets.services import ServicesPane
from qs_tui.ui.widgets.timeline import IncidentTimeline


def war_room_panes() -> ComposeResult:
    """Services and the incident timeline side by side, then the six agents' panes."""
    with Horizontal(id="top"):
        yield ServicesPane(id="services")
        with Vertical(id="timeline-box"):
            yield IncidentTimeline(id="timeline")
    with Grid(id="agents"):
        for agent in AGENT_ORDER:
            yield AgentPane(agent, id=f"agent-{agent.value.lower()}")
