"""The war room while the cluster is away: a degraded banner with the error, the time since
the last good answer and the queued records, fed by pipeline events; gone once the cluster
answers. Driven tick by tick on the manual clock; waits are on conditions, never on time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from qs_tui.agents.base import PipelineSettings
from qs_tui.models import IncidentState
from qs_tui.sim.scenario import TopologySpec, load_scenario
from qs_tui.store.elastic import ElasticStore
from qs_tui.store.templates import DECISIONS
from qs_tui.ui.app import WarRoomApp, make_app
from qs_tui.ui.messages import StoreDegradedMessage, StoreRecoveredMessage
from qs_tui.ui.widgets import DegradedBanner, StatusBar
from tests.store.conftest import API_KEY, settings_for
from tests.store.fake_es import FakeElasticsearch, Fault
from tests.ui.conftest import TEST_HISTORY, WIDE, HandWall

pytestmark = pytest.mark.anyio

#: Ticks allowed for something the pipeline does within a few ticks (room to spare).
MAX_TICKS = 15


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server() -> Iterator[FakeElasticsearch]:
    with FakeElasticsearch(engine=True) as fake:
        yield fake


def war_room(server: FakeElasticsearch) -> WarRoomApp:
    store = ElasticStore(settings_for(server.url, ELASTIC_API_KEY=API_KEY))
    # The memory-leak scenario on the leaking service alone: every write and query crosses
    # HTTP, so the estate's size is what the run costs; the banner needs only the incident.
    leak = load_scenario("memory-leak")
    leak = leak.model_copy(
        update={
            "topology": TopologySpec(
                services=["payment-service"], regions=["us-east-1"], hosts_per_region=2
            )
        }
    )
    return make_app(
        store=store,
        scenario=leak,
        live=False,
        history=TEST_HISTORY,
        approval_monotonic=HandWall(),
        pipeline_settings=PipelineSettings(
            approval_timeout_s=600, record_retry_delays_s=(0.0,), store_retry_jitter=0.0
        ),
    )


async def test_the_banner_shows_the_outage_and_goes_when_the_cluster_is_back(
    server: FakeElasticsearch,
) -> None:
    messages: list[Any] = []

    def hook(message: Any) -> None:
        if isinstance(message, StoreDegradedMessage | StoreRecoveredMessage):
            messages.append(message)

    app = war_room(server)
    async with app.run_test(size=WIDE, message_hook=hook) as pilot:
        await app.wait_ready()
        banner = app.query_one(DegradedBanner)
        await app.advance(1)
        await pilot.pause()
        assert not banner.display and banner.text == ""
        incident = app.incidents["INC-0001"]
        assert incident.state is IncidentState.AWAITING_APPROVAL

        # The cluster goes away while the human approves: the action and its records go on
        # without it.
        server.fail(Fault.UNAVAILABLE)
        await pilot.press("y")
        await pilot.pause()
        await app.advance(1)
        await pilot.pause()
        assert banner.display and banner.region.y == 1  # right under the status bar
        text = banner.text
        assert "DEGRADED" in text
        assert "Elasticsearch error 503" in text and "cluster_block_exception" in text
        assert "last good answer 10s ago" in text
        queued = app.pipeline.records.pending
        assert queued >= 1 and f"{queued} audit records queued" in text
        assert API_KEY not in text
        # Time since the last good answer follows the pipeline's clock.
        await app.advance(2)
        await pilot.pause()
        assert "last good answer 30s ago" in banner.text
        assert app.query_one(StatusBar).facts.problem is None  # the war room still runs

        server.recover()
        for _ in range(MAX_TICKS):
            if not banner.display:
                break
            await app.advance(1)
            await pilot.pause()
        assert not banner.display and banner.text == ""
        assert isinstance(messages[-1], StoreRecoveredMessage)
        assert messages[-1].event.written >= queued
        assert app.pipeline.records.pending == 0

        # The incident rode it out, and every decision is held once.
        for _ in range(MAX_TICKS):
            if app.incidents["INC-0001"].state.terminal:
                break
            await app.advance(1)
            await pilot.pause()
        assert app.incidents["INC-0001"].state is IncidentState.RESOLVED
        run_id = app.pipeline.context.run_id
        sequences = sorted(int(i.removeprefix(f"{run_id}-")) for i in server.ids_in(DECISIONS))
        assert sequences == list(range(len(sequences)))


def test_the_banner_text_names_the_error_the_wait_and_the_queue() -> None:
    from datetime import UTC, datetime, timedelta

    from qs_tui.ui.widgets import OutageFacts

    went = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    facts = OutageFacts(
        error="cannot reach https://es.example:9200: is Elasticsearch running?",
        since=went,
        last_ok_at=went - timedelta(seconds=10),
        queued=1,
    )
    text = DegradedBanner.render_text(facts, now=went + timedelta(minutes=2))
    assert text == (
        "▲ DEGRADED: the store is not answering; last good answer 2m10s ago │ "
        "1 audit record queued │ cannot reach https://es.example:9200: is Elasticsearch running?"
    )
    never = DegradedBanner.render_text(
        OutageFacts(error="x", since=went, last_ok_at=None, queued=0), now=went
    )
    assert "no answer since the start" in never and "0 audit records queued" in never
