"""One session builder: the war room, headless runs and the benches get the same session, and
the telemetry source is chosen by `--source`, `QS_SOURCE` or whether a cluster is configured."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import pytest

from qs_tui.agents.events import Event
from qs_tui.cli import SOURCE_CHOICES, build_parser, main, parse_args
from qs_tui.clock import ManualClock, SystemClock
from qs_tui.config import ConfigError, Settings
from qs_tui.headless import check_options, play_scenario, watch_live
from qs_tui.remediation import SimulatedExecutor
from qs_tui.session import (
    LIVE_NEEDS_DATA,
    SOURCE_KINDS,
    SessionError,
    SessionPlan,
    build_session,
    check_plan,
    choose_source,
)
from qs_tui.sim.cluster import Simulation
from qs_tui.sim.scenario import load_scenario
from qs_tui.store.base import StoreError
from qs_tui.store.embedded import EmbeddedStore
from qs_tui.ui.app import make_app
from qs_tui.ui.runner import RuntimePlan, build_runtime
from qs_tui.ui.screens.inject import InjectFaultScreen
from qs_tui.ui.widgets import ServicesPane
from tests.scenario_texts import quick_leak

CLUSTER = "http://127.0.0.1:9"  # never contacted: only whether one is configured matters


def run(*argv: str) -> tuple[int, str, str]:
    """Run `qs-tui ARGV` in-process; return (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def ignore(event: Event) -> None:
    """An event sink for runs whose transcript does not matter here."""


@pytest.fixture(autouse=True)
def _no_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No cluster, no data dir and no .env: each test says what it sets."""
    for name in list(os.environ):
        if name.startswith(("ELASTIC_", "QS_", "SLACK_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def leak_file(tmp_path: Path) -> Path:
    path = tmp_path / "quick-leak.toml"
    path.write_text(quick_leak("quick-leak"), encoding="utf-8")
    return path


# -- choosing the source --------------------------------------------------------------------


def test_without_a_cluster_the_default_source_is_the_simulator() -> None:
    assert choose_source(Settings()) == "simulated"


def test_with_a_cluster_the_default_source_is_its_own_telemetry() -> None:
    assert choose_source(Settings(ELASTIC_URL=CLUSTER)) == "live"


def test_a_scenario_named_on_the_command_line_asks_for_the_simulator_even_with_a_cluster() -> None:
    assert choose_source(Settings(ELASTIC_URL=CLUSTER), scenario_named=True) == "simulated"


def test_qs_source_overrides_the_default_and_the_flag_overrides_qs_source() -> None:
    live = Settings.load(env={"QS_SOURCE": "live"}, env_file=None)
    assert choose_source(live) == "live"
    assert choose_source(live, "simulated") == "simulated"
    simulated = Settings.load(env={"QS_SOURCE": "simulated", "ELASTIC_URL": CLUSTER})
    assert choose_source(simulated) == "simulated"
    assert choose_source(simulated, "live") == "live"


def test_an_unknown_qs_source_is_one_line_naming_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.load(env={"QS_SOURCE": "replay"}, env_file=None)
    assert "QS_SOURCE" in str(caught.value)
    assert len(str(caught.value).splitlines()) == 1


def test_an_unknown_source_flag_is_refused_by_the_builder() -> None:
    with pytest.raises(SessionError, match="choose one of simulated, live"):
        choose_source(Settings(), "replay")


@pytest.mark.parametrize(
    "argv",
    [
        ["--source", "live", "run", "--headless"],
        ["run", "--headless", "--source", "live"],
    ],
)
def test_source_is_accepted_before_or_after_the_command(argv: list[str]) -> None:
    assert parse_args(build_parser(), argv).source == "live"


def test_the_command_line_offers_exactly_the_sources_the_builder_knows() -> None:
    assert SOURCE_CHOICES == SOURCE_KINDS
    assert Settings.model_fields["source"].annotation == Literal["auto", *SOURCE_KINDS]


def test_source_defaults_to_unset_so_the_settings_decide() -> None:
    assert parse_args(build_parser(), ["run", "--headless"]).source is None


def test_an_unknown_source_on_the_command_line_is_one_usage_line() -> None:
    status, _, err = run("run", "--headless", "--source", "replay")
    assert status == 1
    [line] = err.splitlines()
    assert "--source" in line and "'replay'" in line


# -- --for ----------------------------------------------------------------------------------


def test_for_reads_durations_as_scenario_files_write_them() -> None:
    args = parse_args(build_parser(), ["run", "--headless", "--source", "live", "--for", "15m"])
    assert args.run_for == timedelta(minutes=15)
    args = parse_args(build_parser(), ["run", "--headless", "--for", "1h30m"])
    assert args.run_for == timedelta(hours=1, minutes=30)


@pytest.mark.parametrize(
    ("value", "says"),
    [("5x", "invalid duration '5x'"), ("soon", "invalid duration"), ("0", "no time at all")],
)
def test_a_bad_for_is_one_line_naming_the_option(value: str, says: str) -> None:
    status, _, err = run("run", "--headless", "--source", "live", "--for", value)
    assert status == 1
    [line] = err.splitlines()
    assert line.startswith("error: qs-tui run: argument --for") and says in line


def test_for_on_a_simulated_run_is_refused_in_one_line(leak_file: Path) -> None:
    status, out, err = run(
        "run", "--headless", "--source", "simulated", "--scenario", str(leak_file), "--for", "30s"
    )
    assert status == 1 and out == ""
    [line] = err.splitlines()
    assert line.startswith("error: --for:") and "--source live" in line


def test_for_without_headless_is_refused() -> None:
    status, _, err = run("run", "--for", "30s")
    assert status == 1
    assert "--for applies to --headless --source live" in err


# -- combinations that make no sense ----------------------------------------------------------


def test_live_with_a_scenario_is_refused_in_one_line() -> None:
    status, out, err = run("run", "--headless", "--source", "live", "--scenario", "cascade")
    assert status == 1 and out == ""
    [line] = err.splitlines()
    assert line.startswith("error: --scenario cascade: --source live")


def test_live_with_a_speed_is_refused() -> None:
    with pytest.raises(SessionError, match="wall clock"):
        check_options("live", scenario=None, speed=60.0, run_for=None)


def test_live_on_the_in_memory_store_says_what_to_do() -> None:
    status, out, err = run("run", "--headless", "--source", "live", "--approve", "deny")
    assert status == 1 and out == ""
    assert err.splitlines() == [f"error: {LIVE_NEEDS_DATA}"]
    assert "qs-tui seed --data-dir DIR" in LIVE_NEEDS_DATA


def test_live_on_an_empty_data_dir_says_how_to_fill_it(tmp_path: Path) -> None:
    data = tmp_path / "empty"
    status, out, err = run(
        "run", "--headless", "--source", "live", "--approve", "deny", "--data-dir", str(data)
    )
    assert status == 1 and out == ""
    [line] = err.splitlines()
    assert line.startswith("error: no telemetry to watch: the embedded store in")
    assert "qs-tui seed --data-dir DIR" in line


def test_the_war_room_refuses_a_live_source_with_a_scenario_before_opening() -> None:
    status, _, err = run("--source", "live", "--scenario", "cascade")
    assert status == 1
    [line] = err.splitlines()
    assert line.startswith("error: --scenario cascade: --source live")


def test_the_builder_refuses_plans_that_make_no_sense(leak_file: Path) -> None:
    scenario = load_scenario(leak_file)
    with pytest.raises(SessionError, match="plays no scenario"):
        check_plan(SessionPlan(source="live", scenario=scenario, store=EmbeddedStore()))
    with pytest.raises(SessionError, match="in-memory embedded store is empty"):
        check_plan(SessionPlan(source="live"))
    with pytest.raises(SessionError, match="needs a scenario"):
        check_plan(SessionPlan(source="simulated"))


def test_a_live_session_on_an_empty_embedded_store_writes_nothing_and_says_so(
    tmp_path: Path,
) -> None:
    store = EmbeddedStore(data_dir=tmp_path / "data")
    with pytest.raises(StoreError, match="no telemetry to watch"):
        build_session(SessionPlan(source="live", store=store))
    assert all(store.count(index) == 0 for index in store.indices())
    store.close()


# -- one builder for every front --------------------------------------------------------------


def test_war_room_headless_and_bench_get_the_same_kind_of_session(leak_file: Path) -> None:
    scenario = load_scenario(leak_file)

    runtime = build_runtime(
        RuntimePlan(scenario=scenario, clock=ManualClock(scenario.start_time)), ignore
    )
    # `qs-tui run --headless` and `qs-tui bench scenarios` both play through `play_scenario`.
    headless = play_scenario(scenario, sink=ignore, stop_early=True)
    direct = build_session(SessionPlan(scenario=scenario))

    sessions = [runtime.session, direct]
    for session in sessions:
        assert session.source_kind == "simulated"
        assert isinstance(session.store, EmbeddedStore)
        assert isinstance(session.source, Simulation)
        assert session.simulation is session.source
        assert isinstance(session.executor, SimulatedExecutor)
        assert isinstance(session.clock, ManualClock)
        assert session.profile is None  # the qs shape the simulator writes
    assert isinstance(headless.store, EmbeddedStore)
    assert isinstance(headless.pipeline.source, Simulation)
    assert headless.pipeline.source is headless.simulation
    assert isinstance(headless.pipeline.clock, ManualClock)
    estates = {
        (tuple(t.services), tuple(t.regions))
        for t in (runtime.topology, direct.topology, headless.pipeline.topology)
    }
    assert len(estates) == 1
    # The Surgeon acts on the very simulation that writes the telemetry, on every front.
    assert runtime.pipeline.crew.surgeon.executor.simulation is runtime.simulation
    assert headless.pipeline.crew.surgeon.executor.simulation is headless.simulation
    # The war room caps its history (40 min); a headless run writes the scenario's (45 min).
    assert runtime.history_s == 40 * 60
    assert direct.history_s == 45 * 60
    for closing in (runtime.session, direct):
        closing.close()
    headless.store.close()


# -- watching on the wall clock ---------------------------------------------------------------


class WallTime:
    """A hand-driven monotonic clock and sleep: `--for` without waiting."""

    def __init__(self, clock: ManualClock) -> None:
        self.now = 0.0
        self.clock = clock
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self.clock.advance(seconds)


def test_watching_for_a_duration_ticks_once_per_interval_then_stops(leak_file: Path) -> None:
    session = build_session(SessionPlan(scenario=load_scenario(leak_file)))
    assert isinstance(session.clock, ManualClock)
    wall = WallTime(session.clock)
    pipeline = session.pipeline(ignore)

    run = watch_live(
        session,
        pipeline,
        run_for=timedelta(seconds=30),
        monotonic=wall.monotonic,
        sleep=wall.sleep,
    )

    assert run.ticks == 3  # at 0 s, 10 s and 20 s of a 30 s watch with 10 s samples
    assert wall.sleeps == [10.0, 10.0, 10.0]
    assert not run.interrupted
    assert (run.ended_at - run.started_at) == timedelta(seconds=30)
    session.close()


def test_ctrl_c_ends_a_watch_with_what_was_seen(leak_file: Path) -> None:
    session = build_session(SessionPlan(scenario=load_scenario(leak_file)))
    assert isinstance(session.clock, ManualClock)
    wall = WallTime(session.clock)

    def interrupted_sleep(seconds: float) -> None:
        wall.sleep(seconds)
        if len(wall.sleeps) == 2:
            raise KeyboardInterrupt

    run = watch_live(
        session,
        session.pipeline(ignore),
        run_for=None,
        monotonic=wall.monotonic,
        sleep=interrupted_sleep,
    )

    assert run.interrupted and run.ticks == 2
    session.close()


# -- a live run on a store `qs-tui seed` filled -----------------------------------------------


def _telemetry_counts(data: Path) -> dict[str, int]:
    store = EmbeddedStore(data_dir=data)
    try:
        return {
            index: store.count(index)
            for index in ("qs-metrics", "qs-logs", "qs-deployments", "qs-incidents")
        }
    finally:
        store.close()


def seed_until_now(tmp_path: Path) -> Path:
    """`qs-tui seed` a leak whose history ends at this minute of the wall clock (what a live
    source watches) into a data directory, and return the directory."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    text = quick_leak("leak-until-now").replace(
        "start = 2026-11-25T14:00:00Z", f"start = {now:%Y-%m-%dT%H:%M:%SZ}"
    )
    scenario = tmp_path / "leak-until-now.toml"
    scenario.write_text(text, encoding="utf-8")
    data = tmp_path / "data"
    status, _, err = run("seed", "--scenario", str(scenario), "--data-dir", str(data))
    assert status == 0, err
    return data


