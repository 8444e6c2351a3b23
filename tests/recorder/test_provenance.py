"""The incident record keeps the anomaly's onset and the parameters its evidence queries ran
with, so the flight recorder shows the evidence again exactly; a record written before it kept
them is still read back, with the onset and the windows rebuilt from the evidence text."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from qs_tui.agents.guardian import MAX_EVIDENCE_PARAMS_CHARS
from qs_tui.models import Evidence, Hypothesis, Incident
from qs_tui.recorder.flight import load_incident
from qs_tui.store.embedded import EmbeddedStore
from qs_tui.store.templates import BY_NAME, DECISIONS, INCIDENTS, METRICS
from tests.agents.test_guardian import make_guardian, make_incident
from tests.recorder.recording import Recording, recorded

#: An onset with seconds: the evidence text states it only to the minute (13:40).
ONSET = datetime(2026, 11, 25, 13, 40, 27, tzinfo=UTC)
#: What the Archaeologist ran, as it would record it (its own windows, not the recorder's).
RAN: dict[str, dict[str, Any]] = {
    "investigate_error_logs": {
        "baseline_start": "2026-11-25T13:20:27Z",
        "onset": "2026-11-25T13:40:27Z",
        "end": "2026-11-25T13:59:20.500000Z",
        "service": "payment-service",
        "region": "us-east-1",
    },
    "investigate_deploys": {
        "start": "2026-11-25T13:10:27Z",
        "end": "2026-11-25T13:59:21.500000Z",
        "service": "payment-service",
    },
    "investigate_service_health": {
        "baseline_start": "2026-11-25T13:05:27Z",
        "baseline_end": "2026-11-25T13:35:27Z",
        "start": "2026-11-25T13:35:27Z",
        "end": "2026-11-25T13:40:27Z",
    },
    "investigate_similar_incidents": {"text": "payment-service memory leak OOMKilled"},
}
EVIDENCE = [
    Evidence(kind="metric", summary="memory climbs 0.8 %/min", weight=0.6, query="memory_leak"),
    Evidence(
        kind="logs",
        summary="logs of payment-service: OOMKilled is new since onset",
        weight=0.3,
        query="investigate_error_logs",
    ),
    Evidence(
        kind="deploy",
        summary="no deploy of payment-service in the 30 min before onset",
        weight=0.1,
        query="investigate_deploys",
    ),
    Evidence(
        kind="state_at_onset",
        summary="as of onset 13:40: the other 3 service/regions were healthy",
        weight=0.1,
        query="investigate_service_health",
    ),
    Evidence(
        kind="similar_incident",
        summary="past incident INC-0000 looks alike",
        weight=0.1,
        query="investigate_similar_incidents",
    ),
]


def incident_with_evidence() -> Incident:
    """INC-0001 with an onset to the second and the queries its evidence came from."""
    incident = make_incident()
    assert incident.hypothesis is not None
    hypothesis: Hypothesis = incident.hypothesis.model_copy(
        update={"evidence": EVIDENCE, "queries": RAN}
    )
    anomaly = incident.anomaly.model_copy(update={"onset_at": ONSET})
    return incident.model_copy(update={"anomaly": anomaly, "hypothesis": hypothesis})


def params_by_query(store: EmbeddedStore) -> dict[str, dict[str, Any]]:
    record = load_incident(store, "INC-0001")
    return {item.query: item.params for item in record.evidence(None)}


def test_a_new_record_replays_the_exact_onset_and_parameters() -> None:
    setup = make_guardian()
    incident = incident_with_evidence()
    setup.guardian.record(incident)

    record = load_incident(setup.store, "INC-0001")

    assert record.onset_at == ONSET  # to the second
    assert params_by_query(setup.store) == {
        **RAN,
        "memory_leak": {"start": "2026-11-25T13:50:00Z", "end": "2026-11-25T14:00:00Z"},
    }
    logs = next(e for e in record.evidence(None) if e.query == "investigate_error_logs")
    assert 'TO_DATETIME("2026-11-25T13:40:27Z")' in logs.esql
    # The parameters are shown with the evidence, not repeated in the incident.
    assert "evidence_params" not in record.to_dict()["incident"]


def record_as_an_older_version_wrote_it(store: EmbeddedStore) -> None:
    """INC-0001's record as written before onsets and parameters were kept."""
    setup = make_guardian()
    document = setup.guardian.incident_document(incident_with_evidence())
    del document["onset_at"], document["evidence_params"]
    store.index(INCIDENTS, document, doc_id="INC-0001")


