"""An Argo CD API server on 127.0.0.1 for one Application, answering as its REST API does.

A rollback (`POST /api/v1/applications/{name}/rollback`) adds a history entry with the
chosen entry's revision and starts an operation that is `Running` for `running_polls` reads,
then ends as `outcome` says: `ok` (Succeeded, Healthy), `degraded` (Succeeded, Degraded for
ever) or `failed` (the operation Failed). With auto-sync on it refuses, as Argo CD does.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.loopback import LoopbackServer, forwarding_handler, read_body, reply_json

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "argocd"
TOKEN = "argocd-t0ken-for-tests"
APP = "/api/v1/applications/checkout-prod"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class FakeArgoCD:
    """State, switches (`outcome`, `forbid`, `missing`, `running_polls`) and requests."""

    def __init__(self) -> None:
        self.app: dict[str, Any] = fixture("application.json")
        self.requests: list[Request] = []
        self.outcome = "ok"
        self.forbid = False
        self.missing = False
        self.running_polls = 1
        self._polls_left = 0
        self._lock = threading.Lock()
        self._server = LoopbackServer(forwarding_handler(self._handle, "GET", "POST"))
        self.url = self._server.url

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def posts(self) -> list[Request]:
        return [r for r in self.requests if r.method == "POST"]

    def live_revision(self) -> str:
        return str(self.app["status"]["history"][-1]["revision"])

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        body = read_body(handler)
        parts = urlsplit(handler.path)
        request = Request(method, parts.path, parse_qs(parts.query), dict(handler.headers), body)
        with self._lock:
            self.requests.append(request)
            status, answer = self._route(request)
        reply_json(handler, status, answer)

    def _route(self, request: Request) -> tuple[int, Any]:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, {
                "error": "no session information",
                "code": 16,
                "message": "no session information",
            }
        if self.missing or not request.path.startswith(APP):
            return 404, fixture("not-found-404.json")
        if request.method == "GET" and request.path == APP:
            self._advance()
            return 200, self.app
        if request.method == "POST" and request.path == f"{APP}/rollback":
            if self.forbid:
                return 403, fixture("permission-denied-403.json")
            if self.app["spec"].get("syncPolicy", {}).get("automated"):
                message = "rollback cannot be initiated when auto-sync is enabled"
                return 400, {"error": message, "code": 9, "message": message}
            wanted = request.json()["id"]
            history = self.app["status"]["history"]
            entry = next((h for h in history if h["id"] == wanted), None)
            if entry is None:
                name = self.app["metadata"]["name"]
                message = f"application {name} does not have deployment with id {wanted}"
                return 404, {"error": message, "code": 5, "message": message}
            new = copy.deepcopy(entry)
            new["id"] = history[-1]["id"] + 1
            history.append(new)
            self.app["status"]["operationState"] = {
                "operation": {"sync": {"revision": entry["revision"]}},
                "phase": "Running",
                "message": "waiting for healthy state",
            }
            self.app["status"]["sync"]["status"] = "OutOfSync"
            self.app["status"]["health"]["status"] = "Progressing"
            self._polls_left = self.running_polls
            return 200, self.app
        return 405, {"error": "method not allowed", "code": 12, "message": "method not allowed"}

    def _advance(self) -> None:
        """One read later: a running operation moves on as `outcome` says."""
        state = self.app["status"]["operationState"]
        if state["phase"] != "Running":
            return
        if self._polls_left > 0:
            self._polls_left -= 1
            return
        if self.outcome == "failed":
            state["phase"] = "Failed"
            state["message"] = "one or more objects failed to apply (dry run)"
            self.app["status"]["health"]["status"] = "Degraded"
        elif self.outcome == "degraded":
            state["phase"] = "Succeeded"
            self.app["status"]["health"]["status"] = "Degraded"
        else:
            state["phase"] = "Succeeded"
            self.app["status"]["health"]["status"] = "Healthy"


@contextmanager
def fake_argocd() -> Iterator[FakeArgoCD]:
    server = FakeArgoCD()
    server.start()
    try:
        yield server
    finally:
        server.stop()
