"""The war room's screens: approval, incident detail, time travel, help and the fault menu."""

from __future__ import annotations

from qs_tui.ui.screens.approval import ApprovalModal
from qs_tui.ui.screens.help import KEY_REFERENCE, HelpScreen, key_reference_markdown
from qs_tui.ui.screens.incident import IncidentScreen
from qs_tui.ui.screens.inject import InjectFaultScreen, build_fault
from qs_tui.ui.screens.timetravel import ServiceState, TimeTravelScreen, services_as_of

__all__ = [
    "KEY_REFERENCE",
    "ApprovalModal",
    "HelpScreen",
    "IncidentScreen",
    "InjectFaultScreen",
    "ServiceState",
    "TimeTravelScreen",
    "build_fault",
    "key_reference_markdown",
    "services_as_of",
]
