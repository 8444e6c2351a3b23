"""The war room's live widgets: status bar, services pane, chart, agent panes, timeline."""

from __future__ import annotations

from qs_tui.ui.widgets.agents import AGENT_ORDER, AgentPane, agent_states
from qs_tui.ui.widgets.chart import METRIC_KEYS, MetricChart
from qs_tui.ui.widgets.layout import war_room_panes
from qs_tui.ui.widgets.services import ServiceRow, ServicesPane
from qs_tui.ui.widgets.status import DegradedBanner, OutageFacts, StatusBar
from qs_tui.ui.widgets.timeline import IncidentTimeline

__all__ = [
    "AGENT_ORDER",
    "METRIC_KEYS",
    "AgentPane",
    "DegradedBanner",
    "IncidentTimeline",
    "MetricChart",
    "OutageFacts",
    "ServiceRow",
    "ServicesPane",
    "StatusBar",
    "agent_states",
    "war_room_panes",
]
