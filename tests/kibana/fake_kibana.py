"""A Kibana on 127.0.0.1 that keeps state and answers the APIs `qs-tui kibana` uses as documented.

It requires `kbn-xsrf` on every non-GET request, checks the API key when given one, keeps
data views, saved objects and Agent Builder tools per space (so re-runs show whether anything
was duplicated), validates imports' references, and answers errors with the bodies kept in
`fixtures/kibana/`.
"""

from __future__ import annotations

import base64
import copy
import email.parser
import email.policy
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.loopback import LoopbackServer

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "kibana"
_PARAM = re.compile(r"\?([A-Za-z_][A-Za-z0-9_]*)")


def fixture(name: str) -> dict[str, Any]:
    """A response body from `fixtures/kibana/`."""
    value: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return value


def _not_found(kind: str, ident: str) -> dict[str, Any]:
    return {
        "statusCode": 404,
        "error": "Not Found",
        "message": f"Saved object [{kind}/{ident}] not found",
    }


@dataclass(frozen=True)
class Request:
    """One request the fake received (header names in lower case)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Space:
    """What one Kibana space holds."""

    data_views: dict[str, dict[str, Any]] = field(default_factory=dict)
    saved_objects: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    tools: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Failure:
    """A scripted answer for requests matching `method` and the `path` regex."""

    method: str
    path: str
    status: int
    body: dict[str, Any]
    times: int = 1


class FakeKibana:
    """The fake's state and scripting.

    Args:
        api_key: when set, every request must carry `Authorization: ApiKey <api_key>`.
        basic: when set, `(user, password)` accepted as basic auth too.
        agent_builder: `available`, `absent` (its routes answer 404) or `unlicensed` (403).
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        basic: tuple[str, str] | None = None,
        agent_builder: str = "available",
    ) -> None:
        self.api_key = api_key
        self.basic = basic
        self.agent_builder = agent_builder
        self.spaces: dict[str, Space] = {}
        self.requests: list[Request] = []
        self.failures: list[Failure] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # answer in one segment, not after a delayed ACK

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                # Header names are case-insensitive; keep them lower-case for lookups.
                headers = {name.lower(): value for name, value in self.headers.items()}
                request = Request(self.command, self.path, headers, body)
                with fake._lock:
                    fake.requests.append(request)
                    status, answer = fake.answer(request)
                payload = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                return  # keep test output clean

        self._server = LoopbackServer(Handler)
        self.url = self._server.url

    # ---- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    # ---- helpers for tests ----------------------------------------------------------------

    def space(self, name: str = "default") -> Space:
        """The state of one space (created empty on first use)."""
        return self.spaces.setdefault(name, Space())

    def fail(
        self, method: str, path: str, status: int, body: dict[str, Any], times: int = 1
    ) -> None:
        """Answer the next `times` requests matching `method` and the `path` regex so."""
        self.failures.append(Failure(method, path, status, body, times))

    def writes(self) -> list[Request]:
        """Every request that is not a GET."""
        return [r for r in self.requests if r.method != "GET"]

    # ---- routing --------------------------------------------------------------------------

    def answer(self, request: Request) -> tuple[int, dict[str, Any] | None]:
        if request.method != "GET" and request.headers.get("kbn-xsrf") is None:
            return 400, fixture("xsrf_missing_400.json")
        if not self._authorised(request.headers.get("authorization")):
            return 401, fixture("unauthorized_401.json")
        parts = urlsplit(request.path)
        path = parts.path
        space_name = "default"
        match = re.match(r"^/s/([a-z0-9_-]+)(/.*)$", path)
        if match:
            space_name, path = match.group(1), match.group(2)
        for failure in self.failures:
            matches = failure.method == request.method and re.fullmatch(failure.path, path)
            if failure.times > 0 and matches:
                failure.times -= 1
                return failure.status, failure.body
        space = self.space(space_name)
        query = parse_qs(parts.query)
        if path.startswith("/api/data_views/"):
            return self._data_views(request, path, space)
        if path.startswith("/api/saved_objects/"):
            return self._saved_objects(request, path, query, space)
        if path.startswith("/api/agent_builder/"):
            if self.agent_builder == "absent":
                return 404, fixture("route_not_found_404.json")
            if self.agent_builder == "unlicensed":
                return 403, fixture("agent_builder_license_403.json")
            return self._tools(request, path, space)
        return 404, fixture("route_not_found_404.json")

    def _authorised(self, header: str | None) -> bool:
        if self.api_key is None and self.basic is None:
            return True
        if self.api_key is not None and header == f"ApiKey {self.api_key}":
            return True
        if self.basic is not None and header is not None and header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return (user, password) == self.basic
        return False

    # ---- data views -----------------------------------------------------------------------

    def _data_views(
        self, request: Request, path: str, space: Space
    ) -> tuple[int, dict[str, Any] | None]:
        match = re.fullmatch(r"/api/data_views/data_view(?:/([^/]+))?", path)
        if match is None:
            return 404, fixture("route_not_found_404.json")
        ident = unquote(match.group(1)) if match.group(1) else None
        if ident is None and request.method == "POST":
            body = request.json()
            view = body.get("data_view") or {}
            if not isinstance(view.get("title"), str):
                return 400, fixture("data_view_bad_request_400.json")
            new_id = view.get("id") or f"generated-{len(space.data_views) + 1}"
            if new_id in space.data_views:
                message = f"Saved object [index-pattern/{new_id}] conflict"
                return 409, {"statusCode": 409, "error": "Conflict", "message": message}
            stored = {**view, "id": new_id}
            space.data_views[new_id] = stored
            return 200, {"data_view": copy.deepcopy(stored)}
        if ident is None:
            return 404, fixture("route_not_found_404.json")
        if ident not in space.data_views:
            return 404, _not_found("index-pattern", ident)
        if request.method == "GET":
            return 200, {"data_view": copy.deepcopy(space.data_views[ident])}
        if request.method == "POST":
            space.data_views[ident].update(request.json().get("data_view") or {})
            return 200, {"data_view": copy.deepcopy(space.data_views[ident])}
        if request.method == "DELETE":
            del space.data_views[ident]
            return 200, None
        return 404, fixture("route_not_found_404.json")

    # ---- saved objects --------------------------------------------------------------------

    def _saved_objects(
        self, request: Request, path: str, query: dict[str, list[str]], space: Space
    ) -> tuple[int, dict[str, Any] | None]:
        if path == "/api/saved_objects/_import" and request.method == "POST":
            return self._import(request, query, space)
        match = re.fullmatch(r"/api/saved_objects/([^/]+)/([^/]+)", path)
        if match is None:
            return 404, fixture("route_not_found_404.json")
        key = (unquote(match.group(1)), unquote(match.group(2)))
        if key[0] == "index-pattern":
            present = key[1] in space.data_views
        else:
            present = key in space.saved_objects
        if not present:
            return 404, _not_found(*key)
        if request.method == "GET":
            if key[0] == "index-pattern":
                return 200, {"type": key[0], "id": key[1], "attributes": {}}
            return 200, copy.deepcopy(space.saved_objects[key])
        if request.method == "DELETE":
            if key[0] == "index-pattern":
                del space.data_views[key[1]]
            else:
                del space.saved_objects[key]
            return 200, {}
        return 404, fixture("route_not_found_404.json")

    def _import(
        self, request: Request, query: dict[str, list[str]], space: Space
    ) -> tuple[int, dict[str, Any] | None]:
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            return 415, {
                "statusCode": 415,
                "error": "Unsupported Media Type",
                "message": "Unsupported Media Type",
            }
        raw = f"Content-Type: {content_type}\r\n\r\n".encode() + request.body
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
        file_part = None
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == "file":
                file_part = part
        if file_part is None:
            return 400, {
                "statusCode": 400,
                "error": "Bad Request",
                "message": "[request body.file]: expected value of type [Stream] but got "
                "[undefined]",
            }
        payload = file_part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        objects = [json.loads(line) for line in payload.decode().splitlines() if line.strip()]
        overwrite = query.get("overwrite") == ["true"]
        in_file = {(o["type"], o["id"]) for o in objects}
        errors: list[dict[str, Any]] = []
        results: list[dict[str, Any]] = []
        for obj in objects:
            key = (obj["type"], obj["id"])
            title = obj["attributes"].get("title", obj["id"])
            missing = [
                {"type": ref["type"], "id": ref["id"]}
                for ref in obj.get("references", [])
                if not (
                    (ref["type"] == "index-pattern" and ref["id"] in space.data_views)
                    or (ref["type"], ref["id"]) in in_file
                    or (ref["type"], ref["id"]) in space.saved_objects
                )
            ]
            base = {"type": obj["type"], "id": obj["id"], "meta": {"title": title}}
            if missing:
                errors.append(
                    {
                        **base,
                        "title": title,
                        "error": {"type": "missing_references", "references": missing},
                    }
                )
                continue
            existed = key in space.saved_objects
            if existed and not overwrite:
                errors.append({**base, "title": title, "error": {"type": "conflict"}})
                continue
            space.saved_objects[key] = copy.deepcopy(obj)
            results.append({**base, **({"overwrite": True} if existed else {})})
        answer: dict[str, Any] = {
            "success": not errors,
            "successCount": len(results),
            "successResults": results,
        }
        if errors:
            answer["errors"] = errors
        return 200, answer

    # ---- Agent Builder tools --------------------------------------------------------------

    def _tools(
        self, request: Request, path: str, space: Space
    ) -> tuple[int, dict[str, Any] | None]:
        match = re.fullmatch(r"/api/agent_builder/tools(?:/([^/]+))?", path)
        if match is None:
            return 404, fixture("route_not_found_404.json")
        ident = unquote(match.group(1)) if match.group(1) else None
        if ident is None and request.method == "GET":
            listing = fixture("agent_builder_tools.json")
            listing["results"] += [copy.deepcopy(t) for t in space.tools.values()]
            return 200, listing
        if ident is None and request.method == "POST":
            body = request.json()
            if body.get("id") in space.tools:
                message = f"Tool with id '{body.get('id')}' already exists"
                return 409, {"statusCode": 409, "error": "Conflict", "message": message}
            problem = _tool_problem(body)
            if problem:
                return 400, {"statusCode": 400, "error": "Bad Request", "message": problem}
            space.tools[body["id"]] = {**body, "readonly": False}
            return 200, copy.deepcopy(space.tools[body["id"]])
        if ident is None or ident not in space.tools:
            message = f"Tool {ident} not found"
            return 404, {"statusCode": 404, "error": "Not Found", "message": message}
        if request.method == "GET":
            return 200, copy.deepcopy(space.tools[ident])
        if request.method == "PUT":
            body = request.json()
            updated = {**space.tools[ident], **body}
            problem = _tool_problem(updated)
            if problem:
                return 400, {"statusCode": 400, "error": "Bad Request", "message": problem}
            space.tools[ident] = updated
            return 200, copy.deepcopy(updated)
        if request.method == "DELETE":
            del space.tools[ident]
            return 200, {"success": True}
        return 404, fixture("route_not_found_404.json")


