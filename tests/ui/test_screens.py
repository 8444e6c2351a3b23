"""Behaviour of the war room's screens, each pushed on its own in a small host app."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Markdown, Select, Static

from qs_tui.clock import ManualClock
from qs_tui.esql.catalog import EsqlResult
from qs_tui.models import ApprovalDecision, IncidentState
from qs_tui.sim.cluster import Simulation
from qs_tui.sim.faults import FaultKind, FaultSpec
from qs_tui.sim.scenario import Scenario, load_scenario
from qs_tui.store.base import BulkResult, Document, EsqlParams, Health, StoreError
from qs_tui.store.embedded import EmbeddedStore
from qs_tui.topology import Topology
from qs_tui.ui.screens import (
    ApprovalModal,
    HelpScreen,
    IncidentScreen,
    InjectFaultScreen,
    TimeTravelScreen,
    build_fault,
    key_reference_markdown,
    services_as_of,
)
from tests.ui.screen_data import (
    DEADLINE,
    FrozenMonotonic,
    ScreenHost,
    approval_request,
    plain,
    recorded,
)

SIZE = (100, 40)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# ---- approval modal ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "decision"),
    [
        ("y", ApprovalDecision.APPROVED),
        ("n", ApprovalDecision.REJECTED),
        ("d", ApprovalDecision.DRY_RUN),
    ],
)
async def test_approval_keys_dismiss_with_the_decision(
    key: str, decision: ApprovalDecision
) -> None:
    modal = ApprovalModal(approval_request(), monotonic=FrozenMonotonic(DEADLINE - 60))
    app = ScreenHost(modal)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.screen is modal
        await pilot.press(key)
        await pilot.pause()
        assert app.results == [decision]
        assert app.screen is not modal
    assert not modal.answered_elsewhere


async def test_approval_shows_plan_evidence_forecast_and_options() -> None:
    request = approval_request()
    modal = ApprovalModal(request, monotonic=FrozenMonotonic(DEADLINE - 95))
    app = ScreenHost(modal)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert (
            plain(modal.query_one("#approval-headline")) == "Restart payment-service in us-east-1"
        )
        assert "1:35 left" in plain(modal.query_one("#approval-countdown"))
        assert "reaches 100 in ~26 min" in plain(modal.query_one("#approval-forecast"))
        assert "critical in 26m07s" in plain(modal.query_one("#approval-forecast"))
        risk = plain(modal.query_one("#approval-risk"))
        assert "Risk 0.15" in risk and "2 hosts of payment-service" in risk
        evidence = plain(modal.query_one("#approval-evidence"))
        # "[2 hosts affected]" survives: data is never read as markup.
        assert "+0.34 metric" in evidence and "[2 hosts affected]" in evidence
        assert "no deploy of payment-service" in evidence
        options = plain(modal.query_one("#approval-options")).splitlines()
        assert len(options) == len(request.plan.options)
        assert options[0].startswith("▶ restart")
        assert "failover" in options[1]


async def test_approval_labels_both_confidences_plainly_and_says_a_failed_fix_is_undone() -> None:
    request = approval_request()
    incident = request.incident
    assert incident.hypothesis is not None
    modal = ApprovalModal(request, monotonic=FrozenMonotonic(DEADLINE - 60))
    app = ScreenHost(modal)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        context = plain(modal.query_one("#approval-context"))
        assert f"{incident.anomaly.confidence:.0%} sure the anomaly is real" in context
        sections = [plain(w) for w in modal.query(".section")]
        assert f"Evidence · {incident.hypothesis.confidence:.0%} sure the root cause is right" in (
            sections
        )
        assert "If the fix does not verify, it is undone automatically (approving covers both)" in (
            plain(modal.query_one("#approval-risk"))
        )
        assert "dry run first" in plain(modal.query_one("#approval-keys"))


async def test_after_a_dry_run_the_modal_shows_its_findings_and_offers_no_second_one() -> None:
    from dataclasses import replace

    from qs_tui.models import ExecutionReport, ExecutionStep, StepStatus

    request = approval_request()
    at = request.incident.opened_at
    report = ExecutionReport(
        incident_id=request.incident.id,
        action=request.plan.chosen.action,
        service="payment-service",
        region="us-east-1",
        dry_run=True,
        steps=[ExecutionStep(name="pre-check", status=StepStatus.OK, detail="[2 hosts]")],
        success=True,
        started_at=at,
        finished_at=at,
        summary="dry run: would restart payment-service in us-east-1; nothing changed",
    )
    modal = ApprovalModal(
        replace(request, dry_run=report), monotonic=FrozenMonotonic(DEADLINE - 60)
    )
    app = ScreenHost(modal)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        findings = plain(modal.query_one("#approval-dry-run"))
        assert "dry run: would restart payment-service in us-east-1" in findings
        assert "pre-check [ok]: [2 hosts]" in findings
        assert "dry run first" not in plain(modal.query_one("#approval-keys"))
        await pilot.press("d")
        await pilot.pause()
        assert app.results == [] and app.screen is modal
        await pilot.press("y")
        await pilot.pause()
        assert app.results == [ApprovalDecision.APPROVED]
        assert modal.accepted is True
        assert request.future.result() is ApprovalDecision.APPROVED


async def test_approval_countdown_runs_on_the_injected_clock_and_times_out() -> None:
    clock = FrozenMonotonic(DEADLINE - 45)
    modal = ApprovalModal(approval_request(), monotonic=clock)
    app = ScreenHost(modal)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        countdown = modal.query_one("#approval-countdown", Static)
        assert "0:45 left" in plain(countdown)
        assert not countdown.has_class("-warn")
        clock.now = DEADLINE - 20
        modal.refresh_countdown()
        assert "0:20 left" in plain(countdown) and countdown.has_class("-warn")
        clock.now = DEADLINE - 5
        modal.refresh_countdown()
        assert countdown.has_class("-urgent") and not countdown.has_class("-warn")
        assert app.results == []
        clock.now = DEADLINE + 0.5
        modal.refresh_countdown()
        await pilot.pause()
        assert app.results == [ApprovalDecision.TIMED_OUT]


async def test_approval_settled_elsewhere_closes_the_modal() -> None:
    modal = ApprovalModal(approval_request(), monotonic=FrozenMonotonic(DEADLINE - 60))
    app = ScreenHost(modal)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        modal.settled(ApprovalDecision.REJECTED)
        await pilot.pause()
        assert app.results == [ApprovalDecision.REJECTED]
        assert modal.answered_elsewhere
        await pilot.press("y")  # a late key press answers nothing
        await pilot.pause()
        assert app.results == [ApprovalDecision.REJECTED]


async def test_approval_settled_under_another_screen_closes_when_uncovered() -> None:
    modal = ApprovalModal(approval_request(), monotonic=FrozenMonotonic(DEADLINE - 60))
    app = ScreenHost(modal)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await app.push_screen(HelpScreen())
        modal.settled(ApprovalDecision.TIMED_OUT)
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)  # the help on top is not closed instead
        assert app.results == []
        await pilot.press("escape")
        await pilot.pause()
        assert app.results == [ApprovalDecision.TIMED_OUT]
        assert app.screen is not modal


# ---- incident detail -----------------------------------------------------------------------


async def test_incident_screen_shows_every_stage_of_a_resolved_incident() -> None:
    incident = recorded("resolved")
    screen = IncidentScreen(incident)
    app = ScreenHost(screen)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        title = plain(screen.query_one("#incident-title"))
        assert title.startswith("INC-0001 · memory leak on payment-service in us-east-1")
        assert title.endswith("resolved")
        timeline = plain(screen.query_one("#incident-timeline")).splitlines()
        assert len(timeline) == len(incident.history)
        assert timeline[-1].startswith("14:00:50 resolved")
        evidence = plain(screen.query_one("#incident-evidence"))
        assert "(investigate_deploys)" in evidence and "+0.15 state at onset" in evidence
        table = screen.query_one("#incident-options", DataTable)
        assert table.row_count == 6
        assert table.get_row_at(0)[:2] == ["▶", "restart"]
        assert "approved by keyboard" in plain(screen.query_one("#incident-approval"))
        execution = plain(screen.query_one("#incident-execution")).splitlines()
        assert len(execution) == 1 + 3 and "ok" in execution[2]
        assert "recovered after 5 checks · MTTR 40s" in plain(
            screen.query_one("#incident-verification")
        )
        runbook = screen.query_one("#incident-runbook", Markdown)
        assert runbook.source.startswith("# INC-0001: memory leak")
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is not screen


async def test_incident_screen_follows_an_incident_as_it_changes() -> None:
    requested = recorded("requested")
    early = requested.model_copy(update={"hypothesis": None, "plan": None, "runbook": None})
    screen = IncidentScreen(early)
    app = ScreenHost(screen)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "has not reported yet" in plain(screen.query_one("#incident-evidence"))
        assert not screen.query_one("#incident-options", DataTable).display
        assert "not asked yet" in plain(screen.query_one("#incident-approval"))
        screen.show(requested)
        await pilot.pause()
        assert requested.state is IncidentState.PLANNED
        assert plain(screen.query_one("#incident-title")).endswith("planned")
        assert "restart on payment-service in us-east-1" in plain(
            screen.query_one("#incident-plan")
        )
        assert screen.query_one("#incident-options", DataTable).row_count == 6


# ---- help ----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["escape", "question_mark"])
async def test_help_closes_with_escape_or_question_mark(key: str) -> None:
    screen = HelpScreen()
    app = ScreenHost(screen)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        reference = plain(screen.query_one("#help-reference"))
        for expected in ("approve the plan", "time travel", "[ / ]", "inject a fault"):
            assert expected in reference
        await pilot.press(key)
        await pilot.pause()
        assert app.results == [None]


def test_key_reference_markdown_is_a_table_of_every_key() -> None:
    lines = key_reference_markdown().splitlines()
    assert lines[0] == "| Where | Key | Action |"
    assert "| War room | `+ / -` | faster / slower simulated time |" in lines
    assert all(line.startswith("|") and line.endswith("|") for line in lines)


def test_every_key_in_the_footer_is_in_the_help_and_the_readme() -> None:
    from pathlib import Path

    from textual.binding import Binding

    from qs_tui.ui.app import WarRoomApp
    from qs_tui.ui.screens import KEY_REFERENCE

    helped = " ".join(key for _, keys in KEY_REFERENCE for key, _ in keys).split()
    for binding in WarRoomApp.BINDINGS:
        assert isinstance(binding, Binding)
        shown = binding.key_display or {"question_mark": "?", "slash": "/"}.get(
            binding.key, binding.key
        )
        assert shown in helped, f"{binding.description} ({shown}) is not in the key reference"
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert key_reference_markdown() in readme, "README's key table differs from the help"


# ---- fault menu ----------------------------------------------------------------------------


async def test_inject_enter_injects_the_defaults_now() -> None:
    screen = InjectFaultScreen(Topology())
    app = ScreenHost(screen)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
    [fault] = app.results
    assert isinstance(fault, FaultSpec)
    assert (fault.kind, fault.service, fault.region) == (
        FaultKind.MEMORY_LEAK,
        "api-gateway",
        "us-east-1",
    )
    assert fault.params.rate == 0.5
    assert fault.offset == timedelta(0)


async def test_inject_changing_kind_resets_strength_and_validates_it() -> None:
    screen = InjectFaultScreen(Topology())
    app = ScreenHost(screen)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen.query_one("#inject-kind", Select).value = FaultKind.ERROR_SPIKE
        screen.query_one("#inject-service", Select).value = "payment-service"
        screen.query_one("#inject-region", Select).value = "all"
        await pilot.pause()
        strength = screen.query_one("#inject-strength", Input)
        assert strength.value == "0.2"
        strength.value = "1.5"
        await pilot.press("enter")
        await pilot.pause()
        assert app.results == []
        assert "at most 1" in plain(screen.query_one("#inject-problem"))
        strength.value = "0.4"
        await pilot.press("enter")
        await pilot.pause()
    [fault] = app.results
    assert fault.kind is FaultKind.ERROR_SPIKE and fault.region == "all"
    assert fault.service == "payment-service" and fault.params.magnitude == 0.4


async def test_inject_enter_in_an_open_menu_picks_the_option() -> None:
    screen = InjectFaultScreen(Topology())
    app = ScreenHost(screen)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        kind = screen.query_one("#inject-kind", Select)
        assert screen.focused is kind
        await pilot.press("space")  # opens the menu
        await pilot.pause()
        assert kind.expanded
        await pilot.press("down", "enter")
        await pilot.pause()
        assert not kind.expanded
        assert kind.value is FaultKind.ERROR_SPIKE
        assert app.results == []  # still open: enter chose an option, it did not inject


async def test_inject_escape_cancels() -> None:
    app = ScreenHost(InjectFaultScreen(Topology()))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
    assert app.results == [None]


def test_build_fault_names_the_field_that_is_wrong() -> None:
    with pytest.raises(ValueError, match="memory % per minute: 'fast' is not a number"):
        build_fault(FaultKind.MEMORY_LEAK, "auth-service", "us-east-1", "fast")
    with pytest.raises(ValueError, match="latency multiplier: must be greater than 0"):
        build_fault(FaultKind.LATENCY_REGRESSION, "auth-service", "us-east-1", "-2")
    spec = build_fault(FaultKind.DISK_FILL, "auth-service", "eu-west-1", "")
    assert spec.params.rate == 0.2


def test_a_built_fault_starts_with_the_next_interval_of_a_running_simulation(
    scenario: Scenario, seeded: tuple[EmbeddedStore, Simulation, ManualClock]
) -> None:
    _, simulation, clock = seeded
    spec = build_fault(FaultKind.CPU_SATURATION, "auth-service", "us-west-2", "3")
    fault = simulation.inject(spec)
    assert fault.start > scenario.start_time - timedelta(minutes=1)
    assert fault.start <= clock.now() + timedelta(seconds=simulation.interval_s)


# ---- time travel ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return load_scenario("memory-leak")


@pytest.fixture(scope="module")
def seeded(scenario: Scenario) -> tuple[EmbeddedStore, Simulation, ManualClock]:
    """40 minutes of the memory-leak scenario's history in an in-memory store."""
    clock = ManualClock(scenario.start_time)
    store = EmbeddedStore(now=clock.now)
    store.ensure_templates()
    simulation = Simulation.from_scenario(scenario, clock=clock)
    simulation.backfill(store, timedelta(minutes=40))
    store.refresh()
    return store, simulation, clock


