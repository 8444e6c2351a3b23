"""Replay of a recorded incident: scrubbed with the keys, pictured, and opened in a fresh process.

The incident is recorded once for the module by a headless run into a persisted data dir; the
replay reads only that store (no pipeline, no simulator). The recording is deterministic (the
scenario's seed and simulated clock), so the snapshot is too.
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
from textual.widgets import Sparkline

from qs_tui.recorder import FlightRecord, load_incident
from qs_tui.store.embedded import EmbeddedStore
from qs_tui.ui.screens.replay import ReplayApp
from tests.recorder.recording import HANG_GUARD_S, clean_env, qs_tui, record_memory_leak
from tests.ui.conftest import WIDE

Snap = Callable[..., bool]
#: Bounds a wait for a condition so a broken replay fails instead of hanging; never timed.
MAX_PAUSES = 10_000


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding INC-0001, recorded by `qs-tui run --headless`."""
    directory = tmp_path_factory.mktemp("replay") / "data"
    record_memory_leak(directory)
    return directory


@pytest.fixture
def record(data_dir: Path) -> FlightRecord:
    """INC-0001 read back from the persisted store."""
    store = EmbeddedStore(data_dir=data_dir)
    try:
        return load_incident(store, "INC-0001")
    finally:
        store.close()


@pytest.mark.anyio
async def test_keys_pause_step_and_jump_between_state_changes(record: FlightRecord) -> None:
    app = ReplayApp(record, playing=False)
    async with app.run_test(size=WIDE) as pilot:
        assert app.position == 0 and app.current_state() == "before detection"
        assert app.visible_decisions() == []
        await pilot.press("right", "right")
        assert app.position == 2
        await pilot.press("left")
        assert app.position == 1
        # `]` walks the state changes in the order the audit trail recorded them.
        seen = []
        for _ in range(len(app.state_positions())):
            await pilot.press("right_square_bracket")
            seen.append(app.current_state())
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
        await pilot.press("right_square_bracket")
        assert "restart payment-service/us-east-1: ok" in str(
            app.query_one("#replay-approval").render()
        )
        # The telemetry on screen stops at the frame's instant.
        await pilot.press("home")
        assert app.position == 0 and app.current_state() == "before detection"
        assert list(app.query_one("#replay-chart", Sparkline).data or []) == [
            record.telemetry[0].values["memory"]
        ]
        # Play: the timeline moves by itself; space pauses it where it is.
        await pilot.press("space")
        assert app.playing
        for _ in range(MAX_PAUSES):
            if app.position >= 2:
                break
            await pilot.pause(0.01)
        await pilot.press("space")
        assert not app.playing
        stopped = app.position
        assert stopped >= 2
        await pilot.press("end")
        assert app.position == len(app.frames) - 1
        assert app.current_state() == "resolved"
        shown = list(app.query_one("#replay-chart", Sparkline).data or [])
        assert shown[-1] == record.telemetry[-1].values["memory"]


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
