"""One contract, both stores: `EmbeddedStore` and `ElasticStore` (over the wire) answer alike.

The Elasticsearch side talks to the fake server, which answers `POST /_query` with the embedded
engine over the documents it received through `_bulk` and `_doc`. So this suite proves the
client wiring (request shape, parameter wire form, response and warning parsing, error
mapping); the engine's semantics are judged by the engine's own tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from qs_tui.esql.errors import EsqlError
from qs_tui.store.base import Store, StoreError
from qs_tui.store.embedded import EmbeddedStore
from qs_tui.store.templates import DECISIONS, INCIDENTS, INDICES, METRICS
from tests.store.conftest import elastic_store_for
from tests.store.fake_es import FakeElasticsearch

pytestmark = pytest.mark.filterwarnings("ignore::elasticsearch.ElasticsearchWarning")

START = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)


@pytest.fixture(params=["embedded", "elastic"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """Each store, with the project's templates installed."""
    if request.param == "embedded":
        embedded = EmbeddedStore(now=lambda: START)
        embedded.ensure_templates()
        yield embedded
        embedded.close()
        return
    with FakeElasticsearch(engine=True) as server:
        elastic = elastic_store_for(server.url)
        elastic.ensure_templates()
        yield elastic
        elastic.close()


def metric(minute: int, service: str, cpu: float, region: str = "us-east-1") -> dict[str, Any]:
    """One metrics sample `minute` minutes after START."""
    return {
        "@timestamp": START + timedelta(minutes=minute),
        "service": service,
        "region": region,
        "host": f"{service}-1",
        "cpu_percent": cpu,
        "memory_percent": 50.0 + minute,
    }


@pytest.fixture
def metrics(store: Store) -> Store:
    """`store` holding six metrics samples of three services."""
    result = store.bulk(
        METRICS,
        [
            metric(0, "api-gateway", 40.0),
            metric(1, "api-gateway", 43.0),
            metric(0, "auth-service", 10.0),
            metric(1, "auth-service", 12.0),
            metric(2, "auth-service", 14.0),
            metric(0, "payment-service", 90.0, region="eu-west-1"),
        ],
    )
    assert result.written == 6
    assert result.errors == []
    store.refresh()
    return store


def test_ensure_templates_names_every_template_and_is_idempotent(store: Store) -> None:
    assert store.ensure_templates() == [spec.template for spec in INDICES]


@pytest.mark.parametrize("kind", ["embedded", "elastic"])
def test_without_telemetry_only_the_agents_own_indices_are_set_up(kind: str) -> None:
    expected = ["qs-incidents-template", "qs-agent-decisions-template"]
    if kind == "embedded":
        embedded = EmbeddedStore(now=lambda: START)
        assert embedded.ensure_templates(telemetry=False) == expected
        assert set(embedded.indices()) == {INCIDENTS, DECISIONS}
        embedded.close()
        return
    with FakeElasticsearch(engine=True) as server:
        elastic = elastic_store_for(server.url)
        assert elastic.ensure_templates(telemetry=False) == expected
        puts = {r.path for r in server.requests if r.method == "PUT"}
        elastic.close()
    assert puts == {
        "/_index_template/qs-incidents-template",
        "/_index_template/qs-agent-decisions-template",
        f"/{INCIDENTS}",
        f"/{DECISIONS}",
    }


def test_health_is_ok(store: Store) -> None:
    health = store.health()

    assert health.ok
    assert health.name


def test_stats_by_group_returns_the_same_columns_and_values(metrics: Store) -> None:
    result = metrics.esql(
        "FROM qs-metrics\n"
        "| STATS avg_cpu = AVG(cpu_percent), samples = COUNT(*) BY service\n"
        "| SORT service\n"
        "| LIMIT 10"
    )

    assert [(c.name, c.type) for c in result.columns] == [
        ("avg_cpu", "double"),
        ("samples", "long"),
        ("service", "keyword"),
    ]
    assert result.values == [
        [41.5, 2, "api-gateway"],
        [12.0, 3, "auth-service"],
        [90.0, 1, "payment-service"],
    ]
    assert result.warnings == []


def test_dates_come_back_as_elasticsearch_prints_them(metrics: Store) -> None:
    result = metrics.esql(
        'FROM qs-metrics | WHERE service == "api-gateway" | KEEP @timestamp | SORT @timestamp'
        " | LIMIT 5"
    )

    assert result.columns[0].type == "date"
    assert result.values == [["2026-11-25T16:00:00.000Z"], ["2026-11-25T16:01:00.000Z"]]


