"""A local HTTP server that answers like Elasticsearch and records what the client sent."""

from __future__ import annotations

import contextlib
import enum
import fnmatch
import json
import re
import socket
import ssl
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "elasticsearch"

_BUILD_HASH = "25d88452371273dd27356c98598287b669a03eae"


def load_fixture(name: str) -> Any:
    """The parsed JSON of `fixtures/elasticsearch/<name>`."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def encode_warning(text: str, *, version: str) -> str:
    """One `Warning` header value as Elasticsearch writes it (escaped, percent-encoded)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    # Printable ASCII except `%` stays as is; everything else is percent-encoded (UTF-8).
    safe = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")
    return f'299 Elasticsearch-{version}-{_BUILD_HASH} "{quote(escaped, safe=safe)}"'


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received.

    Attributes:
        method: the HTTP method.
        path: the path, percent-decoded, without the query string.
        query: the query-string parameters.
        headers: the headers, names lower-cased.
        body: parsed JSON, a list of parsed lines for NDJSON, or None without a body.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


class Fault(enum.Enum):
    """How the server misbehaves while a fault is switched on (`FakeElasticsearch.fail`)."""

    #: Close the connection after reading the request, before doing anything with it.
    DROP = "drop"
    #: Do the request (a write lands), then close the connection without answering: the
    #: client cannot tell whether it landed.
    DROP_AFTER_WRITE = "drop after write"
    #: 429 `es_rejected_execution_exception`, as a node whose write queue is full answers.
    TOO_MANY_REQUESTS = "429"
    #: 503 `cluster_block_exception` (no master: the cluster is not ready to serve).
    UNAVAILABLE = "503"
    #: Read the request and answer nothing until `recover()` (then close the connection).
    HANG = "hang"


#: Elasticsearch's error bodies for the status-code faults. The 429 is what a node answers
#: when its thread pool queue is full (`EsRejectedExecutionException`, mapped to
#: TOO_MANY_REQUESTS); the 503 is the global block a cluster without an elected master puts on
#: every request (`ClusterBlockException` with `NoMasterBlockService`'s block, retryable,
#: mapped to SERVICE_UNAVAILABLE). Elasticsearch sends no `Retry-After` with either; a proxy
#: in front of it may, which `fail(..., retry_after_s=...)` adds.
_FAULT_BODIES: dict[Fault, tuple[int, dict[str, Any]]] = {
    Fault.TOO_MANY_REQUESTS: (
        429,
        {
            "type": "es_rejected_execution_exception",
            "reason": "rejected execution of coordinating operation [coordinating_and_primary_"
            "bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes=108, "
            "max_coordinating_and_primary_bytes=107374182]",
        },
    ),
    Fault.UNAVAILABLE: (
        503,
        {
            "type": "cluster_block_exception",
            "reason": "blocked by: [SERVICE_UNAVAILABLE/2/no master];",
        },
    ),
}


@dataclass
class _Scripted:
    method: str
    path: str
    status: int
    body: Any
    headers: list[tuple[str, str]] = field(default_factory=list)


