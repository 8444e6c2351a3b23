"""The pipeline's view of an outage, step by step on a manual clock: backoff, Retry-After,
calls that are not sent while a try is not due, and the record that landed before its answer
was lost."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice

import pytest

from qs_tui.agents.availability import Backoff, CircuitOpen, WatchedStore
from qs_tui.agents.records import RecordWriter
from qs_tui.clock import ManualClock
from qs_tui.store.base import StoreUnavailable
from qs_tui.store.embedded import EmbeddedStore
from qs_tui.store.templates import DECISIONS

START = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


class Cluster(EmbeddedStore):
    """An embedded store that can be made to fail like a cluster that went away; `sent`
    counts the calls that reached it."""

    def __init__(self) -> None:
        super().__init__()
        self.down: StoreUnavailable | None = None
        self.sent = 0
        self.land_then_fail = False

    def refresh(self, index: str | None = None) -> None:
        self.sent += 1
        if self.down is not None:
            raise self.down

    def index(self, index, document, *, doc_id=None, create=False):  # type: ignore[no-untyped-def]
        self.sent += 1
        if self.land_then_fail:
            super().index(index, document, doc_id=doc_id, create=create)
            raise StoreUnavailable(
                "cannot reach the cluster", "connection dropped", may_have_landed=True
            )
        if self.down is not None:
            raise self.down
        return super().index(index, document, doc_id=doc_id, create=create)


def test_delays_double_up_to_the_cap_and_jitter_is_reproducible() -> None:
    exact = list(islice(Backoff(first_s=10, max_s=60, jitter=0).delays(), 5))
    assert exact == [10, 20, 40, 60, 60]
    jittered = list(islice(Backoff(first_s=10, max_s=60, jitter=0.5, seed=3).delays(), 5))
    assert jittered == list(islice(Backoff(first_s=10, max_s=60, jitter=0.5, seed=3).delays(), 5))
    assert all(e <= j <= e * 1.5 for e, j in zip(exact, jittered, strict=True))


def test_inside_a_tick_nothing_is_sent_until_the_next_try_is_due() -> None:
    clock = ManualClock(START)
    cluster = Cluster()
    watched = WatchedStore(cluster, clock, backoff=Backoff(first_s=10, max_s=60, jitter=0))
    watched.refresh()
    assert watched.last_ok_at == START and watched.outage is None

    clock.advance(5)
    cluster.down = StoreUnavailable("Elasticsearch error 503", "no master")
    with watched.tick(), pytest.raises(StoreUnavailable):
        watched.refresh()
    outage = watched.outage
    assert outage is not None and outage.failures == 1
    assert outage.last_ok_at == START and outage.error == "Elasticsearch error 503: no master"
    assert (outage.retry_at - clock.now()).total_seconds() == 10
    sent = cluster.sent
    clock.advance(9)
    with watched.tick(), pytest.raises(CircuitOpen):
        watched.refresh()  # not due: not sent
    assert cluster.sent == sent
    clock.advance(1)
    with watched.tick(), pytest.raises(StoreUnavailable):
        watched.refresh()  # due: the probe goes out, fails, and the wait doubles
    assert cluster.sent == sent + 1
    outage = watched.outage
    assert outage is not None and outage.failures == 2
    assert (outage.retry_at - clock.now()).total_seconds() == 20
    # Outside a tick (the last flush when the war room closes) every call goes out.
    cluster.down = None
    watched.refresh()
    assert watched.outage is None and watched.last_ok_at == clock.now()


def test_a_retry_after_longer_than_the_backoff_is_honoured() -> None:
    clock = ManualClock(START)
    cluster = Cluster()
    watched = WatchedStore(cluster, clock, backoff=Backoff(first_s=10, jitter=0))
    cluster.down = StoreUnavailable("overloaded", "429", retry_after_s=45)
    with watched.tick(), pytest.raises(StoreUnavailable):
        watched.refresh()
    outage = watched.outage
    assert outage is not None and outage.last_ok_at is None
    assert (outage.retry_at - clock.now()).total_seconds() == 45


def test_a_record_that_landed_before_its_answer_was_lost_is_written_once() -> None:
    clock = ManualClock(START)
    cluster = Cluster()
    cluster.ensure_templates()
    watched = WatchedStore(cluster, clock, backoff=Backoff(jitter=0))
    writer = RecordWriter(watched, retry_delays_s=(0.0,))
    cluster.land_then_fail = True
    with watched.tick():
        assert not writer.write(DECISIONS, {"message": "m"}, doc_id="run-000000", create=True)
    assert writer.pending == 1
    cluster.land_then_fail = False
    assert writer.flush() == 1  # the 409 on its own id: it is there, counted once
    assert writer.complete and writer.written == 1
    rows = cluster.esql(f"FROM {DECISIONS} | STATS n = COUNT(*)").values
    assert rows == [[1]]
