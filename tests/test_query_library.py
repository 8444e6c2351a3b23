"""Every query in esql/ documents itself and runs on the embedded store over simulated data."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from qs_tui.clock import ManualClock
from qs_tui.queries import QueryFile, all_queries
from qs_tui.sim.cluster import Simulation
from qs_tui.sim.scenario import load_scenario
from qs_tui.store.embedded import EmbeddedStore

QUERIES = all_queries()


@pytest.fixture(scope="module")
def store() -> EmbeddedStore:
    """Two hours of the memory-leak scenario, as the agents would see it."""
    scenario = load_scenario("memory-leak")
    clock = ManualClock(scenario.start_time)
    store = EmbeddedStore()
    store.ensure_templates()
    simulation = Simulation.from_scenario(scenario, clock=clock)
    simulation.backfill(store, timedelta(hours=2))
    store.index(
        "qs-incidents",
        {
            "@timestamp": scenario.start_time - timedelta(days=3),
            "incident_id": "INC-0042",
            "service": "payment-service",
            "region": "us-east-1",
            "kind": "memory_leak",
            "state": "resolved",
            "title": "memory leak on payment-service",
            "summary": "memory climbed until OOM; restart fixed it",
            "root_cause": "memory_leak",
            "action": "restart",
            "confidence": 0.8,
            "mttr_s": 150.0,
        },
        doc_id="INC-0042",
    )
    # A recent incident with its audit trail, for the flight recorder's queries.
    store.index(
        "qs-incidents",
        {
            "@timestamp": "2026-11-25T13:30:00Z",
            "opened_at": "2026-11-25T13:30:00Z",
            "incident_id": "INC-0043",
            "service": "payment-service",
            "region": "us-east-1",
            "kind": "memory_leak",
            "state": "resolved",
        },
        doc_id="INC-0043",
    )
    store.index(
        "qs-agent-decisions",
        {
            "@timestamp": "2026-11-25T13:30:00Z",
            "incident_id": "INC-0043",
            "agent": "Diplomat",
            "decision": "approved",
            "message": "restart approved",
            "sequence": 1,
        },
    )
    store.index(
        "qs-agent-decisions",
        {
            "@timestamp": "2026-11-25T13:30:00Z",
            "incident_id": "INC-0043",
            "agent": "Diplomat",
            "record": "transcript",
            "level": "info",
            "message": "Approve restart of payment-service in us-east-1?",
            "sequence": 0,
        },
    )
    store.index(
        "qs-deployments",
        {
            "@timestamp": "2026-11-25T13:30:00Z",
            "service": "payment-service",
            "region": "us-east-1",
            "version": "2.4.0",
            "previous_version": "2.3.9",
            "author": "dana",
            "commit": "a1b2c3d",
            "description": "connection pool rewrite",
        },
    )
    return store


def _declared(query: QueryFile, label: str) -> list[str]:
    """Names listed after `label:` in the header (continuation lines included)."""
    match = re.search(rf"{label}:(.*?)(?:\n[A-Z][a-z]+:|\Z)", query.description, re.S)
    assert match, f"{query.name}.esql: header has no '{label}:' line"
    if label == "Params":
        return re.findall(r"\?(\w+)", match.group(1))
    return re.findall(r"[@_A-Za-z][\w.@]*", match.group(1))


def _value(name: str, start: str, end: str) -> object:
    if name == "threshold":
        return 90
    if name == "text":
        return "payment-service memory leak"
    if name in {"service"}:
        return "payment-service"
    if name in {"region"}:
        return "us-east-1"
    if name in {"end", "baseline_end"}:
        return end
    if name == "incident_id":
        return "INC-0043"
    if name == "onset":
        return "2026-11-25T13:40:00Z"
    return start


@pytest.mark.parametrize("query", QUERIES, ids=[q.name for q in QUERIES])
def test_header_lists_the_parameters_the_query_uses(query: QueryFile) -> None:
    assert query.description.splitlines()[0], f"{query.name}.esql has no header comment"
    assert set(_declared(query, "Params")) == set(query.params)


@pytest.mark.parametrize("query", QUERIES, ids=[q.name for q in QUERIES])
def test_query_runs_and_returns_the_columns_its_header_promises(
    query: QueryFile, store: EmbeddedStore
) -> None:
    params = {
        name: _value(name, "2026-11-25T13:00:00Z", "2026-11-25T14:00:00Z") for name in query.params
    }
    if "baseline_start" in params:
        params["baseline_start"] = "2026-11-25T12:30:00Z"
    if "baseline_end" in params:
        params["baseline_end"] = "2026-11-25T13:00:00Z"
    result = store.esql(query.text, params=params)
    assert [c.name for c in result.columns] == _declared(query, "Columns")
    assert result.values, f"{query.name}.esql returned no rows on two hours of telemetry"
