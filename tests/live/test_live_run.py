"""`qs-tui run --headless --source live` against a cluster that already holds a fault.

The telemetry is seeded into the fake cluster first, through `_bulk` as a collector would send
it, with timestamps relative to the wall clock's now: the fault (a quarter of auth-service's
requests failing in eu-west-1 for the last eight minutes) is already in the detection window
when the run starts, so one tick sees it. The run must only read telemetry; what it writes is
the incident and the audit trail.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qs_tui.cli import main
from qs_tui.sim.scenario import parse_scenario
from qs_tui.sim.seed import seed
from tests.store.conftest import API_KEY, elastic_store_for
from tests.store.fake_es import FakeElasticsearch

#: Indices the agents own: the only ones a live run may write documents to.
AGENT_INDICES = {"qs-incidents", "qs-agent-decisions"}


#: The smallest estate the fault needs: the less telemetry the cluster holds, the less every
#: seed request and every query carries (the default estate made each run four times dearer).
SMALL_ESTATE = """
[topology]
services = ["api-gateway", "auth-service"]
regions = ["eu-west-1"]
hosts_per_region = 1
"""


def _scenario_ending_now(now: datetime, *, topology: str = SMALL_ESTATE) -> str:
    """An error spike on auth-service/eu-west-1 that began 8 minutes before `now`; the estate
    is `topology` (a `[topology]` table, or "" for the simulator's default one)."""
    start = now.replace(microsecond=0) - timedelta(seconds=now.second % 10)
    return f"""
name = "live-error-spike"
seed = 7
start = {start.isoformat().replace("+00:00", "Z")}
history = "40m"
duration = "10m"
{topology}
[[faults]]
kind = "error_spike"
service = "auth-service"
region = "eu-west-1"
start = "-8m"
params = {{ magnitude = 0.25, duration = "45m", error_code = "E_UPSTREAM_5XX" }}

[expected]
none = true
"""


#: Where each profile's metrics live: the index patterns its rendered queries read.
METRICS_FROM = {
    "qs": "FROM qs-metrics",
    "ecs": "FROM metrics-system.cpu-*",
    "otel": "FROM metrics-hostmetricsreceiver.otel-*",
}


@pytest.mark.parametrize("shape", ["qs", "ecs", "otel"])
def test_a_live_run_detects_explains_and_records_the_fault_in_the_clusters_telemetry(
    shape: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env, remediation.toml or qs.toml from elsewhere
    with FakeElasticsearch(engine=True) as fake:
        store = elastic_store_for(fake.url, ELASTIC_API_KEY=API_KEY)
        seed(store, parse_scenario(_scenario_ending_now(datetime.now(UTC))), shape=shape)
        store.close()
        seeded = len(fake.requests)
        monkeypatch.setenv("ELASTIC_URL", fake.url)
        monkeypatch.setenv("ELASTIC_API_KEY", API_KEY)
        monkeypatch.setenv("QS_PROFILE", shape)
        out, err = io.StringIO(), io.StringIO()

        status = main(
            ["run", "--headless", "--source", "live", "--approve", "auto", "--for", "1s"],
            out=out,
            err=err,
        )
        sent = fake.requests[seeded:]

    transcript = out.getvalue()
    # Detected and explained from the telemetry already there...
    assert "INC-0001  error_spike on auth-service/eu-west-1" in transcript
    assert "root cause  error_spike (fault)" in transcript
    assert "E_UPSTREAM_5XX" in transcript  # the Archaeologist found the errors in the logs
    # ...advised, not carried out (no executor is configured for a live estate)...
    assert "not carried out: advisory" in transcript
    assert status == 2, err.getvalue()  # escalated to a human: not resolved
    # ...and recorded in the cluster.
    incident = [r for r in sent if r.method == "PUT" and r.path == "/qs-incidents/_doc/INC-0001"]
    assert incident and incident[-1].body["kind"] == "error_spike"
    assert (incident[-1].body["service"], incident[-1].body["region"]) == (
        "auth-service",
        "eu-west-1",
    )
    # Every query went to POST /_query, its values (the windows) as parameters.
    queries = [r.body for r in sent if r.path == "/_query"]
    windowed = [q for q in queries if re.search(r"\?start\b", q["query"])]
    assert len(windowed) > 5 and all(q.get("params") for q in windowed)
    # ...read through the profile: the team's own indices, in their own fields.
    reads_metrics = [q for q in queries if METRICS_FROM[shape] in q["query"]]
    assert reads_metrics, [q["query"][:200] for q in queries]
    if shape != "qs":
        assert not [q for q in queries if "FROM qs-metrics" in q["query"]]
    # No telemetry was written: documents only ever went to the agents' own indices.
    written = {
        r.path.strip("/").split("/")[0]
        for r in sent
        if r.method in ("PUT", "POST") and any(p in r.path for p in ("/_bulk", "/_doc", "/_create"))
    }
    assert written and written <= AGENT_INDICES, written
    # Nor was any telemetry index of ours set up on the team's cluster: only the templates
    # and indices of the agents' own records.
    set_up = {r.path for r in sent if r.method == "PUT" and not r.path.startswith("/qs-incidents/")}
    assert "/_index_template/qs-incidents-template" in set_up, set_up
    assert not {p for p in set_up if re.search(r"qs-(metrics|logs|deployments)", p)}, set_up
    assert not [r for r in sent if r.path.endswith("/_bulk") or r.path == "/_bulk"]


def test_a_live_session_takes_its_dependencies_from_qs_toml_when_traces_have_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qs_tui.config import Settings
    from qs_tui.session import SessionPlan, build_session

    monkeypatch.chdir(tmp_path)
    (tmp_path / "qs.toml").write_text(
        '[topology.dependencies]\napi-gateway = ["auth-service"]\n', encoding="utf-8"
    )
    with FakeElasticsearch(engine=True) as fake:
        store = elastic_store_for(fake.url, ELASTIC_API_KEY=API_KEY)
        seed(
            store,
            # The default estate: its graph is what qs.toml must replace.
            parse_scenario(_scenario_ending_now(datetime.now(UTC), topology="")),
            history=timedelta(minutes=2),
        )
        settings = Settings.load(
            env={"ELASTIC_URL": fake.url, "ELASTIC_API_KEY": API_KEY}, env_file=None
        )
        session = build_session(SessionPlan(source="live", settings=settings, store=store))
        try:
            graph = dict(session.topology.graph)
        finally:
            session.close()
    assert graph["api-gateway"] == ("auth-service",)
    # The simulator's default graph (api-gateway also calls payment and inventory) is not used.
    assert graph["payment-service"] == () and graph["auth-service"] == ()
