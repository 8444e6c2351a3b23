"""Document ids at the HTTP boundary: a data stream answers a taken id with 409 per item,
which `ElasticStore.bulk` counts as already there; `index(create=True)` is `op_type=create`
and a 409 becomes `DocumentExists`."""

from __future__ import annotations

from typing import Any

import pytest

from qs_tui.store.base import DocumentExists
from qs_tui.store.elastic import ElasticStore
from qs_tui.store.templates import INCIDENTS, METRICS
from tests.store.fake_es import FakeElasticsearch


def _conflict(doc_id: str, index: str) -> dict[str, Any]:
    """Elasticsearch's `version_conflict_engine_exception` body for a taken id."""
    reason = f"[{doc_id}]: version conflict, document already exists (current version [1])"
    cause = {
        "type": "version_conflict_engine_exception",
        "reason": reason,
        "index_uuid": "Yq6Ih3MZRxaX1rH0YkT3nA",
        "shard": "0",
        "index": index,
    }
    return {"error": {"root_cause": [cause], **cause}, "status": 409}


def test_a_taken_id_in_a_data_stream_is_already_there_not_an_error(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    backing = ".ds-qs-metrics-2026.11.25-000001"
    created = {"_index": backing, "_id": "h1/1000/metrics", "_version": 1, "status": 201}
    taken = {"_index": backing, "_id": "h1/0/metrics", "status": 409}
    taken["error"] = _conflict("h1/0/metrics", backing)["error"]
    body = {"errors": True, "took": 2, "items": [{"create": taken}, {"create": created}]}
    fake_es.script("PUT", "/_bulk", body=body)

    result = elastic_store.bulk(
        METRICS,
        [
            {"@timestamp": "2026-11-25T12:00:00Z", "host": "h1", "_id": "h1/0/metrics"},
            {"@timestamp": "2026-11-25T12:00:01Z", "host": "h1", "_id": "h1/1000/metrics"},
        ],
    )

    (request,) = fake_es.requests_to("PUT", "/_bulk")
    assert request.body[0] == {"create": {"_index": METRICS, "_id": "h1/0/metrics"}}
    assert "_id" not in request.body[1]
    assert (result.written, result.duplicates, result.errors) == (1, 1, [])


def test_create_sends_op_type_create_and_a_409_is_document_exists(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    fake_es.script(
        "PUT", "/qs-incidents/_doc/INC-0001", status=409, body=_conflict("INC-0001", INCIDENTS)
    )
    with pytest.raises(DocumentExists, match=r"\[INC-0001\] in qs-incidents") as caught:
        elastic_store.index(INCIDENTS, {"incident_id": "INC-0001"}, doc_id="INC-0001", create=True)
    assert caught.value.doc_id == "INC-0001"
    (request,) = fake_es.requests_to("PUT", "/qs-incidents/_doc/INC-0001")
    assert request.query == {"op_type": "create"}