def test_named_params_are_bound(metrics: Store) -> None:
    result = metrics.esql(
        "FROM qs-metrics\n"
        "| WHERE @timestamp >= ?start AND service == ?service AND cpu_percent > ?min_cpu\n"
        "| KEEP service, cpu_percent\n"
        "| SORT cpu_percent DESC\n"
        "| LIMIT 10",
        params={"start": START + timedelta(minutes=1), "service": "auth-service", "min_cpu": 11},
    )

    assert result.values == [["auth-service", 14.0], ["auth-service", 12.0]]


def test_positional_params_are_bound(metrics: Store) -> None:
    result = metrics.esql(
        "FROM qs-metrics | WHERE region == ? AND cpu_percent >= ? | KEEP service | LIMIT 10",
        params=["eu-west-1", 50.0],
    )

    assert result.values == [["payment-service"]]


def test_warnings_are_surfaced(metrics: Store) -> None:
    result = metrics.esql("FROM qs-metrics | STATS n = COUNT(*) | EVAL per_zero = n / 0")

    assert result.values == [[6, None]]
    assert any("/ by zero" in warning for warning in result.warnings)


def test_the_implicit_limit_warning_is_surfaced(metrics: Store) -> None:
    result = metrics.esql("FROM qs-metrics | KEEP service")

    assert len(result.values) == 6
    assert any("limit of [1000]" in warning for warning in result.warnings)


def test_bulk_reports_the_document_that_does_not_fit(store: Store) -> None:
    result = store.bulk(
        METRICS,
        [metric(0, "api-gateway", 40.0), {**metric(1, "api-gateway", 0.0), "cpu_percent": "high"}],
    )

    assert result.written == 1
    assert len(result.errors) == 1
    assert "cpu_percent" in result.errors[0]


def test_index_with_an_id_replaces_the_document(store: Store) -> None:
    incident = {"@timestamp": START, "incident_id": "INC-1", "state": "open"}
    first = store.index(INCIDENTS, incident, doc_id="INC-1")
    second = store.index(INCIDENTS, {**incident, "state": "resolved"}, doc_id="INC-1")
    store.refresh(INCIDENTS)

    result = store.esql("FROM qs-incidents | KEEP incident_id, state | LIMIT 10")

    assert first == second == "INC-1"
    assert result.values == [["INC-1", "resolved"]]


def test_index_without_an_id_returns_a_new_one(store: Store) -> None:
    decision = {"@timestamp": START, "agent": "cassandra", "decision": "anomaly", "sequence": 1}

    first = store.index(DECISIONS, decision)
    second = store.index(DECISIONS, {**decision, "sequence": 2})
    store.refresh()

    assert first != second
    result = store.esql("FROM qs-agent-decisions | STATS n = COUNT(*)")
    assert result.values == [[2]]


@pytest.mark.parametrize(
    "query",
    [
        "FROM qs-metrics | WHERE",
        "FROM qs-metrics | KEEP no_such_column",
        "FROM qs-metrics | EVAL x = NO_SUCH_FUNCTION(cpu_percent)",
        "FROM no-such-index",
    ],
)
def test_bad_queries_raise_store_or_esql_errors_with_a_location(store: Store, query: str) -> None:
    with pytest.raises((StoreError, EsqlError)) as caught:
        store.esql(query)

    assert "line 1:" in str(caught.value) or "no-such-index" in str(caught.value)


def test_now_is_fixed_or_refused_as_the_flag_says(metrics: Store) -> None:
    query = "ROW t = NOW()"
    if metrics.supports_fixed_now:
        assert metrics.esql(query, now=START).values == [["2026-11-25T16:00:00.000Z"]]
    else:
        with pytest.raises(StoreError, match="NOW"):
            metrics.esql(query, now=START)


def test_bulk_with_ids_replaces_documents_in_a_plain_index(store: Store) -> None:
    first = {"_id": "INC-7", "@timestamp": START, "incident_id": "INC-7", "state": "open"}
    other = {"_id": "INC-8", "@timestamp": START, "incident_id": "INC-8", "state": "open"}
    assert store.bulk(INCIDENTS, [first, other]).written == 2
    assert store.bulk(INCIDENTS, [{**first, "state": "resolved"}]).written == 1
    store.refresh()

    result = store.esql("FROM qs-incidents METADATA _id | KEEP _id, state | SORT _id | LIMIT 10")

    assert result.values == [["INC-7", "resolved"], ["INC-8", "open"]]