_PARAM_TYPES = {
    "text",
    "keyword",
    "long",
    "integer",
    "double",
    "float",
    "boolean",
    "date",
    "object",
    "nested",
}


def _tool_problem(body: dict[str, Any]) -> str | None:
    """What Kibana would reject in an ES|QL tool definition, if anything."""
    if body.get("type") != "esql":
        return f"[request body.type]: unknown tool type {body.get('type')!r}"
    configuration = body.get("configuration") or {}
    query = configuration.get("query")
    params = configuration.get("params") or {}
    if not isinstance(query, str) or not query:
        return "[request body.configuration.query]: expected value of type [string]"
    for name, spec in params.items():
        if spec.get("type") not in _PARAM_TYPES:
            return f"[request body.configuration.params.{name}.type]: invalid type"
        if not spec.get("description"):
            return f"[request body.configuration.params.{name}.description]: required"
    used = set(_PARAM.findall(query))
    if used - set(params):
        return f"Query uses undefined parameters: {', '.join(sorted(used - set(params)))}"
    if set(params) - used:
        return f"Parameters defined but not used: {', '.join(sorted(set(params) - used))}"
    return None


@contextmanager
def fake_kibana(**options: Any) -> Iterator[FakeKibana]:
    """Run a `FakeKibana` for the duration of a `with` block."""
    server = FakeKibana(**options)
    server.start()
    try:
        yield server
    finally:
        server.stop()
