"""`qs-tui doctor` against the fake Elasticsearch and the embedded store."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from qs_tui.config import Settings
from qs_tui.doctor import (
    patterns_overlap,
    query_library_check,
    run_doctor,
    scenario_checks,
    template_differences,
)
from qs_tui.queries import QUERY_DIR, all_queries
from qs_tui.resources import DataFolder
from qs_tui.sim.scenario import SCENARIO_DIR, scenario_names
from qs_tui.store.elastic import CLIENT_VERSION
from qs_tui.store.templates import INDICES
from tests.store.conftest import API_KEY, API_KEY_SECRET, PASSWORD, elastic_store_for
from tests.store.fake_es import FakeElasticsearch

pytestmark = pytest.mark.filterwarnings("ignore::elasticsearch.ElasticsearchWarning")


@pytest.fixture
def fake_es() -> Iterator[FakeElasticsearch]:
    """A fake Elasticsearch 9.x answering from fixtures."""
    with FakeElasticsearch() as server:
        yield server


def doctor(**env: str) -> tuple[int, list[str]]:
    """Run the doctor with exactly these variables; the exit code and the printed lines."""
    out = io.StringIO()
    code = run_doctor(Settings.load(env=env, env_file=None), out=out)
    return code, out.getvalue().splitlines()


def line_for(lines: list[str], name: str) -> str:
    """The first line reporting the check `name`."""
    return next(line for line in lines if line[6:].startswith(f"{name}:"))


def test_fresh_cluster_passes_with_warnings_for_missing_templates(
    fake_es: FakeElasticsearch,
) -> None:
    code, lines = doctor(ELASTIC_URL=fake_es.url, ELASTIC_API_KEY=API_KEY)

    assert code == 0
    assert line_for(lines, "store") == f"ok    store: elastic: {fake_es.url} (from ELASTIC_URL)"
    assert line_for(lines, "credentials") == "ok    credentials: API key (ELASTIC_API_KEY is set)"
    assert line_for(lines, "connectivity").startswith("ok    connectivity: reached cluster")
    assert line_for(lines, "version").startswith("ok    version: Elasticsearch 9.2.0 (default)")
    assert line_for(lines, "licence").startswith("ok    licence: basic, active")
    for spec in INDICES:
        assert line_for(lines, spec.template).startswith(f"warn  {spec.template}: not installed")
        assert "fix: run `qs-tui seed`" in line_for(lines, spec.template)
        assert line_for(lines, spec.name).startswith(f"warn  {spec.name}:")
    assert lines[-1] == "all checks passed (elastic store)"


def test_installed_templates_and_indices_are_reported_ok(fake_es: FakeElasticsearch) -> None:
    store = elastic_store_for(fake_es.url)
    store.ensure_templates()
    store.bulk("qs-metrics", [{"service": "a"}, {"service": "b"}, {"service": "c"}])

    code, lines = doctor(ELASTIC_URL=fake_es.url)

    assert code == 0
    for spec in INDICES:
        assert line_for(lines, spec.template) == f"ok    {spec.template}: installed, priority 500"
    assert line_for(lines, "qs-metrics") == "ok    qs-metrics: data stream with 3 documents"
    assert line_for(lines, "qs-incidents") == "ok    qs-incidents: index with 0 documents"
    assert line_for(lines, "credentials").startswith("warn  credentials: none set")


def test_a_template_that_differs_is_a_warning(fake_es: FakeElasticsearch) -> None:
    body = INDICES[0].template_body() | {"priority": 200}
    fake_es.script(
        "GET",
        "/_index_template",
        body={"index_templates": [{"name": INDICES[0].template, "index_template": body}]},
    )

    code, lines = doctor(ELASTIC_URL=fake_es.url)

    assert code == 0
    assert line_for(lines, INDICES[0].template).startswith(
        f"warn  {INDICES[0].template}: installed but differs from this version's: priority"
    )


def test_a_same_priority_overlapping_template_fails(fake_es: FakeElasticsearch) -> None:
    catch_all = {"index_patterns": ["qs-*"], "priority": 500, "template": {}}
    fake_es.script(
        "GET",
        "/_index_template",
        body={"index_templates": [{"name": "team-catch-all", "index_template": catch_all}]},
    )

    code, lines = doctor(ELASTIC_URL=fake_es.url)

    assert code == 1
    clashes = [line for line in lines if "team-catch-all has the same priority 500" in line]
    assert len(clashes) == len(INDICES)
    assert all(line.startswith("FAIL") for line in clashes)
    assert lines[-1] == "problems found (elastic store)"


def test_builtin_logs_and_metrics_templates_do_not_clash(fake_es: FakeElasticsearch) -> None:
    code, lines = doctor(ELASTIC_URL=fake_es.url)

    assert code == 0
    assert not any("template logs " in line or "template metrics " in line for line in lines)


def test_an_expired_licence_is_a_warning(fake_es: FakeElasticsearch) -> None:
    fake_es.script("GET", "/_license", body={"license": {"type": "trial", "status": "expired"}})

    code, lines = doctor(ELASTIC_URL=fake_es.url)

    assert code == 0
    assert line_for(lines, "licence").startswith("warn  licence: trial, expired — fix:")


def test_unreachable_cluster_fails_at_connectivity_and_stops() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    code, lines = doctor(ELASTIC_URL=f"http://127.0.0.1:{port}")

    assert code == 1
    assert line_for(lines, "connectivity").startswith(
        f"FAIL  connectivity: cannot reach http://127.0.0.1:{port}: is Elasticsearch running?"
    )
    assert not any(line[6:].startswith("version:") for line in lines)


def test_wrong_credentials_fail_without_showing_them() -> None:
    with FakeElasticsearch(require_authorization="ApiKey c29tZW9uZS1lbHNl") as server:
        code, lines = doctor(ELASTIC_URL=server.url, ELASTIC_API_KEY=API_KEY)
        code_basic, lines_basic = doctor(
            ELASTIC_URL=server.url, ELASTIC_USERNAME="elastic", ELASTIC_PASSWORD=PASSWORD
        )

    assert code == 1
    assert code_basic == 1
    assert "FAIL  connectivity: authentication failed: check ELASTIC_API_KEY" in lines
    assert line_for(lines_basic, "credentials") == (
        "ok    credentials: user elastic (ELASTIC_PASSWORD is set)"
    )
    text = "\n".join(lines + lines_basic)
    for secret in (API_KEY, API_KEY_SECRET, PASSWORD):
        assert secret not in text


def test_username_without_password_fails() -> None:
    with FakeElasticsearch() as server:
        code, lines = doctor(ELASTIC_URL=server.url, ELASTIC_USERNAME="elastic")

    assert code == 1
    assert line_for(lines, "credentials").startswith(
        "FAIL  credentials: ELASTIC_USERNAME=elastic but ELASTIC_PASSWORD is not set"
    )


def test_missing_ca_file_fails(tmp_path: Path) -> None:
    missing = tmp_path / "http_ca.crt"
    with FakeElasticsearch() as server:
        https = server.url.replace("http://", "https://")
        code, lines = doctor(ELASTIC_URL=https, ELASTIC_CA_CERTS=str(missing))

    assert code == 1
    assert line_for(lines, "tls").startswith(
        f"FAIL  tls: ELASTIC_CA_CERTS={missing} does not exist"
    )


@pytest.mark.parametrize(
    ("root_fixture", "number", "major"),
    [("root_info_8_19.json", "8.19.6", 8), ("root_info.json", "9.2.0", 9)],
)
def test_the_version_line_names_server_client_and_the_api_spoken(
    root_fixture: str, number: str, major: int
) -> None:
    with FakeElasticsearch(root_fixture=root_fixture) as server:
        code, lines = doctor(ELASTIC_URL=server.url)
        later_accepts = {r.headers.get("accept") for r in server.requests[1:]}

    # The same install passes against both majors: no client to reinstall.
    assert code == 0
    assert line_for(lines, "version") == (
        f"ok    version: Elasticsearch {number} (default), Python client {CLIENT_VERSION}, "
        f"speaking compatible-with={major}"
    )
    assert later_accepts == {f"application/vnd.elasticsearch+json; compatible-with={major}"}


def test_a_cluster_older_than_8_19_is_a_warning_with_the_api_spoken() -> None:
    with FakeElasticsearch(version="7.17.25") as server:
        code, lines = doctor(ELASTIC_URL=server.url)

    assert code == 0
    assert line_for(lines, "version").startswith(
        "warn  version: Elasticsearch 7.17.25 (default), Python client "
    )
    assert "speaking plain application/json (Elasticsearch 7.x's own API): only 8.19+" in (
        line_for(lines, "version")
    )


def test_embedded_data_dir_that_is_a_file_fails(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "data"
    not_a_dir.write_text("oops", encoding="utf-8")

    code, lines = doctor(QS_DATA_DIR=str(not_a_dir))

    assert code == 1
    assert line_for(lines, "data directory").startswith(
        f"FAIL  data directory: {not_a_dir} exists but is not a directory"
    )


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("qs-*", "qs-metrics", True),
        ("qs-*", "qs-metrics-*", True),
        ("logs-*-*", "qs-logs", False),
        ("logs-*-*", "qs-logs-*", False),
        ("metrics-*-*", "qs-metrics-*", False),
        ("*", "qs-logs", True),
        ("*-logs", "qs-*", True),
        ("qs-logs", "qs-logs-*", False),
    ],
)
def test_patterns_overlap(first: str, second: str, expected: bool) -> None:
    assert patterns_overlap(first, second) is expected
    assert patterns_overlap(second, first) is expected


def test_template_as_elasticsearch_echoes_it_has_no_differences() -> None:
    spec = INDICES[0]
    echoed = spec.template_body()
    echoed["template"] = {
        "settings": {"index": {"number_of_shards": "1", "number_of_replicas": "0"}},
        "mappings": spec.mapping(),
    }
    echoed["data_stream"] = {"hidden": False, "allow_custom_routing": False}
    echoed["composed_of"] = []

    assert template_differences(spec.template_body(), echoed) == []
    assert template_differences(spec.template_body(), echoed | {"data_stream": None}) == []
    assert template_differences(INDICES[2].template_body(), echoed) == [
        "index_patterns",
        "data_stream",
        "mappings",
    ]


def test_embedded_in_memory_passes() -> None:
    code, lines = doctor()

    assert code == 0
    assert lines[0] == "ok    store: embedded (memory only)"
    assert line_for(lines, "engine").startswith("ok    engine: embedded (memory)")
    assert line_for(lines, "qs-metrics").startswith("ok    qs-metrics: no documents yet")
    assert lines[-1] == "all checks passed (embedded store)"


def test_embedded_data_dir_reports_what_it_holds(tmp_path: Path) -> None:
    from qs_tui.store.embedded import EmbeddedStore

    seeded = EmbeddedStore(data_dir=tmp_path)
    seeded.ensure_templates()
    seeded.bulk("qs-logs", [{"@timestamp": "2026-11-25T16:00:00Z", "level": "error"}] * 3)
    seeded.close()

    code, lines = doctor(QS_DATA_DIR=str(tmp_path))

    assert code == 0
    assert line_for(lines, "data directory") == f"ok    data directory: {tmp_path} is usable"
    assert line_for(lines, "qs-logs") == "ok    qs-logs: 3 documents"


def test_embedded_with_a_cluster_configured_warns_that_it_is_unused() -> None:
    code, lines = doctor(QS_STORE="embedded", ELASTIC_URL="http://localhost:9200")

    assert code == 0
    assert "warn  store: a cluster is configured but QS_STORE=embedded" in "\n".join(lines)


# -- what the program ships: queries and scenarios --------------------------------------------


def test_the_query_library_and_the_scenarios_are_checked() -> None:
    code, lines = doctor()

    assert code == 0
    assert line_for(lines, "queries") == (
        f"ok    queries: {len(all_queries())} queries parse (checkout: {QUERY_DIR})"
    )
    assert line_for(lines, "scenarios") == (
        f"ok    scenarios: {len(scenario_names())} scenarios load (checkout: {SCENARIO_DIR})"
    )


def test_an_install_without_its_queries_or_scenarios_fails(tmp_path: Path) -> None:
    missing = tmp_path / "qs_tui" / "_data"
    queries = query_library_check(DataFolder("esql", missing / "esql", "package"))
    (scenarios,) = scenario_checks(
        DataFolder("scenarios", missing / "scenarios", "package"), configured="memory-leak"
    )

    assert queries.line() == (
        f"FAIL  queries: no query files in {missing / 'esql'} — fix: reinstall qs-tui "
        "(a wheel carries esql/ and fixtures/scenarios/ inside the package), "
        "or run it from a complete checkout"
    )
    assert scenarios.status == "FAIL"
    assert scenarios.message == f"no scenario files in {missing / 'scenarios'}"


def test_a_query_that_does_not_parse_is_named(tmp_path: Path) -> None:
    (tmp_path / "recent.esql").write_text(
        "// Params: ?start\nFROM qs-metrics | WHERE @timestamp >= TO_DATETIME(?start)\n",
        encoding="utf-8",
    )
    (tmp_path / "typo.esql").write_text("FROM qs-metrics\n| WHER cpu > 1\n", encoding="utf-8")

    check = query_library_check(DataFolder("esql", tmp_path, "package"))

    assert check.status == "FAIL"
    assert check.message.startswith(f"1 of 2 in {tmp_path} do not parse: typo.esql: ")
    assert "recent.esql" not in check.message


def test_a_scenario_that_does_not_load_and_an_unknown_qs_scenario_are_named(
    tmp_path: Path,
) -> None:
    (tmp_path / "quiet.toml").write_text(
        (SCENARIO_DIR / "healthy.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "broken.toml").write_text('name = "broken"\nseed = \n', encoding="utf-8")

    shipped, configured = scenario_checks(
        DataFolder("scenarios", tmp_path, "package"), configured="quite"
    )

    assert shipped.status == "FAIL"
    assert shipped.message.startswith(f"1 of 2 do not load: {tmp_path / 'broken.toml'}:2: ")
    assert configured.status == "FAIL"
    assert configured.message.startswith("QS_SCENARIO=quite: unknown scenario 'quite'")


def test_a_qs_scenario_that_is_a_file_is_loaded(tmp_path: Path) -> None:
    code, lines = doctor(QS_SCENARIO=str(SCENARIO_DIR / "healthy.toml"))

    assert code == 0
    assert not any(line[6:].startswith("scenario:") for line in lines)

    code, lines = doctor(QS_SCENARIO=str(tmp_path / "missing.toml"))

    assert code == 1
    assert line_for(lines, "scenario").startswith(
        f"FAIL  scenario: QS_SCENARIO={tmp_path / 'missing.toml'}: "
    )
    assert lines[-1] == "problems found (embedded store)"
