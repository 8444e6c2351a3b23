"""`ElasticStore` at the HTTP boundary: the real client against a fake Elasticsearch."""

from __future__ import annotations

import base64
import json
import logging
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from qs_tui.store.base import StoreError
from qs_tui.store.compat import compatibility_for, media_types_for
from qs_tui.store.elastic import (
    CLIENT_VERSION,
    PARTIAL_RESULTS_WARNING,
    ElasticStore,
    parse_warning_header,
)
from qs_tui.store.templates import INCIDENTS, INDICES, LOGS, METRICS
from tests.store.conftest import API_KEY, API_KEY_SECRET, PASSWORD, elastic_store_for
from tests.store.fake_es import FakeElasticsearch, encode_warning, load_fixture

AT = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)

# The store silences the client's duplicate Python warnings with a module filter; pytest resets
# filters around each test, so the same filter is applied here.
pytestmark = pytest.mark.filterwarnings("ignore::elasticsearch.ElasticsearchWarning")


# Every test that talks to a fake cluster runs against Elasticsearch 8.19 and 9.x: the same
# install must speak to both.
@pytest.fixture(params=["root_info_8_19.json", "root_info.json"], ids=["es-8.19", "es-9.x"])
def root_fixture(request: pytest.FixtureRequest) -> str:
    """The `GET /` answer of the fake cluster, which decides its major."""
    return str(request.param)


@pytest.fixture
def fake_es(root_fixture: str) -> Iterator[FakeElasticsearch]:
    """A fake Elasticsearch 8.19 or 9.x answering from fixtures."""
    with FakeElasticsearch(root_fixture=root_fixture) as server:
        yield server


def compat_json(server: FakeElasticsearch) -> str:
    """The JSON media type of the server's own REST API major."""
    return f"application/vnd.elasticsearch+json; compatible-with={server.major}"


def compat_ndjson(server: FakeElasticsearch) -> str:
    """The NDJSON media type of the server's own REST API major."""
    return f"application/vnd.elasticsearch+x-ndjson; compatible-with={server.major}"


# -- headers and connection ---------------------------------------------------------------


