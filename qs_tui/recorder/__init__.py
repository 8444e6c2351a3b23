"""The incident flight recorder: an incident read back from the store and its audit trail,
its postmortem, and the list of past incidents."""

from __future__ import annotations

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