def test_a_headless_live_run_reads_a_seeded_store_writes_incidents_and_no_telemetry(
    tmp_path: Path,
) -> None:
    pytest.importorskip("qs_tui.remediation.advisory")  # the live executor is advisory
    data = seed_until_now(tmp_path)
    before = _telemetry_counts(data)
    assert before["qs-metrics"] > 0 and before["qs-incidents"] == 0

    status, out, err = run(
        "--source",
        "live",
        "run",
        "--headless",
        "--for",
        "30s",
        "--approve",
        "deny",
        "--data-dir",
        str(data),
    )

    assert "Traceback" not in err
    assert "opened memory_leak on payment-service/us-east-1" in out
    assert "== Incident summary: live (30s watched) ==" in out
    assert status == 3, err  # the leak was found and its restart rejected: nothing executed
    after = _telemetry_counts(data)
    for index in ("qs-metrics", "qs-logs", "qs-deployments"):
        assert after[index] == before[index], f"the live run wrote to {index}"
    assert after["qs-incidents"] >= 1


@pytest.fixture
def anyio_backend() -> str:
    """Textual runs on asyncio."""
    return "asyncio"


@pytest.mark.anyio
async def test_the_war_room_on_a_live_source_shows_the_found_estate_and_injects_nothing(
    tmp_path: Path,
) -> None:
    pytest.importorskip("qs_tui.remediation.advisory")  # the live executor is advisory
    data = seed_until_now(tmp_path)
    before = _telemetry_counts(data)
    app = make_app(store=EmbeddedStore(data_dir=data), scenario=None, source="live", live=False)

    async with app.run_test(size=(160, 50)) as pilot:
        await app.wait_ready()
        runtime = app.runtime
        assert runtime is not None and runtime.simulation is None
        assert isinstance(runtime.clock, SystemClock)
        assert ("payment-service", "us-east-1") in app.query_one(ServicesPane).rows
        await app.advance(1)
        await pilot.press("i")  # fault injection is for the simulation only
        await pilot.pause()
        assert not isinstance(app.screen, InjectFaultScreen)
        await pilot.press("q")

    after = _telemetry_counts(data)
    for index in ("qs-metrics", "qs-logs", "qs-deployments"):
        assert after[index] == before[index], f"the war room wrote to {index}"