class RecordingStore:
    """Delegates to a real store and records on which thread each query ran."""

    supports_fixed_now = True

    def __init__(self, inner: EmbeddedStore, *, fail: bool = False) -> None:
        self.inner = inner
        self.fail = fail
        self.threads: list[str] = []

    def esql(
        self, query: str, *, params: EsqlParams = None, now: datetime | None = None
    ) -> EsqlResult:
        self.threads.append(threading.current_thread().name)
        if self.fail:
            raise StoreError("cannot reach http://localhost:9200", "is Elasticsearch running?")
        return self.inner.esql(query, params=params, now=now)

    def bulk(self, index: str, documents: Iterable[Document]) -> BulkResult:
        return self.inner.bulk(index, documents)

    def index(
        self, index: str, document: Document, *, doc_id: str | None = None, create: bool = False
    ) -> str:
        return self.inner.index(index, document, doc_id=doc_id, create=create)

    def ensure_templates(self, *, telemetry: bool = True) -> list[str]:
        return self.inner.ensure_templates(telemetry=telemetry)

    def refresh(self, index: str | None = None) -> None:
        self.inner.refresh(index)

    def health(self) -> Health:
        return self.inner.health()

    def close(self) -> None:
        """The shared store stays open for the other tests."""


def services(topology: Topology) -> list[tuple[str, str]]:
    return [(s, r) for s in topology.services for r in topology.regions]


