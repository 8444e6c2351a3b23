"""The status bar on a live source: the wall clock and the profile, never a simulated speed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from qs_tui.config import Settings
from qs_tui.store.embedded import EmbeddedStore
from qs_tui.ui.app import make_app
from qs_tui.ui.widgets import StatusBar
from qs_tui.ui.widgets.status import StatusFacts

pytestmark = pytest.mark.anyio


def test_a_wall_clock_is_shown_without_a_speed() -> None:
    now = datetime(2026, 12, 3, 18, 0, 5, tzinfo=UTC)
    live = StatusFacts(store="es", health="green", now=now, speed=10.0, wall_clock=True)
    simulated = StatusFacts(store="es", health="green", now=now, speed=10.0)

    assert "2026-12-03 18:00:05 UTC" in StatusBar.render_facts(live).plain
    assert "×" not in StatusBar.render_facts(live).plain
    assert "18:00:05 ×10" in StatusBar.render_facts(simulated).plain


async def test_the_war_room_on_a_live_source_names_the_profile_and_keeps_the_wall_clock() -> None:
    store = EmbeddedStore()  # empty: the session refuses to start, the status bar is drawn first
    app = make_app(
        source="live", scenario=None, store=store, live=False, settings=Settings(QS_PROFILE="ecs")
    )
    async with app.run_test(size=(120, 30)) as pilot:
        facts = app.query_one(StatusBar).facts
        assert facts.scenario == "live · ecs profile"
        assert facts.wall_clock
        await pilot.press("plus")
        await pilot.pause()
        assert app.query_one(StatusBar).facts.speed == facts.speed  # + changes nothing live
        notes = [str(n.message) for n in app._notifications]
        assert any("wall clock" in note for note in notes), notes
    store.close()
