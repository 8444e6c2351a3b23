"""The flight recorder on a cluster: an incident recorded by a headless run into Elasticsearch
(the fake one, answering `_query` with the embedded engine over what it received over HTTP) and
read back by `report`, `incidents` and the replay's loader in fresh processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.recorder.recording import HANG_GUARD_S, clean_env
from tests.scenario_texts import SHORT_LEAK
from tests.store.fake_es import FakeElasticsearch

API_KEY = "recorder-test-key"


def _qs_tui(env: dict[str, str], cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qs_tui", "--env-file", os.devnull, *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=HANG_GUARD_S,
        check=False,
    )


def test_report_and_incidents_read_an_incident_back_from_a_cluster(tmp_path: Path) -> None:
    scenario = tmp_path / "short-leak.toml"
    scenario.write_text(SHORT_LEAK, encoding="utf-8")
    with FakeElasticsearch(engine=True, require_authorization=f"ApiKey {API_KEY}") as cluster:
        env = {**clean_env(), "ELASTIC_URL": cluster.url, "ELASTIC_API_KEY": API_KEY}
        run = _qs_tui(
            env,
            tmp_path,
            "run",
            "--headless",
            "--scenario",
            str(scenario),
            "--approve",
            "auto",
        )
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        report = _qs_tui(
            env, tmp_path, "report", "INC-0001", "--store", "elastic", "--format", "json"
        )
        listing = _qs_tui(env, tmp_path, "incidents", "--store", "elastic", "--format", "json")
        queries = [r.body for r in cluster.requests_to("POST", "/_query")]
        held = cluster.documents_by_id.get("qs-agent-decisions", {})
        writes = cluster.requests_to("PUT", r"/qs-agent-decisions/_(?:doc|create)/.*")
    assert report.returncode == 0, report.stderr
    data = json.loads(report.stdout)
    assert data["incident"]["state"] == "resolved"
    assert data["approval"]["by"] == "--approve auto"
    assert [t["state"] for t in data["timeline"] if t["state"]][-1] == "resolved"
    assert data["telemetry_steps"] > 0
    assert [row["incident_id"] for row in json.loads(listing.stdout)] == ["INC-0001"]
    # Parameters travel as ES|QL named parameters, never spliced into the query text.
    recorder = [q for q in queries if q and "incident_id == ?incident_id" in q.get("query", "")]
    assert recorder and all({"incident_id": "INC-0001"} in q["params"] for q in recorder)
    assert API_KEY not in report.stdout + report.stderr
    # Each agent's transcript went over HTTP as documents of their own, under ids fixed
    # before the first try and written create-if-absent, and came back with ES|QL.
    lines = {i: d for i, d in held.items() if d.get("record") == "transcript"}
    assert len(lines) == sum(len(said) for said in data["transcript"].values()) > 0
    assert {"Cassandra", "Diplomat", "Surgeon", "Guardian"} <= set(data["transcript"])
    assert all(d.get("decision") is None and d["level"] for d in lines.values())
    line_writes = [w for w in writes if w.path.rsplit("/", 1)[1] in lines]
    assert len(line_writes) == len(lines)  # one request each: nothing written twice
    assert all("_create/" in w.path or w.query.get("op_type") == "create" for w in line_writes)
    said = [q for q in recorder if 'record == "transcript"' in q.get("query", "")]
    assert said, "the transcript was not read with its library query"
    diplomat = [line["text"] for line in data["transcript"]["Diplomat"]]
    assert any("approved by --approve auto" in text for text in diplomat)
