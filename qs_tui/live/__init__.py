"""Watching a team's own telemetry: a source that only reads, and the estate found in the data."""

from __future__ import annotations

from qs_tui.live.estate import (
    Estate,
    EstateChange,
    EstateError,
    EstateWatcher,
    discover,
    discover_estate,
)
from qs_tui.live.render import Renderer, render_canonical
from qs_tui.live.source import LiveSource, LiveStep
from qs_tui.live.topology_config import TopologyConfigError, load_dependencies, topology_file

__all__ = [
    "Estate",
    "EstateChange",
    "EstateError",
    "EstateWatcher",
    "LiveSource",
    "LiveStep",
    "Renderer",
    "TopologyConfigError",
    "discover",
    "discover_estate",
    "load_dependencies",
    "render_canonical",
    "topology_file",
]
