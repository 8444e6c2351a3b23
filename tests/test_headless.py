"""`qs-tui run --headless`: transcript, approvals per --approve, summary and exit status."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from qs_tui.config import Settings
from qs_tui.headless import EXIT_ERROR, EXIT_OK, EXIT_REJECTED, play_scenario, run_headless
from qs_tui.sim.scenario import load_scenario
from tests.scenario_texts import LEAKING_SERVICE_ONLY, quick_leak

# A short leak on the leaking service alone, played for 4 min: the incident is decided and
# resolved within about a minute; the transcript and the summary are what is checked.
LEAK = quick_leak("quick-leak", topology=LEAKING_SERVICE_ONLY, duration="4m")


@pytest.fixture
def leak_file(tmp_path: Path) -> Path:
    path = tmp_path / "quick-leak.toml"
    path.write_text(LEAK, encoding="utf-8")
    return path


def run(
    scenario: str, approve: str, *, json_lines: bool = False, answers: str = ""
) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = run_headless(
        scenario=scenario,
        speed=None,
        approve=approve,
        json_lines=json_lines,
        out=out,
        err=err,
        stdin=io.StringIO(answers),
        settings=Settings(),
    )
    return status, out.getvalue(), err.getvalue()


def test_auto_approval_shows_all_six_agents_and_resolves(leak_file: Path) -> None:
    status, out, _ = run(str(leak_file), "auto")
    assert status == EXIT_OK
    for agent in ("Cassandra", "Archaeologist", "Tactician", "Diplomat", "Surgeon", "Guardian"):
        assert f" {agent} " in out, agent
    assert "[INC-0001] verifying -> resolved" in out
    summary = out.split("== Incident summary")[1]
    assert "INC-0001  memory_leak on payment-service/us-east-1: RESOLVED" in summary
    assert (
        "action      restart on payment-service/us-east-1 (approved by --approve auto)" in summary
    )
    assert "MTTR" in summary and "time to critical" in summary
    assert "exit status 0" in summary


def test_deny_executes_nothing_and_ends_rejected(leak_file: Path) -> None:
    status, out, _ = run(str(leak_file), "deny")
    assert status == EXIT_REJECTED
    assert " Surgeon " not in out
    assert "awaiting_approval -> rejected" in out
    assert "memory_leak on payment-service/us-east-1: REJECTED" in out


def test_json_lines_are_one_object_per_event_then_a_summary(leak_file: Path) -> None:
    status, out, _ = run(str(leak_file), "auto", json_lines=True)
    records = [json.loads(line) for line in out.splitlines()]
    kinds = {record["event"] for record in records}
    assert {"agent_spoke", "incident_changed", "approval_requested", "metrics_sampled"} <= kinds
    summary = records[-1]
    assert summary["event"] == "summary" and summary["exit_status"] == status == EXIT_OK
    [incident] = summary["incidents"]
    assert incident["state"] == "resolved" and incident["action"] == "restart"
    assert incident["mttr_s"] > 0


def test_prompt_reads_the_answer_from_stdin(leak_file: Path) -> None:
    status, out, err = run(str(leak_file), "prompt", answers="y\n")
    assert status == EXIT_OK
    assert "Approve restart of payment-service in us-east-1?" in err
    assert "approved by prompt" in out


def test_a_bad_scenario_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('name = "broken"\nhistory = "soon"\nexpected = "none"\n', encoding="utf-8")
    status, out, err = run(str(path), "auto")
    assert status == EXIT_ERROR
    assert out == ""
    assert "broken.toml:2: history:" in err and "Traceback" not in err


def test_an_unknown_approve_mode_is_an_error() -> None:
    status, _, err = run("memory-leak", "maybe")
    assert status == EXIT_ERROR
    assert "--approve must be auto, deny or prompt" in err


def test_accelerated_time_runs_to_the_scenario_end(tmp_path: Path) -> None:
    path = tmp_path / "quiet.toml"
    path.write_text(
        'name = "quiet"\nstart = 2026-11-25T10:00:00Z\nhistory = "20m"\nduration = "10m"\n'
        'expected = "none"\n',
        encoding="utf-8",
    )
    scenario = load_scenario(path)
    waits: list[float] = []
    run = play_scenario(scenario, sink=lambda event: None, speed=600.0, sleep=waits.append)
    assert run.ended_at is not None
    assert run.ended_at >= scenario.start_time + scenario.duration_span
    assert run.ticks >= 1 and len(waits) in (run.ticks - 1, run.ticks)
    assert all(wait <= 10 / 600.0 for wait in waits)  # one sample interval at x600
