"""Recorded incidents and small hosts for testing the war room's screens on their own."""

from __future__ import annotations

import json
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from textual.app import App
from textual.screen import Screen

from qs_tui.agents.events import ApprovalRequested
from qs_tui.models import ApprovalDecision, Incident

#: A memory-leak incident recorded from `play_scenario(load_scenario("memory-leak"))`:
#: as it was when approval was requested, and once resolved.
RECORDING = Path(__file__).parent / "data" / "memory_leak_incident.json"

#: The monotonic instant the recorded approval request expires at (tests freeze time).
DEADLINE = 1000.0


def recorded(which: str) -> Incident:
    """The recorded incident `requested` (awaiting approval) or `resolved`."""
    data = json.loads(RECORDING.read_text(encoding="utf-8"))
    return Incident.model_validate(data[which])


def approval_request(*, timeout_s: float = 120.0) -> ApprovalRequested:
    """The recorded approval request, with a fresh future and a deadline at `DEADLINE`."""
    incident = recorded("requested")
    assert incident.plan is not None
    future: Future[ApprovalDecision] = Future()
    return ApprovalRequested(
        incident=incident, plan=incident.plan, future=future, timeout_s=timeout_s, deadline=DEADLINE
    )


class FrozenMonotonic:
    """A `time.monotonic` stand-in that moves only when a test says so."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class ScreenHost(App[None]):
    """An empty app that pushes one screen and records what it was dismissed with."""

    def __init__(self, screen: Screen[Any]) -> None:
        super().__init__()
        self.screen_under_test = screen
        self.results: list[Any] = []

    def on_mount(self) -> None:
        self.push_screen(self.screen_under_test, callback=self.results.append)


def plain(widget: Any) -> str:
    """The text a Static shows, without styles."""
    visual = widget.visual
    return str(getattr(visual, "plain", visual))
