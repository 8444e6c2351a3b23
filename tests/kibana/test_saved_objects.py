"""The dashboard's saved objects (kibana/dashboard.ndjson) and the tools built from esql/."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from qs_tui.kibana.objects import (
    DASHBOARD_ID,
    KibanaAssetError,
    assets_dir,
    data_views,
    parse_saved_objects,
    reference_problems,
    saved_objects_text,
    tool_from_query,
    tools,
)
from qs_tui.models import AgentName
from qs_tui.queries import all_queries, load_query
from qs_tui.store.templates import DECISIONS, INCIDENTS, INDICES

# The ids other installs already have: changing one would leave a stale copy behind on
# re-run, so they are spelled out here on purpose.
STABLE_IDS = {
    ("lens", "quantumstate-incidents-by-state"),
    ("lens", "quantumstate-mttr-by-service-week"),
    ("lens", "quantumstate-actions-outcomes"),
    ("lens", "quantumstate-approval-answers"),
    ("search", "quantumstate-approvals"),
    ("search", "quantumstate-latest-decisions"),
    ("dashboard", "quantumstate-incidents"),
}


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return parse_saved_objects(saved_objects_text())


def by_id(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {obj["id"]: obj for obj in objects}


def test_the_ndjson_is_found_through_the_package() -> None:
    assert (assets_dir() / "dashboard.ndjson").is_file()


def test_ids_are_stable_and_unique(objects: list[dict[str, Any]]) -> None:
    keys = [(obj["type"], obj["id"]) for obj in objects]
    assert len(keys) == len(set(keys))
    assert set(keys) == STABLE_IDS


def test_every_reference_resolves_to_a_data_view_setup_creates_or_an_object_of_the_file(
    objects: list[dict[str, Any]],
) -> None:
    assert reference_problems(objects, data_views()) == []
    view_ids = {view.id for view in data_views()}
    keys = {(obj["type"], obj["id"]) for obj in objects}
    for obj in objects:
        for ref in obj.get("references", []):
            if ref["type"] == "index-pattern":
                assert ref["id"] in view_ids, (obj["id"], ref)
            else:
                assert (ref["type"], ref["id"]) in keys, (obj["id"], ref)


def test_the_dashboard_shows_every_panel_of_the_file(objects: list[dict[str, Any]]) -> None:
    dashboard = by_id(objects)[DASHBOARD_ID]
    assert dashboard["attributes"]["title"] == "QuantumState — incidents"
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    names = {ref["name"]: (ref["type"], ref["id"]) for ref in dashboard["references"]}
    shown = {names[f"{p['panelIndex']}:{p['panelRefName']}"] for p in panels}
    assert shown == STABLE_IDS - {("dashboard", DASHBOARD_ID)}
    assert len({p["panelIndex"] for p in panels}) == len(panels)


def _lens_fields(obj: dict[str, Any]) -> set[str]:
    layers = obj["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]
    return {
        column["sourceField"]
        for layer in layers.values()
        for column in layer["columns"].values()
        if column["sourceField"] != "___records___"
    }


def test_panels_use_fields_the_indices_really_map(objects: list[dict[str, Any]]) -> None:
    mapped = {spec.name: set(spec.properties) for spec in INDICES}
    view_index = {view.id: view.title.split(",")[0] for view in data_views()}
    for obj in objects:
        refs = [r for r in obj.get("references", []) if r["type"] == "index-pattern"]
        if not refs:
            continue
        index = view_index[refs[0]["id"]]
        if obj["type"] == "lens":
            assert _lens_fields(obj) <= mapped[index], obj["id"]
        if obj["type"] == "search":
            assert set(obj["attributes"]["columns"]) <= mapped[index], obj["id"]
    assert {
        view_index[r["id"]]
        for o in objects
        for r in o.get("references", [])
        if r["type"] == "index-pattern"
    } == {INCIDENTS, DECISIONS}


def test_the_mttr_panel_averages_mttr_by_service_and_week(objects: list[dict[str, Any]]) -> None:
    lens = by_id(objects)["quantumstate-mttr-by-service-week"]
    columns = lens["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]["layer1"][
        "columns"
    ]
    operations = {(c["operationType"], c["sourceField"]) for c in columns.values()}
    assert operations == {
        ("date_histogram", "@timestamp"),
        ("average", "mttr_s"),
        ("terms", "service"),
    }
    assert columns["week"]["params"]["interval"] == "1w"


def test_a_broken_reference_is_reported(objects: list[dict[str, Any]]) -> None:
    broken = json.loads(json.dumps(objects))
    broken[0]["references"][0]["id"] = "quantumstate-nowhere"
    duplicate = [*broken, broken[1]]

    problems = reference_problems(duplicate, data_views())

    assert (
        f"lens {broken[0]['id']}: data view quantumstate-nowhere is not one setup creates"
        in problems
    )
    assert f"{broken[1]['type']} {broken[1]['id']} appears twice" in problems


def test_a_malformed_line_names_file_and_line() -> None:
    text = '{"type": "lens", "id": "quantumstate-a", "attributes": {}}\n{not json\n'
    with pytest.raises(KibanaAssetError, match=r"^kibana/dashboard.ndjson:2: not JSON"):
        parse_saved_objects(text)


# ---- data views -----------------------------------------------------------------------------


def test_data_views_cover_incidents_decisions_deployments_and_telemetry() -> None:
    views = {view.id: view.title for view in data_views()}
    assert views == {
        "quantumstate-incidents": "qs-incidents,qs-incidents-*",
        "quantumstate-agent-decisions": "qs-agent-decisions,qs-agent-decisions-*",
        "quantumstate-deployments": "qs-deployments,qs-deployments-*",
        "quantumstate-metrics": "qs-metrics,qs-metrics-*",
        "quantumstate-logs": "qs-logs,qs-logs-*",
    }


# ---- Agent Builder tools --------------------------------------------------------------------


def test_every_library_query_becomes_a_tool_with_every_parameter_typed() -> None:
    specs = tools()
    assert [spec.id for spec in specs] == [f"quantumstate_{q.name}" for q in all_queries()]
    for spec, query in zip(specs, all_queries(), strict=True):
        assert list(spec.params) == list(query.params)
        assert all(p["type"] in {"date", "keyword", "double", "text"} for p in spec.params.values())
        assert all(p["description"] for p in spec.params.values())
        assert spec.description.startswith(query.description.split("\n")[0])
        assert " Returns the columns " in spec.description
        assert "Params:" not in spec.description


def test_an_undescribed_parameter_names_the_query_file() -> None:
    query = load_query("investigate_deploys")
    header = query.description.replace("; ?service — keyword", "")
    with pytest.raises(
        KibanaAssetError,
        match=r"^esql/investigate_deploys.esql: the header's "
        r"Params: line does not describe \?service$",
    ):
        tool_from_query(replace(query, description=header))


def test_a_parameter_of_unknown_type_names_the_query_file() -> None:
    query = load_query("cpu_saturation")
    header = query.description.replace("percent, e.g. 90", "how hot")
    with pytest.raises(
        KibanaAssetError, match=r"cannot tell the type of \?threshold from 'how hot'"
    ):
        tool_from_query(replace(query, description=header))


def test_the_approval_panels_select_the_diplomats_decisions(objects: list[dict[str, Any]]) -> None:
    # The audit trail names agents by AgentName; a rename must not empty these panels silently.
    diplomat = f'agent : "{AgentName.DIPLOMAT.value}"'
    answers = by_id(objects)["quantumstate-approval-answers"]
    answered = answers["attributes"]["state"]["query"]["query"]
    assert answered.startswith(f"{diplomat} and decision : *"), answered  # no transcript lines
    approvals = by_id(objects)["quantumstate-approvals"]
    source = json.loads(approvals["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    # Only its decisions: the Diplomat's transcript lines share the index and have none.
    assert source["query"]["query"] == f"{diplomat} and decision : *"
