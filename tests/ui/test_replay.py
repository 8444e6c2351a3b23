"""Replay of a recorded incident in the war room's own widgets: scrubbed with the keys,
pictured, and opened in a fresh process.

The incident is recorded once per pytest run by a headless run into a persisted data dir
(shared with the flight recorder's tests); the replay reads only that store (no pipeline, no
simulator). The recording is deterministic (the scenario's seed and simulated clock), so the
snapshot is too.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from qs_tui.models import AgentName
from qs_tui.recorder import FlightRecord, load_incident
from qs_tui.store.embedded import EmbeddedStore
from qs_tui.ui.screens.replay import ReplayApp
from qs_tui.ui.widgets import AgentPane, IncidentTimeline, ServicesPane, StatusBar
from tests.recorder.recording import HANG_GUARD_S, clean_env, qs_tui, recorded
from tests.ui.conftest import WIDE

Snap = Callable[..., bool]
#: Bounds a wait for a condition so a broken replay fails instead of hanging; never timed.
MAX_PAUSES = 10_000


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding INC-0001, recorded by `qs-tui run --headless`."""
    return recorded(tmp_path_factory).data_dir


@pytest.fixture
def record(data_dir: Path) -> FlightRecord:
    """INC-0001 read back from the persisted store."""
    store = EmbeddedStore(data_dir=data_dir)
    try:
        return load_incident(store, "INC-0001")
    finally:
        store.close()


def pane_text(app: ReplayApp, agent: AgentName) -> str:
    """What an agent's transcript pane shows, its wrapped lines joined by single spaces."""
    pane = app.query_one(f"#agent-{agent.value.lower()}", AgentPane)
    return " ".join(" ".join(strip.text for strip in pane.lines).split())


def memory_shown(app: ReplayApp) -> list[float]:
    """The memory samples the services pane holds for the affected row."""
    row = app.query_one(ServicesPane).rows[("payment-service", "us-east-1")]
    return list(row.history.get("memory_percent", ()))