class FakeElasticsearch:
    """Elasticsearch's REST surface as far as QuantumState uses it, on 127.0.0.1.

    Answers come from the JSON fixtures (root info, health, licence, templates, bulk, errors);
    `script()` queues a specific answer for the next matching request. With `engine=True`,
    `POST /_query` is answered by an `EmbeddedStore` holding every document received through
    `_bulk` and `_doc`, and engine errors come back as ES's 400 error bodies.
    """

    def __init__(
        self,
        *,
        root_fixture: str = "root_info.json",
        require_authorization: str | None = None,
        engine: bool = False,
        tls_files: tuple[Path, Path] | None = None,
        product_header: bool = True,
        version: str | None = None,
    ) -> None:
        """Prepare the server (call `start()` or use it as a context manager).

        Args:
            root_fixture: the `GET /` answer (`root_info.json` is 9.2.0, `root_info_8_19.json`
                is 8.19.6); its version decides which media types are accepted, as in
                Elasticsearch: `compatible-with` the major or the one before, or none.
            require_authorization: when set, any other `Authorization` header gets a 401.
            engine: answer `POST /_query` with the embedded engine over the received data.
            tls_files: a certificate and its key (PEM) to serve HTTPS instead of HTTP.
            product_header: send `X-Elastic-Product: Elasticsearch` (off: some other server).
            version: replaces the fixture's `version.number` (e.g. a 7.x or 10.x server).
        """
        self.product_header = product_header
        self.root_info: dict[str, Any] = load_fixture(root_fixture)
        if version is not None:
            self.root_info["version"]["number"] = version
        self.version: str = self.root_info["version"]["number"]
        self.major = int(self.version.split(".")[0])
        self.require_authorization = require_authorization
        self.requests: list[RecordedRequest] = []
        self.documents: dict[str, list[dict[str, Any]]] = {}
        #: Every document held, by index and then by `_id` (one entry per id, as in ES).
        self.documents_by_id: dict[str, dict[str, dict[str, Any]]] = {}
        #: Requests answered with a fault (dropped, 429, 503 or hung) since the start.
        self.faulted = 0
        self._fault: Fault | None = None
        self._fault_paths: re.Pattern[str] | None = None
        self._retry_after_s: float | None = None
        self._released = threading.Event()
        self._hanging = 0
        self._fault_changed = threading.Condition()
        self.templates: dict[str, dict[str, Any]] = {}
        self.indices: set[str] = set()
        #: The mapping of every concrete index (a data stream's backing indices by their
        #: `.ds-` names), as `GET <target>/_mapping` answers and `PUT <target>/_mapping` adds to.
        self.mappings: dict[str, dict[str, Any]] = {}
        #: Each data stream's backing indices, oldest first.
        self.backing_indices: dict[str, list[str]] = {}
        #: The `_field_caps` answer over every index (`load_fixture("field_caps_….json")`).
        self.field_caps: dict[str, Any] = {"indices": [], "fields": {}}
        self._scripted: deque[_Scripted] = deque()
        self._lock = threading.Lock()
        self._next_id = 0
        self._engine: Any = None
        if engine:
            from qs_tui.store.embedded import EmbeddedStore

            self._engine = EmbeddedStore()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._scheme = "http"
        if tls_files is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certfile=tls_files[0], keyfile=tls_files[1])
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self._scheme = "https"
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>` (or `https://` when serving TLS)."""
        host, port = self._server.server_address[:2]
        return f"{self._scheme}://{host!s}:{port}"

    def start(self) -> FakeElasticsearch:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port (hung requests are let go first)."""
        self.recover()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        if self._engine is not None:
            self._engine.close()

    def __enter__(self) -> FakeElasticsearch:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- scripting and inspection -----------------------------------------------------------

    def script(
        self,
        method: str,
        path: str,
        *,
        status: int = 200,
        body: Any = None,
        fixture: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        """Answer the next `method path` request with this status, body (or fixture) and headers.

        `headers` is a list so that a header can repeat, as `Warning` does.
        """
        if fixture is not None:
            body = load_fixture(fixture)
        self._scripted.append(_Scripted(method, path, status, body, list(headers or [])))

    def fail(
        self,
        fault: Fault,
        *,
        paths: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        """Switch `fault` on for every request from now on (until `recover()`).

        Args:
            fault: how to misbehave.
            paths: a regex the request path must match fully to be faulted (default: all).
            retry_after_s: send `Retry-After` with a 429 or 503 (whole seconds).
        """
        with self._fault_changed:
            self._released.clear()
            self._fault = fault
            self._fault_paths = re.compile(paths) if paths is not None else None
            self._retry_after_s = retry_after_s

    def recover(self) -> None:
        """Answer normally again; requests hanging now are let go (their connection closes)."""
        with self._fault_changed:
            self._fault = None
            self._fault_paths = None
            self._released.set()

    @property
    def fault(self) -> Fault | None:
        """The fault switched on, or None."""
        return self._fault

    @property
    def hanging(self) -> int:
        """Requests held by `Fault.HANG` right now."""
        with self._fault_changed:
            return self._hanging

    def wait_hanging(self, count: int = 1, *, timeout: float | None = None) -> bool:
        """Block until at least `count` requests hang (True), or `timeout` passes (False)."""
        with self._fault_changed:
            return self._fault_changed.wait_for(lambda: self._hanging >= count, timeout)

    def create_with_mapping(
        self, name: str, mapping: dict[str, Any], *, data_stream: bool = False
    ) -> None:
        """Hold `name` already, mapped with `mapping` (an index an older version created):
        the engine's index gets that mapping too, so queries see only its fields."""
        with self._lock:
            self.indices.add(name)
            self.documents.setdefault(name, [])
            self._record_mapping(name, mapping, data_stream=data_stream)
            if self._engine is not None:
                self._engine.create_index(name, mapping, data_stream=data_stream)

    def ids_in(self, index: str) -> list[str]:
        """The `_id`s `index` holds (each once: ES keeps one document per id)."""
        with self._lock:
            return list(self.documents_by_id.get(index, {}))

    def requests_to(self, method: str, path_pattern: str) -> list[RecordedRequest]:
        """The recorded requests with this method whose path matches the regex fully."""
        pattern = re.compile(path_pattern)
        return [r for r in self.requests if r.method == method and pattern.fullmatch(r.path)]

    def media_type_error(
        self, headers: dict[str, str], *, has_content: bool
    ) -> dict[str, Any] | None:
        """The 400 body this server gives for these `Accept`/`Content-Type` headers, or None.

        Follows Elasticsearch's `RestCompatibleVersionHelper.getCompatibleVersion`: a header
        without `compatible-with` means the server's own major; `Accept` must name the major
        or the one before; with a body, so must `Content-Type`, both must name the same
        major, and either both carry `compatible-with` or neither does. The refusal is a
        `media_type_header_exception` caused by a `status_exception` with ES's text.
        """
        accept = headers.get("accept", "")
        content_type = headers.get("content-type", "")
        accept_asked, content_asked = _compatible_with(accept), _compatible_with(content_type)
        accept_version = self.major if accept_asked is None else accept_asked
        content_version = self.major if content_asked is None else content_asked
        oldest = self.major - 1
        reason = ""
        if not oldest <= accept_version <= self.major:
            reason = (
                f"Accept version must be either version {self.major} or {oldest}, "
                f"but found {accept_version}. Accept={accept}"
            )
        elif has_content and not oldest <= content_version <= self.major:
            reason = (
                f"Content-Type version must be either version {self.major} or {oldest}, "
                f"but found {content_version}. Content-Type={content_type}"
            )
        elif has_content and content_version != accept_version:
            reason = (
                "A compatible version is required on both Content-Type and Accept headers if "
                "either one has requested a compatible version and the compatible versions "
                f"must match. Accept={accept}, Content-Type={content_type}"
            )
        elif has_content and (accept_asked is None) != (content_asked is None):
            reason = (
                "A compatible version is required on both Content-Type and Accept headers if "
                "either one has requested a compatible version. "
                f"Accept={accept}, Content-Type={content_type}"
            )
        if not reason:
            return None
        wrapper = {
            "type": "media_type_header_exception",
            "reason": "Invalid media-type value on headers [Accept, Content-Type]",
        }
        cause = {"type": "status_exception", "reason": reason}
        return {"error": {"root_cause": [wrapper], **wrapper, "caused_by": cause}, "status": 400}

    # -- request handling -------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body are written separately: with Nagle's algorithm on, the body
            # waits for the client's delayed ACK (~40 ms a request on Linux), turning a run
            # of a few hundred requests into many seconds of waiting.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                # Quiet: test output should show assertions, not an access log.
                return

            def _serve(self) -> None:
                fake._serve(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

        return Handler

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        parts = urlsplit(handler.path)
        headers = {name.lower(): value for name, value in handler.headers.items()}
        content_type = headers.get("content-type", "")
        body: Any = None
        if raw:
            text = raw.decode("utf-8")
            if "ndjson" in content_type:
                body = [json.loads(line) for line in text.splitlines() if line.strip()]
            else:
                body = json.loads(text)
        request = RecordedRequest(
            method=handler.command,
            path=unquote(parts.path),
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers=headers,
            body=body,
        )
        fault = self._fault_for(request)
        with self._lock:
            self.requests.append(request)
            if fault is not None:
                self.faulted += 1
            if fault in (None, Fault.DROP_AFTER_WRITE):
                status, answer, extra = self._answer(request)
        if fault is None:
            self._write(handler, request, status, answer, extra)
        elif fault in _FAULT_BODIES:
            status, error = _FAULT_BODIES[fault]
            body = {"error": {"root_cause": [error], **error}, "status": status}
            headers = []
            if self._retry_after_s is not None:
                headers.append(("Retry-After", f"{self._retry_after_s:g}"))
            self._write(handler, request, status, body, headers)
        else:
            if fault is Fault.HANG:
                with self._fault_changed:
                    self._hanging += 1
                    self._fault_changed.notify_all()
                self._released.wait()
                with self._fault_changed:
                    self._hanging -= 1
            self._drop(handler)

    def _fault_for(self, request: RecordedRequest) -> Fault | None:
        fault, paths = self._fault, self._fault_paths
        if fault is None or (paths is not None and not paths.fullmatch(request.path)):
            return None
        return fault

    @staticmethod
    def _drop(handler: BaseHTTPRequestHandler) -> None:
        """Close the connection without a byte of answer (what a crashed node looks like)."""
        handler.close_connection = True
        # The client may already have gone away (it timed out while this request hung).
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)

    def _write(
        self,
        handler: BaseHTTPRequestHandler,
        request: RecordedRequest,
        status: int,
        answer: Any,
        extra: list[tuple[str, str]],
    ) -> None:
        payload = b"" if answer is None else json.dumps(answer).encode("utf-8")
        accept = request.headers.get("accept", "")
        match = re.search(r"compatible-with=(\d+)", accept)
        # Elasticsearch answers in the media type the client asked for, when it accepts it.
        if match and self.media_type_error({"accept": accept}, has_content=False) is None:
            content_type = f"application/vnd.elasticsearch+json;compatible-with={match.group(1)}"
        else:
            content_type = "application/json"
        handler.send_response(status)
        if self.product_header:
            handler.send_header("X-Elastic-Product", "Elasticsearch")
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload)))
        for name, value in extra:
            handler.send_header(name, value)
        handler.end_headers()
        if request.method != "HEAD":
            handler.wfile.write(payload)

    def _answer(self, request: RecordedRequest) -> tuple[int, Any, list[tuple[str, str]]]:
        authorization = request.headers.get("authorization")
        if self.require_authorization is not None and authorization != self.require_authorization:
            header = [("WWW-Authenticate", 'ApiKey, Basic realm="security"')]
            return 401, load_fixture("error_security_401.json"), header
        refused = self.media_type_error(request.headers, has_content=request.body is not None)
        if refused is not None:
            return 400, refused, []
        for scripted in self._scripted:
            if scripted.method == request.method and scripted.path == request.path:
                self._scripted.remove(scripted)
                return scripted.status, scripted.body, list(scripted.headers)
        return self._route(request)

    def _route(self, request: RecordedRequest) -> tuple[int, Any, list[tuple[str, str]]]:
        method, path = request.method, request.path
        segments = [s for s in path.split("/") if s]
        if path == "/" and method in ("GET", "HEAD"):
            return 200, (None if method == "HEAD" else self.root_info), []
        if path == "/_cluster/health":
            return 200, load_fixture("cluster_health.json"), []
        if path == "/_license":
            return 200, load_fixture("license.json"), []
        if segments[:1] == ["_index_template"]:
            return self._index_template(method, segments[1] if len(segments) > 1 else None, request)
        if segments[:1] == ["_data_stream"] and method == "PUT" and len(segments) == 2:
            return self._create(segments[1])
        if segments[-1:] == ["_bulk"] and method in ("POST", "PUT"):
            default_index = segments[0] if len(segments) == 2 else None
            return 200, self._bulk(request.body or [], default_index), []
        if path == "/_query" and method == "POST":
            return self._query(request.body or {})
        if len(segments) == 1 and method == "PUT" and not segments[0].startswith("_"):
            return self._create(segments[0], (request.body or {}).get("mappings"))
        if len(segments) >= 2 and segments[1] in ("_doc", "_create") and method in ("PUT", "POST"):
            doc_id = segments[2] if len(segments) > 2 else None
            create = segments[1] == "_create" or request.query.get("op_type") == "create"
            status, answer = self._index_one(segments[0], request.body or {}, doc_id, create=create)
            return status, answer, []
        if segments[-1:] == ["_refresh"]:
            if self._engine is not None:
                self._engine.refresh()
            return 200, load_fixture("refresh.json"), []
        if len(segments) == 2 and segments[1] == "_count":
            return self._count(segments[0])
        if len(segments) == 2 and segments[1] == "_mapping" and method in ("GET", "PUT", "POST"):
            if method == "GET":
                return self._get_mapping(segments[0])
            return self._put_mapping(segments[0], request.body or {})
        if segments[-1:] == ["_field_caps"] and method in ("GET", "POST"):
            return self._field_caps(segments[0] if len(segments) == 2 else "*", request)
        reason = f"no handler found for uri [{path}] and method [{method}]"
        return 400, {"error": reason}, []

    def _index_template(
        self, method: str, name: str | None, request: RecordedRequest
    ) -> tuple[int, Any, list[tuple[str, str]]]:
        if method == "PUT" and name is not None:
            self.templates[name] = request.body
            if self._engine is not None:
                # The engine's indices stand for the ones the cluster would create from the
                # templates; like Elasticsearch, a template never changes an existing index.
                from qs_tui.store.templates import INDICES

                for spec in INDICES:
                    if spec.name not in self._engine.indices():
                        self._engine.create_index(
                            spec.name, spec.mapping(), data_stream=spec.data_stream
                        )
            return 200, load_fixture("acknowledged.json"), []
        templates = list(load_fixture("builtin_index_templates.json")["index_templates"])
        templates += [{"name": n, "index_template": b} for n, b in self.templates.items()]
        if name is not None:
            templates = [t for t in templates if t["name"] == name]
            if not templates:
                reason = f"index template matching [{name}] not found"
                body = _error_body("resource_not_found_exception", reason) | {"status": 404}
                return 404, body, []
        return 200, {"index_templates": templates}, []

    def _create(
        self, name: str, mappings: dict[str, Any] | None = None
    ) -> tuple[int, Any, list[tuple[str, str]]]:
        if name in self.indices:
            body = load_fixture("error_resource_already_exists.json")
            reason = f"index [{name}/Yq6Ih3MZRxaX1rH0YkT3nA] already exists"
            body["error"]["reason"] = body["error"]["root_cause"][0]["reason"] = reason
            return 400, body, []
        self.indices.add(name)
        self.documents.setdefault(name, [])
        template = self._template_for(name)
        if template is not None:
            # Elasticsearch maps a new index from the highest-priority matching template.
            self._record_mapping(
                name,
                (template.get("template") or {}).get("mappings") or {},
                data_stream="data_stream" in template,
            )
        else:
            self._record_mapping(name, mappings or {}, data_stream=False)
        if self._engine is not None:
            from qs_tui.store.templates import spec_for

            # Like Elasticsearch applying the matching template to the new index.
            spec = spec_for(name)
            if spec is not None and name not in self._engine.indices():
                self._engine.create_index(name, spec.mapping(), data_stream=spec.data_stream)
            elif mappings is not None and name not in self._engine.indices():
                # `PUT /<index>` with a `mappings` body, as for data shaped by someone else.
                self._engine.create_index(name, mappings)
        return 200, load_fixture("create_index.json") | {"index": name}, []

    def _template_for(self, name: str) -> dict[str, Any] | None:
        """The installed template with the highest priority whose patterns match `name`."""
        matching = [
            body
            for body in self.templates.values()
            if any(fnmatch.fnmatchcase(name, p) for p in body.get("index_patterns", []))
        ]
        return max(matching, key=lambda body: body.get("priority", 0), default=None)

    def _record_mapping(self, name: str, mapping: dict[str, Any], *, data_stream: bool) -> None:
        concrete = name
        if data_stream:
            # Backing indices are named `.ds-<data-stream>-<yyyy.MM.dd>-<generation>`.
            concrete = f".ds-{name}-2026.12.01-000001"
            self.backing_indices[name] = [concrete]
        self.mappings[concrete] = json.loads(json.dumps(mapping))

    def _concrete(self, target: str) -> list[str]:
        created = target in self.indices
        if created and target not in self.mappings and target not in self.backing_indices:
            # Created by a first write: mapped from its template, as ES auto-creates.
            template = self._template_for(target) or {}
            self._record_mapping(
                target,
                (template.get("template") or {}).get("mappings") or {},
                data_stream="data_stream" in template,
            )
        if target in self.backing_indices:
            return list(self.backing_indices[target])
        return [target] if target in self.mappings else []

    def _index_missing(self, target: str) -> tuple[int, Any, list[tuple[str, str]]]:
        body = load_fixture("error_index_not_found.json")
        reason = f"no such index [{target}]"
        body["error"]["reason"] = body["error"]["root_cause"][0]["reason"] = reason
        return 404, body, []

    def _get_mapping(self, target: str) -> tuple[int, Any, list[tuple[str, str]]]:
        """`GET <target>/_mapping`: `{<concrete index>: {"mappings": {...}}}` per index."""
        concrete = self._concrete(target)
        if not concrete:
            return self._index_missing(target)
        return 200, {name: {"mappings": self.mappings[name]} for name in concrete}, []

    def _put_mapping(
        self, target: str, body: dict[str, Any]
    ) -> tuple[int, Any, list[tuple[str, str]]]:
        """`PUT <target>/_mapping`: add fields to every concrete index of `target`.

        As Elasticsearch, a field already mapped with another type refuses the whole request
        with a 400 `illegal_argument_exception` ("mapper [f] cannot be changed from type [a]
        to [b]"), and nothing is changed.
        """
        concrete = self._concrete(target)
        if not concrete:
            return self._index_missing(target)
        properties = body.get("properties") or {}
        for name in concrete:
            have = self.mappings[name].get("properties") or {}
            for field_name, definition in properties.items():
                old = have.get(field_name)
                if old is not None and old.get("type", "object") != definition.get("type"):
                    reason = (
                        f"mapper [{field_name}] cannot be changed from type "
                        f"[{old.get('type', 'object')}] to [{definition.get('type')}]"
                    )
                    return 400, _error_body("illegal_argument_exception", reason), []
        for name in concrete:
            self.mappings[name].setdefault("properties", {}).update(
                json.loads(json.dumps(properties))
            )
        if self._engine is not None and target in self._engine.indices():
            self._engine.put_mapping(target, properties)
        return 200, load_fixture("acknowledged.json"), []

    def _new_id(self) -> str:
        self._next_id += 1
        return f"doc-{self._next_id:06d}"

    def _bulk(self, lines: list[Any], default_index: str | None) -> dict[str, Any]:
        operations: list[tuple[str, str, str, Any]] = []
        position = 0
        while position < len(lines):
            op_type, meta = next(iter(lines[position].items()))
            document = lines[position + 1] if op_type != "delete" else None
            position += 2 if document is not None else 1
            index = meta.get("_index", default_index)
            if document is not None and "_id" in meta:
                # The engine takes a document's id as its `_id` key.
                document = {**document, "_id": meta["_id"]}
            operations.append((op_type, index, meta.get("_id") or self._new_id(), document))
        # A `create` of an id the index already holds is a 409 for that item, as in ES (the
        # engine never sees it).
        held = {
            number
            for number, (op_type, index, doc_id, _doc) in enumerate(operations)
            if op_type == "create" and doc_id in self.documents_by_id.get(index, {})
        }
        rejected = self._engine_bulk([op for n, op in enumerate(operations) if n not in held])
        kept = [n for n in range(len(operations)) if n not in held]
        rejected = {kept[position]: message for position, message in rejected.items()}
        items = []
        for number, (op_type, index, doc_id, document) in enumerate(operations):
            if number in held:
                conflict = _version_conflict(index, doc_id)["error"]
                items.append(
                    {op_type: {"_index": index, "_id": doc_id, "status": 409, "error": conflict}}
                )
                continue
            if number in rejected:
                error = {"type": "document_parsing_exception", "reason": rejected[number]}
                items.append(
                    {op_type: {"_index": index, "_id": doc_id, "status": 400, "error": error}}
                )
                continue
            if document is not None:
                self.documents.setdefault(index, []).append(document)
                self.documents_by_id.setdefault(index, {})[doc_id] = document
                self.indices.add(index)
            shards = {"total": 1, "successful": 1, "failed": 0}
            items.append(
                {
                    op_type: {
                        "_index": index,
                        "_id": doc_id,
                        "_version": 1,
                        "result": "created",
                        "_shards": shards,
                        "_seq_no": number,
                        "_primary_term": 1,
                        "status": 201,
                    }
                }
            )
        return {"errors": bool(rejected or held), "took": 3, "items": items}

    def _engine_bulk(self, operations: list[tuple[str, str, str, Any]]) -> dict[int, str]:
        """Write the operations' documents to the engine; the rejected ones by position."""
        if self._engine is None:
            return {}
        by_index: dict[str, list[int]] = {}
        for number, (_op, index, _id, document) in enumerate(operations):
            if document is not None:
                by_index.setdefault(index, []).append(number)
        rejected: dict[int, str] = {}
        for index, numbers in by_index.items():
            documents = [operations[n][3] for n in numbers]
            _written, errors = self._engine.bulk_detailed(index, documents)
            for position, message in errors:
                rejected[numbers[position]] = message
        return rejected

    def _index_one(
        self, index: str, document: dict[str, Any], doc_id: str | None, *, create: bool = False
    ) -> tuple[int, Any]:
        if create and doc_id is not None and doc_id in self.documents_by_id.get(index, {}):
            return 409, _version_conflict(index, doc_id)
        doc_id = doc_id or self._new_id()
        if self._engine is not None:
            from qs_tui.store.base import StoreError

            try:
                self._engine.index(index, document, doc_id=doc_id)
            except StoreError as error:
                return 400, _error_body("document_parsing_exception", error.message)
        self.documents.setdefault(index, []).append(document)
        self.documents_by_id.setdefault(index, {})[doc_id] = document
        self.indices.add(index)
        return 201, load_fixture("index_document.json") | {"_index": index, "_id": doc_id}

    def _field_caps(
        self, target: str, request: RecordedRequest
    ) -> tuple[int, Any, list[tuple[str, str]]]:
        """`<target>/_field_caps` from `self.field_caps` (a full answer over every index).

        Shaped as Elasticsearch documents it: only the matched indices, only the requested
        fields mapped in one of them, and per type an `indices` list only when the field's
        types differ between them. Fields come from the query string or the body (the
        Python client sends them in the body).
        """
        body = request.body if isinstance(request.body, dict) else {}
        wanted = body.get("fields") or request.query.get("fields", "*").split(",")
        patterns = target.split(",")
        indices = [
            name
            for name in self.field_caps.get("indices", [])
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)
        ]
        fields: dict[str, Any] = {}
        for name, by_type in self.field_caps.get("fields", {}).items():
            if not any(fnmatch.fnmatchcase(name, pattern) for pattern in wanted):
                continue
            kept = {}
            for kind, caps in by_type.items():
                where = [i for i in caps.get("indices", self.field_caps["indices"]) if i in indices]
                if where:
                    kept[kind] = {**caps, "indices": where}
            if len(kept) == 1:
                next(iter(kept.values())).pop("indices")
            if kept:
                fields[name] = kept
        return 200, {"indices": indices, "fields": fields}, []

    def _count(self, index: str) -> tuple[int, Any, list[tuple[str, str]]]:
        if index not in self.indices:
            body = load_fixture("error_index_not_found.json")
            reason = f"no such index [{index}]"
            body["error"]["reason"] = body["error"]["root_cause"][0]["reason"] = reason
            return 404, body, []
        shards = {"total": 1, "successful": 1, "skipped": 0, "failed": 0}
        return 200, {"count": len(self.documents.get(index, [])), "_shards": shards}, []

    def _query(self, body: dict[str, Any]) -> tuple[int, Any, list[tuple[str, str]]]:
        if self._engine is None:
            return 200, load_fixture("esql_response.json"), []
        from qs_tui.esql.errors import EsqlError, EsqlSyntaxError
        from qs_tui.store.base import StoreError

        wire = body.get("params")
        params: Any = None
        if wire is not None:
            named = bool(wire) and all(isinstance(p, dict) and len(p) == 1 for p in wire)
            params = {k: v for p in wire for k, v in p.items()} if named else list(wire)
        try:
            result = self._engine.esql(body["query"], params=params)
        except EsqlError as error:
            kind = "parsing_exception" if isinstance(error, EsqlSyntaxError) else None
            located = (
                f"line {error.line}:{error.column}: {error.message}"
                if error.line is not None and error.column is not None
                else error.message
            )
            if kind is None:
                kind, located = "verification_exception", f"Found 1 problem\n{located}"
            return 400, _error_body(kind, located), []
        except StoreError as error:
            return 400, _error_body("verification_exception", str(error)), []
        headers = [("Warning", encode_warning(w, version=self.version)) for w in result.warnings]
        answer = {"took": 2, "is_partial": False} | result.to_body()
        return 200, answer, headers


def _compatible_with(media_type: str) -> int | None:
    """The major a media type's `compatible-with` parameter names, or None without one."""
    match = re.search(r"compatible-with=(\d+)", media_type)
    return int(match.group(1)) if match else None


def _version_conflict(index: str, doc_id: str) -> dict[str, Any]:
    """ES's 409 body for a `create` whose id is taken."""
    cause = {
        "type": "version_conflict_engine_exception",
        "reason": f"[{doc_id}]: version conflict, document already exists (current version [1])",
        "index_uuid": "Yq6Ih3MZRxaX1rH0YkT3nA",
        "shard": "0",
        "index": index,
    }
    return {"error": {"root_cause": [cause], **cause}, "status": 409}


def _error_body(error_type: str, reason: str) -> dict[str, Any]:
    cause = {"type": error_type, "reason": reason}
    return {"error": {"root_cause": [cause], **cause}, "status": 400}
