"""WorkflowsExecutor against Kibana's Workflows API on 127.0.0.1: run, follow, cancel."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from qs_tui.agents.base import AgentContext, PipelineSettings
from qs_tui.agents.events import AgentSpoke, Event
from qs_tui.agents.surgeon import Surgeon
from qs_tui.clock import ManualClock
from qs_tui.config import Settings
from qs_tui.kibana.client import KibanaClient
from qs_tui.models import ActionKind, StepStatus
from qs_tui.remediation.advisory import RoutingExecutor
from qs_tui.remediation.config import WorkflowsTarget, parse_remediation
from qs_tui.remediation.workflows import WorkflowsExecutor
from qs_tui.store.embedded import EmbeddedStore
from qs_tui.topology import Topology
from tests.remediation.factories import make_approval, make_incident, make_option, make_plan
from tests.remediation.fake_workflows import (
    API_KEY,
    EXECUTION,
    WORKFLOW,
    FakeWorkflows,
    fake_workflows,
)

NOW = datetime(2026, 11, 25, 15, 4, 5, tzinfo=UTC)
TARGET = WorkflowsTarget(
    service="search", executor="workflows", workflows={ActionKind.RESTART: WORKFLOW}
)


@pytest.fixture
def kibana() -> Iterator[FakeWorkflows]:
    with fake_workflows() as server:
        yield server


def _executor(kibana: FakeWorkflows, *, timeout_s: float = 30.0) -> WorkflowsExecutor:
    client = KibanaClient(kibana.url, api_key=API_KEY, timeout_s=5)
    return WorkflowsExecutor(TARGET, client, execution_timeout_s=timeout_s, poll_interval_s=0.01)


def test_the_mapped_workflow_runs_with_the_incidents_inputs_and_is_followed(
    kibana: FakeWorkflows,
) -> None:
    executor = _executor(kibana)
    option = make_option(ActionKind.RESTART, service="search")

    checked = executor.precheck(option, incident_id="inc-1")
    assert kibana.posts() == []  # the pre-check (and so a dry run) only reads
    applied = executor.apply(option, incident_id="inc-1")
    verified = executor.verify(option, applied[2])

    assert checked == (True, f"workflow Restart search pods ({WORKFLOW}) is enabled")
    assert applied == (
        True,
        f"started workflow {WORKFLOW}: execution {EXECUTION}",
        {
            "changed": True,
            "workflow_id": WORKFLOW,
            "execution_id": EXECUTION,
            "incident_id": "inc-1",
        },
    )
    assert verified == (
        True,
        f"execution {EXECUTION} completed: restart_pods completed, check_health completed",
    )
    (run,) = kibana.posts()
    assert run.path == f"/api/workflows/workflow/{WORKFLOW}/run"
    assert run.headers["kbn-xsrf"] == "true"
    assert run.headers["content-type"] == "application/json"
    assert run.json() == {
        "inputs": {
            "action": "restart",
            "service": "search",
            "region": "us-east-1",
            "incident_id": "inc-1",
        }
    }
    assert executor.already_done(option, incident_id="inc-1") is not None
    assert executor.already_done(option, incident_id="inc-2") is None


def test_a_failed_execution_reports_its_steps(kibana: FakeWorkflows) -> None:
    kibana.outcome = "failed"
    executor = _executor(kibana)
    option = make_option(ActionKind.RESTART, service="search")
    _, _, details = executor.apply(option, incident_id="inc-1")
    assert executor.verify(option, details) == (
        False,
        f"execution {EXECUTION} failed (check_health: 503 Service Unavailable): "
        "restart_pods completed, check_health failed",
    )


def test_a_run_still_going_at_the_deadline_is_cancelled_on_revert(kibana: FakeWorkflows) -> None:
    kibana.outcome = "running"
    executor = _executor(kibana, timeout_s=0.2)
    option = make_option(ActionKind.RESTART, service="search")
    _, _, details = executor.apply(option, incident_id="inc-1")

    verified = executor.verify(option, details)
    reverted = executor.revert(option, details, incident_id="inc-1")

    assert verified == (
        False,
        f"execution {EXECUTION} did not end within 0.2 s (still running): "
        "restart_pods completed, check_health running",
    )
    assert reverted == (True, f"cancelled workflow execution {EXECUTION} (it was running)")
    cancel = kibana.posts()[-1]
    assert cancel.path == f"/api/workflows/executions/{EXECUTION}/cancel"
    assert cancel.headers["kbn-xsrf"] == "true"


def test_a_finished_run_cannot_be_cancelled(kibana: FakeWorkflows) -> None:
    executor = _executor(kibana)
    option = make_option(ActionKind.RESTART, service="search")
    _, _, details = executor.apply(option, incident_id="inc-1")
    assert executor.verify(option, details)[0] is True
    ok, message = executor.revert(option, details, incident_id="inc-1")
    assert not ok and "already completed" in message


def test_a_disabled_workflow_fails_the_precheck(kibana: FakeWorkflows) -> None:
    kibana.enabled = False
    ok, message = _executor(kibana).precheck(make_option(ActionKind.RESTART, service="search"))
    assert (ok, message) == (
        False,
        f"workflow Restart search pods ({WORKFLOW}) is disabled in Kibana",
    )


def test_an_action_without_a_workflow_fails_the_precheck_without_a_request(
    kibana: FakeWorkflows,
) -> None:
    ok, message = _executor(kibana).precheck(make_option(ActionKind.FAILOVER, service="search"))
    assert (ok, message) == (
        False,
        "no workflow is mapped to the failover of search in remediation.toml",
    )
    assert kibana.requests == []


def test_a_wrong_api_key_is_one_line_without_the_key(kibana: FakeWorkflows) -> None:
    client = KibanaClient(kibana.url, api_key="wrong-key", timeout_s=5)
    ok, message = WorkflowsExecutor(TARGET, client).precheck(
        make_option(ActionKind.RESTART, service="search")
    )
    assert not ok
    assert "HTTP 401" in message and "wrong-key" not in message and "\n" not in message


def test_without_kibana_every_step_says_so() -> None:
    ok, message = WorkflowsExecutor(TARGET, None).precheck(
        make_option(ActionKind.RESTART, service="search")
    )
    assert not ok and message.startswith("KIBANA_URL is not set")


def test_the_surgeon_runs_a_mapped_workflow_through_routing_with_kibana_settings(
    kibana: FakeWorkflows,
) -> None:
    config = parse_remediation(
        '[[services]]\nservice = "search"\nexecutor = "workflows"\n'
        f'workflows = {{ restart = "{WORKFLOW}" }}\n'
    )
    settings = Settings.load(
        env={"KIBANA_URL": kibana.url, "KIBANA_API_KEY": API_KEY}, env_file=None
    )
    events: list[Event] = []
    clock = ManualClock(NOW)
    store = EmbeddedStore(now=clock.now)
    store.ensure_templates()
    context = AgentContext(
        store=store,
        clock=clock,
        sink=events.append,
        topology=Topology(),
        settings=PipelineSettings(),
    )
    routing = RoutingExecutor(config, settings=settings)
    built = routing.executor_for(make_option(ActionKind.RESTART, service="search"))
    assert isinstance(built, WorkflowsExecutor)
    built.poll_interval_s = 0.01
    surgeon = Surgeon(context, executor=routing)
    option = make_option(ActionKind.RESTART, service="search")

    report = surgeon.execute(
        make_incident(NOW, service="search"), make_plan(option), make_approval(NOW)
    )

    assert report.success, report.summary
    assert [s.status for s in report.steps] == [StepStatus.OK, StepStatus.OK, StepStatus.OK]
    lines = [e.text for e in events if isinstance(e, AgentSpoke)]
    assert any("restart_pods completed, check_health completed" in line for line in lines)
    assert not any(API_KEY in line for line in lines)
