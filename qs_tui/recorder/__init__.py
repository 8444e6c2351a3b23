"""The incident flight recorder: an incident read back from the store and its audit trail,
its postmortem, and the list of past incidents.

The readers are loaded when first asked for (PEP 562), so `qs-tui` adding the recorder's
commands to its parser does not load them for every other command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qs_tui.recorder.flight import (
        FlightRecord,
        IncidentNotFound,
        list_incidents,
        load_incident,
        parse_since,
    )
    from qs_tui.recorder.postmortem import postmortem_json, postmortem_markdown

__all__ = [
    "FlightRecord",
    "IncidentNotFound",
    "list_incidents",
    "load_incident",
    "parse_since",
    "postmortem_json",
    "postmortem_markdown",
]


def __getattr__(name: str) -> Any:
    if name in ("postmortem_json", "postmortem_markdown"):
        from qs_tui.recorder import postmortem

        return getattr(postmortem, name)
    if name in __all__:
        from qs_tui.recorder import flight

        return getattr(flight, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
