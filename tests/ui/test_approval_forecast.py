"""The approval modal shows what the chosen option does to the rest of the estate."""

from __future__ import annotations

from concurrent.futures import Future

import pytest

from qs_tui.agents.events import ApprovalRequested
from qs_tui.models import ActionKind, ApprovalDecision, LoadForecast
from qs_tui.ui.screens import ApprovalModal
from tests.ui.screen_data import DEADLINE, FrozenMonotonic, ScreenHost, plain, recorded

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _failover_request() -> ApprovalRequested:
    incident = recorded("requested")
    assert incident.plan is not None
    plan = incident.plan
    forecast = LoadForecast(
        service="payment-service",
        region="eu-central-1",
        hosts=2,
        added_hosts=1,
        rps_before=400.0,
        rps_after=800.0,
        cpu_before=45.0,
        cpu_after=60.0,
        cpu_after_alone=90.0,
        latency_before_ms=60.0,
        latency_after_ms=82.5,
        ceiling=75.0,
    )
    scale_out = plan.chosen.model_copy(
        update={"action": ActionKind.SCALE_OUT, "region": "eu-central-1"}
    )
    chosen = plan.chosen.model_copy(
        update={"action": ActionKind.FAILOVER, "forecast": [forecast], "prepare": [scale_out]}
    )
    future: Future[ApprovalDecision] = Future()
    return ApprovalRequested(
        incident=incident,
        plan=plan.model_copy(update={"chosen": chosen}),
        future=future,
        timeout_s=120.0,
        deadline=DEADLINE,
    )


async def test_the_modal_shows_the_load_forecast_and_the_scale_out_first() -> None:
    modal = ApprovalModal(_failover_request(), monotonic=FrozenMonotonic(DEADLINE - 60))
    async with ScreenHost(modal).run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        shown = plain(modal.query_one("#approval-load-forecast"))
    assert "eu-central-1 goes from 45% to ~90% CPU (400 -> ~800 req/s)" in shown
    assert "with 1 more host first: ~60%, p95 60 -> ~82 ms" in shown
    assert "first: scale_out eu-central-1" in shown


async def test_without_a_forecast_the_modal_has_no_load_section() -> None:
    incident = recorded("requested")
    assert incident.plan is not None
    future: Future[ApprovalDecision] = Future()
    request = ApprovalRequested(
        incident=incident, plan=incident.plan, future=future, timeout_s=120.0, deadline=DEADLINE
    )
    modal = ApprovalModal(request, monotonic=FrozenMonotonic(DEADLINE - 60))
    async with ScreenHost(modal).run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        assert not modal.query("#approval-load-forecast")
