"""An executor for real systems: each step is a JSON POST to an automation endpoint.

The request body is
`{"action", "service", "region", "incident_id", "dry_run", "target_version", "revert"}`
(plus `"details"` when reverting: what the endpoint answered to the apply). The endpoint
answers 2xx with `{"ok": bool, "message": str}` and optionally `"changed": false` (the
target was already in the desired state) and `"details": {...}` (kept for the revert).

A pre-check is the same request with `"dry_run": true`: the endpoint validates it and
changes nothing. The URL and headers may carry credentials, so messages name only the
endpoint's scheme, host and port.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from qs_tui.models import ActionKind, RemediationOption
from qs_tui.remediation.base import Details


def redact_url(url: str) -> str:
    """`https://user:pw@ops.example.com/hooks/abc?token=x` -> `https://ops.example.com`."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


class WebhookExecutor:
    """POSTs each step to an automation endpoint and trusts its JSON answer.

    Args:
        url: the endpoint (`https://ops.example.com/qs/remediate`).
        timeout_s: seconds to wait for one answer.
        headers: extra request headers (e.g. `Authorization`); never printed.
    """

    name = "webhook"

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 30.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError("the automation endpoint must be an http:// or https:// URL")
        self._url = url
        self.endpoint = redact_url(url)
        self.timeout_s = timeout_s
        self._headers = dict(headers or {})
        self._already: dict[tuple[str, str, str, str], str] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"WebhookExecutor(endpoint={self.endpoint!r})"

    def precheck(self, option: RemediationOption, *, incident_id: str = "") -> tuple[bool, str]:
        """Ask the endpoint to validate the action (`dry_run: true`)."""
        if option.action is ActionKind.DO_NOTHING:
            return True, "no action to check"
        ok, message, answer = self._post(option, incident_id=incident_id, dry_run=True)
        key = _key(option, incident_id)
        with self._lock:
            if ok and answer.get("changed") is False:
                self._already[key] = message
            else:
                self._already.pop(key, None)
        return ok, message

    def already_done(self, option: RemediationOption, *, incident_id: str = "") -> str | None:
        """What the last pre-check said when the endpoint reported nothing left to change."""
        with self._lock:
            return self._already.get(_key(option, incident_id))

    def apply(
        self, option: RemediationOption, *, incident_id: str = ""
    ) -> tuple[bool, str, Details]:
        """Ask the endpoint to carry out the action."""
        if option.action is ActionKind.DO_NOTHING:
            return True, "nothing done, by choice", {"changed": False}
        ok, message, answer = self._post(option, incident_id=incident_id, dry_run=False)
        details: Details = dict(answer.get("details") or {})
        details["changed"] = answer.get("changed", True) is not False
        if "verified" in answer:
            details["verified"] = bool(answer["verified"])
        return ok, message, details

    def verify(self, option: RemediationOption, details: Details) -> tuple[bool, str]:
        """The endpoint's answer is the confirmation; it may say `"verified": false`."""
        if details.get("verified") is False:
            return False, f"{self.endpoint} reported the change did not take effect"
        return True, f"confirmed by {self.endpoint}"

    def revert(
        self, option: RemediationOption, details: Details, *, incident_id: str = ""
    ) -> tuple[bool, str]:
        """Ask the endpoint to undo the action (`revert: true`, with the apply's details)."""
        ok, message, _ = self._post(
            option, incident_id=incident_id, dry_run=False, revert=True, details=details
        )
        return ok, message

    def _post(
        self,
        option: RemediationOption,
        *,
        incident_id: str,
        dry_run: bool,
        revert: bool = False,
        details: Details | None = None,
    ) -> tuple[bool, str, dict[str, Any]]:
        body: dict[str, Any] = {
            "action": option.action.value,
            "service": option.service,
            "region": option.region,
            "incident_id": incident_id,
            "dry_run": dry_run,
            "target_version": option.target_version,
            "revert": revert,
        }
        if details is not None:
            body["details"] = details
        request = urllib.request.Request(
            self._url,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **self._headers},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            answer = _json_object(error.read())
            said = f": {answer['message']}" if isinstance(answer.get("message"), str) else ""
            return False, f"{self.endpoint} answered HTTP {error.code}{said}", answer
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            reason = getattr(error, "reason", error)
            what = "timed out" if isinstance(reason, TimeoutError) else type(reason).__name__
            return False, f"cannot reach the automation endpoint {self.endpoint} ({what})", {}
        answer = _json_object(raw)
        if not answer or not isinstance(answer.get("ok"), bool):
            return False, f'{self.endpoint} did not answer with JSON {{"ok": …, "message": …}}', {}
        message = answer.get("message")
        text = message if isinstance(message, str) and message else "no message"
        return answer["ok"], text, answer


def _key(option: RemediationOption, incident_id: str) -> tuple[str, str, str, str]:
    return (incident_id, option.action.value, option.service, option.region)


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
