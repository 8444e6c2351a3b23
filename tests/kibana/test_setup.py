"""`qs-tui kibana setup|remove` against a stateful Kibana on 127.0.0.1."""

from __future__ import annotations

import io
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from qs_tui.cli import main
from qs_tui.kibana.client import KibanaClient, KibanaError
from qs_tui.kibana.objects import DASHBOARD_ID, data_views, load_saved_objects, tools
from qs_tui.kibana.setup import remove, setup
from tests.kibana.fake_kibana import FakeKibana, fake_kibana, fixture
from tests.remediation.local_server import closed_port_url

API_KEY = "a2liYW5hLXMzY3IzdC1rZXk="
VIEW_IDS = {view.id for view in data_views()}
OBJECT_KEYS = {(o["type"], o["id"]) for o in load_saved_objects(data_views())[1]}
TOOL_IDS = {spec.id for spec in tools()}


@pytest.fixture
def kibana() -> Iterator[FakeKibana]:
    with fake_kibana(api_key=API_KEY) as server:
        yield server


def client_for(server: FakeKibana, *, space: str | None = None, **options: object) -> KibanaClient:
    return KibanaClient(server.url, space=space, api_key=API_KEY, timeout_s=10, **options)  # type: ignore[arg-type]


def run(
    action: str, client: KibanaClient, *, dry_run: bool = False
) -> tuple[list[str], dict[str, int]]:
    lines: list[str] = []
    function = setup if action == "setup" else remove
    tally = function(client, say=lines.append, dry_run=dry_run)
    return lines, tally.counts


def installed(
    server: FakeKibana, space: str = "default"
) -> tuple[set[str], set[tuple[str, str]], set[str]]:
    state = server.space(space)
    return set(state.data_views), set(state.saved_objects), set(state.tools)


def test_setup_installs_data_views_dashboard_and_tools(kibana: FakeKibana) -> None:
    lines, counts = run("setup", client_for(kibana))

    views, objects, tool_ids = installed(kibana)
    assert views == VIEW_IDS
    assert objects == OBJECT_KEYS
    assert tool_ids == TOOL_IDS
    assert counts == {"created": len(VIEW_IDS) + len(OBJECT_KEYS) + len(TOOL_IDS)}
    assert "created data view quantumstate-incidents (qs-incidents,qs-incidents-*)" in lines
    assert "created dashboard quantumstate-incidents (QuantumState — incidents)" in lines
    assert "created Agent Builder tool quantumstate_memory_leak" in lines
    # Every request carries the CSRF header and the API key, as Kibana requires.
    assert all(r.headers.get("kbn-xsrf") == "true" for r in kibana.requests)
    assert all(r.headers.get("authorization") == f"ApiKey {API_KEY}" for r in kibana.requests)
    imports = [r for r in kibana.requests if r.path.startswith("/api/saved_objects/_import")]
    assert [r.path for r in imports] == ["/api/saved_objects/_import?overwrite=true"]
    assert imports[0].headers["content-type"].startswith("multipart/form-data; boundary=")
    stored = kibana.space().data_views["quantumstate-metrics"]
    assert stored["title"] == "qs-metrics,qs-metrics-*"
    assert stored["timeFieldName"] == "@timestamp"


def test_tools_carry_typed_described_parameters_and_the_query_without_its_header(
    kibana: FakeKibana,
) -> None:
    run("setup", client_for(kibana))

    tool = kibana.space().tools["quantumstate_investigate_deploys"]
    assert tool["type"] == "esql"
    assert tool["tags"] == ["quantumstate"]
    params = tool["configuration"]["params"]
    assert params["start"]["type"] == "date"
    assert params["service"]["type"] == "keyword"
    assert "ISO-8601" in params["end"]["description"]
    assert tool["configuration"]["query"].startswith("FROM qs-deployments")
    assert "//" not in tool["configuration"]["query"]
    assert tool["description"].startswith("Deployments of one service")
    similar = kibana.space().tools["quantumstate_investigate_similar_incidents"]
    assert similar["configuration"]["params"]["text"]["type"] == "text"
    threshold = kibana.space().tools["quantumstate_cpu_saturation"]["configuration"]["params"]
    assert threshold["threshold"]["type"] == "double"


