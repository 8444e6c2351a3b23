"""Remediation through an Argo CD Application: roll back to the previous history entry.

What `argocd app rollback APP` does without a history id, over Argo CD's REST API
(argo-cd.readthedocs.io/en/stable/developer-guide/api-docs/, the `ApplicationService`):

- `GET /api/v1/applications/{name}` reads the application: `status.history` (one entry per
  deployment, oldest first), `spec.syncPolicy.automated` (Argo CD refuses a rollback while
  auto-sync is on), `status.operationState.phase` and `status.health.status`.
- `POST /api/v1/applications/{name}/rollback` with `{"name", "id", "dryRun", "prune"}`
  (`ApplicationRollbackRequest`) starts the rollback to history entry `id`; the CLI picks the
  one before the newest, as here.
- verification waits, as the CLI's `--timeout` wait does, for the rollback operation to end
  (`Succeeded`; `Failed` or `Error` fail at once) and the application to be `Healthy`. The
  sync status stays `OutOfSync` after a rollback by design (the cluster no longer matches Git).

Only rollbacks have an Argo CD meaning here; map the other actions to a workflow or the
webhook. A dry run is the pre-check only. The token is sent as `Authorization: Bearer …` and
never appears in a message, which names only the server's scheme, host and port.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from qs_tui.models import ActionKind, RemediationOption
from qs_tui.remediation.base import Details, action_noun
from qs_tui.remediation.config import ArgoCDTarget
from qs_tui.remediation.webhook import redact_url

_DONE = "Succeeded"
_FAILED = frozenset({"Failed", "Error"})


class ArgoCDError(Exception):
    """An Argo CD call that failed, in one line for the transcript."""


class ArgoCDExecutor:
    """Rolls an Argo CD Application back, and forward again on revert.

    Args:
        target: the mapping: server, application, project.
        token: the API token (`ARGOCD_AUTH_TOKEN` or the mapping's `token_env`); None sends
            no credentials (a server that allows anonymous access).
        timeout_s: seconds to wait for one answer.
        sync_timeout_s: how long verification waits for the rollback to be healthy.
        poll_interval_s: seconds between two reads of the application.
    """

    name = "argocd"

    def __init__(
        self,
        target: ArgoCDTarget,
        *,
        token: str | None,
        timeout_s: float = 30.0,
        sync_timeout_s: float = 300.0,
        poll_interval_s: float = 2.0,
    ) -> None:
        self.target = target
        self.endpoint = redact_url(target.server)
        self.timeout_s = timeout_s
        self.sync_timeout_s = sync_timeout_s
        self.poll_interval_s = poll_interval_s
        self._headers = {"Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._done: dict[tuple[str, str, str], str] = {}
        self._lock = threading.Lock()
        self.where = f"Argo CD application {target.application} at {self.endpoint}"

    def __repr__(self) -> str:
        return f"ArgoCDExecutor({self.where})"

    def precheck(self, option: RemediationOption, *, incident_id: str = "") -> tuple[bool, str]:
        """Read the application: a previous deployment exists and auto-sync is off."""
        if option.action is ActionKind.DO_NOTHING:
            return True, "no action to check"
        if option.action is not ActionKind.ROLLBACK:
            return False, self._no_meaning(option)
        try:
            current, previous = self._rollback_pair(self._get())
        except ArgoCDError as error:
            return False, str(error)
        return True, (
            f"history {current['id']} ({_revision(current)}) is live; history "
            f"{previous['id']} ({_revision(previous)}) is available"
        )

    def already_done(self, option: RemediationOption, *, incident_id: str = "") -> str | None:
        """A rollback this process made for the same incident."""
        with self._lock:
            return self._done.get((incident_id, option.service, option.region))

    def apply(
        self, option: RemediationOption, *, incident_id: str = ""
    ) -> tuple[bool, str, Details]:
        """Start the rollback to the history entry before the newest."""
        if option.action is ActionKind.DO_NOTHING:
            return True, "nothing done, by choice", {"changed": False}
        if option.action is not ActionKind.ROLLBACK:
            return False, self._no_meaning(option), {}
        try:
            current, previous = self._rollback_pair(self._get())
            self._rollback(int(previous["id"]))
        except ArgoCDError as error:
            return False, str(error), {}
        message = (
            f"rolled {self.where} back from history {current['id']} ({_revision(current)}) "
            f"to {previous['id']} ({_revision(previous)})"
        )
        with self._lock:
            self._done[(incident_id, option.service, option.region)] = message
        return (
            True,
            message,
            {
                "changed": True,
                "from_id": int(current["id"]),
                "to_id": int(previous["id"]),
            },
        )

    def verify(self, option: RemediationOption, details: Details) -> tuple[bool, str]:
        """Wait for the rollback operation to succeed and the application to be healthy."""
        deadline = time.monotonic() + self.sync_timeout_s
        while True:
            try:
                app = self._get()
            except ArgoCDError as error:
                return False, str(error)
            status = app.get("status") or {}
            operation = status.get("operationState") or {}
            phase = str(operation.get("phase") or "none")
            health = str((status.get("health") or {}).get("status") or "Unknown")
            if phase in _FAILED:
                said = operation.get("message") or "no message"
                return False, f"the rollback of {self.where} ended {phase}: {said}"
            if phase == _DONE and health == "Healthy":
                return True, f"{self.where} rolled back and Healthy"
            if time.monotonic() >= deadline:
                return False, (
                    f"{self.where} did not become healthy within {self.sync_timeout_s:g} s "
                    f"(operation {phase}, health {health})"
                )
            time.sleep(self.poll_interval_s)

    def revert(
        self, option: RemediationOption, details: Details, *, incident_id: str = ""
    ) -> tuple[bool, str]:
        """Roll forward: back to the history entry that was live before the rollback."""
        if option.action is not ActionKind.ROLLBACK:
            return True, f"nothing to undo after a {option.action.value}"
        history_id = details.get("from_id")
        if not isinstance(history_id, int):
            return False, "the history entry before the rollback is not known"
        try:
            self._rollback(history_id)
        except ArgoCDError as error:
            return False, str(error)
        with self._lock:
            self._done.pop((incident_id, option.service, option.region), None)
        return True, f"rolled {self.where} forward to history {history_id}"

    # ---- requests ---------------------------------------------------------------------

    def _no_meaning(self, option: RemediationOption) -> str:
        return (
            f"the Argo CD executor only rolls back; map the {action_noun(option.action)} of "
            f"{option.service} to a workflow or the webhook in remediation.toml "
            f'(actions = ["{option.action.value}"])'
        )

    def _rollback_pair(self, app: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        automated = ((app.get("spec") or {}).get("syncPolicy") or {}).get("automated")
        if automated:
            raise ArgoCDError(
                f"auto-sync is on for {self.where}; Argo CD refuses a rollback while it is "
                "(turn auto-sync off first)"
            )
        history = [h for h in (app.get("status") or {}).get("history") or [] if "id" in h]
        if len(history) < 2:
            raise ArgoCDError(f"{self.where} has no previous deployment in its history")
        return history[-1], history[-2]

    def _get(self) -> dict[str, Any]:
        return self._send("GET", self._path(""), None, what="read")

    def _rollback(self, history_id: int) -> None:
        body: dict[str, Any] = {
            "name": self.target.application,
            "id": history_id,
            "dryRun": False,
            "prune": False,
        }
        if self.target.project:
            body["project"] = self.target.project
        self._send("POST", self._path("/rollback"), body, what="roll back")

    def _path(self, tail: str) -> str:
        name = urllib.parse.quote(self.target.application, safe="")
        query = ""
        if self.target.project and not tail:
            query = "?" + urllib.parse.urlencode({"project": self.target.project})
        return f"/api/v1/applications/{name}{tail}{query}"

    def _send(
        self, method: str, path: str, body: dict[str, Any] | None, *, what: str
    ) -> dict[str, Any]:
        headers = dict(self._headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            self.target.server + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return _json_object(response.read())
        except urllib.error.HTTPError as error:
            answer = _json_object(error.read())
            said = answer.get("message") or answer.get("error")
            detail = f": {' '.join(str(said).split())}" if said else ""
            raise ArgoCDError(
                f"Argo CD answered HTTP {error.code} to {what} {self.where}{detail}"
            ) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            reason = getattr(error, "reason", error)
            if isinstance(reason, TimeoutError):
                raise ArgoCDError(
                    f"Argo CD did not answer within {self.timeout_s:g} s ({what} {self.where})"
                ) from None
            raise ArgoCDError(
                f"cannot reach Argo CD at {self.endpoint} ({type(reason).__name__})"
            ) from None


def _revision(entry: dict[str, Any]) -> str:
    revision = str(entry.get("revision") or "?")
    return revision[:7] if len(revision) == 40 else revision  # a Git SHA, shortened


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode("utf-8")) if raw else {}
    except (UnicodeDecodeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
