"""A Kubernetes API server on 127.0.0.1 for one Deployment, answering as apps/v1 documents.

It serves `fixtures/kubernetes/` and plays the Deployment controller just enough for the
executor's requests: a persisted change of the pod template makes a new revision (a
ReplicaSet whose template matches is reused and gets the next revision, as the controller
does), and the rollout then completes, or never becomes available when `stuck` is set.
Requests with `dryRun=All` are answered with the patched object and persist nothing.
Every request is recorded (method, path, query, headers, body) for the tests to check.
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

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "kubernetes"
TOKEN = "k8s-t0ken-for-tests"
DEPLOYMENTS = "/apis/apps/v1/namespaces/shop/deployments"
REPLICASETS = "/apis/apps/v1/namespaces/shop/replicasets"


def fixture(name: str) -> Any:
    """A fixture file, parsed."""
    return json.loads((FIXTURES / name).read_text())


def write_kubeconfig(directory: Path, server: str, *, token: str = TOKEN) -> Path:
    """The fixture kubeconfig pointing its `prod` context at `server`."""
    text = (FIXTURES / "kubeconfig.yaml").read_text()
    path = directory / "kubeconfig"
    path.write_text(text.replace("{server}", server).replace("{token}", token))
    return path


@dataclass(frozen=True)
class Request:
    """One request the server got."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _template_key(template: dict[str, Any]) -> str:
    stripped = copy.deepcopy(template)
    stripped.get("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
    return json.dumps(stripped, sort_keys=True)


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """A merge patch (RFC 7386); for the maps these tests patch, strategic merge is the same."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


class FakeKubernetes:
    """The API server: state, fault switches and the record of requests.

    Attributes:
        url: `http://127.0.0.1:PORT`.
        requests: every request, in order.
        deployment: the Deployment as stored.
        replica_sets: the ReplicaSets as stored.
        stuck: after a change, the new pods never become available.
        forbid_patch: PATCH answers 403 (RBAC denies it).
        missing: the Deployment does not exist (404).
        hang: when set, requests block until `release` is set (a server that stopped answering).
    """

    def __init__(self) -> None:
        self.deployment: dict[str, Any] = fixture("deployment.json")
        self.replica_sets: list[dict[str, Any]] = fixture("replicasets.json")["items"]
        self.requests: list[Request] = []
        self.stuck = False
        self.forbid_patch = False
        self.missing = False
        self.hang = False
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._server = LoopbackServer(forwarding_handler(self._handle, "GET", "PATCH"))
        self.url = self._server.url

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self.release.set()
        self._server.stop()

    # ---- what the tests read ------------------------------------------------------------

    def writes(self) -> list[Request]:
        """The PATCH requests, in order."""
        return [r for r in self.requests if r.method == "PATCH"]

    def image(self) -> str:
        return str(self.deployment["spec"]["template"]["spec"]["containers"][0]["image"])

    # ---- serving ------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        body = read_body(handler)
        parts = urlsplit(handler.path)
        request = Request(method, parts.path, parse_qs(parts.query), dict(handler.headers), body)
        with self._lock:
            self.requests.append(request)
        if self.hang:
            self.release.wait()
            return
        if handler.headers.get("Authorization") != f"Bearer {TOKEN}":
            reply_json(handler, 401, self._status(401, "Unauthorized", "Unauthorized"))
            return
        with self._lock:
            status, answer = self._route(request)
        reply_json(handler, status, answer)

    @staticmethod
    def _status(code: int, reason: str, message: str) -> dict[str, Any]:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        }

    def _route(self, request: Request) -> tuple[int, Any]:
        name = self.deployment["metadata"]["name"]
        if request.method == "GET" and request.path == REPLICASETS:
            selector = request.query.get("labelSelector", [""])[0]
            wanted = dict(pair.split("=", 1) for pair in selector.split(",") if pair)
            items = [
                rs
                for rs in self.replica_sets
                if all(rs["metadata"]["labels"].get(k) == v for k, v in wanted.items())
            ]
            return 200, {
                "kind": "ReplicaSetList",
                "apiVersion": "apps/v1",
                "metadata": {},
                "items": items,
            }
        if not request.path.startswith(f"{DEPLOYMENTS}/{name}") or self.missing:
            return 404, fixture("status-404.json")
        if request.method == "GET" and request.path == f"{DEPLOYMENTS}/{name}":
            return 200, self.deployment
        if request.method != "PATCH":
            return 405, self._status(405, "MethodNotAllowed", "method not allowed")
        if self.forbid_patch:
            return 403, fixture("status-403.json")
        dry_run = request.query.get("dryRun") == ["All"]
        kind = request.headers.get("Content-Type", "")
        if request.path == f"{DEPLOYMENTS}/{name}/scale":
            if kind != "application/merge-patch+json":
                return 415, self._status(415, "UnsupportedMediaType", kind)
            replicas = int(request.json()["spec"]["replicas"])
            if not dry_run:
                self.deployment["spec"]["replicas"] = replicas
                self._roll_out(template_changed=False)
            return 200, {
                "kind": "Scale",
                "apiVersion": "autoscaling/v1",
                "metadata": {"name": name, "namespace": "shop"},
                "spec": {"replicas": replicas},
                "status": {"replicas": replicas, "selector": "app=payment"},
            }
        patched = copy.deepcopy(self.deployment)
        if kind == "application/strategic-merge-patch+json":
            _merge(patched, request.json())
        elif kind == "application/json-patch+json":
            for op in request.json():
                if op["op"] != "replace":
                    return 422, self._status(422, "Invalid", f"unexpected op {op['op']}")
                keys = op["path"].strip("/").split("/")
                node = patched
                for key in keys[:-1]:
                    node = node[key]
                node[keys[-1]] = op["value"]
        else:
            return 415, self._status(415, "UnsupportedMediaType", kind)
        if dry_run:
            return 200, patched
        changed = _template_key(patched["spec"]["template"]) != _template_key(
            self.deployment["spec"]["template"]
        )
        self.deployment = patched
        self._roll_out(template_changed=changed)
        return 200, self.deployment

    def _roll_out(self, *, template_changed: bool) -> None:
        """What the Deployment controller does after a change, finished at once (or stuck)."""
        deployment = self.deployment
        deployment["metadata"]["generation"] += 1
        if template_changed:
            mine = [
                rs
                for rs in self.replica_sets
                if rs["metadata"]["ownerReferences"][0]["uid"] == deployment["metadata"]["uid"]
            ]
            newest = max(
                int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
                for rs in mine
            )
            key = _template_key(deployment["spec"]["template"])
            match = next((rs for rs in mine if _template_key(rs["spec"]["template"]) == key), None)
            if match is None:
                match = copy.deepcopy(mine[-1])
                match["metadata"]["name"] = f"payment-{newest + 1:010d}"
                match["spec"]["template"] = copy.deepcopy(deployment["spec"]["template"])
                self.replica_sets.append(match)
            match["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = str(newest + 1)
            deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = str(
                newest + 1
            )
        replicas = deployment["spec"]["replicas"]
        status = deployment["status"]
        status["observedGeneration"] = deployment["metadata"]["generation"]
        status["replicas"] = replicas
        status["updatedReplicas"] = replicas
        status["availableReplicas"] = replicas - 1 if self.stuck else replicas


@contextmanager
def fake_kubernetes() -> Iterator[FakeKubernetes]:
    """Run a `FakeKubernetes` for the duration of a `with` block."""
    server = FakeKubernetes()
    server.start()
    try:
        yield server
    finally:
        server.stop()