def test_running_setup_again_duplicates_nothing(kibana: FakeKibana) -> None:
    client = client_for(kibana)
    run("setup", client)
    before = installed(kibana)
    writes_before = len(kibana.writes())

    lines, counts = run("setup", client)

    assert installed(kibana) == before
    assert counts == {"unchanged": len(VIEW_IDS) + len(TOOL_IDS), "updated": len(OBJECT_KEYS)}
    second_writes = kibana.writes()[writes_before:]
    # Only the import is sent again (it overwrites by id); no data view or tool is re-created.
    assert [r.path for r in second_writes] == ["/api/saved_objects/_import?overwrite=true"]
    assert "updated dashboard quantumstate-incidents (QuantumState — incidents)" in lines
    assert "unchanged Agent Builder tool quantumstate_memory_leak" in lines


def test_setup_updates_what_changed_in_place(kibana: FakeKibana) -> None:
    client = client_for(kibana)
    run("setup", client)
    state = kibana.space()
    state.data_views["quantumstate-logs"]["title"] = "old-logs-*"
    state.tools["quantumstate_disk_fill"]["description"] = "stale"

    lines, counts = run("setup", client)

    assert counts["updated"] == len(OBJECT_KEYS) + 2
    assert "updated data view quantumstate-logs (qs-logs,qs-logs-*)" in lines
    assert "updated Agent Builder tool quantumstate_disk_fill" in lines
    assert state.data_views["quantumstate-logs"]["title"] == "qs-logs,qs-logs-*"
    assert state.tools["quantumstate_disk_fill"]["description"].startswith("Disk fill")
    assert len(state.tools) == len(TOOL_IDS)
    methods = {(r.method, r.path) for r in kibana.writes()}
    assert ("PUT", "/api/agent_builder/tools/quantumstate_disk_fill") in methods
    assert ("POST", "/api/data_views/data_view/quantumstate-logs") in methods


def test_telemetry_patterns_are_a_parameter(kibana: FakeKibana) -> None:
    lines: list[str] = []
    telemetry = {"metrics": "metrics-system.*", "logs": "logs-*"}

    setup(client_for(kibana), say=lines.append, telemetry=telemetry)

    views = kibana.space().data_views
    assert views["quantumstate-metrics"]["title"] == "metrics-system.*"
    assert views["quantumstate-logs"]["title"] == "logs-*"


def test_dry_run_on_an_empty_kibana_says_what_it_would_create_and_changes_nothing(
    kibana: FakeKibana,
) -> None:
    lines, counts = run("setup", client_for(kibana), dry_run=True)

    assert kibana.writes() == []
    assert installed(kibana) == (set(), set(), set())
    assert counts == {"would create": len(VIEW_IDS) + len(OBJECT_KEYS) + len(TOOL_IDS)}
    assert "would create data view quantumstate-incidents (qs-incidents,qs-incidents-*)" in lines
    assert "would create dashboard quantumstate-incidents (QuantumState — incidents)" in lines
    assert "would create Agent Builder tool quantumstate_traffic_drop" in lines


def test_dry_run_after_setup_says_what_it_would_update(kibana: FakeKibana) -> None:
    client = client_for(kibana)
    run("setup", client)
    kibana.space().tools["quantumstate_memory_leak"]["description"] = "stale"
    writes_before = len(kibana.writes())

    lines, counts = run("setup", client, dry_run=True)

    assert len(kibana.writes()) == writes_before
    assert kibana.space().tools["quantumstate_memory_leak"]["description"] == "stale"
    assert "would update Agent Builder tool quantumstate_memory_leak" in lines
    assert (
        "would update lens quantumstate-incidents-by-state (Incidents over time by state)" in lines
    )
    assert counts["unchanged"] == len(VIEW_IDS) + len(TOOL_IDS) - 1


