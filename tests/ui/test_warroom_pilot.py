"""The war room driven from the keyboard: incidents, approvals, filter, pause, screens."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from textual.messages import ExitApp
from textual.pilot import Pilot
from textual.widgets import Sparkline

from qs_tui.agents.events import MetricsSampled
from qs_tui.bench.tui import run_tui_bench
from qs_tui.clock import AcceleratedClock
from qs_tui.config import Settings
from qs_tui.models import AgentName, ApprovalDecision, Incident, IncidentState
from qs_tui.sim.scenario import load_scenario
from qs_tui.store.base import StoreError
from qs_tui.ui.app import WarRoomApp, make_app
from qs_tui.ui.messages import ApprovalRequestedMessage, MetricsSampledMessage
from qs_tui.ui.runner import run_tui
from qs_tui.ui.screens.incident import IncidentScreen
from qs_tui.ui.widgets import AgentPane, IncidentTimeline, MetricChart, ServicesPane, StatusBar
from tests.ui.conftest import SMALL, TEST_HISTORY, WIDE, HandWall, leak_alone
from tests.waiting import within_guard

pytestmark = pytest.mark.anyio

WarRoom = Callable[..., WarRoomApp]

#: Ticks (10 s each) a restart needs to be verified by the Guardian, with room to spare.
RECOVERY_TICKS = 12
#: History for tests about keys and screens rather than what the sparklines hold: the war
#: room loads every row's history at start, so less history is a cheaper start.
SHORT_HISTORY = timedelta(minutes=5)


def leak_incident(app: WarRoomApp) -> Incident:
    """The one incident the memory-leak scenario opens (as the UI last heard of it)."""
    assert list(app.incidents) == ["INC-0001"], list(app.incidents)
    return app.incidents["INC-0001"]


async def until_closed(app: WarRoomApp, pilot: Pilot[Any], *, max_ticks: int) -> Incident:
    """Tick until the leak incident reaches a terminal state (or the ticks run out)."""
    for _ in range(max_ticks):
        if leak_incident(app).state.terminal:
            break
        await app.advance(1)
        await pilot.pause()
    return leak_incident(app)


def modal_name(app: WarRoomApp) -> str:
    return type(app.screen).__name__


# ---- the live view -----------------------------------------------------------------------


async def test_every_service_and_region_gets_a_row_with_moving_sparklines(
    war_room: WarRoom,
) -> None:
    app = war_room("healthy")
    async with app.run_test(size=WIDE) as pilot:
        await app.wait_ready()
        pane = app.query_one(ServicesPane)
        assert len(pane.rows) == 12  # 4 services x 3 regions
        row = pane.rows[("payment-service", "us-east-1")]
        before = list(row.history["memory_percent"])
        assert len(before) >= 10  # per-minute history from the store, before any tick
        await app.advance(3)
        await pilot.pause()
        after = list(row.history["memory_percent"])
        assert len(after) == len(before) + 3
        sparkline = row.query_one(".spark.memory_percent", Sparkline)
        assert list(sparkline.data or [])[-1] == after[-1]
        status = app.query_one(StatusBar).facts
        assert status.now == app.clock.now()
        assert status.store == "embedded (memory)"
        assert status.open_incidents == 0
        titles = [pane.border_title for pane in app.query(AgentPane)]
        assert titles == [agent.value for agent in AgentName]


async def test_rows_off_screen_are_redrawn_only_when_scrolled_into_view(
    war_room: WarRoom,
) -> None:
    app = war_room("healthy")
    async with app.run_test(size=SMALL) as pilot:
        await app.wait_ready()
        await app.advance(1)
        await pilot.pause()
        pane = app.query_one(ServicesPane)
        visible = pane.visible_rows()
        hidden = [row for row in pane.shown if row not in visible]
        assert visible and hidden
        assert all(not row.dirty for row in visible)
        assert all(row.dirty for row in hidden)
        for _ in range(len(pane.shown)):
            await pilot.press("down")
        await pilot.pause()
        assert not pane.shown[-1].dirty


# ---- approvals ---------------------------------------------------------------------------


async def test_leak_opens_incident_asks_for_approval_and_y_resolves_it(
    war_room: WarRoom,
) -> None:
    requests: list[ApprovalRequestedMessage] = []

    def hook(message: Any) -> None:
        if isinstance(message, ApprovalRequestedMessage):
            requests.append(message)

    app = war_room(leak_alone())
    async with app.run_test(size=WIDE, message_hook=hook) as pilot:
        await app.wait_ready()
        await app.advance(1)
        await pilot.pause()
        incident = leak_incident(app)
        assert incident.state is IncidentState.AWAITING_APPROVAL
        assert incident.service == "payment-service"
        assert len(requests) == 1
        assert modal_name(app) == "ApprovalModal"
        assert app.agent_pane(AgentName.DIPLOMAT).border_subtitle == (
            "waiting for approval of INC-0001"
        )
        # The rest of the war room keeps updating under the modal.
        samples = app.metrics_messages
        await app.advance(1)
        await pilot.pause()
        assert app.metrics_messages == samples + 1
        assert modal_name(app) == "ApprovalModal"

        await pilot.press("y")
        await pilot.pause()
        assert modal_name(app) != "ApprovalModal"
        final = await until_closed(app, pilot, max_ticks=RECOVERY_TICKS)
        assert final.state is IncidentState.RESOLVED
        assert final.approval is not None
        assert final.approval.decision is ApprovalDecision.APPROVED
        assert final.approval.by == "keyboard"
        assert final.execution is not None and final.execution.success
        timeline = app.query_one(IncidentTimeline)
        assert timeline.incident_ids()[0] == "INC-0001"
        assert app.query_one(StatusBar).facts.open_incidents == 0
        assert app.agent_pane(AgentName.GUARDIAN).lines_written > 0


async def test_n_rejects_the_plan_and_nothing_is_executed(war_room: WarRoom) -> None:
    app = war_room(leak_alone())
    async with app.run_test(size=WIDE) as pilot:
        await app.wait_ready()
        await app.advance(1)
        await pilot.pause()
        assert modal_name(app) == "ApprovalModal"
        await pilot.press("n")
        await pilot.pause()
        final = await until_closed(app, pilot, max_ticks=3)
        assert final.state is IncidentState.REJECTED
        assert final.approval is not None and final.approval.by == "keyboard"
        assert final.execution is None
        runtime = app.runtime
        assert runtime is not None
        leaks = [f for f in runtime.simulation.active_faults() if f.service == "payment-service"]
        assert leaks, "the leak must still be there: nothing was restarted"
        assert app.agent_pane(AgentName.SURGEON).lines_written == 0


async def test_no_answer_before_the_deadline_rejects(
    war_room: WarRoom, hand_wall: HandWall
) -> None:
    app = war_room(leak_alone(), approval_timeout_s=30)
    async with app.run_test(size=WIDE) as pilot:
        await app.wait_ready()
        await app.advance(1)
        await pilot.pause()
        assert modal_name(app) == "ApprovalModal"
        hand_wall.advance(31)
        final = await until_closed(app, pilot, max_ticks=3)
        await pilot.pause()
        assert final.state is IncidentState.REJECTED
        assert final.approval is not None
        assert final.approval.decision is ApprovalDecision.TIMED_OUT
        assert final.approval.by == "timeout"
        assert final.execution is None
        assert modal_name(app) != "ApprovalModal"
        assert app.approvals == {}


# ---- keys --------------------------------------------------------------------------------


async def test_slash_filters_the_rows_and_escape_clears(war_room: WarRoom) -> None:
    app = war_room("healthy", history=SHORT_HISTORY)
    async with app.run_test(size=WIDE) as pilot:
        await app.wait_ready()
        pane = app.query_one(ServicesPane)
        await pilot.press("slash", *"payment")
        await pilot.pause()
        assert [row.key for row in pane.shown] == [
            ("payment-service", "us-east-1"),
            ("payment-service", "us-west-2"),
            ("payment-service", "eu-west-1"),
        ]
        assert all(not row.display for row in pane.rows.values() if row not in pane.shown)
        await pilot.press("space", *"eu")
        await pilot.pause()
        assert [row.key for row in pane.shown] == [("payment-service", "eu-west-1")]
        await pilot.press("escape")
        await pilot.pause()
        assert len(pane.shown) == 12
        assert not pane.has_class("-filtering")


async def test_space_pauses_the_clock_and_resumes_it(war_room: WarRoom) -> None:
    app = war_room("healthy")
    async with app.run_test(size=WIDE) as pilot:
        await app.wait_ready()
        await app.advance(1)
        stood = app.clock.now()
        await pilot.press("space")
        await pilot.pause()
        assert app.paused
        assert app.query_one(StatusBar).facts.paused
        await app.advance(3)
        assert app.clock.now() == stood
        await pilot.press("space")
        await pilot.pause()
        assert not app.paused
        await app.advance(2)
        assert app.clock.now() == stood + timedelta(seconds=20)
        assert app.query_one(StatusBar).facts.now == app.clock.now()


async def test_space_stops_an_accelerated_clock() -> None:
    clock = AcceleratedClock(load_scenario("healthy").start_time, speed=10.0)
    app = make_app(scenario="healthy", live=False, clock=clock, history=timedelta(minutes=5))
    async with app.run_test(size=WIDE) as pilot:
        await app.wait_ready()
        await pilot.press("space")
        await pilot.pause()
        assert clock.paused
        await pilot.press("plus")
        await pilot.pause()
        assert clock.speed == 20.0
        assert app.query_one(StatusBar).facts.speed == 20.0
        await pilot.press("space", "minus", "minus")
        await pilot.pause()
        assert not clock.paused
        assert clock.speed == 5.0


async def test_enter_on_a_row_charts_its_memory_with_the_leak_forecast(
    war_room: WarRoom,
) -> None:
    app = war_room(leak_alone(), approval_timeout_s=600)
    async with app.run_test(size=WIDE) as pilot:
        await app.wait_ready()
        await app.advance(1)
        await pilot.pause()
        assert modal_name(app) == "ApprovalModal"
        pane = app.query_one(ServicesPane)
        row = pane.rows[("payment-service", "us-east-1")]
        pane.select_row(row, open_chart=True)
        await pilot.pause()
        chart = app.query_one(MetricChart)
        assert pane.has_class("-charting")
        assert chart.title_text.startswith("payment-service/us-east-1 · memory %")
        assert "critical in ~" in chart.title_text  # the projection to 100 %
        pane.action_chart_metric("cpu_percent")
        assert chart.title_text == "payment-service/us-east-1 · CPU %"


async def test_arrow_keys_and_enter_chart_a_row_and_letters_switch_the_metric(
    war_room: WarRoom,
) -> None:
    app = war_room("healthy")
    async with app.run_test(size=WIDE) as pilot:
        await app.wait_ready()
        await app.advance(1)
        pane = app.query_one(ServicesPane)
        await pilot.press(*["down"] * 6, "enter")
        await pilot.pause()
        chart = app.query_one(MetricChart)
        assert pane.selected == ("payment-service", "us-east-1")
        assert chart.title_text == "payment-service/us-east-1 · memory %"
        await pilot.press("l")
        await pilot.pause()
        assert chart.title_text == "payment-service/us-east-1 · p95 latency ms"
        await pilot.press("escape")
        await pilot.pause()
        assert pane.selected is None
        assert not pane.has_class("-charting")


async def test_inject_puts_a_fault_on_the_timeline(war_room: WarRoom) -> None:
    app = war_room("healthy", history=SHORT_HISTORY)
    async with app.run_test(size=WIDE) as pilot:
        await app.wait_ready()
        runtime = app.runtime
        assert runtime is not None
        before = len(runtime.simulation.faults())
        await pilot.press("i")
        await pilot.pause()
        assert modal_name(app) == "InjectFaultScreen"
        await pilot.press("enter")
        await pilot.pause()
        assert modal_name(app) == "Screen"
        assert len(runtime.simulation.faults()) == before + 1


async def test_timeline_enter_opens_the_incident_and_t_opens_time_travel(
    war_room: WarRoom,
) -> None:
    app = war_room(leak_alone())
    async with app.run_test(size=WIDE) as pilot:
        await app.wait_ready()
        await app.advance(1)
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
        app.query_one(IncidentTimeline).focus()
        await pilot.press("enter")
        await pilot.pause()
        detail = app.screen
        assert isinstance(detail, IncidentScreen)
        assert detail.incident.state is IncidentState.AWAITING_APPROVAL
        await app.advance(1)  # the pipeline reads the answer: the open detail follows
        await pilot.pause()
        assert detail.incident.state is IncidentState.REJECTED
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("t")
        await pilot.pause()
        assert modal_name(app) == "TimeTravelScreen"


async def test_help_and_command_palette_list_the_actions(war_room: WarRoom) -> None:
    app = war_room("healthy", history=timedelta(minutes=5))
    async with app.run_test(size=WIDE) as pilot:
        await app.wait_ready()
        await pilot.press("question_mark")
        await pilot.pause()
        assert modal_name(app) == "HelpScreen"
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Pause / resume", "Inject fault", "Time travel", "Filter services"} <= titles
        # One way to the key reference, not two ("Help" and Textual's own "Keys").
        assert "Help" in titles and "Keys" not in titles


# ---- layouts -----------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "css_class"), [(SMALL, "-narrow"), (WIDE, "-wide")])
async def test_everything_is_on_screen_at_80x24_and_120x40(
    war_room: WarRoom, size: tuple[int, int], css_class: str
) -> None:
    app = war_room("healthy", history=timedelta(minutes=5))
    async with app.run_test(size=size) as pilot:
        await app.wait_ready()
        await pilot.pause()
        assert app.screen.has_class(css_class)
        screen_area = app.screen.region
        for widget in [*app.query(AgentPane), app.query_one(ServicesPane)]:
            region = widget.region
            assert region.area > 0
            assert screen_area.contains_region(region)
        assert app.query_one(ServicesPane).visible_rows()


# ---- the worker and the command ----------------------------------------------------------


async def test_live_worker_streams_samples_and_stops_on_quit() -> None:
    seen: list[MetricsSampled] = []
    two_samples = asyncio.Event()
    exited = asyncio.Event()

    def hook(message: Any) -> None:
        if isinstance(message, MetricsSampledMessage):
            seen.append(message.event)
            if len(seen) >= 2:
                two_samples.set()
        elif isinstance(message, ExitApp):
            exited.set()

    # The live clock runs on wall time, so a slow machine reaches later simulated minutes
    # before `q` is pressed. With the full history (the detectors' baseline and window) the
    # healthy estate raises no incident however far it runs; with less, detectors flag false
    # leaks and an approval modal, which keeps `q` from the app, would be up when it lands.
    app = make_app(scenario="healthy", speed=300.0, history=TEST_HISTORY)
    async with app.run_test(size=WIDE, message_hook=hook) as pilot:
        await app.wait_ready()
        await within_guard(two_samples.wait())
        assert seen[1].at > seen[0].at
        assert app.screen is app.screen_stack[0], "q must land on the main screen"
        await pilot.press("q")
        # The key bubbles from the focused row up to the app's binding over several message
        # hops; leaving the pilot before they are done would shut the app down unasked.
        await within_guard(exited.wait())
    assert app._stop.is_set()
    assert app.return_code == 0
    assert app.failure is None


def test_run_tui_reports_an_unknown_scenario_without_starting() -> None:
    err = io.StringIO()
    status = run_tui(Settings(), scenario="no-such-scenario", speed=None, data_dir=None, err=err)
    assert status == 1
    assert "unknown scenario 'no-such-scenario'" in err.getvalue()


def test_tui_bench_measures_cpu_and_latency_of_a_small_estate() -> None:
    out = io.StringIO()
    result = run_tui_bench(services=2, regions=1, seconds=1.5, out=out)
    assert result["rows"] == 2
    assert result["services"] == 2 and result["regions"] == 1
    assert result["updates"] >= 1
    assert result["process_cpu_percent"] >= result["ui_thread_cpu_percent"] >= 0
    text = out.getvalue()
    assert "CPU, whole process" in text and "message latency" in text


class UnreachableStore:
    """A store whose cluster cannot be reached: every call fails as ElasticStore would."""

    supports_fixed_now = False

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise StoreError("cannot reach https://es.example:9200", "is Elasticsearch running?")

    esql = bulk = index = ensure_templates = refresh = health = _fail

    def close(self) -> None:
        """Nothing to release."""


async def test_a_store_that_cannot_be_reached_is_named_in_the_status_bar() -> None:
    app = make_app(scenario="healthy", live=False, store=UnreachableStore())
    async with app.run_test(size=WIDE) as pilot:
        with pytest.raises(RuntimeError, match=r"cannot reach https://es\.example:9200"):
            await app.wait_ready()
        await pilot.pause()
        status = app.query_one(StatusBar)
        assert status.facts.problem == (
            "cannot reach https://es.example:9200: is Elasticsearch running?"
        )
        assert not status.facts.healthy
        assert app.failure is not None
