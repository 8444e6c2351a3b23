"""`ElasticStore` at the HTTP boundary: the real client against a fake Elasticsearch."""

from __future__ import annotations

import base64
import logging
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from qs_tui.store.base import StoreError
from qs_tui.store.elastic import PARTIAL_RESULTS_WARNING, ElasticStore, parse_warning_header
from qs_tui.store.templates import INCIDENTS, INDICES, LOGS, METRICS
from tests.store.conftest import API_KEY, API_KEY_SECRET, PASSWORD, elastic_store_for
from tests.store.fake_es import FakeElasticsearch, encode_warning, load_fixture

COMPAT_JSON = "application/vnd.elasticsearch+json; compatible-with=9"
AT = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)

# The store silences the client's duplicate Python warnings with a module filter; pytest resets
# filters around each test, so the same filter is applied here.
pytestmark = pytest.mark.filterwarnings("ignore::elasticsearch.ElasticsearchWarning")


# -- headers and connection ---------------------------------------------------------------


def test_health_reads_info_cluster_health_and_licence(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    health = elastic_store.health()

    assert health.ok
    assert health.status == "green"
    assert health.version == "9.2.0"
    assert health.name == fake_es.url
    assert health.detail["build_flavor"] == "default"
    assert health.detail["licence"] == "basic"
    assert health.detail["licence_status"] == "active"
    assert health.detail["nodes"] == 1
    assert [(r.method, r.path) for r in fake_es.requests] == [
        ("GET", "/"),
        ("GET", "/_cluster/health"),
        ("GET", "/_license"),
    ]


def test_every_request_carries_api_key_and_compatibility_accept_header(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    elastic_store.health()

    for request in fake_es.requests:
        assert request.headers["authorization"] == f"ApiKey {API_KEY}"
        assert request.headers["accept"] == COMPAT_JSON


def test_basic_auth_header_when_username_and_password_are_set(
    fake_es: FakeElasticsearch,
) -> None:
    store = elastic_store_for(fake_es.url, ELASTIC_USERNAME="elastic", ELASTIC_PASSWORD=PASSWORD)

    store.health()

    expected = base64.b64encode(f"elastic:{PASSWORD}".encode()).decode("ascii")
    assert fake_es.requests[0].headers["authorization"] == f"Basic {expected}"


def test_api_key_wins_over_username_and_password(fake_es: FakeElasticsearch) -> None:
    store = elastic_store_for(
        fake_es.url,
        ELASTIC_API_KEY=API_KEY,
        ELASTIC_USERNAME="elastic",
        ELASTIC_PASSWORD=PASSWORD,
    )

    store.health()

    assert fake_es.requests[0].headers["authorization"] == f"ApiKey {API_KEY}"


def test_name_never_contains_credentials_from_the_url(fake_es: FakeElasticsearch) -> None:
    host_port = fake_es.url.removeprefix("http://")
    store = elastic_store_for(f"http://elastic:{PASSWORD}@{host_port}")

    health = store.health()

    assert health.ok
    assert health.name == fake_es.url
    assert PASSWORD not in repr(store)


def test_unreachable_cluster_says_cannot_reach_and_is_running() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The port was free a moment ago and nothing listens on it now.
    store = elastic_store_for(f"http://127.0.0.1:{port}")

    with pytest.raises(StoreError) as caught:
        store.esql("FROM qs-metrics")

    assert caught.value.title == f"cannot reach http://127.0.0.1:{port}"
    assert "is Elasticsearch running?" in str(caught.value)
    health = store.health()
    assert not health.ok
    assert health.status == "unreachable"
    assert "cannot reach" in health.detail["error"]


def test_a_cluster_that_never_answers_times_out_with_a_clear_message() -> None:
    with socket.socket() as silent:
        # Listening without ever accepting: the connection opens, the answer never comes.
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        store = elastic_store_for(url, ELASTIC_REQUEST_TIMEOUT="0.2")

        with pytest.raises(StoreError) as caught:
            store.info()

    assert caught.value.title == f"timed out talking to {url}"
    assert "ELASTIC_REQUEST_TIMEOUT" in caught.value.message


def test_a_9x_client_against_an_8_19_server_explains_the_client_to_install() -> None:
    with FakeElasticsearch(root_fixture="root_info_8_19.json") as server:
        store = elastic_store_for(server.url)

        with pytest.raises(StoreError) as caught:
            store.info()

    assert caught.value.title == "client and cluster versions do not match"
    assert "pip install 'elasticsearch>=8.19,<9'" in caught.value.message
    assert "found 9" in caught.value.message


# -- ES|QL ------------------------------------------------------------------------------


def test_esql_sends_query_and_positional_params_with_dates_as_iso(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    query = "FROM qs-metrics | WHERE @timestamp >= ? AND service == ? | LIMIT 10"

    result = elastic_store.esql(query, params=[AT, "api-gateway"])

    (request,) = fake_es.requests_to("POST", "/_query")
    assert request.body == {"query": query, "params": ["2026-11-25T16:00:00.000Z", "api-gateway"]}
    assert request.headers["content-type"] == COMPAT_JSON
    expected = load_fixture("esql_response.json")
    assert [(c.name, c.type) for c in result.columns] == [
        (c["name"], c["type"]) for c in expected["columns"]
    ]
    assert result.values == expected["values"]
    assert result.warnings == []


def test_esql_named_params_go_on_the_wire_as_single_key_objects(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    elastic_store.esql(
        "FROM qs-metrics | WHERE @timestamp >= ?start AND service == ?service",
        params={"start": AT, "service": "api-gateway", "limit": 5},
    )

    (request,) = fake_es.requests_to("POST", "/_query")
    assert request.body["params"] == [
        {"start": "2026-11-25T16:00:00.000Z"},
        {"service": "api-gateway"},
        {"limit": 5},
    ]


def test_esql_without_params_sends_no_params_field(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    elastic_store.esql("ROW a = 1")

    (request,) = fake_es.requests_to("POST", "/_query")
    assert request.body == {"query": "ROW a = 1"}


def test_esql_warnings_from_response_headers_land_in_the_result(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    texts = [
        "No limit defined, adding default limit of [1000]",
        'Line 1:27: evaluation of [10 / 0] failed, treating result as null. "Only" first 20 '
        "failures recorded.",
        "Line 1:30: java.lang.ArithmeticException: / by zero — 100% sure",
    ]
    # Several warnings arrive as several `Warning` headers, as Elasticsearch sends them.
    headers = [("Warning", encode_warning(text, version="9.2.0")) for text in texts]
    fake_es.script("POST", "/_query", fixture="esql_response.json", headers=headers)

    result = elastic_store.esql("FROM qs-metrics | EVAL x = 10 / 0")

    assert result.warnings == texts


def test_partial_results_are_a_warning(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    fake_es.script(
        "POST", "/_query", body=load_fixture("esql_response.json") | {"is_partial": True}
    )

    result = elastic_store.esql("FROM qs-metrics | LIMIT 2")

    assert result.warnings == [PARTIAL_RESULTS_WARNING]
    assert len(result.values) == 2


def test_now_cannot_be_fixed_on_a_cluster(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    assert elastic_store.supports_fixed_now is False

    with pytest.raises(StoreError) as caught:
        elastic_store.esql("ROW t = NOW()", now=AT)

    assert "NOW() cannot be fixed" in caught.value.title
    assert fake_es.requests == []


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("error_esql_verification.json", "line 1:38: Unknown column [cpu]"),
        ("error_esql_parsing.json", "line 1:18: mismatched input 'OVER'"),
    ],
)
def test_esql_400_becomes_esql_error_with_line_and_column(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore, fixture: str, expected: str
) -> None:
    fake_es.script("POST", "/_query", status=400, fixture=fixture)

    with pytest.raises(StoreError) as caught:
        elastic_store.esql("FROM qs-metrics | KEEP cpu")

    assert caught.value.title == "ES|QL error"
    assert expected in caught.value.message


def test_parse_warning_header_unescapes_and_decodes() -> None:
    value = (
        '299 Elasticsearch-9.2.0-abc "first \\"quoted\\" text", '
        '299 Elasticsearch-9.2.0-abc "second, with comma %E2%80%94 and 100%25"'
    )

    assert parse_warning_header(value) == [
        'first "quoted" text',
        "second, with comma — and 100%",
    ]


# -- writes -------------------------------------------------------------------------------


def test_ensure_templates_puts_every_template_body_and_creates_the_indices(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    installed = elastic_store.ensure_templates()

    assert installed == [spec.template for spec in INDICES]
    puts = fake_es.requests_to("PUT", "/_index_template/.+")
    assert [r.path for r in puts] == [f"/_index_template/{spec.template}" for spec in INDICES]
    for request, spec in zip(puts, INDICES, strict=True):
        assert request.body == spec.template_body()
    streams = [r.path for r in fake_es.requests_to("PUT", "/_data_stream/.+")]
    assert streams == [f"/_data_stream/{s.name}" for s in INDICES if s.data_stream]
    plain = [r.path for r in fake_es.requests_to("PUT", "/qs-[a-z-]+")]
    assert plain == [f"/{s.name}" for s in INDICES if not s.data_stream]


def test_ensure_templates_is_idempotent(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    first = elastic_store.ensure_templates()
    second = elastic_store.ensure_templates()

    assert first == second
    assert len(fake_es.requests_to("PUT", "/_index_template/.+")) == 2 * len(INDICES)


def test_a_rejected_template_names_it_with_the_reason(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    fake_es.script(
        "PUT",
        "/_index_template/qs-metrics-template",
        status=400,
        fixture="error_index_template_rejected.json",
    )

    with pytest.raises(StoreError) as caught:
        elastic_store.ensure_templates()

    assert caught.value.title == "index template qs-metrics-template rejected"
    assert "matching patterns from existing templates [team-catch-all]" in caught.value.message


def test_permission_denied_says_what_was_refused(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    fake_es.script(
        "PUT", "/_index_template/qs-metrics-template", status=403, fixture="error_security_403.json"
    )

    with pytest.raises(StoreError) as caught:
        elastic_store.ensure_templates()

    assert caught.value.title == "permission denied"
    assert "install index template qs-metrics-template" in caught.value.message
    assert "manage_index_templates" in caught.value.message


def test_bulk_uses_create_for_data_streams_and_iso_dates(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    documents = [
        {"@timestamp": AT, "service": "api-gateway", "cpu_percent": 41.5},
        {"@timestamp": AT.replace(minute=1), "service": "auth-service", "cpu_percent": 12.0},
    ]

    result = elastic_store.bulk(METRICS, documents)

    assert result.written == 2
    assert result.errors == []
    (request,) = fake_es.requests_to("PUT", "/_bulk")
    assert request.headers["content-type"] == (
        "application/vnd.elasticsearch+x-ndjson; compatible-with=9"
    )
    assert request.body == [
        {"create": {"_index": METRICS}},
        {"@timestamp": "2026-11-25T16:00:00.000Z", "service": "api-gateway", "cpu_percent": 41.5},
        {"create": {"_index": METRICS}},
        {"@timestamp": "2026-11-25T16:01:00.000Z", "service": "auth-service", "cpu_percent": 12.0},
    ]


def test_bulk_uses_index_for_plain_indices(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    elastic_store.bulk(
        INCIDENTS, [{"incident_id": "INC-1", "state": "open"}, {"_id": "INC-2", "state": "open"}]
    )

    (request,) = fake_es.requests_to("PUT", "/_bulk")
    assert request.body == [
        {"index": {"_index": INCIDENTS}},
        {"incident_id": "INC-1", "state": "open"},
        {"index": {"_index": INCIDENTS, "_id": "INC-2"}},
        {"state": "open"},
    ]


def test_bulk_retries_a_429_item_then_collects_the_mapping_error(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    fake_es.script("PUT", "/_bulk", fixture="bulk_with_errors.json")
    documents: list[dict[str, object]] = [
        {"service": "api-gateway", "cpu_percent": 1.0},
        {"service": "auth-service", "cpu_percent": 2.0},
        {"service": "payment-service", "cpu_percent": "high"},
    ]

    result = elastic_store.bulk(METRICS, documents)

    first, retry = fake_es.requests_to("PUT", "/_bulk")
    assert len(first.body) == 6
    # Only the document rejected with 429 goes again.
    assert retry.body == [{"create": {"_index": METRICS}}, documents[1]]
    assert result.written == 2
    assert len(result.errors) == 1
    assert "status 400" in result.errors[0]
    assert "document_parsing_exception" in result.errors[0]
    assert "cpu_percent" in result.errors[0]


def test_bulk_reports_a_429_that_outlasts_the_retries(fake_es: FakeElasticsearch) -> None:
    store = ElasticStore(
        elastic_store_for(fake_es.url)._settings,
        bulk_max_retries=1,
        bulk_initial_backoff_s=0.01,
        connection_retries=0,
    )
    fake_es.script("PUT", "/_bulk", fixture="bulk_with_errors.json")
    fake_es.script("PUT", "/_bulk", body=_all_rejected(1))

    result = store.bulk(LOGS, [{"level": "info"}, {"level": "warn"}, {"level": "error"}])

    assert len(fake_es.requests_to("PUT", "/_bulk")) == 2
    assert result.written == 1
    assert len(result.errors) == 2
    assert any("status 429" in e and "after 1 retries" in e for e in result.errors)


def _all_rejected(count: int) -> dict[str, object]:
    item = load_fixture("bulk_with_errors.json")["items"][1]
    return {"errors": True, "took": 1, "items": [item] * count}


def test_index_with_id_puts_the_document_and_returns_the_id(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    doc_id = elastic_store.index(
        INCIDENTS, {"incident_id": "INC-1", "opened_at": AT}, doc_id="INC-1"
    )

    assert doc_id == "INC-1"
    (request,) = fake_es.requests_to("PUT", "/qs-incidents/_doc/INC-1")
    assert request.query == {"op_type": "index"}
    assert request.body == {"incident_id": "INC-1", "opened_at": "2026-11-25T16:00:00.000Z"}


def test_index_into_a_data_stream_creates(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    doc_id = elastic_store.index(LOGS, {"level": "error"})

    (request,) = fake_es.requests_to("POST", "/qs-logs/_doc")
    assert request.query == {"op_type": "create"}
    assert doc_id.startswith("doc-")


def test_refresh_targets_our_indices(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    elastic_store.refresh()
    elastic_store.refresh(METRICS)

    paths = [r.path for r in fake_es.requests_to("POST", "/.+/_refresh")]
    assert paths == ["/qs-*/_refresh", "/qs-metrics/_refresh"]


def test_document_count_is_none_for_a_missing_index(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    assert elastic_store.document_count(METRICS) is None
    elastic_store.bulk(METRICS, [{"service": "a"}, {"service": "b"}])
    assert elastic_store.document_count(METRICS) == 2


# -- authentication and secrets -----------------------------------------------------------


@pytest.fixture
def locked_es() -> Iterator[FakeElasticsearch]:
    """A fake cluster that accepts only one (other) API key."""
    with FakeElasticsearch(require_authorization="ApiKey c29tZW9uZS1lbHNl") as server:
        yield server


def test_401_with_api_key_points_at_elastic_api_key(locked_es: FakeElasticsearch) -> None:
    store = elastic_store_for(locked_es.url, ELASTIC_API_KEY=API_KEY)

    with pytest.raises(StoreError) as caught:
        store.esql("FROM qs-metrics")

    assert str(caught.value) == "authentication failed: check ELASTIC_API_KEY"


def test_401_with_basic_auth_points_at_username_and_password(
    locked_es: FakeElasticsearch,
) -> None:
    store = elastic_store_for(locked_es.url, ELASTIC_USERNAME="elastic", ELASTIC_PASSWORD=PASSWORD)

    with pytest.raises(StoreError) as caught:
        store.ensure_templates()

    assert caught.value.message == "check ELASTIC_USERNAME and ELASTIC_PASSWORD"


def test_secrets_never_appear_in_messages_repr_or_logs(
    locked_es: FakeElasticsearch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = [API_KEY, API_KEY_SECRET, PASSWORD]
    outputs: list[str] = []
    with_password = locked_es.url.replace("http://", f"http://elastic:{PASSWORD}@")
    for url, env in (
        (locked_es.url, {"ELASTIC_API_KEY": API_KEY}),
        (locked_es.url, {"ELASTIC_USERNAME": "elastic", "ELASTIC_PASSWORD": PASSWORD}),
        (with_password, {}),
    ):
        store = elastic_store_for(url, **env)
        outputs.append(repr(store))
        outputs.append(str(store.health()))
        for call in (
            lambda s=store: s.esql("FROM qs-metrics"),
            lambda s=store: s.bulk(METRICS, [{"a": 1}]),
            lambda s=store: s.ensure_templates(),
            lambda s=store: s.index(INCIDENTS, {"a": 1}, doc_id="x"),
        ):
            with pytest.raises(StoreError) as caught:
                call()
            outputs.append(str(caught.value))
            outputs.append(repr(caught.value))
    outputs.append(caplog.text)

    assert len(locked_es.requests) >= 15
    for text in outputs:
        for secret in secrets:
            assert secret not in text


# -- TLS ----------------------------------------------------------------------------------


@pytest.fixture
def tls_es(self_signed: tuple[Path, Path]) -> Iterator[FakeElasticsearch]:
    """A fake cluster serving HTTPS with a self-signed certificate."""
    with FakeElasticsearch(tls_files=self_signed) as server:
        yield server


def test_an_unknown_certificate_points_at_elastic_ca_certs(tls_es: FakeElasticsearch) -> None:
    store = elastic_store_for(tls_es.url)

    with pytest.raises(StoreError) as caught:
        store.info()

    assert caught.value.title == f"TLS connection to {tls_es.url} failed"
    assert "could not be verified" in caught.value.message
    assert "set ELASTIC_CA_CERTS" in caught.value.message


def test_the_ca_file_makes_the_certificate_trusted(
    tls_es: FakeElasticsearch, self_signed: tuple[Path, Path]
) -> None:
    store = elastic_store_for(tls_es.url, ELASTIC_CA_CERTS=str(self_signed[0]))

    assert store.health().ok


def test_verification_can_be_turned_off(tls_es: FakeElasticsearch) -> None:
    store = elastic_store_for(tls_es.url, ELASTIC_VERIFY_CERTS="false")

    assert store.health().ok


def test_https_to_a_plain_http_server_suggests_http(fake_es: FakeElasticsearch) -> None:
    store = elastic_store_for(fake_es.url.replace("http://", "https://"))

    with pytest.raises(StoreError) as caught:
        store.info()

    assert "does ELASTIC_URL need http://" in caught.value.message


def test_a_missing_ca_file_is_named(fake_es: FakeElasticsearch, tmp_path: Path) -> None:
    missing = tmp_path / "http_ca.crt"
    store = elastic_store_for(
        fake_es.url.replace("http://", "https://"), ELASTIC_CA_CERTS=str(missing)
    )

    with pytest.raises(StoreError) as caught:
        store.info()

    assert f"ELASTIC_CA_CERTS={missing} cannot be read" in caught.value.message


# -- other failures -----------------------------------------------------------------------


def test_a_server_that_is_not_elasticsearch_is_named() -> None:
    with FakeElasticsearch(product_header=False) as server:
        store = elastic_store_for(server.url)

        with pytest.raises(StoreError) as caught:
            store.info()

    assert caught.value.title == f"{server.url} is not Elasticsearch"
    assert "check ELASTIC_URL" in caught.value.message


def test_index_not_found_says_which_and_how_to_create_it(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    fake_es.script("POST", "/_query", status=404, fixture="error_index_not_found.json")

    with pytest.raises(StoreError) as caught:
        elastic_store.esql("FROM qs-metrics | LIMIT 1")

    assert caught.value.title == "index not found"
    assert caught.value.message.startswith("no such index [qs-metrics]")
    assert "qs-tui seed" in caught.value.message


def test_a_server_error_keeps_the_status_and_reason(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    reason = "all shards failed"
    body = {"error": {"type": "search_phase_execution_exception", "reason": reason}, "status": 503}
    fake_es.script("POST", "/_query", status=503, body=body)

    with pytest.raises(StoreError) as caught:
        elastic_store.esql("FROM qs-metrics | LIMIT 1")

    assert caught.value.title == "Elasticsearch error 503"
    assert len(fake_es.requests_to("POST", "/_query")) == 1
    assert "search_phase_execution_exception: all shards failed" in caught.value.message