def test_remove_takes_everything_out_and_a_second_remove_finds_it_gone(kibana: FakeKibana) -> None:
    client = client_for(kibana)
    run("setup", client)
    kibana.space().tools["someone-elses-tool"] = {"id": "someone-elses-tool", "type": "esql"}

    lines, counts = run("remove", client)

    assert installed(kibana) == (set(), set(), {"someone-elses-tool"})
    assert counts == {"deleted": len(VIEW_IDS) + len(OBJECT_KEYS) + len(TOOL_IDS)}
    assert "deleted dashboard quantumstate-incidents (QuantumState — incidents)" in lines
    deletes = [r.path for r in kibana.requests if r.method == "DELETE"]
    first_saved_object = next(p for p in deletes if p.startswith("/api/saved_objects/"))
    assert first_saved_object == f"/api/saved_objects/dashboard/{DASHBOARD_ID}"

    again, counts = run("remove", client)

    assert counts == {"already gone": len(VIEW_IDS) + len(OBJECT_KEYS) + len(TOOL_IDS)}
    assert "already gone data view quantumstate-logs (qs-logs,qs-logs-*)" in again


def test_remove_dry_run_deletes_nothing(kibana: FakeKibana) -> None:
    client = client_for(kibana)
    run("setup", client)
    before = installed(kibana)
    writes_before = len(kibana.writes())

    lines, counts = run("remove", client, dry_run=True)

    assert installed(kibana) == before
    assert len(kibana.writes()) == writes_before
    assert counts == {"would delete": len(VIEW_IDS) + len(OBJECT_KEYS) + len(TOOL_IDS)}
    assert "would delete Agent Builder tool quantumstate_memory_leak" in lines


def test_a_space_puts_everything_under_its_path(kibana: FakeKibana) -> None:
    run("setup", client_for(kibana, space="sre-team"))

    assert installed(kibana, "sre-team") == (VIEW_IDS, OBJECT_KEYS, TOOL_IDS)
    assert installed(kibana, "default") == (set(), set(), set())
    assert all(r.path.startswith("/s/sre-team/api/") for r in kibana.requests)


def test_an_invalid_space_id_is_refused_before_any_request() -> None:
    with pytest.raises(KibanaError, match="--space 'SRE Team': a Kibana space id has only"):
        KibanaClient("http://127.0.0.1:1", space="SRE Team")


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("absent", "this Kibana has no Agent Builder API (HTTP 404 on /api/agent_builder/tools)"),
        ("unlicensed", "the licence does not include Agent Builder (Your current license"),
    ],
)
def test_without_agent_builder_the_tools_are_skipped_with_one_line(mode: str, reason: str) -> None:
    with fake_kibana(api_key=API_KEY, agent_builder=mode) as server:
        lines, _ = run("setup", client_for(server))
        removed, _ = run("remove", client_for(server))
        views, objects, _ = installed(server)

    skips = [line for line in lines if line.startswith("skipped Agent Builder tools: ")]
    assert len(skips) == 1
    assert skips[0].removeprefix("skipped Agent Builder tools: ").startswith(reason)
    assert not any("Agent Builder tool " in line for line in lines if line not in skips)
    assert sum(line.startswith("skipped") for line in removed) == 1
    assert (views, objects) == (set(), set())


# ---- errors ---------------------------------------------------------------------------------


def test_a_wrong_api_key_is_one_line_naming_the_object_without_the_key(kibana: FakeKibana) -> None:
    client = KibanaClient(kibana.url, api_key="d3JvbmctczNjcjN0", timeout_s=10)

    with pytest.raises(KibanaError) as caught:
        setup(client, say=lambda line: None)

    message = str(caught.value)
    assert message.startswith(
        f"look up data view quantumstate-incidents (qs-incidents,qs-incidents-*): Kibana at "
        f"{kibana.url} answered HTTP 401 not authenticated"
    )
    assert "unable to authenticate" in message
    assert "d3JvbmctczNjcjN0" not in message
    assert installed(kibana) == (set(), set(), set())


