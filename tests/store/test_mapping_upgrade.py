"""An audit trail made by an older version is brought up to the current mapping on start,
additively: the fields added since are put on the existing index (a cluster's update-mapping
API; the embedded store's saved mapping), a field mapped with another type is reported and
left alone, and nothing already recorded is lost or rewritten."""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from qs_tui.agents.base import Agent, AgentContext, PipelineSettings
from qs_tui.clock import ManualClock
from qs_tui.models import AgentName
from qs_tui.profiles import query_text
from qs_tui.queries import bind_params
from qs_tui.store.base import Store, StoreError
from qs_tui.store.elastic import ElasticStore
from qs_tui.store.embedded import EmbeddedStore
from qs_tui.store.templates import BY_NAME, DECISIONS, INCIDENTS, METRICS
from qs_tui.topology import Topology
from tests.store.conftest import API_KEY, elastic_store_for
from tests.store.fake_es import FakeElasticsearch

START = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
#: The fields the audit trail gained with transcript lines.
ADDED = ("level", "record")


def old_mapping(name: str, *, without: tuple[str, ...] = ADDED, **changed: str) -> dict[str, Any]:
    """The current spec's mapping of `name` minus the fields `without`, with the types of
    `changed` fields replaced: the mapping an older version left behind."""
    properties = {
        field: ({"type": changed[field]} if field in changed else dict(definition))
        for field, definition in BY_NAME[name].properties.items()
        if field not in without
    }
    return {"dynamic": "false", "properties": properties}


#: An older audit trail that has `level` (as text, not keyword) but no `record`.
LEVEL_AS_TEXT = old_mapping(DECISIONS, without=("record",), level="text")


class Guardian(Agent):
    """An agent that only speaks."""

    name = AgentName.GUARDIAN


def say_a_line(store: Store, text: str) -> None:
    """Say one transcript line about INC-0001 through the agents' own audit writer."""
    context = AgentContext(
        store=store,
        clock=ManualClock(START),
        sink=lambda _event: None,
        topology=Topology(services=("payment-service",), regions=("us-east-1",)),
        settings=PipelineSettings(record_retry_delays_s=(0.0,)),
    )
    Guardian(context).say(text, incident_id="INC-0001", level="warn")


def transcript(store: Store) -> list[dict[str, Any]]:
    """INC-0001's transcript, read with the flight recorder's query."""
    store.refresh()
    params = {"incident_id": "INC-0001", "start": START, "end": START}
    return store.esql(query_text("incident_transcript", None), params=bind_params(params)).records()


# ---- Elasticsearch --------------------------------------------------------------------------


@pytest.fixture
def cluster() -> Iterator[FakeElasticsearch]:
    """A fake cluster whose `POST /_query` runs over what it holds."""
    with FakeElasticsearch(engine=True) as server:
        yield server


@pytest.fixture
def store(cluster: FakeElasticsearch) -> Iterator[ElasticStore]:
    client = elastic_store_for(cluster.url, ELASTIC_API_KEY=API_KEY)
    yield client
    client.close()


def mapping_puts(cluster: FakeElasticsearch, index: str = r"[^/]+") -> list[Any]:
    return [r.body for r in cluster.requests_to("PUT", rf"/{index}/_mapping")]


def test_an_old_audit_index_gets_exactly_the_missing_fields_and_shows_its_transcript(
    cluster: FakeElasticsearch, store: ElasticStore
) -> None:
    cluster.create_with_mapping(DECISIONS, old_mapping(DECISIONS))
    # Before the upgrade the cluster cannot answer the transcript query at all.
    with pytest.raises(StoreError, match=r"Unknown column \[record\]"):
        transcript(store)

    store.ensure_templates(telemetry=False)

    assert mapping_puts(cluster) == [
        {"properties": {"level": {"type": "keyword"}, "record": {"type": "keyword"}}}
    ]
    assert store.mapping_warnings == []
    say_a_line(store, "payment-service recovered; cooldown 10m")
    [line] = transcript(store)
    assert line["level"] == "warn"
    assert line["message"] == "payment-service recovered; cooldown 10m"
    assert line["agent"] == "Guardian"


