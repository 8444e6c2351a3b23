"""Remediation through Elastic Workflows in Kibana: run the workflow mapped to the action.

Over Kibana's Workflows API (elastic.co/docs/api/doc/kibana, group "Workflows"):

- `GET /api/workflows/workflow/{id}`: the pre-check; the workflow exists, is `enabled` and
  `valid`.
- `POST /api/workflows/workflow/{id}/run` with `{"inputs": {...}}` (and `kbn-xsrf`) starts it
  with the incident's inputs (action, service, region, incident id, target version) and
  answers `{"workflowExecutionId": …}`.
- `GET /api/workflows/executions/{executionId}` follows the execution until it ends
  (`completed`; `failed`, `cancelled`, `timed_out` fail); its `stepExecutions` are reported
  step by step in the Surgeon's transcript.
- `POST /api/workflows/executions/{executionId}/cancel` on revert while it still runs.

A dry run is the pre-check only. Kibana's URL and credentials are `KIBANA_URL` and
`KIBANA_API_KEY` (or the Elastic ones), as for `qs-tui kibana`.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from qs_tui.kibana.client import KibanaClient, KibanaError, quote_id
from qs_tui.models import ActionKind, RemediationOption
from qs_tui.remediation.base import Details, action_noun
from qs_tui.remediation.config import WorkflowsTarget

#: Execution statuses after which nothing more happens (Kibana's `ExecutionStatus`).
_SUCCEEDED = "completed"
_FAILED = frozenset({"failed", "cancelled", "timed_out"})


def run_inputs(option: RemediationOption, incident_id: str) -> dict[str, Any]:
    """What the workflow receives: what to do, where, and for which incident."""
    inputs: dict[str, Any] = {
        "action": option.action.value,
        "service": option.service,
        "region": option.region,
        "incident_id": incident_id,
    }
    if option.target_version:
        inputs["target_version"] = option.target_version
    return inputs


class WorkflowsExecutor:
    """Runs the Kibana workflow mapped to each action and follows it to its end.

    Args:
        target: the mapping: one workflow id per action.
        client: a Kibana client (`qs_tui.kibana.cli.client_from_settings`); None when
            `KIBANA_URL` is not set, which every step then reports.
        execution_timeout_s: how long verification waits for the execution to end.
        poll_interval_s: seconds between two reads of the execution.
    """

    name = "workflows"

    def __init__(
        self,
        target: WorkflowsTarget,
        client: KibanaClient | None,
        *,
        execution_timeout_s: float = 300.0,
        poll_interval_s: float = 2.0,
    ) -> None:
        self.target = target
        self.client = client
        self.execution_timeout_s = execution_timeout_s
        self.poll_interval_s = poll_interval_s
        self._done: dict[tuple[str, str, str, str], str] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"WorkflowsExecutor(service={self.target.service!r})"

    def precheck(self, option: RemediationOption, *, incident_id: str = "") -> tuple[bool, str]:
        """The workflow for the action exists, is enabled and valid."""
        if option.action is ActionKind.DO_NOTHING:
            return True, "no action to check"
        try:
            workflow_id, client = self._workflow(option)
            answer = client.request(
                "GET",
                f"/api/workflows/workflow/{quote_id(workflow_id)}",
                what=f"read workflow {workflow_id}",
            ).body
        except KibanaError as error:
            return False, str(error)
        name = answer.get("name") or workflow_id
        if answer.get("enabled") is False:
            return False, f"workflow {name} ({workflow_id}) is disabled in Kibana"
        if answer.get("valid") is False:
            return False, f"workflow {name} ({workflow_id}) has an invalid definition"
        return True, f"workflow {name} ({workflow_id}) is enabled"

    def already_done(self, option: RemediationOption, *, incident_id: str = "") -> str | None:
        """A run this process completed for the same incident and action."""
        with self._lock:
            return self._done.get(_key(option, incident_id))

    def apply(
        self, option: RemediationOption, *, incident_id: str = ""
    ) -> tuple[bool, str, Details]:
        """Start the workflow with the incident's inputs."""
        if option.action is ActionKind.DO_NOTHING:
            return True, "nothing done, by choice", {"changed": False}
        try:
            workflow_id, client = self._workflow(option)
            answer = client.request(
                "POST",
                f"/api/workflows/workflow/{quote_id(workflow_id)}/run",
                what=f"run workflow {workflow_id}",
                body={"inputs": run_inputs(option, incident_id)},
            ).body
        except KibanaError as error:
            return False, str(error), {}
        execution = answer.get("workflowExecutionId")
        if not isinstance(execution, str) or not execution:
            return False, f"Kibana did not return an execution id for workflow {workflow_id}", {}
        return (
            True,
            f"started workflow {workflow_id}: execution {execution}",
            {
                "changed": True,
                "workflow_id": workflow_id,
                "execution_id": execution,
                "incident_id": incident_id,
            },
        )

    def verify(self, option: RemediationOption, details: Details) -> tuple[bool, str]:
        """Follow the execution until it ends; the message lists its steps."""
        execution = details.get("execution_id")
        if not isinstance(execution, str) or self.client is None:
            return False, "no workflow execution to follow"
        deadline = time.monotonic() + self.execution_timeout_s
        while True:
            try:
                answer = self.client.request(
                    "GET",
                    f"/api/workflows/executions/{quote_id(execution)}",
                    what=f"read workflow execution {execution}",
                ).body
            except KibanaError as error:
                return False, str(error)
            status = str(answer.get("status") or "unknown")
            steps = _steps(answer)
            if status == _SUCCEEDED:
                with self._lock:
                    key = _key(option, str(details.get("incident_id") or ""))
                    self._done[key] = f"workflow execution {execution} already completed"
                return True, f"execution {execution} completed: {steps}"
            if status in _FAILED:
                failure = answer.get("error")
                said = f" ({_error_text(failure)})" if failure else ""
                return False, f"execution {execution} {status}{said}: {steps}"
            if time.monotonic() >= deadline:
                return False, (
                    f"execution {execution} did not end within {self.execution_timeout_s:g} s "
                    f"(still {status}): {steps}"
                )
            time.sleep(self.poll_interval_s)

    def revert(
        self, option: RemediationOption, details: Details, *, incident_id: str = ""
    ) -> tuple[bool, str]:
        """Cancel the execution if it still runs; a finished workflow cannot be undone here."""
        execution = details.get("execution_id")
        if not isinstance(execution, str) or self.client is None:
            return False, "no workflow execution to cancel"
        try:
            answer = self.client.request(
                "GET",
                f"/api/workflows/executions/{quote_id(execution)}",
                what=f"read workflow execution {execution}",
            ).body
            status = str(answer.get("status") or "unknown")
            if status == _SUCCEEDED:
                return False, (
                    f"execution {execution} already completed; a finished workflow cannot be "
                    "undone from here (map a workflow that reverses it)"
                )
            if status in _FAILED:
                return True, f"execution {execution} had already ended ({status})"
            self.client.request(
                "POST",
                f"/api/workflows/executions/{quote_id(execution)}/cancel",
                what=f"cancel workflow execution {execution}",
            )
        except KibanaError as error:
            return False, str(error)
        return True, f"cancelled workflow execution {execution} (it was {status})"

    def _workflow(self, option: RemediationOption) -> tuple[str, KibanaClient]:
        workflow_id = self.target.workflows.get(option.action)
        if workflow_id is None:
            raise KibanaError(
                f"no workflow is mapped to the {action_noun(option.action)} of "
                f"{option.service} in remediation.toml"
            )
        if self.client is None:
            raise KibanaError(
                "KIBANA_URL is not set: the workflows executor needs Kibana's URL "
                "(and KIBANA_API_KEY or the Elastic credentials)"
            )
        return workflow_id, self.client


def _key(option: RemediationOption, incident_id: str) -> tuple[str, str, str, str]:
    return (incident_id, option.action.value, option.service, option.region)


def _steps(answer: dict[str, Any]) -> str:
    """`restart_pods completed, check_health failed` (the transcript's view of the run)."""
    steps = answer.get("stepExecutions")
    if not isinstance(steps, list) or not steps:
        return "no steps reported"
    parts = []
    for step in steps:
        if isinstance(step, dict):
            parts.append(f"{step.get('stepId') or '?'} {step.get('status') or '?'}")
    return ", ".join(parts) or "no steps reported"


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        error = error.get("message") or error.get("type") or error
    return " ".join(str(error).split())[:200]