def test_a_missing_privilege_is_a_403_naming_the_data_view(kibana: FakeKibana) -> None:
    kibana.fail("POST", "/api/data_views/data_view", 403, fixture("forbidden_403.json"))

    with pytest.raises(KibanaError) as caught:
        setup(client_for(kibana), say=lambda line: None)

    assert str(caught.value) == (
        "create data view quantumstate-incidents (qs-incidents,qs-incidents-*): Kibana at "
        f"{kibana.url} answered HTTP 403 forbidden (the user or API key lacks the privilege): "
        "API [POST /api/data_views/data_view] is unauthorized for user, this action is granted "
        "by the Kibana privileges [indexPatterns:manage]"
    )


def test_a_400_carries_kibanas_message(kibana: FakeKibana) -> None:
    kibana.fail("POST", "/api/data_views/data_view", 400, fixture("data_view_bad_request_400.json"))

    with pytest.raises(
        KibanaError, match=r"HTTP 400 bad request: \[request body.data_view.title\]"
    ):
        setup(client_for(kibana), say=lambda line: None)


def test_an_import_with_missing_references_names_them(kibana: FakeKibana) -> None:
    kibana.fail(
        "POST", "/api/saved_objects/_import", 200, fixture("import_missing_references.json")
    )

    with pytest.raises(KibanaError) as caught:
        setup(client_for(kibana), say=lambda line: None)

    assert str(caught.value) == (
        "import saved objects from dashboard.ndjson: Kibana imported 0 of 7; "
        "lens quantumstate-incidents-by-state "
        "(missing references: index-pattern quantumstate-incidents)"
    )


def test_a_404_on_a_data_view_route_is_an_error_not_a_skip(kibana: FakeKibana) -> None:
    kibana.fail("POST", "/api/data_views/data_view", 404, fixture("route_not_found_404.json"))

    with pytest.raises(
        KibanaError,
        match=r"create data view quantumstate-incidents .* HTTP 404 not found: Not Found",
    ):
        setup(client_for(kibana), say=lambda line: None)


def test_a_privilege_403_on_agent_builder_is_an_error(kibana: FakeKibana) -> None:
    body = {"statusCode": 403, "error": "Forbidden", "message": "missing [manage_agent_builder]"}
    kibana.fail("GET", "/api/agent_builder/tools", 403, body)

    with pytest.raises(
        KibanaError,
        match=r"list Agent Builder tools: .* HTTP 403 forbidden: missing \[manage_agent_builder\]",
    ):
        setup(client_for(kibana), say=lambda line: None)


def test_connection_refused_is_one_line() -> None:
    url = closed_port_url()

    with pytest.raises(KibanaError) as caught:
        setup(KibanaClient(url, timeout_s=5), say=lambda line: None)

    assert str(caught.value) == (
        "look up data view quantumstate-incidents (qs-incidents,qs-incidents-*): "
        f"cannot reach Kibana at {url} (connection refused)"
    )


def test_a_kibana_that_never_answers_times_out_with_one_line() -> None:
    # A listening socket that accepts and never answers: the client's timeout must fire.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        with pytest.raises(KibanaError) as caught:
            setup(KibanaClient(url, timeout_s=0.2), say=lambda line: None)
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()

    assert str(caught.value) == (
        "look up data view quantumstate-incidents (qs-incidents,qs-incidents-*): "
        f"Kibana at {url} did not answer within 0.2 s"
    )


# ---- the command line -----------------------------------------------------------------------


