"""A threaded HTTP server on 127.0.0.1 (a free port) for the stand-ins the tests talk to."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LoopbackServer:
    """Serves `handler` on 127.0.0.1 from a daemon thread between `start()` and `stop()`.

    Attributes:
        url: the base URL (`http://127.0.0.1:PORT`), known before `start()`.
    """

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        host, port = self._http.server_address[:2]
        self.url = f"http://{host!s}:{port}"
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()


def forwarding_handler(
    handle: Callable[[BaseHTTPRequestHandler, str], None], *methods: str
) -> type[BaseHTTPRequestHandler]:
    """A quiet handler class that passes each request of `methods` to `handle(request, method)`."""

    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True  # answer in one segment, not after a delayed ACK

        def log_message(self, format: str, *args: Any) -> None:
            return  # keep test output clean

    for method in methods:
        setattr(Handler, f"do_{method}", lambda request, method=method: handle(request, method))
    return Handler


def read_body(request: BaseHTTPRequestHandler) -> bytes:
    """The request's body, as its `Content-Length` says (empty when it has none)."""
    length = int(request.headers.get("Content-Length", "0"))
    return request.rfile.read(length) if length else b""


def reply_json(request: BaseHTTPRequestHandler, status: int, answer: Any) -> None:
    """Answer `request` with `status` and `answer` as a JSON body."""
    payload = json.dumps(answer).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(payload)))
    request.end_headers()
    request.wfile.write(payload)