@pytest.mark.anyio
async def test_keys_pause_step_and_jump_between_state_changes(record: FlightRecord) -> None:
    app = ReplayApp(record, playing=False)
    async with app.run_test(size=WIDE) as pilot:
        # The war room's own widgets, one row for the affected service.
        services = app.query_one(ServicesPane)
        assert list(services.rows) == [("payment-service", "us-east-1")]
        assert app.position == 0 and app.current_state() == "before detection"
        assert app.visible_decisions() == [] and app.query_one(IncidentTimeline).entries == 0
        await pilot.press("right", "right")
        assert app.position == 2
        await pilot.press("left")
        assert app.position == 1
        # `]` walks the state changes in the order the audit trail recorded them, and the
        # timeline grows by one change each time.
        seen = []
        for number in range(1, len(app.state_positions()) + 1):
            await pilot.press("right_square_bracket")
            seen.append(app.current_state())
            assert app.query_one(IncidentTimeline).entries == number
        assert seen[:7] == [
            "detected",
            "investigating",
            "planned",
            "awaiting_approval",
            "executing",
            "verifying",
            "resolved",
        ]
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert app.current_state() == "executing"
        approval = str(app.query_one("#replay-approval").render())
        assert "approved by --approve auto" in approval
        assert "restart payment-service/us-east-1: ok" not in approval  # not executed yet
        # The transcripts reach the frame on screen: the Diplomat's answer is there, the
        # Surgeon has not spoken yet.
        assert "approved by --approve auto" in pane_text(app, AgentName.DIPLOMAT)
        assert pane_text(app, AgentName.SURGEON) == ""
        await pilot.press("right_square_bracket")
        assert "restart payment-service/us-east-1: ok" in str(
            app.query_one("#replay-approval").render()
        )
        assert "executing: restart payment-service" in pane_text(app, AgentName.SURGEON)
        # Step by step, each line shows as the playback reaches it, in its agent's pane.
        await pilot.press("home")
        lines = [i for i, frame in enumerate(app.frames) if frame.line is not None]
        first = app.frames[lines[0]].line
        assert first is not None and first.agent == "Cassandra"
        app.position = lines[0] - 1
        await pilot.pause()
        assert pane_text(app, AgentName.CASSANDRA) == ""
        await pilot.press("right")
        assert " ".join(first.text.split()) in pane_text(app, AgentName.CASSANDRA)
        # Back to the start: the panes, the timeline and the telemetry start over.
        await pilot.press("home")
        assert app.position == 0 and app.current_state() == "before detection"
        assert all(pane_text(app, agent) == "" for agent in AgentName)
        assert app.query_one(IncidentTimeline).entries == 0
        assert memory_shown(app) == [record.telemetry[0].values["memory"]]
        # Play: the timeline moves by itself; space pauses it where it is.
        await pilot.press("space")
        assert app.playing and app.query_one(StatusBar).facts.mode == "replay"
        for _ in range(MAX_PAUSES):
            if app.position >= 2:
                break
            await pilot.pause(0.01)
        await pilot.press("space")
        assert not app.playing and app.query_one(StatusBar).facts.paused
        stopped = app.position
        assert stopped >= 2
        await pilot.press("end")
        assert app.position == len(app.frames) - 1
        assert app.current_state() == "resolved"
        assert memory_shown(app)[-1] == record.telemetry[-1].values["memory"]
        assert app.query_one(StatusBar).facts.now == record.telemetry[-1].at
        for agent in AgentName:
            said = [line.text for line in record.transcript if line.agent == agent.value]
            assert said and " ".join(said[-1].split()) in pane_text(app, agent)
        # A click on the bar jumps there: its left end is the start, its right end the end.
        scrub = app.query_one("#replay-scrub")
        await pilot.click("#replay-scrub", offset=(scrub.gutter.left, 0))
        assert app.position == 0 and app.current_state() == "before detection"
        right = scrub.gutter.left + scrub.content_region.width - 1
        await pilot.click("#replay-scrub", offset=(right, 0))
        assert app.position == len(app.frames) - 1


def test_replay_snapshot_at_the_approval(snap_compare: Snap, record: FlightRecord) -> None:
    app = ReplayApp(record, playing=False)

    async def run_before(pilot: Pilot[Any]) -> None:
        for _ in range(5):  # detected, investigating, planned, awaiting approval, executing
            await pilot.press("right_square_bracket")
        assert app.current_state() == "executing"
        await pilot.pause()

    assert snap_compare(app, terminal_size=WIDE, run_before=run_before)


def test_replay_opens_in_a_fresh_process(data_dir: Path) -> None:
    """The command's own path: settings, store and profile chosen as `qs-tui replay` does."""
    script = textwrap.dedent(
        f"""
        import asyncio
        from pathlib import Path
        from qs_tui.config import Settings
        from qs_tui.profiles import load_profile
        from qs_tui.recorder import load_incident
        from qs_tui.store.factory import open_store
        from qs_tui.ui.screens.replay import ReplayApp

        settings = Settings.load(env_file=None)
        store = open_store(settings, data_dir=Path({str(data_dir)!r}))
        record = load_incident(store, "INC-0001", load_profile(settings.profile))
        store.close()

        async def main() -> None:
            app = ReplayApp(record, playing=False)
            async with app.run_test(size=(120, 40)) as pilot:
                await pilot.press("end")
                print(app.current_state(), len(app.visible_decisions()))

        asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    state, decisions = done.stdout.split()
    assert state == "resolved" and int(decisions) >= 7
    missing = qs_tui("replay", "INC-0404", "--data-dir", str(data_dir), cwd=data_dir.parent)
    assert missing.status == 1
    assert missing.stderr.strip() == "error: no incident INC-0404 in the store's qs-incidents"
