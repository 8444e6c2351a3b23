"""Kibana's Workflows API on 127.0.0.1 for one workflow, answering as Kibana documents it.

It requires `kbn-xsrf` on POSTs and the API key on everything; a run is `running` for
`running_polls` reads of its execution, then ends as `outcome` says (`completed`,
`failed`, or `running` for ever); a cancel ends it as `cancelled`.
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
from urllib.parse import urlsplit

from tests.loopback import LoopbackServer, forwarding_handler, read_body, reply_json

KIBANA = Path(__file__).resolve().parents[2] / "fixtures" / "kibana"
FIXTURES = KIBANA / "workflows"
API_KEY = "kibana-api-k3y-for-tests"
WORKFLOW = "wf-restart-search"
EXECUTION = "exec-5f1e2d3c-4b5a-6978-8899-aabbccddeeff"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class FakeWorkflows:
    """State, switches (`outcome`, `enabled`, `running_polls`) and the requests received."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.outcome = "completed"
        self.enabled = True
        self.running_polls = 1
        self.execution: dict[str, Any] | None = None
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

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        body = read_body(handler)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        request = Request(method, urlsplit(handler.path).path, headers, body)
        with self._lock:
            self.requests.append(request)
            status, answer = self._route(request)
        reply_json(handler, status, answer)

    def _route(self, request: Request) -> tuple[int, Any]:
        if request.headers.get("authorization") != f"ApiKey {API_KEY}":
            return 401, json.loads((KIBANA / "unauthorized_401.json").read_text())
        if request.method == "POST" and request.headers.get("kbn-xsrf") is None:
            return 400, json.loads((KIBANA / "xsrf_missing_400.json").read_text())
        workflow = f"/api/workflows/workflow/{WORKFLOW}"
        execution = f"/api/workflows/executions/{EXECUTION}"
        if request.method == "GET" and request.path == workflow:
            answer = fixture("workflow.json")
            answer["enabled"] = self.enabled
            return 200, answer
        if request.method == "POST" and request.path == f"{workflow}/run":
            if not self.enabled:
                return 400, {
                    "statusCode": 400,
                    "error": "Bad Request",
                    "message": "Workflow is disabled",
                }
            self.execution = fixture("execution-running.json")
            self._polls_left = self.running_polls
            return 200, fixture("run.json")
        if request.path.startswith("/api/workflows/executions/") and self.execution is not None:
            if request.method == "GET" and request.path == execution:
                self._advance()
                return 200, self.execution
            if request.method == "POST" and request.path == f"{execution}/cancel":
                self.execution["status"] = "cancelled"
                return 200, {}
        return 404, fixture("not-found-404.json")

    def _advance(self) -> None:
        assert self.execution is not None
        if self.execution["status"] != "running" or self.outcome == "running":
            return
        if self._polls_left > 0:
            self._polls_left -= 1
            return
        name = (
            "execution-completed.json" if self.outcome == "completed" else "execution-failed.json"
        )
        self.execution = copy.deepcopy(fixture(name))


@contextmanager
def fake_workflows() -> Iterator[FakeWorkflows]:
    server = FakeWorkflows()
    server.start()
    try:
        yield server
    finally:
        server.stop()
