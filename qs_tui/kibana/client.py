"""A small Kibana HTTP client on the standard library: auth, `kbn-xsrf`, spaces, one-line errors.

Kibana's APIs answer errors as `{"statusCode": 400, "error": "Bad Request", "message": "…"}`;
every failure here becomes a `KibanaError` whose message says what was being done, on which
object, and what Kibana said — never a traceback, and never a credential (messages name only
the scheme, host and port of the URL).
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

from qs_tui.remediation.webhook import redact_url

#: What a Kibana space id may contain (Kibana's own rule: lowercase letters, digits, `_`, `-`).
_SPACE_ID = re.compile(r"^[a-z0-9_-]+$")

_STATUS_WORDS = {
    400: "bad request",
    401: "not authenticated (check KIBANA_API_KEY or the Elastic credentials)",
    403: "forbidden (the user or API key lacks the privilege)",
    404: "not found",
    409: "conflict",
}


class KibanaError(Exception):
    """A Kibana request failed; the message is one line a user can act on."""


@dataclass(frozen=True)
class KibanaResponse:
    """A parsed answer: the HTTP status and the JSON body (`{}` when there was none)."""

    status: int
    body: dict[str, Any]

    @property
    def message(self) -> str:
        """Kibana's `message` field on one line (security errors span several), or empty."""
        value = self.body.get("message")
        return " ".join(value.split()) if isinstance(value, str) else ""


class KibanaClient:
    """Talks to one Kibana, in one space.

    Args:
        url: Kibana's base URL (`http://localhost:5601`, or Elastic Cloud's Kibana endpoint).
        space: a space id; requests then go to `/s/{space}/api/…`. `None` or `default` is the
            default space (no prefix).
        api_key: sent as `Authorization: ApiKey …` (preferred).
        username: with `password`, basic auth when there is no API key.
        password: the basic-auth password.
        timeout_s: seconds to wait for one answer.
    """

    def __init__(
        self,
        url: str,
        *,
        space: str | None = None,
        api_key: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        _check_url(url)
        if space is not None and not _SPACE_ID.match(space):
            raise KibanaError(
                f"--space {space!r}: a Kibana space id has only lowercase letters, digits, "
                "'_' and '-'"
            )
        self._base = url.rstrip("/")
        self.endpoint = redact_url(url)
        self.space = space or "default"
        self._prefix = "" if self.space == "default" else f"/s/{self.space}"
        self.timeout_s = timeout_s
        # Kibana rejects every non-GET API call without `kbn-xsrf`; sending it always is harmless.
        self._headers = {"kbn-xsrf": "true", "Accept": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"ApiKey {api_key}"
        elif username and password:
            token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
            self._headers["Authorization"] = f"Basic {token}"

    def __repr__(self) -> str:
        return f"KibanaClient(endpoint={self.endpoint!r}, space={self.space!r})"

    def app_url(self, path: str) -> str:
        """A Kibana page in this client's space (`/app/dashboards#/view/…`), for people."""
        return self.url_for(path)

    def url_for(self, path: str) -> str:
        """The full URL of an API path (`/api/...`) in this client's space."""
        return f"{self._base}{self._prefix}{path}"

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        body: dict[str, Any] | None = None,
        accept: tuple[int, ...] = (),
    ) -> KibanaResponse:
        """Send one JSON request.

        Args:
            method: `GET`, `POST`, `PUT` or `DELETE`.
            path: the API path, starting with `/api/`.
            what: what this request does, for error messages (`create data view qs-incidents`).
            body: the JSON body, if any.
            accept: non-2xx statuses that are answers rather than errors (404 on a lookup).

        Raises:
            KibanaError: for other statuses, an unreachable Kibana or a timeout.
        """
        data = None if body is None else json.dumps(body).encode()
        headers = dict(self._headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        return self._send(method, path, data, headers, what=what, accept=accept)

    def import_saved_objects(self, ndjson: bytes, *, filename: str) -> dict[str, Any]:
        """`POST /api/saved_objects/_import?overwrite=true` with the NDJSON as the `file` field.

        Returns:
            Kibana's answer: `success`, `successCount`, `successResults` and `errors`.
        """
        boundary = f"qs-{uuid.uuid4().hex}"
        parts = [
            f"--{boundary}\r\n".encode(),
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'.encode(),
            b"Content-Type: application/ndjson\r\n\r\n",
            ndjson,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
        headers = dict(self._headers)
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        response = self._send(
            "POST",
            "/api/saved_objects/_import?overwrite=true",
            b"".join(parts),
            headers,
            what=f"import saved objects from {filename}",
            accept=(),
        )
        return response.body

    def _send(
        self,
        method: str,
        path: str,
        data: bytes | None,
        headers: dict[str, str],
        *,
        what: str,
        accept: tuple[int, ...],
    ) -> KibanaResponse:
        request = urllib.request.Request(
            self.url_for(path), data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return KibanaResponse(response.status, _json_object(response.read()))
        except urllib.error.HTTPError as error:
            answer = KibanaResponse(error.code, _json_object(error.read()))
            if error.code in accept:
                return answer
            raise KibanaError(self._describe_status(what, answer)) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            raise KibanaError(f"{what}: {self._describe_failure(error)}") from None

    def _describe_status(self, what: str, answer: KibanaResponse) -> str:
        word = _STATUS_WORDS.get(answer.status, "error")
        said = f": {answer.message}" if answer.message else ""
        return f"{what}: Kibana at {self.endpoint} answered HTTP {answer.status} {word}{said}"

    def _describe_failure(self, error: BaseException) -> str:
        reason: object = getattr(error, "reason", error)
        if isinstance(reason, TimeoutError | socket.timeout):
            return f"Kibana at {self.endpoint} did not answer within {self.timeout_s:g} s"
        if isinstance(reason, ConnectionRefusedError):
            return f"cannot reach Kibana at {self.endpoint} (connection refused)"
        if isinstance(reason, socket.gaierror):
            return f"cannot resolve Kibana's host in {self.endpoint}; is KIBANA_URL right?"
        detail = str(reason) if isinstance(reason, str) else type(reason).__name__
        return f"cannot reach Kibana at {self.endpoint} ({detail})"


def _check_url(url: str) -> None:
    """Refuse a URL urllib cannot use, saying why without echoing any part of it."""
    if not url.startswith(("http://", "https://")):
        raise KibanaError(
            "KIBANA_URL must start with http:// or https://, e.g. http://localhost:5601"
        )
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        raise KibanaError("KIBANA_URL has a malformed host or port") from None
    if not parts.hostname:
        raise KibanaError("KIBANA_URL has no host, e.g. http://localhost:5601")
    if parts.username is not None or parts.password is not None:
        raise KibanaError(
            "KIBANA_URL must not carry credentials: set KIBANA_API_KEY, or "
            "ELASTIC_USERNAME and ELASTIC_PASSWORD"
        )


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode("utf-8")) if raw else {}
    except (UnicodeDecodeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {"results": value}


def quote_id(identifier: str) -> str:
    """An id made safe for a URL path segment."""
    return urllib.parse.quote(identifier, safe="")
