"""Building a war-room session: history is written once, even into a store that persists."""

from __future__ import annotations

import io
import socket
from pathlib import Path

from qs_tui.clock import ManualClock
from qs_tui.config import Settings
from qs_tui.sim.scenario import load_scenario
from qs_tui.store.embedded import EmbeddedStore
from qs_tui.ui.runner import RuntimePlan, build_runtime, run_tui


def _metric_count(store: EmbeddedStore) -> int:
    result = store.esql("FROM qs-metrics | STATS n = COUNT(*) | LIMIT 1")
    return int(result.values[0][0])


def test_a_second_session_on_a_persisted_store_does_not_write_history_twice(
    tmp_path: Path,
) -> None:
    scenario = load_scenario("memory-leak")
    counts = []
    for _ in range(2):
        store = EmbeddedStore(data_dir=tmp_path / "data")
        clock = ManualClock(scenario.start_time)
        runtime = build_runtime(
            RuntimePlan(scenario=scenario, clock=clock, store=store), lambda event: None
        )
        counts.append((_metric_count(store), runtime.history_s))
        runtime.store.close()
    (first, first_history), (second, second_history) = counts
    assert first > 0 and first_history > 0
    assert second == first
    assert second_history == 0


def test_the_war_room_refuses_an_unreachable_cluster_in_one_line_before_opening() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe is closed
    err = io.StringIO()

    status = run_tui(
        Settings(ELASTIC_URL=f"http://127.0.0.1:{port}"),
        scenario="healthy",
        speed=None,
        data_dir=None,
        err=err,
    )

    assert status == 1
    [line] = err.getvalue().splitlines()
    assert line.startswith(
        f"error: cannot reach http://127.0.0.1:{port}: is Elasticsearch running?"
    )