def test_a_second_start_only_reads_the_mappings(
    cluster: FakeElasticsearch, store: ElasticStore
) -> None:
    cluster.create_with_mapping(DECISIONS, old_mapping(DECISIONS))
    store.ensure_templates(telemetry=False)
    store.ensure_templates(telemetry=False)

    assert len(mapping_puts(cluster)) == 1
    # The first start created qs-incidents (nothing to read); the second read both.
    assert [r.path for r in cluster.requests_to("GET", r"/[^/]+/_mapping")] == [
        "/qs-agent-decisions/_mapping",
        "/qs-incidents/_mapping",
        "/qs-agent-decisions/_mapping",
    ]


def test_a_field_of_another_type_is_reported_and_the_others_still_added(
    cluster: FakeElasticsearch, store: ElasticStore, caplog: pytest.LogCaptureFixture
) -> None:
    cluster.create_with_mapping(DECISIONS, LEVEL_AS_TEXT)

    with caplog.at_level(logging.WARNING, logger="qs_tui.store"):
        store.ensure_templates(telemetry=False)
        store.ensure_templates(telemetry=False)

    assert mapping_puts(cluster) == [{"properties": {"record": {"type": "keyword"}}}]
    line = (
        "mapping conflict in qs-agent-decisions: field [level] is [text], expected [keyword]; "
        "left unchanged (a type change needs a reindex)"
    )
    assert store.mapping_warnings == [line]
    # Said once, in one line, on the warning channel (stderr unless logging is configured).
    assert [r.getMessage() for r in caplog.records] == [line]
    assert cluster.mappings[DECISIONS]["properties"]["level"] == {"type": "text"}


def test_a_mapping_update_the_cluster_refuses_is_reported_and_the_start_goes_on(
    cluster: FakeElasticsearch, store: ElasticStore
) -> None:
    cluster.create_with_mapping(DECISIONS, old_mapping(DECISIONS))
    reason = "mapper [level] cannot be changed from type [text] to [keyword]"
    error = {"type": "illegal_argument_exception", "reason": reason}
    cluster.script(
        "PUT",
        "/qs-agent-decisions/_mapping",
        status=400,
        body={"error": {"root_cause": [error], **error}, "status": 400},
    )

    assert store.ensure_templates(telemetry=False) == [
        "qs-incidents-template",
        "qs-agent-decisions-template",
    ]

    assert store.mapping_warnings == [
        "cannot add fields level, record to qs-agent-decisions: illegal_argument_exception: "
        + reason
    ]


def test_a_key_that_may_not_read_the_mapping_is_reported_and_the_start_goes_on(
    cluster: FakeElasticsearch, store: ElasticStore
) -> None:
    cluster.create_with_mapping(DECISIONS, old_mapping(DECISIONS))
    # Elasticsearch's answer to a key without `view_index_metadata` on the index.
    reason = (
        "action [indices:admin/mappings/get] is unauthorized for API key id "
        "[VuaCfGcBCdbkQm-e5aOx] of user [qs-writer] on indices [qs-agent-decisions], this "
        "action is granted by the index privileges [view_index_metadata,manage,all]"
    )
    error = {"type": "security_exception", "reason": reason}
    denied = {"error": {"root_cause": [error], **error}, "status": 403}
    cluster.script("GET", "/qs-agent-decisions/_mapping", status=403, body=denied)

    store.ensure_templates(telemetry=False)

    assert not mapping_puts(cluster)
    assert store.mapping_warnings == [f"cannot read the mapping of qs-agent-decisions: {reason}"]


