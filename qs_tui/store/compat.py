"""REST API compatibility: speak the cluster's major, decided from `GET /` on first contact.

The `elasticsearch` client asks for its own major's API on every request
(`Accept: application/vnd.elasticsearch+json; compatible-with=9` with the 9.x client), and an
8.x server answers that with a 400 `media_type_header_exception`. Elasticsearch accepts its
own major and the previous one, and plain `application/json` from anyone. So the first request
goes out as plain `application/json` to `GET /`; `version.number` then decides the
`compatible-with=N` that every later request carries on `Accept` and `Content-Type`, for JSON
and NDJSON bodies alike, whichever client major is installed.

The pin sits at the transport layer: `CompatibilityTransport` is an `elastic_transport.Transport`
given to the client as `transport_class=` (elastic-transport's README, "Creating your own Node
Class": the same works for `Transport` via `transport_class`). Per-request `headers=` or
`.options(headers=...)` cannot do it, because each API method sets its own `Accept` and
`Content-Type`, which win over the client's headers. Rally (elastic/rally,
`esrally/client/common.py`, `mimetype_headers_to_compat`) pins the compatible major from the
cluster's distribution version the same way.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from elastic_transport import HttpHeaders, Transport, TransportApiResponse
from elastic_transport.client_utils import DEFAULT, DefaultType
from elasticsearch import UnsupportedProductError
from elasticsearch import __versionstr__ as CLIENT_VERSION

__all__ = [
    "NEWEST_KNOWN_MAJOR",
    "OLDEST_COMPATIBLE_MAJOR",
    "ApiCompatibility",
    "CompatibilityTransport",
    "compatibility_for",
    "media_types_for",
]

#: The newest REST API major this code knows; a newer cluster is spoken to in this one, which
#: it accepts as its previous major.
NEWEST_KNOWN_MAJOR = 9
#: The first major that understands `compatible-with`; older clusters get plain media types.
OLDEST_COMPATIBLE_MAJOR = 8

PLAIN_JSON = "application/json"
_PRODUCT = "Elasticsearch"

# `application/vnd.elasticsearch+json; compatible-with=9` -> `application/json` (any subtype).
_VERSIONED_RE = re.compile(r"application/vnd\.elasticsearch\+([\w.+-]+?)\s*;\s*compatible-with=\d+")
# The media types Elasticsearch versions, as the client itself lists them (`_COMPAT_MIMETYPE_RE`).
_PLAIN_RE = re.compile(r"application/(json|x-ndjson|vnd\.mapbox-vector-tile)\b")


@dataclass(frozen=True)
class ApiCompatibility:
    """Which REST API QuantumState speaks to the cluster, and why.

    Attributes:
        server_version: `version.number` from `GET /` (empty when `GET /` was refused).
        build_flavor: `version.build_flavor` (`default`, `serverless`, or empty).
        compatible_with: the major sent as `compatible-with=N`; None sends plain
            `application/json` / `application/x-ndjson`, which every major accepts.
        reason: why plain media types are used (empty when `compatible_with` is set).
    """

    server_version: str
    build_flavor: str
    compatible_with: int | None
    reason: str = ""

    @property
    def description(self) -> str:
        """`compatible-with=8`, or `plain application/json (<reason>)`."""
        if self.compatible_with is not None:
            return f"compatible-with={self.compatible_with}"
        return f"plain {PLAIN_JSON} ({self.reason})" if self.reason else f"plain {PLAIN_JSON}"


def _major(number: str) -> int | None:
    head = number.split(".")[0]
    return int(head) if head.isdigit() else None


def compatibility_for(info: Mapping[str, Any]) -> ApiCompatibility:
    """The API to speak to a cluster whose `GET /` answered `info`.

    Elasticsearch accepts `compatible-with` its own major or the previous one: 8.x takes 7 or
    8, 9.x takes 8 or 9. So 8.x and 9.x are spoken to in their own major; a newer major in the
    newest this code knows (its previous major); a 7.x cluster, which has no 8 or 9 API, in
    plain media types (its own API). Serverless projects are spoken to as the installed client
    speaks by default.
    """
    version = info.get("version")
    version = version if isinstance(version, Mapping) else {}
    number = str(version.get("number") or "")
    flavour = str(version.get("build_flavor") or "")
    major = _major(number)
    if flavour == "serverless":
        # Serverless reports a fixed 8.x number that says nothing about its API; the client's
        # own major is what Elastic supports there.
        return ApiCompatibility(number, flavour, _major(CLIENT_VERSION))
    if major is None:
        return ApiCompatibility(number, flavour, None, f"version {number or '?'} not understood")
    if major < OLDEST_COMPATIBLE_MAJOR:
        return ApiCompatibility(number, flavour, None, f"Elasticsearch {major}.x's own API")
    return ApiCompatibility(number, flavour, min(major, NEWEST_KNOWN_MAJOR))


def media_types_for(header: str, compatible_with: int | None) -> str:
    """`header` (an `Accept` or `Content-Type` value) in the media types of that major.

    Whatever major the client wrote is replaced, so the same works with the 8.x and 9.x
    clients: `application/vnd.elasticsearch+x-ndjson; compatible-with=9` becomes
    `...compatible-with=8` for 8, and `application/x-ndjson` for None.
    """
    plain = _VERSIONED_RE.sub(r"application/\1", header)
    if compatible_with is None:
        return plain
    return _PLAIN_RE.sub(
        rf"application/vnd.elasticsearch+\1; compatible-with={compatible_with}", plain
    )


class CompatibilityTransport(Transport):
    """A `Transport` that speaks the cluster's REST API major, learnt on first contact.

    Before the first request goes out, `GET /` is sent with a plain `application/json`
    `Accept` (every major accepts it) and the triggering request's other headers (its
    credentials). Its `version.number` fixes `compatibility`; from then on every `Accept` and
    `Content-Type` carries that major. When the triggering request is `GET /` itself, the
    probe's answer is its answer, so first contact costs no extra request.

    The product check happens on that first answer: a 2xx without
    `X-Elastic-Product: Elasticsearch` raises `UnsupportedProductError` before anything else
    (a bulk write, say) reaches an unknown server. A 401 decides nothing (the request fails
    on its own credentials and the next one tries again); any other refusal of `GET /` (403
    without the `monitor` privilege, say) settles on plain media types, which every major
    accepts. A connection failure decides nothing and is raised as it is.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Create the transport exactly as `elastic_transport.Transport` does."""
        super().__init__(*args, **kwargs)
        self.compatibility: ApiCompatibility | None = None
        # Requests may come from several threads (the war room's worker, the UI's health
        # poll); only one of them probes.
        self._first_contact = threading.Lock()

    def perform_request(
        self,
        method: str,
        target: str,
        *,
        headers: Mapping[str, Any] | DefaultType = DEFAULT,
        **options: Any,
    ) -> TransportApiResponse:
        """Send the request in the negotiated media types, negotiating first if need be."""
        sent = HttpHeaders(None if isinstance(headers, DefaultType) else headers)
        if self.compatibility is None:
            with self._first_contact:
                if self.compatibility is None:
                    probe = self._probe(sent, options)
                    if method in ("GET", "HEAD") and target == "/":
                        return probe
        compatibility = self.compatibility
        wanted = None if compatibility is None else compatibility.compatible_with
        for name in ("accept", "content-type"):
            value = sent.get(name)
            if value:
                sent[name] = media_types_for(value, wanted)
        return super().perform_request(method, target, headers=sent, **options)

    def _probe(self, headers: HttpHeaders, options: Mapping[str, Any]) -> TransportApiResponse:
        """`GET /` in plain JSON with the caller's credentials; sets `compatibility`."""
        probe_headers = HttpHeaders(headers)
        probe_headers.pop("content-type", None)
        probe_headers["accept"] = PLAIN_JSON
        # The caller's tracing span belongs to the caller's request, not to this one.
        probe_options = {k: v for k, v in options.items() if k not in ("body", "otel_span")}
        response = super().perform_request("GET", "/", headers=probe_headers, **probe_options)
        meta, body = response
        if 200 <= meta.status < 300:
            if meta.headers.get("x-elastic-product", "") != _PRODUCT:
                raise UnsupportedProductError(
                    message=(
                        "The client noticed that the server is not Elasticsearch "
                        "and we do not support this unknown product"
                    ),
                    meta=meta,
                    body=body,
                )
            self.compatibility = compatibility_for(body if isinstance(body, Mapping) else {})
        elif meta.status != 401:
            self.compatibility = ApiCompatibility(
                "", "", None, f"GET / answered {meta.status}, so the cluster's version is unknown"
            )
        return response