def rebuilt_expectations(opened: datetime) -> dict[str, dict[str, Any]]:
    """The windows the recorder rebuilds around an onset it knows only to the minute."""
    onset = datetime(2026, 11, 25, 13, 40, tzinfo=UTC)

    def iso(at: datetime) -> str:
        return at.strftime("%Y-%m-%dT%H:%M:%SZ")

    return {
        "investigate_error_logs": {
            "baseline_start": iso(onset - timedelta(minutes=20)),
            "onset": iso(onset),
            "end": iso(opened),
            "service": "payment-service",
            "region": "us-east-1",
        },
        "investigate_deploys": {
            "start": iso(onset - timedelta(minutes=30)),
            "end": iso(opened + timedelta(seconds=1)),
            "service": "payment-service",
        },
        "investigate_service_health": {
            "baseline_start": iso(onset - timedelta(minutes=35)),
            "baseline_end": iso(onset - timedelta(minutes=5)),
            "start": iso(onset - timedelta(minutes=5)),
            "end": iso(onset),
        },
        "investigate_similar_incidents": {"text": "payment-service memory_leak"},
    }


@pytest.mark.parametrize("upgraded", [False, True], ids=["old-index", "upgraded-index"])
def test_an_older_record_falls_back_to_the_onset_and_windows_the_evidence_states(
    upgraded: bool,
) -> None:
    store = EmbeddedStore()
    if upgraded:
        store.ensure_templates()  # the fields exist; this record simply has none
    else:
        properties = dict(BY_NAME[INCIDENTS].properties)
        del properties["onset_at"], properties["evidence_params"]
        store.create_index(INCIDENTS, {"dynamic": "false", "properties": properties})
        for other in (DECISIONS, METRICS):
            spec = BY_NAME[other]
            store.create_index(other, spec.mapping(), data_stream=spec.data_stream)
    record_as_an_older_version_wrote_it(store)

    record = load_incident(store, "INC-0001")

    assert record.onset_at == datetime(2026, 11, 25, 13, 40, tzinfo=UTC)  # to the minute
    params = params_by_query(store)
    # The detector's window comes from the runbook's "How to check" command, as before.
    assert set(params.pop("memory_leak")) == {"start", "end"}
    assert params == rebuilt_expectations(record.opened_at)


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    """INC-0001, recorded by `qs-tui run --headless` into a persisted data dir."""
    return recorded(tmp_path_factory)


def test_a_recorded_run_keeps_what_the_archaeologist_ran(recording: Recording) -> None:
    store = EmbeddedStore(data_dir=recording.data_dir)
    try:
        [stored] = store.esql(
            'FROM qs-incidents | WHERE incident_id == "INC-0001" | KEEP onset_at, evidence_params'
        ).records()
        record = load_incident(store, "INC-0001")
    finally:
        store.close()
    ran = json.loads(stored["evidence_params"])
    # The detector's query and every query of the investigation, with their real windows.
    assert {"memory_leak", "investigate_error_logs", "investigate_service_health"} <= set(ran)
    onset = datetime.fromisoformat(str(stored["onset_at"]).replace("Z", "+00:00"))
    assert record.onset_at == onset
    assert ran["investigate_error_logs"]["onset"].startswith(onset.strftime("%Y-%m-%dT%H:%M:%S"))
    # The state *at onset* is the run of the estate's health that evidence cites.
    assert ran["investigate_service_health"]["end"] == ran["investigate_error_logs"]["onset"]
    shown = {item.query: item.params for item in record.evidence(None)}
    for name, params in shown.items():
        assert params == ran[name], name


def test_parameters_too_long_to_keep_are_left_out_and_the_record_still_written() -> None:
    setup = make_guardian()
    incident = incident_with_evidence()
    assert incident.hypothesis is not None
    words = {"text": "payment-service " + "ö" * MAX_EVIDENCE_PARAMS_CHARS}
    hypothesis = incident.hypothesis.model_copy(
        update={"queries": {**RAN, "investigate_similar_incidents": words}}
    )
    setup.guardian.record(incident.model_copy(update={"hypothesis": hypothesis}))

    record = load_incident(setup.store, "INC-0001")
    assert record.incident["evidence_params"] is None
    assert record.onset_at == ONSET  # the onset is kept all the same
    similar = next(e for e in record.evidence(None) if e.query == "investigate_similar_incidents")
    assert similar.params == {"text": "payment-service memory_leak"}  # rebuilt
