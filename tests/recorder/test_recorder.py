"""The flight recorder on an incident a headless run recorded: report, incidents, reading back.

The recording is made once per pytest run (shared with the replay's tests); every command
runs in a fresh process against the persisted data dir, as a user would run it the next day.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from qs_tui.esql.parser import parse
from qs_tui.profiles import load_profile
from qs_tui.recorder import IncidentNotFound, load_incident, parse_since
from qs_tui.recorder.flight import paste_ready
from qs_tui.store.embedded import EmbeddedStore
from tests.recorder.recording import Recording, qs_tui, recorded

AGENTS = ("Cassandra", "Archaeologist", "Tactician", "Diplomat", "Surgeon", "Guardian")
#: An agent's line as `qs-tui run --headless` prints it: time, agent, `!` for a warning,
#: `!!` for an error, the incident, the text.
PRINTED = re.compile(
    rf"^(\d\d:\d\d:\d\d) ({'|'.join(AGENTS)}) +(?:(!!?) )?(?:\[(INC-\d+)\] )?(.*)$"
)


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    """INC-0001, recorded by `qs-tui run --headless` into a persisted data dir."""
    return recorded(tmp_path_factory)


@pytest.fixture(scope="module")
def data_dir(recording: Recording) -> Path:
    """The data dir holding INC-0001."""
    return recording.data_dir


def printed_lines(stdout: str) -> list[tuple[str, str, str]]:
    """(agent, level, text) of every agent line a headless run printed, in order."""
    levels = {None: "info", "!": "warn", "!!": "error"}
    found = (PRINTED.match(line) for line in stdout.splitlines())
    return [(m[2], levels[m[3]], m[5]) for m in found if m is not None]


def test_report_markdown_has_every_section_of_a_postmortem(data_dir: Path) -> None:
    run = qs_tui("report", "INC-0001", "--data-dir", str(data_dir), cwd=data_dir.parent)
    assert run.status == 0, run.stderr
    text = run.stdout
    assert text.startswith("# Postmortem INC-0001: memory leak on payment-service in us-east-1")
    for heading in (
        "Summary",
        "Impact",
        "Timeline",
        "Evidence chain",
        "Options weighed",
        "Approval",
        "Actions",
        "Verification",
        "MTTR",
        "Transcript",
        "ES|QL to see each piece of evidence again",
        "Runbook",
    ):
        assert f"\n## {heading}\n" in text, heading
    # The approval: who, and how long after it was asked.
    assert "approved by --approve auto at 2026-" in text
    assert "after it was asked" in text
    # The execution steps and the options the Tactician turned down.
    assert "- restart payment-service/us-east-1: ok" in text
    assert "- failover: score" in text
    # The state changes in order, from the audit trail.
    timeline = text.split("\n## Timeline\n", 1)[1].split("\n## ", 1)[0]
    states = [
        line.split("|")[4].strip()
        for line in timeline.splitlines()
        if line.startswith("| ") and line.split("|")[4].strip() not in ("", "state")
    ]
    assert states[0] == "detected"
    assert states[-1] == "resolved"
    assert states.index("awaiting_approval") < states.index("executing") < states.index("verifying")
    # Each agent's transcript, in the war room's order, as the run said it.
    transcript = text.split("\n## Transcript\n", 1)[1].split("\n## ", 1)[0]
    headings = re.findall(r"^### (\w+)$", transcript, re.M)
    assert headings == list(AGENTS)
    diplomat = transcript.split("### Diplomat\n", 1)[1].split("### ", 1)[0]
    assert "restart of payment-service in us-east-1 approved by --approve auto" in diplomat
    assert "(warning) a human must approve restart" in transcript


def test_report_esql_is_paste_ready_and_parses(data_dir: Path) -> None:
    run = qs_tui(
        "report", "INC-0001", "--format", "json", "--data-dir", str(data_dir), cwd=data_dir.parent
    )
    assert run.status == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["incident"]["incident_id"] == "INC-0001"
    assert report["mttr_s"] == report["incident"]["mttr_s"] > 0
    assert report["approval"]["by"] == "--approve auto"
    names = [item["query"] for item in report["evidence"]]
    assert "memory_leak" in names and "investigate_deploys" in names
    for item in report["evidence"]:
        assert "?" not in item["esql"].replace("?)", ""), item["esql"]  # every parameter filled
        parse(item["esql"])  # and it is still ES|QL
    detector = next(item for item in report["evidence"] if item["query"] == "memory_leak")
    assert f'TO_DATETIME("{detector["params"]["start"]}")' in detector["esql"]
    # The transcript per agent, each line with its time, level and incident.
    transcript = report["transcript"]
    assert list(transcript) == list(AGENTS)
    surgeon = transcript["Surgeon"]
    assert surgeon[0]["text"].startswith("executing: restart payment-service in us-east-1")
    assert {line["incident_id"] for line in surgeon} == {"INC-0001"}
    assert surgeon[0]["at"].startswith("2026-") and surgeon[0]["level"] == "info"
    # Cassandra spoke of the leak before INC-0001 had an id: it is still part of it.
    assert transcript["Cassandra"][0]["incident_id"] is None
    assert transcript["Cassandra"][0]["level"] == "warn"


def test_an_unknown_incident_is_one_line_and_exit_1(data_dir: Path) -> None:
    run = qs_tui("report", "INC-9999", "--data-dir", str(data_dir), cwd=data_dir.parent)
    assert run.status == 1
    assert run.stderr.strip().splitlines() == [
        "error: no incident INC-9999 in the store's qs-incidents"
    ]
    assert "Traceback" not in run.stderr


def test_incidents_lists_filters_and_speaks_json(data_dir: Path) -> None:
    run = qs_tui("incidents", "--data-dir", str(data_dir), cwd=data_dir.parent)
    assert run.status == 0, run.stderr
    header, *rows = run.stdout.strip().splitlines()
    assert header.split()[:3] == ["incident_id", "opened_at", "service"]
    assert rows[0].split()[0] == "INC-0001" and "payment-service" in rows[0]
    other = qs_tui(
        "incidents",
        "--service",
        "no-such-service",
        "--data-dir",
        str(data_dir),
        cwd=data_dir.parent,
    )
    assert "(no incidents)" in other.stdout and "INC-0001" not in other.stdout
    listed = qs_tui(
        "incidents",
        "--since",
        "2000-01-01T00:00:00Z",
        "--format",
        "json",
        "--data-dir",
        str(data_dir),
        cwd=data_dir.parent,
    )
    rows_json = json.loads(listed.stdout)
    assert [row["incident_id"] for row in rows_json] == ["INC-0001"]
    assert rows_json[0]["state"] == "resolved"
    future = qs_tui(
        "incidents",
        "--since",
        "2999-01-01T00:00:00Z",
        "--format",
        "json",
        "--data-dir",
        str(data_dir),
        cwd=data_dir.parent,
    )
    assert json.loads(future.stdout) == []
    bad = qs_tui("incidents", "--since", "soon", "--data-dir", str(data_dir), cwd=data_dir.parent)
    assert bad.status == 1 and "--since 'soon'" in bad.stderr


def test_the_transcript_read_back_is_what_the_run_said(recording: Recording) -> None:
    """Every line an agent said during the run is in the audit trail once, in order: one
    document per agent step (16 for this incident), none per telemetry sample."""
    store = EmbeddedStore(data_dir=recording.data_dir)
    try:
        record = load_incident(store, "INC-0001")
        total = store.esql(
            'FROM qs-agent-decisions | WHERE record == "transcript" | STATS n = COUNT(*)'
        ).values[0][0]
    finally:
        store.close()
    said = [(line.agent, line.level, line.text) for line in record.transcript]
    assert said == printed_lines(recording.run.stdout)
    assert len(said) == total == 16
    # Lines and decisions share the run's sequence: one order, no number used twice.
    numbers = [line.sequence for line in record.transcript] + [d.sequence for d in record.decisions]
    assert len(set(numbers)) == len(numbers)
    assert [line.sequence for line in record.transcript] == sorted(
        line.sequence for line in record.transcript
    )


def test_reading_back_covers_the_whole_incident(data_dir: Path, tmp_path: Path) -> None:
    store = EmbeddedStore(data_dir=data_dir)
    try:
        record = load_incident(store, "INC-0001")
        with pytest.raises(IncidentNotFound):
            load_incident(store, "INC-0002")
    finally:
        store.close()
    agents = {d.agent for d in record.decisions}
    assert {"Cassandra", "Archaeologist", "Tactician", "Diplomat", "Surgeon", "Guardian"} <= agents
    assert [d.sequence for d in record.decisions] == sorted(d.sequence for d in record.decisions)
    # Telemetry from before detection to after verification.
    assert record.telemetry[0].at < record.opened_at
    assert record.closed_at is not None and record.telemetry[-1].at > record.closed_at
    assert all(step.values["memory"] is not None for step in record.telemetry)


def test_paste_ready_renders_through_the_profile() -> None:
    shop = load_profile(Path(__file__).parents[1] / "profiles" / "shop.toml")
    params = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}
    text = paste_ready("incident_telemetry", {**params, "service": "cart", "region": "eu"}, shop)
    assert text.startswith("FROM metrics-system.cpu-shop")  # the team's own indices
    assert 'service == "cart" AND region == "eu"' in text and "?" not in text
    parse(text)


def test_since_accepts_durations_and_instants() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 1, 8, tzinfo=UTC)
    assert parse_since("7d", now) == now - timedelta(days=7)
    assert parse_since("2026-01-01T00:00:00Z", now) == datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="--since 'x'"):
        parse_since("x", now)


def test_the_approval_wait_is_the_one_the_diplomat_measured() -> None:
    """A simulated clock stands still while a human thinks: the Diplomat's stopwatch counts."""
    from datetime import UTC, datetime

    from qs_tui.recorder.flight import Decision, FlightRecord

    at = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    asked = Decision(at, 3, "Diplomat", "approval_requested", "Approve?", None, "awaiting_approval")
    answer = Decision(
        at,
        4,
        "Diplomat",
        "approved",
        "restart of payment-service in us-east-1 approved by alice after 12 s (looks right)",
        None,
        "executing",
    )
    record = FlightRecord({"incident_id": "INC-0007", "opened_at": at}, [asked, answer], [])
    approval = record.approval()
    assert approval is not None
    assert (approval.outcome, approval.by, approval.waited_s) == ("approved", "alice", 12.0)