def test_the_fake_cluster_refuses_a_type_change_as_elasticsearch_does(
    cluster: FakeElasticsearch,
) -> None:
    cluster.create_with_mapping(DECISIONS, LEVEL_AS_TEXT)
    request = urllib.request.Request(
        f"{cluster.url}/{DECISIONS}/_mapping",
        data=json.dumps({"properties": {"level": {"type": "keyword"}}}).encode(),
        headers={"Content-Type": "application/json"},
        method="PUT",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    assert refused.value.code == 400
    body = json.loads(refused.value.read())
    assert body["error"]["type"] == "illegal_argument_exception"
    assert body["error"]["reason"] == (
        "mapper [level] cannot be changed from type [text] to [keyword]"
    )


def test_a_live_start_leaves_the_telemetry_mappings_alone(
    cluster: FakeElasticsearch, store: ElasticStore
) -> None:
    cluster.create_with_mapping(
        METRICS, old_mapping(METRICS, without=("disk_percent",)), data_stream=True
    )

    store.ensure_templates(telemetry=False)
    assert not cluster.requests_to("GET", "/qs-metrics/_mapping")
    assert not mapping_puts(cluster, "qs-metrics")

    store.ensure_templates(telemetry=True)
    # A data stream's mapping is read per backing index and updated through the stream.
    assert mapping_puts(cluster, "qs-metrics") == [
        {"properties": {"disk_percent": {"type": "double"}}}
    ]
    [backing] = cluster.backing_indices[METRICS]
    assert cluster.mappings[backing]["properties"]["disk_percent"] == {"type": "double"}


# ---- The embedded store ---------------------------------------------------------------------


def test_a_data_directory_of_an_older_version_is_upgraded_and_keeps_its_records(
    tmp_path: Path,
) -> None:
    old = EmbeddedStore(data_dir=tmp_path)
    old.create_index(DECISIONS, old_mapping(DECISIONS))
    old.index(
        DECISIONS,
        {"@timestamp": START, "incident_id": "INC-0001", "agent": "tactician", "decision": "plan"},
    )
    old.close()
    segments = sorted(os.listdir(tmp_path / "segments"))

    upgraded = EmbeddedStore(data_dir=tmp_path)
    upgraded.ensure_templates(telemetry=False)
    properties = upgraded.get_mapping(DECISIONS)["properties"]
    assert properties["record"] == properties["level"] == {"type": "keyword"}
    # The decision is still there, its new fields null; its segment was not rewritten.
    [decision] = upgraded.esql(
        "FROM qs-agent-decisions | KEEP agent, decision, record, level"
    ).records()
    assert decision == {"agent": "tactician", "decision": "plan", "record": None, "level": None}
    assert sorted(os.listdir(tmp_path / "segments")) == segments
    say_a_line(upgraded, "payment-service recovered")
    assert [line["message"] for line in transcript(upgraded)] == ["payment-service recovered"]
    upgraded.close()

    # A restart sees the new mapping (and the line), and has nothing left to commit.
    manifest = (tmp_path / "manifest.json").stat().st_ino
    reopened = EmbeddedStore(data_dir=tmp_path)
    reopened.ensure_templates(telemetry=False)
    assert (tmp_path / "manifest.json").stat().st_ino == manifest
    assert reopened.get_mapping(DECISIONS)["properties"]["record"] == {"type": "keyword"}
    assert [line["level"] for line in transcript(reopened)] == ["warn"]
    assert reopened.count(DECISIONS) == 2
    reopened.close()


def test_an_embedded_field_of_another_type_is_reported_and_left_alone() -> None:
    store = EmbeddedStore()
    store.create_index(DECISIONS, LEVEL_AS_TEXT)

    store.ensure_templates(telemetry=False)

    assert store.mapping_warnings == [
        "mapping conflict in qs-agent-decisions: field [level] is [text], expected [keyword]; "
        "left unchanged (a type change needs a reindex)"
    ]
    properties = store.get_mapping(DECISIONS)["properties"]
    assert properties["level"] == {"type": "text"}
    assert properties["record"] == {"type": "keyword"}
    with pytest.raises(StoreError, match=r"mapper \[level\] cannot be changed from type"):
        store.put_mapping(DECISIONS, {"level": {"type": "keyword"}})


def test_an_embedded_live_start_leaves_telemetry_alone() -> None:
    store = EmbeddedStore()
    store.create_index(METRICS, old_mapping(METRICS, without=("disk_percent",)), data_stream=True)
    store.ensure_templates(telemetry=False)
    assert "disk_percent" not in store.get_mapping(METRICS)["properties"]
    assert INCIDENTS in store.indices()

    store.ensure_templates(telemetry=True)
    assert store.get_mapping(METRICS)["properties"]["disk_percent"] == {"type": "double"}
