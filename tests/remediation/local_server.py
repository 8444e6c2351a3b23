"""A real HTTP server on 127.0.0.1 that answers from a script and records what it was sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.loopback import LoopbackServer


@dataclass(frozen=True)
class Reply:
    """One scripted answer: status, body (JSON-encoded unless bytes) and headers."""

    status: int = 200
    body: Any = "ok"
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass(frozen=True)
class Received:
    """One request the server got."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class ScriptedServer:
    """Answers POSTs with `replies` in order; the last reply repeats once the script runs out.

    Attributes:
        url: the server's base URL (`http://127.0.0.1:PORT`).
        received: every request, in order.
    """

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = list(replies)
        self.received: list[Received] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # answer in one segment, not after a delayed ACK

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with server._lock:
                    server.received.append(Received(self.path, dict(self.headers), body))
                    index = min(len(server.received), len(server.replies)) - 1
                    reply = server.replies[index]
                payload = reply.encoded()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return  # keep test output clean

        self._server = LoopbackServer(Handler)
        self.url = self._server.url

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()


@contextmanager
def scripted_server(*replies: Reply) -> Iterator[ScriptedServer]:
    """Run a `ScriptedServer` for the duration of a `with` block."""
    server = ScriptedServer(list(replies) or [Reply()])
    server.start()
    try:
        yield server
    finally:
        server.stop()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (the port was bound, then released)."""
    probe = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = probe.server_address[1]
    probe.server_close()
    return f"http://127.0.0.1:{port}"
