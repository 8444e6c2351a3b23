"""Approvals in the war room are exact: a key answers at once, leaving closes what waits
(with a record), and `d` brings the plan back with the dry run's findings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from qs_tui.clock import ManualClock
from qs_tui.models import ApprovalDecision, IncidentState
from qs_tui.sim.scenario import load_scenario
from qs_tui.store.embedded import EmbeddedStore
from qs_tui.store.templates import DECISIONS, INCIDENTS
from qs_tui.ui.app import WarRoomApp
from qs_tui.ui.screens import ApprovalModal
from qs_tui.ui.widgets import StatusBar
from tests.ui.conftest import WIDE, HandWall, leak_alone

pytestmark = pytest.mark.anyio

WarRoom = Callable[..., WarRoomApp]


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


def persisted(tmp_path: Path) -> EmbeddedStore:
    """A store on disk, so the records can be read after the war room has closed it."""
    start = load_scenario("memory-leak").start_time
    return EmbeddedStore(data_dir=tmp_path, now=ManualClock(start).now)


def records(tmp_path: Path) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The incidents (id -> state) and the Diplomat's decisions written to `tmp_path`."""
    store = EmbeddedStore(data_dir=tmp_path)
    try:
        incidents = store.esql(f"FROM {INCIDENTS} | KEEP incident_id, state")
        decisions = store.esql(
            f'FROM {DECISIONS} | WHERE agent == "Diplomat" AND decision IS NOT NULL'
            " | SORT sequence | KEEP decision, message"
        )
    finally:
        store.close()
    return {row[0]: row[1] for row in incidents.values}, [(r[0], r[1]) for r in decisions.values]


async def test_quitting_during_the_countdown_rejects_and_records_the_incident(
    war_room: WarRoom, tmp_path: Path
) -> None:
    app = war_room(leak_alone(), store=persisted(tmp_path))
    async with app.run_test(size=WIDE) as pilot:
        await until_approval(app, pilot)
        await pilot.press("ctrl+q")  # the modal has the keys; ctrl+q quits from anywhere
        await pilot.pause()

    assert app.return_code == 0
    [left] = app.left_behind
    assert left.id == "INC-0001"
    assert left.state is IncidentState.REJECTED
    assert left.approval is not None and left.approval.by == "operator left"
    incidents, decisions = records(tmp_path)
    assert incidents == {"INC-0001": "rejected"}
    assert [d for d, _ in decisions] == ["approval_requested", "rejected"]
    assert decisions[-1][1].endswith("rejected by operator left (the war room closed)")


async def test_y_then_q_at_once_keeps_the_yes_on_record_and_executes_nothing(
    war_room: WarRoom, tmp_path: Path
) -> None:
    app = war_room(leak_alone(), store=persisted(tmp_path))
    async with app.run_test(size=WIDE) as pilot:
        await until_approval(app, pilot)
        await pilot.press("y", "q")  # no tick in between: the pipeline never saw the yes
        await pilot.pause()

    [left] = app.left_behind
    assert left.state is IncidentState.ESCALATED
    assert left.approval is not None
    assert left.approval.decision is ApprovalDecision.APPROVED
    assert left.approval.by == "keyboard"
    assert left.execution is None
    assert "approved by keyboard, but the war room closed before it ran" in (
        left.history[-1].reason
    )
    incidents, decisions = records(tmp_path)
    assert incidents == {"INC-0001": "escalated"}
    assert [d for d, _ in decisions] == ["approval_requested", "approved"]


async def test_a_key_after_the_deadline_is_refused_even_before_the_modal_counts_down(
    war_room: WarRoom, hand_wall: HandWall
) -> None:
    app = war_room(leak_alone(), approval_timeout_s=30)
    async with app.run_test(size=WIDE) as pilot:
        modal = await until_approval(app, pilot)
        hand_wall.advance(31)  # the deadline passed; neither modal nor pipeline looked yet
        await pilot.press("y")
        await pilot.pause()
        assert modal.accepted is False
        await app.advance(1)
        await pilot.pause()
        incident = app.incidents["INC-0001"]
        assert incident.state is IncidentState.REJECTED
        assert incident.approval is not None
        assert incident.approval.decision is ApprovalDecision.TIMED_OUT
        assert incident.execution is None


async def test_d_runs_the_dry_run_and_brings_the_plan_back_with_its_findings(
    war_room: WarRoom,
) -> None:
    app = war_room(leak_alone())
    async with app.run_test(size=WIDE) as pilot:
        first = await until_approval(app, pilot)
        await pilot.press("d")
        await pilot.pause()
        await app.advance(1)
        await pilot.pause()

        again = app.screen
        assert isinstance(again, ApprovalModal) and again is not first
        assert again.request.dry_run is not None
        findings = str(again.query_one("#approval-dry-run").render())
        assert "dry run: would restart payment-service in us-east-1" in findings
        assert "d dry run first" not in str(again.query_one("#approval-keys").render())
        incident = app.incidents["INC-0001"]
        assert incident.state is IncidentState.AWAITING_APPROVAL  # not escalated
        assert app.query_one(StatusBar).facts.open_incidents == 1

        await pilot.press("d")  # no second dry run: the key does nothing here
        await pilot.pause()
        assert app.screen is again and again.accepted is None

        await pilot.press("y")
        await pilot.pause()
        for _ in range(12):
            if app.incidents["INC-0001"].state.terminal:
                break
            await app.advance(1)
            await pilot.pause()
        final = app.incidents["INC-0001"]
        assert final.state is IncidentState.RESOLVED
        assert final.execution is not None and not final.execution.dry_run