async def settle(pilot: Any) -> None:
    """Let the screen's query worker finish and its message be handled."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_services_as_of_reads_the_latest_minute_before_the_moment(
    scenario: Scenario, seeded: tuple[EmbeddedStore, Simulation, ManualClock]
) -> None:
    store, simulation, _ = seeded
    moment = scenario.start_time - timedelta(minutes=3)
    states = {(s.service, s.region): s for s in services_as_of(store, moment)}
    assert set(states) == set(services(simulation.topology))
    leaking = states[("payment-service", "us-east-1")]
    assert leaking.minute == moment - timedelta(minutes=1)
    # The leak: the highest memory of the estate, and climbing over the window.
    assert leaking.memory == max(s.memory or 0 for s in states.values())
    assert leaking.memory_change is not None and leaking.memory_change > 2


async def test_time_travel_scrubs_minutes_and_onsets_off_the_ui_thread(
    scenario: Scenario, seeded: tuple[EmbeddedStore, Simulation, ManualClock]
) -> None:
    store, simulation, _ = seeded
    recording = RecordingStore(store)
    now = scenario.start_time
    onset = datetime.fromisoformat("2026-11-25T13:36:56+00:00")
    screen = TimeTravelScreen(
        recording,
        now=now,
        onsets=[("INC-0001 memory leak", onset)],
        services=services(simulation.topology),
    )
    app = ScreenHost(screen)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert screen.shown_at == now
        table = screen.query_one("#travel-states", DataTable)
        assert table.row_count == 12
        assert table.get_row_at(0)[:2] == ["api-gateway", "us-east-1"]
        assert "14:00:00 UTC (now)" in plain(screen.query_one("#travel-when"))
        await pilot.press("left")
        await settle(pilot)
        assert screen.shown_at == now - timedelta(minutes=1)
        await pilot.press("h", "h")
        await settle(pilot)
        assert screen.shown_at == now - timedelta(minutes=3)
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert screen.shown_at == onset
        assert "at the onset of INC-0001" in plain(screen.query_one("#travel-onset"))
        leaking = next(s for s in screen.states if s.service == "payment-service")
        assert (leaking.service, leaking.region) == ("payment-service", "us-east-1")
        await pilot.press("l")
        await settle(pilot)
        assert screen.shown_at == onset + timedelta(minutes=1)
        await pilot.press("home")
        await settle(pilot)
        assert screen.shown_at == now - timedelta(minutes=40) + timedelta(minutes=1)
        await pilot.press("left")  # no data before the oldest moment: it stays put
        await settle(pilot)
        assert screen.shown_at == now - timedelta(minutes=39)
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert screen.shown_at == onset
        await pilot.press("end", "right")
        await settle(pilot)
        assert screen.shown_at == now  # never past the live clock
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is not screen
    assert recording.threads and threading.main_thread().name not in recording.threads


async def test_time_travel_says_what_went_wrong_when_the_store_fails(
    seeded: tuple[EmbeddedStore, Simulation, ManualClock], scenario: Scenario
) -> None:
    store, simulation, _ = seeded
    screen = TimeTravelScreen(
        RecordingStore(store, fail=True),
        now=scenario.start_time,
        onsets=[],
        services=services(simulation.topology),
    )
    app = ScreenHost(screen)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        status = screen.query_one("#travel-status", Static)
        assert status.has_class("-error")
        assert plain(status) == "cannot reach http://localhost:9200: is Elasticsearch running?"
        assert screen.shown_at is None
        assert "no incidents yet" in plain(screen.query_one("#travel-onset"))
