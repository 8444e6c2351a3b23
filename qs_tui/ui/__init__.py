"""The war-room TUI: `make_app` builds it, `run_tui` runs it for `qs-tui`."""

from __future__ import annotations

from qs_tui.ui.app import WarRoomApp, make_app
from qs_tui.ui.runner import run_tui

__all__ = ["WarRoomApp", "make_app", "run_tui"]
