"""Shared fixtures for the war-room tests: a deterministic app, and a steady screen.

`war_room(...)` builds the app the way `qs-tui` does, but in its deterministic mode: a
ManualClock at the scenario's start, the scenario's seed, no worker loop (tests call
`await app.advance(ticks)`), and a hand-driven wall clock for approval deadlines.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import textual.constants
from textual.widgets import Input

from qs_tui.agents.base import PipelineSettings
from qs_tui.sim.scenario import Scenario, TopologySpec, load_scenario
from qs_tui.ui.app import WarRoomApp, make_app

#: The two terminal sizes the war room is judged at.
WIDE = (120, 40)
SMALL = (80, 24)

#: History written before the live part in tests: the detectors' 30 min baseline plus
#: their 10 min window, so the leak is seen on the first detection pass.
TEST_HISTORY = timedelta(minutes=40)


def leak_alone() -> Scenario:
    """The memory-leak scenario on the leaking service alone (payment-service in us-east-1,
    two hosts): the same incident, approval and remediation, for tests about that flow.

    The full estate (four services in three regions) makes every tick's telemetry, detection
    pass and redraw of the services pane about twelve times bigger; tests that look at the
    estate itself keep it.
    """
    leak = load_scenario("memory-leak")
    estate = TopologySpec(services=["payment-service"], regions=["us-east-1"], hosts_per_region=2)
    return leak.model_copy(update={"topology": estate})


class HandWall:
    """A stand-in for `time.monotonic` that moves only when a test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Let `seconds` of wall time pass."""
        self.now += seconds


@pytest.fixture(autouse=True)
def steady_screen(monkeypatch: pytest.MonkeyPatch) -> None:
    """No animations and no blinking cursor, so every frame is the same on every run.

    Both are settings rather than behaviour: Textual reads the animation level from this
    constant when an app starts, and an Input reads `cursor_blink` when it mounts.
    """
    monkeypatch.setattr(textual.constants, "TEXTUAL_ANIMATIONS", "none")
    monkeypatch.setattr(Input, "cursor_blink", False)


@pytest.fixture
def anyio_backend() -> str:
    """Textual runs on asyncio."""
    return "asyncio"


@pytest.fixture
def hand_wall() -> HandWall:
    """The approval deadlines' wall clock, driven by the test."""
    return HandWall()


@pytest.fixture
def war_room(hand_wall: HandWall) -> Callable[..., WarRoomApp]:
    """Build a deterministic war room: `war_room("memory-leak", approval_timeout_s=30)`."""

    def build(
        scenario: str | Scenario = "healthy",
        *,
        approval_timeout_s: float = 120.0,
        **options: Any,
    ) -> WarRoomApp:
        options.setdefault("history", TEST_HISTORY)
        options.setdefault(
            "pipeline_settings", PipelineSettings(approval_timeout_s=approval_timeout_s)
        )
        options.setdefault("approval_monotonic", hand_wall)
        return make_app(scenario=scenario, live=False, **options)

    return build