def cli(
    argv: list[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[int, str, str]:
    for name in (
        "KIBANA_URL",
        "KIBANA_API_KEY",
        "ELASTIC_API_KEY",
        "ELASTIC_USERNAME",
        "ELASTIC_PASSWORD",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out, err = io.StringIO(), io.StringIO()
    status = main(["--env-file", os.devnull, *argv], out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def test_the_command_sets_up_and_removes(
    kibana: FakeKibana, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = {"KIBANA_URL": kibana.url, "KIBANA_API_KEY": API_KEY}

    status, out, err = cli(["kibana", "setup", "--space", "ops"], env, monkeypatch, tmp_path)

    assert (status, err) == (0, "")
    assert out.splitlines()[0] == f"setup in Kibana at {kibana.url}, space ops"
    assert "  created Agent Builder tool quantumstate_memory_leak" in out.splitlines()
    total = len(VIEW_IDS) + len(OBJECT_KEYS) + len(TOOL_IDS)
    assert f"setup: {total} created" in out.splitlines()
    assert f"dashboard: {kibana.url}/s/ops/app/dashboards#/view/{DASHBOARD_ID}" in out
    assert API_KEY not in out

    status, out, err = cli(
        ["kibana", "remove", "--space", "ops", "--dry-run"], env, monkeypatch, tmp_path
    )
    assert (status, err) == (0, "")
    assert out.splitlines()[0] == f"dry run: remove in Kibana at {kibana.url}, space ops"
    assert installed(kibana, "ops") == (VIEW_IDS, OBJECT_KEYS, TOOL_IDS)

    status, out, _ = cli(["kibana", "remove", "--space", "ops"], env, monkeypatch, tmp_path)
    assert status == 0
    assert f"remove: {total} deleted" in out.splitlines()
    assert installed(kibana, "ops") == (set(), set(), set())


def test_the_command_falls_back_to_the_elastic_username_and_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with fake_kibana(basic=("elastic", "pa55-w0rd")) as server:
        env = {
            "KIBANA_URL": server.url,
            "ELASTIC_USERNAME": "elastic",
            "ELASTIC_PASSWORD": "pa55-w0rd",
        }
        status, out, err = cli(["kibana", "setup"], env, monkeypatch, tmp_path)
        views = set(server.space().data_views)

    assert (status, err) == (0, "")
    assert views == VIEW_IDS
    assert "pa55-w0rd" not in out


def test_the_command_without_kibana_url_says_how_to_set_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    status, out, err = cli(["kibana", "setup"], {}, monkeypatch, tmp_path)

    assert status == 1
    assert out == ""
    assert err.startswith("error: KIBANA_URL is not set: give Kibana's URL")
    assert len(err.strip().splitlines()) == 1


def test_the_command_reports_a_failure_in_one_line_without_the_key(
    kibana: FakeKibana, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = {"KIBANA_URL": kibana.url, "KIBANA_API_KEY": "bm90LXRoZS1rZXk="}

    status, _, err = cli(["kibana", "setup"], env, monkeypatch, tmp_path)

    assert status == 1
    assert err.startswith("error: look up data view quantumstate-incidents")
    assert "HTTP 401" in err
    assert len(err.strip().splitlines()) == 1
    assert "bm90LXRoZS1rZXk=" not in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://elastic:s3cr3t-pw@kb.example.com", "must not carry a user name or password"),
        ("http://localhost:56o1", "its port is not a number"),
        ("localhost:5601", "must start with http:// or https://"),
    ],
)
def test_a_bad_kibana_url_is_one_line_that_never_echoes_it(
    url: str, expected: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    status, out, err = cli(["kibana", "setup"], {"KIBANA_URL": url}, monkeypatch, tmp_path)

    assert status == 1
    assert err.startswith("error: invalid settings: KIBANA_URL (in the environment): ")
    assert expected in err
    assert len(err.strip().splitlines()) == 1
    assert "s3cr3t-pw" not in err + out


def test_the_kibana_command_needs_an_action(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    status, out, err = cli(["kibana"], {}, monkeypatch, tmp_path)

    assert status == 1
    assert out == ""
    assert err.startswith("error: qs-tui kibana: the following arguments are required")
    assert "{setup,remove}" in err and err.count("\n") == 1