def test_health_reads_info_cluster_health_and_licence(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    health = elastic_store.health()

    assert health.ok
    assert health.status == "green"
    assert health.version == fake_es.version
    assert health.name == fake_es.url
    assert health.detail["build_flavor"] == "default"
    assert health.detail["licence"] == "basic"
    assert health.detail["licence_status"] == "active"
    assert health.detail["nodes"] == 1
    assert health.detail["api_compatibility"] == f"compatible-with={fake_es.major}"
    # First contact is the store's own `GET /`: no extra request to learn the version.
    assert [(r.method, r.path) for r in fake_es.requests] == [
        ("GET", "/"),
        ("GET", "/_cluster/health"),
        ("GET", "/_license"),
    ]


def test_first_contact_is_plain_json_then_every_request_speaks_the_servers_major(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    assert elastic_store.api_compatibility is None

    elastic_store.health()
    elastic_store.info()

    first, *later = fake_es.requests
    assert (first.method, first.path) == ("GET", "/")
    assert first.headers["accept"] == "application/json"
    assert "content-type" not in first.headers
    assert len(later) == 3
    for request in fake_es.requests:
        assert request.headers["authorization"] == f"ApiKey {API_KEY}"
    for request in later:
        assert request.headers["accept"] == compat_json(fake_es)
    compatibility = elastic_store.api_compatibility
    assert compatibility is not None
    assert compatibility.server_version == fake_es.version
    assert compatibility.compatible_with == fake_es.major


def test_a_first_call_that_is_not_get_root_learns_the_version_first_and_only_once(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    elastic_store.esql("ROW a = 1")
    elastic_store.esql("ROW a = 2")
    elastic_store.bulk(INCIDENTS, [{"incident_id": "INC-1"}])

    assert [(r.method, r.path) for r in fake_es.requests] == [
        ("GET", "/"),
        ("POST", "/_query"),
        ("POST", "/_query"),
        ("PUT", "/_bulk"),
    ]
    probe = fake_es.requests[0]
    assert probe.headers["accept"] == "application/json"
    # The probe carries the caller's credentials: it is the caller's request, sent earlier.
    assert probe.headers["authorization"] == f"ApiKey {API_KEY}"


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


def test_a_refused_media_type_says_what_was_spoken_and_what_is_supported(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    # A cluster swapped under a running store (an upgrade behind a load balancer) refuses
    # the media type chosen at first contact.
    elastic_store.info()
    refusal = "error_media_type_8_19.json" if fake_es.major == 8 else "error_media_type_9_x.json"
    fake_es.script("POST", "/_query", status=400, fixture=refusal)

    with pytest.raises(StoreError) as caught:
        elastic_store.esql("ROW a = 1")

    assert caught.value.title == "cluster refused the REST API version"
    message = caught.value.message
    assert f"it speaks compatible-with={fake_es.major}" in message
    assert f"(Elasticsearch {fake_es.version})" in message
    assert load_fixture(refusal)["error"]["caused_by"]["reason"] in message
    assert "supported clusters are 8.19 and 9.x" in message


# -- REST API compatibility ----------------------------------------------------------------


def _raw(
    server: FakeElasticsearch, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, dict[str, str], object]:
    """One request sent with exactly these media-type headers (no client rewriting them)."""
    request = urllib.request.Request(
        server.url + path, data=body or None, headers=headers, method=method
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), json.loads(error.read())


V7, V8, V9 = (f"application/vnd.elasticsearch+json; compatible-with={n}" for n in (7, 8, 9))


@pytest.mark.parametrize(
    ("root", "accept", "status"),
    [
        ("root_info_8_19.json", "application/json", 200),
        ("root_info_8_19.json", V7, 200),
        ("root_info_8_19.json", V8, 200),
        ("root_info_8_19.json", V9, 400),
        ("root_info.json", "application/json", 200),
        ("root_info.json", V7, 400),
        ("root_info.json", V8, 200),
        ("root_info.json", V9, 200),
    ],
)
def test_each_fake_major_accepts_its_own_and_the_previous_api_and_plain_json(
    root: str, accept: str, status: int
) -> None:
    with FakeElasticsearch(root_fixture=root) as server:
        answered, headers, body = _raw(server, "GET", "/", {"Accept": accept})

    assert answered == status
    # Both majors name the product on every answer, refusals included.
    assert headers["X-Elastic-Product"] == "Elasticsearch"
    accepted = accept if status == 200 and "compatible-with" in accept else "application/json"
    assert headers["Content-Type"] == accepted.replace("; ", ";")
    if status == 400:
        # The refusal is the one each major gives, word for word.
        expected = "error_media_type_8_19.json" if root == "root_info_8_19.json" else None
        expected = expected or "error_media_type_9_x.json"
        assert body == load_fixture(expected)


@pytest.mark.parametrize(
    ("root", "accept", "content_type", "reason"),
    [
        ("root_info_8_19.json", V8, V9.replace("json", "x-ndjson"), "Content-Type version must "),
        ("root_info.json", V9, V8, "the compatible versions must match"),
        ("root_info.json", V8, "application/json", "the compatible versions must match"),
        # Plain JSON means the server's own major: the versions agree but only one is named.
        ("root_info.json", V9, "application/json", "requested a compatible version. Accept="),
        ("root_info.json", "application/json", V9, "Accept=application/json, Content-Type="),
    ],
)
def test_each_fake_major_refuses_a_body_whose_media_types_disagree(
    root: str, accept: str, content_type: str, reason: str
) -> None:
    with FakeElasticsearch(root_fixture=root) as server:
        status, _headers, body = _raw(
            server, "POST", "/_query", {"Accept": accept, "Content-Type": content_type}, b"{}"
        )

    assert status == 400
    assert isinstance(body, dict)
    assert body["error"]["type"] == "media_type_header_exception"
    assert reason in body["error"]["caused_by"]["reason"]


@pytest.mark.parametrize(
    ("version", "accept", "compatibility"),
    [
        ("7.17.25", "application/json", "plain application/json (Elasticsearch 7.x's own API)"),
        ("10.0.0", V9, "compatible-with=9"),
    ],
)
def test_clusters_outside_8_and_9_get_the_api_they_accept(
    version: str, accept: str, compatibility: str
) -> None:
    with FakeElasticsearch(version=version) as server:
        store = elastic_store_for(server.url)
        result = store.bulk(METRICS, [{"service": "api-gateway"}])

    assert result.written == 1
    (bulk,) = server.requests_to("PUT", "/_bulk")
    assert bulk.headers["accept"] == accept
    assert bulk.headers["content-type"] == accept.replace("json", "x-ndjson")
    assert store.api_compatibility is not None
    assert store.api_compatibility.description == compatibility


def test_a_refused_get_root_falls_back_to_plain_media_types_every_major_accepts(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    # An API key without the `monitor` privilege cannot read `GET /`.
    fake_es.script("GET", "/", status=403, fixture="error_security_403.json")

    result = elastic_store.bulk(INCIDENTS, [{"incident_id": "INC-1"}])
    elastic_store.esql("ROW a = 1")

    assert result.written == 1
    (bulk,) = fake_es.requests_to("PUT", "/_bulk")
    assert bulk.headers["content-type"] == "application/x-ndjson"
    assert bulk.headers["accept"] == "application/json"
    (query,) = fake_es.requests_to("POST", "/_query")
    assert query.headers["content-type"] == "application/json"
    assert len(fake_es.requests_to("GET", "/")) == 1
    compatibility = elastic_store.api_compatibility
    assert compatibility is not None
    assert compatibility.compatible_with is None
    assert "GET / answered 403" in compatibility.description


@pytest.mark.parametrize(
    ("header", "major", "expected"),
    [
        ("application/vnd.elasticsearch+json; compatible-with=9", 8, V8),
        # What the 8.x client writes, spoken to a 9.x cluster.
        ("application/vnd.elasticsearch+json; compatible-with=8", 9, V9),
        (
            "application/vnd.elasticsearch+x-ndjson; compatible-with=9",
            8,
            "application/vnd.elasticsearch+x-ndjson; compatible-with=8",
        ),
        ("application/vnd.elasticsearch+x-ndjson; compatible-with=9", None, "application/x-ndjson"),
        ("application/json", 8, V8),
        ("text/plain", 8, "text/plain"),
    ],
)
def test_media_types_follow_the_chosen_major_whatever_the_client_wrote(
    header: str, major: int | None, expected: str
) -> None:
    assert media_types_for(header, major) == expected


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ({"number": "8.19.6", "build_flavor": "default"}, 8),
        ({"number": "9.2.0-SNAPSHOT", "build_flavor": "default"}, 9),
        ({"number": "8.11.0", "build_flavor": "serverless"}, int(CLIENT_VERSION.split(".")[0])),
        ({"number": "not-a-version"}, None),
        ({}, None),
    ],
)
def test_compatibility_is_read_from_the_root_version(
    version: dict[str, str], expected: int | None
) -> None:
    assert compatibility_for({"version": version}).compatible_with == expected


# -- ES|QL ------------------------------------------------------------------------------


def test_esql_sends_query_and_positional_params_with_dates_as_iso(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    query = "FROM qs-metrics | WHERE @timestamp >= ? AND service == ? | LIMIT 10"

    result = elastic_store.esql(query, params=[AT, "api-gateway"])

    (request,) = fake_es.requests_to("POST", "/_query")
    assert request.body == {"query": query, "params": ["2026-11-25T16:00:00.000Z", "api-gateway"]}
    assert request.headers["content-type"] == compat_json(fake_es)
    assert request.headers["accept"] == compat_json(fake_es)
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
    headers = [("Warning", encode_warning(text, version=fake_es.version)) for text in texts]
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
    # Nothing was sent, so nothing was learnt either.
    assert elastic_store.api_compatibility is None


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
        assert request.headers["content-type"] == compat_json(fake_es)
    streams = [r.path for r in fake_es.requests_to("PUT", "/_data_stream/.+")]
    assert streams == [f"/_data_stream/{s.name}" for s in INDICES if s.data_stream]
    plain = [r.path for r in fake_es.requests_to("PUT", "/qs-[a-z-]+")]
    assert plain == [f"/{s.name}" for s in INDICES if not s.data_stream]


def test_index_templates_reads_ours_beside_the_builtin_ones(
    fake_es: FakeElasticsearch, elastic_store: ElasticStore
) -> None:
    elastic_store.ensure_templates()

    templates = elastic_store.index_templates()

    assert {spec.template for spec in INDICES} <= set(templates)
    assert {"logs", "metrics"} <= set(templates)
    (request,) = fake_es.requests_to("GET", "/_index_template")
    assert request.headers["accept"] == compat_json(fake_es)


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
    # NDJSON bodies carry the same major in their own media type.
    assert request.headers["content-type"] == compat_ndjson(fake_es)
    assert request.headers["accept"] == compat_json(fake_es)
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
    assert request.headers["content-type"] == compat_json(fake_es)
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
def locked_es(root_fixture: str) -> Iterator[FakeElasticsearch]:
    """A fake cluster that accepts only one (other) API key."""
    with FakeElasticsearch(
        root_fixture=root_fixture, require_authorization="ApiKey c29tZW9uZS1lbHNl"
    ) as server:
        yield server


def test_401_with_api_key_points_at_elastic_api_key(locked_es: FakeElasticsearch) -> None:
    store = elastic_store_for(locked_es.url, ELASTIC_API_KEY=API_KEY)

    with pytest.raises(StoreError) as caught:
        store.esql("FROM qs-metrics")

    assert str(caught.value) == "authentication failed: check ELASTIC_API_KEY"
    # A 401 on first contact decides nothing: the next call asks `GET /` again.
    assert store.api_compatibility is None
    assert [(r.method, r.path) for r in locked_es.requests] == [("GET", "/"), ("POST", "/_query")]


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
def tls_es(root_fixture: str, self_signed: tuple[Path, Path]) -> Iterator[FakeElasticsearch]:
    """A fake cluster serving HTTPS with a self-signed certificate."""
    with FakeElasticsearch(root_fixture=root_fixture, tls_files=self_signed) as server:
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


def test_a_server_that_is_not_elasticsearch_is_named(root_fixture: str) -> None:
    with FakeElasticsearch(root_fixture=root_fixture, product_header=False) as server:
        store = elastic_store_for(server.url)

        with pytest.raises(StoreError) as caught:
            store.info()

    assert caught.value.title == f"{server.url} is not Elasticsearch"
    assert "check ELASTIC_URL" in caught.value.message


def test_nothing_but_get_root_reaches_a_server_that_is_not_elasticsearch(
    root_fixture: str,
) -> None:
    with FakeElasticsearch(root_fixture=root_fixture, product_header=False) as server:
        store = elastic_store_for(server.url)

        with pytest.raises(StoreError) as caught:
            store.bulk(METRICS, [{"service": "api-gateway"}])

    assert caught.value.title == f"{server.url} is not Elasticsearch"
    # The product check happens on first contact, before any write is sent.
    assert [(r.method, r.path) for r in server.requests] == [("GET", "/")]
    assert store.api_compatibility is None


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
