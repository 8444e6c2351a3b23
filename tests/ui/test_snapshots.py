"""How the war room looks: snapshots of every screen, deterministic to the character.

Each snapshot plays the memory-leak scenario on a ManualClock with the scenario's seed and a
hand-driven wall clock for the approval countdown, at a fixed terminal size; toasts are
cleared before the picture so their wall-clock timeout cannot change it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from qs_tui.models import IncidentState
from qs_tui.ui.app import WarRoomApp
from qs_tui.ui.screens import ApprovalModal, IncidentScreen, TimeTravelScreen
from qs_tui.ui.screenshots import main as screenshots_main
from qs_tui.ui.screenshots import printable_svg
from tests.ui.conftest import SMALL, WIDE

WarRoom = Callable[..., WarRoomApp]
Snap = Callable[..., bool]

#: Ticks (10 s of simulated time each) after the approval for the Guardian to verify.
RECOVERY_TICKS = 12


async def until_approval(app: WarRoomApp, pilot: Pilot[Any]) -> ApprovalModal:
    """Tick until the leak's approval modal is on screen."""
    await app.wait_ready()
    for _ in range(6):
        if isinstance(app.screen, ApprovalModal):
            break
        await app.advance(1)
        await pilot.pause()
    assert isinstance(app.screen, ApprovalModal)
    return app.screen


async def resolved(app: WarRoomApp, pilot: Pilot[Any]) -> None:
    """Approve the leak's restart with `y` and tick until the incident is resolved."""
    await until_approval(app, pilot)
    await pilot.press("y")
    for _ in range(RECOVERY_TICKS):
        if app.incidents["INC-0001"].state.terminal:
            break
        await app.advance(1)
        await pilot.pause()
    assert app.incidents["INC-0001"].state is IncidentState.RESOLVED


async def steady(app: WarRoomApp, pilot: Pilot[Any]) -> None:
    """Let the last messages land, drop toasts and wait for screen workers."""
    await app.flush()
    await app.workers.wait_for_complete()
    app.clear_notifications()
    await pilot.pause()


@pytest.mark.parametrize("size", [WIDE, SMALL], ids=["120x40", "80x24"])
def test_war_room_after_a_resolved_leak(
    snap_compare: Snap, war_room: WarRoom, size: tuple[int, int]
) -> None:
    app = war_room("memory-leak")

    async def run_before(pilot: Pilot[Any]) -> None:
        await resolved(app, pilot)
        await steady(app, pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [WIDE, SMALL], ids=["120x40", "80x24"])
def test_approval_modal(snap_compare: Snap, war_room: WarRoom, size: tuple[int, int]) -> None:
    app = war_room("memory-leak")

    async def run_before(pilot: Pilot[Any]) -> None:
        await until_approval(app, pilot)
        await steady(app, pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_incident_detail(snap_compare: Snap, war_room: WarRoom) -> None:
    app = war_room("memory-leak")

    async def run_before(pilot: Pilot[Any]) -> None:
        await resolved(app, pilot)
        await app.push_screen(IncidentScreen(app.incidents["INC-0001"]))
        await steady(app, pilot)

    assert snap_compare(app, terminal_size=WIDE, run_before=run_before)


def test_time_travel_at_the_leaks_onset(snap_compare: Snap, war_room: WarRoom) -> None:
    app = war_room("memory-leak")

    async def run_before(pilot: Pilot[Any]) -> None:
        await resolved(app, pilot)
        await pilot.press("t")
        await steady(app, pilot)
        assert isinstance(app.screen, TimeTravelScreen)
        await pilot.press("left_square_bracket")
        await steady(app, pilot)
        assert app.screen.shown_at == app.incidents["INC-0001"].anomaly.onset_at

    assert snap_compare(app, terminal_size=WIDE, run_before=run_before)


def test_help(snap_compare: Snap, war_room: WarRoom) -> None:
    app = war_room("healthy")

    async def run_before(pilot: Pilot[Any]) -> None:
        await app.wait_ready()
        await pilot.press("question_mark")
        await steady(app, pilot)

    assert snap_compare(app, terminal_size=WIDE, run_before=run_before)


def test_fault_menu(snap_compare: Snap, war_room: WarRoom) -> None:
    app = war_room("healthy")

    async def run_before(pilot: Pilot[Any]) -> None:
        await app.wait_ready()
        await pilot.press("i")
        await steady(app, pilot)

    assert snap_compare(app, terminal_size=SMALL, run_before=run_before)


# ---- the README's screenshots --------------------------------------------------------------


def test_screenshot_svgs_are_made_printable_for_librsvg() -> None:
    svg = '<svg class="rich-terminal" viewBox="0 0 10 10"><text>y&#160;approve</text></svg>'
    printable = printable_svg(svg)
    assert printable.startswith('<svg xml:space="preserve" class="rich-terminal"')
    assert "<text>y approve</text>" in printable


def test_screenshots_say_how_to_get_the_converter_when_it_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nowhere to find rsvg-convert
    assert screenshots_main(["--out", str(tmp_path / "shots")]) == 1
    assert "rsvg-convert not found; install librsvg2-bin" in capsys.readouterr().err
    assert not (tmp_path / "shots").exists()
