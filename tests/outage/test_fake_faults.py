"""The fake Elasticsearch's fault modes, seen through the real client: each fault can be
switched on and off mid-run and looks to `ElasticStore` as it would from a real cluster."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from qs_tui.store.base import DocumentExists, StoreUnavailable
from qs_tui.store.elastic import ElasticStore
from qs_tui.store.templates import DECISIONS
from tests.store.conftest import API_KEY, settings_for
from tests.store.fake_es import FakeElasticsearch, Fault


def store_for(server: FakeElasticsearch, *, timeout_s: float = 30.0) -> ElasticStore:
    settings = settings_for(
        server.url, ELASTIC_API_KEY=API_KEY, ELASTIC_REQUEST_TIMEOUT=f"{timeout_s:g}"
    )
    return ElasticStore(settings)


@pytest.fixture
def server() -> Iterator[FakeElasticsearch]:
    with FakeElasticsearch() as fake:
        yield fake


@pytest.mark.parametrize(
    ("fault", "title"),
    [
        (Fault.DROP, "cannot reach"),
        (Fault.TOO_MANY_REQUESTS, "is overloaded"),
        (Fault.UNAVAILABLE, "Elasticsearch error 503"),
    ],
)
def test_each_fault_is_a_store_unavailable_and_recover_ends_it(
    server: FakeElasticsearch, fault: Fault, title: str
) -> None:
    store = store_for(server)
    store.index(DECISIONS, {"message": "before"}, doc_id="d-1")
    server.fail(fault)
    with pytest.raises(StoreUnavailable) as raised:
        store.index(DECISIONS, {"message": "during"}, doc_id="d-2")
    assert title in raised.value.title
    assert API_KEY not in str(raised.value)
    server.recover()
    store.index(DECISIONS, {"message": "after"}, doc_id="d-3")
    assert server.ids_in(DECISIONS) == ["d-1", "d-3"]
    store.close()


def test_a_429_carries_elasticsearchs_body_and_a_retry_after_when_asked(
    server: FakeElasticsearch,
) -> None:
    store = store_for(server)
    server.fail(Fault.TOO_MANY_REQUESTS, retry_after_s=7)
    with pytest.raises(StoreUnavailable) as raised:
        store.refresh()
    assert "es_rejected_execution_exception" in raised.value.message
    assert raised.value.retry_after_s == 7
    store.close()


def test_the_client_does_not_retry_a_create_so_a_landed_write_is_not_sent_twice(
    server: FakeElasticsearch,
) -> None:
    store = store_for(server)
    server.fail(Fault.DROP_AFTER_WRITE, paths=r"/qs-agent-decisions/_doc/.*")
    with pytest.raises(StoreUnavailable) as raised:
        store.index(DECISIONS, {"message": "landed"}, doc_id="d-1", create=True)
    assert raised.value.may_have_landed
    assert len(server.requests_to("PUT", "/qs-agent-decisions/_doc/d-1")) == 1
    server.recover()
    assert server.ids_in(DECISIONS) == ["d-1"]  # it did land
    with pytest.raises(DocumentExists):
        store.index(DECISIONS, {"message": "landed"}, doc_id="d-1", create=True)
    store.close()


def test_a_hang_becomes_a_timeout_error_after_the_request_timeout(
    server: FakeElasticsearch,
) -> None:
    # A short request timeout: the hang is ended by the client, not by the test.
    store = store_for(server, timeout_s=0.2)
    server.fail(Fault.HANG)
    with pytest.raises(StoreUnavailable) as raised:
        store.esql("FROM qs-metrics | LIMIT 1")
    assert "timed out" in raised.value.title
    assert raised.value.may_have_landed
    # One request (the first contact, `GET /`), not retried: a hang costs one timeout.
    assert len(server.requests) == 1
    server.recover()
    store.close()


def test_a_hanging_request_is_held_until_recover(server: FakeElasticsearch) -> None:
    store = store_for(server)
    server.fail(Fault.HANG)
    outcome: list[BaseException | None] = []

    def call() -> None:
        try:
            store.refresh()
            outcome.append(None)
        except Exception as error:
            outcome.append(error)

    caller = threading.Thread(target=call)
    caller.start()
    assert server.wait_hanging(1, timeout=300)
    assert outcome == []  # still waiting for an answer
    server.recover()
    caller.join(timeout=300)
    # The held connection closes unanswered; the client's connection retry finds the
    # cluster back and the call succeeds.
    assert outcome == [None]
    store.close()
