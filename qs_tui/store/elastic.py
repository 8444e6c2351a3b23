"""`ElasticStore`: the `Store` protocol over the official `elasticsearch` client."""

from __future__ import annotations

import base64
import binascii
import email.utils
import logging
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, NoReturn
from urllib.parse import unquote, urlsplit

from elasticsearch import (
    ApiError,
    AuthenticationException,
    AuthorizationException,
    ConflictError,
    ConnectionError,
    ConnectionTimeout,
    Elasticsearch,
    ElasticsearchWarning,
    NotFoundError,
    SerializationError,
    SSLError,
    TransportError,
    UnsupportedProductError,
)
from elasticsearch import __versionstr__ as CLIENT_VERSION
from elasticsearch.helpers import streaming_bulk

from qs_tui.config import Settings
from qs_tui.esql.catalog import EsqlResult
from qs_tui.store.base import (
    BulkResult,
    Document,
    DocumentExists,
    EsqlParams,
    Health,
    StoreError,
    StoreUnavailable,
)
from qs_tui.store.compat import ApiCompatibility, CompatibilityTransport
from qs_tui.store.templates import IndexSpec, indices_to_install, mapping_upgrade, spec_for

__all__ = [
    "CLIENT_VERSION",
    "PARTIAL_RESULTS_WARNING",
    "ApiCompatibility",
    "ElasticStore",
    "parse_warning_header",
]

#: Added to `EsqlResult.warnings` when Elasticsearch marks a response `is_partial`.
PARTIAL_RESULTS_WARNING = "partial results: some shards or clusters did not answer"

# The client re-raises every `Warning` response header as a Python warning. ES|QL warnings are
# returned in `EsqlResult.warnings` instead, so the duplicate must not reach a terminal that a
# full-screen app owns. The filter only matches warnings attributed to this module.
warnings.filterwarnings("ignore", category=ElasticsearchWarning, module=r"qs_tui\.store\.elastic")

# The transport logs every retry at WARNING with the failure's traceback. With no logging
# configured, Python's last-resort handler would print that traceback in the user's terminal
# during an outage, which the pipeline reports in one line instead. A NullHandler stops the
# last resort; the records still propagate to any handler an application configures.
logging.getLogger("elastic_transport").addHandler(logging.NullHandler())
log = logging.getLogger(__name__)

# One warning in a `Warning` header: `299 Elasticsearch-<version>-<build> "<text>"`, optionally
# followed by a quoted date. Several warnings arrive comma-joined in one header value.
_WARNING_RE = re.compile(r'299 Elasticsearch-\S+ "((?:[^"\\]|\\.)*)"')
_ESCAPE_RE = re.compile(r"\\(.)")


def parse_warning_header(value: str) -> list[str]:
    """The warning texts in a `Warning` header value, unescaped and percent-decoded.

    Elasticsearch escapes `\\` and `"` with a backslash and percent-encodes characters outside
    the header's safe set (including `%` itself), so both are undone here.
    """
    texts = []
    for match in _WARNING_RE.finditer(value):
        texts.append(unquote(_ESCAPE_RE.sub(r"\1", match.group(1))))
    return texts


def _iso(moment: datetime) -> str:
    """An instant as Elasticsearch prints dates: UTC with milliseconds and a `Z`.

    Naive datetimes are taken to be UTC already, as the project's clocks are.
    """
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    spec = "milliseconds" if moment.microsecond % 1000 == 0 else "microseconds"
    return moment.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def _json_ready(value: Any) -> Any:
    """`value` with every date and datetime (also nested) turned into an ISO string."""
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_ready(item) for item in value]
    return value


def _wire_params(params: EsqlParams) -> list[Any] | None:
    """ES|QL `params` in the request's wire form.

    Positional values stay a list; named values become a list of single-key objects
    (`[{"start": "..."}, {"service": "api"}]`), which is how `POST /_query` takes them.
    """
    if params is None:
        return None
    if isinstance(params, Mapping):
        return [{str(name).lstrip("?"): _json_ready(value)} for name, value in params.items()]
    return [_json_ready(value) for value in params]


def _item_status(item: Mapping[str, Any]) -> Any:
    """The HTTP status of one bulk response item (`{"create": {"status": 409, ...}}`)."""
    _op, detail = next(iter(item.items()))
    return detail.get("status")


def _cloud_host(cloud_id: str) -> str:
    """The Elasticsearch endpoint a cloud id points at (`https://<uuid>.<host>`)."""
    deployment, _, encoded = cloud_id.partition(":")
    try:
        decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return f"Elastic Cloud deployment {deployment or '?'}"
    host, _, rest = decoded.partition("$")
    es_uuid = rest.split("$")[0]
    if not host or not es_uuid:
        return f"Elastic Cloud deployment {deployment or '?'}"
    host, _, port = host.partition(":")
    suffix = f":{port}" if port and port != "443" else ""
    return f"https://{es_uuid}.{host}{suffix}"


def _url_without_credentials(url: str) -> str:
    """`url` with any `user:password@` part removed (and no query string)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal needs its brackets back
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{host}{port}{path}"


def _error_type_and_reason(body: Any) -> tuple[str, str]:
    """ES's error `type` and `reason` (with the first `caused_by` reason) from an error body."""
    if not isinstance(body, Mapping):
        return "", str(body or "").strip()
    error = body.get("error")
    if isinstance(error, str):
        return "", error
    if not isinstance(error, Mapping):
        return "", ""
    error_type = str(error.get("type") or "")
    reason = str(error.get("reason") or "")
    caused_by = error.get("caused_by")
    if isinstance(caused_by, Mapping) and caused_by.get("reason"):
        reason = f"{reason} ({caused_by['reason']})" if reason else str(caused_by["reason"])
    return error_type, reason


def _retry_after(error: ApiError) -> float | None:
    """Seconds the server's `Retry-After` header asks to wait (RFC 9110 §10.2.3: a number of
    seconds or an HTTP date), or None without a usable one."""
    value = error.meta.headers.get("retry-after") if error.meta is not None else None
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _causes(error: BaseException) -> str:
    """Every exception in `error`'s chain, one per line (`Type: message`), outermost first.

    The client's TLS and connection errors carry the useful reason in their causes.
    """
    lines = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        lines.append(f"{type(current).__name__}: {current!r}")
        current = current.__cause__ or current.__context__
    return "\n".join(lines)


class ElasticStore:
    """The `Store` protocol over an Elasticsearch 8.19 / 9.x cluster.

    Every failure leaves as a `StoreError` whose text names the cluster (without credentials)
    and what to do; no `elastic_transport` exception escapes, and secrets never appear in
    messages or in `repr()`.

    Attributes:
        name: where the data lives, without credentials: the URL, or the endpoint a cloud id
            points at.
        auth_method: `api_key`, `basic` or `none`; which credentials are configured.

    Example:
        >>> store = ElasticStore(Settings.load())  # doctest: +SKIP
        >>> store.esql("FROM qs-metrics | STATS n = COUNT(*)").values  # doctest: +SKIP
    """

    #: Elasticsearch evaluates `NOW()` itself; it cannot be fixed from the client.
    supports_fixed_now = False

    def __init__(
        self,
        settings: Settings,
        *,
        bulk_chunk_size: int = 500,
        bulk_max_retries: int = 3,
        bulk_initial_backoff_s: float = 2.0,
        bulk_max_backoff_s: float = 60.0,
        connection_retries: int = 3,
    ) -> None:
        """Connect (lazily: nothing is sent until the first call) from `settings`.

        Args:
            settings: `ELASTIC_URL` or `ELASTIC_CLOUD_ID`, the credentials, CA certs,
                certificate verification and the request timeout are read from here.
            bulk_chunk_size: documents per `_bulk` request.
            bulk_max_retries: how many times a document rejected with 429 is sent again.
            bulk_initial_backoff_s: wait before the first retry; doubles on each retry.
            bulk_max_backoff_s: the longest wait between retries.
            connection_retries: retries of a request that failed to connect.

        Raises:
            StoreError: no cluster is configured, or the settings are unusable.
        """
        if not settings.cluster_configured:
            raise StoreError(
                "no cluster configured",
                "set ELASTIC_URL (e.g. https://localhost:9200) or ELASTIC_CLOUD_ID",
            )
        self._settings = settings
        #: One line per field `ensure_templates` found mapped with another type than the
        #: spec's (left unchanged) or could not add, for the caller to show.
        self.mapping_warnings: list[str] = []
        self._bulk_chunk_size = bulk_chunk_size
        self._bulk_max_retries = bulk_max_retries
        self._bulk_initial_backoff_s = bulk_initial_backoff_s
        self._bulk_max_backoff_s = bulk_max_backoff_s
        # Read once: every error message passes through `_redact`.
        self._secrets = settings.secrets()
        if settings.elastic_url:
            self.name = _url_without_credentials(settings.elastic_url)
        else:
            self.name = _cloud_host(settings.elastic_cloud_id or "")
        self.auth_method = self._auth_method(settings)
        options: dict[str, Any] = {
            # Speaks the cluster's REST API major, learnt from `GET /` on first contact, so
            # one install talks to 8.19 and 9.x (see `qs_tui.store.compat`).
            "transport_class": CompatibilityTransport,
            # Timeouts and retries, as the Python client documents them ("Configuration":
            # Timeouts, Retries; https://www.elastic.co/guide/en/elasticsearch/client/
            # python-api/current/config.html): `request_timeout` bounds every request, so a
            # cluster that hangs becomes a `ConnectionTimeout` after that many seconds;
            # `retry_on_timeout=False` (the default, kept explicit) makes a hang cost one
            # timeout, not one per retry; `max_retries` covers connection errors only,
            # because `retry_on_status` (default 429, 502, 503, 504, retried at once) is
            # emptied: a cluster that says "not now" is backed off from by the caller (the
            # pipeline, honouring `Retry-After`; the bulk helper for 429), not hammered.
            "request_timeout": settings.elastic_request_timeout_s,
            "max_retries": connection_retries,
            "retry_on_timeout": False,
            "retry_on_status": (),
        }
        uses_tls = bool(settings.elastic_cloud_id) or (settings.elastic_url or "").startswith(
            "https://"
        )
        if uses_tls:
            options["verify_certs"] = settings.elastic_verify_certs
            if not settings.elastic_verify_certs:
                options["ssl_show_warn"] = False
            if settings.elastic_ca_certs is not None:
                options["ca_certs"] = str(settings.elastic_ca_certs)
        if settings.elastic_api_key is not None:
            options["api_key"] = settings.elastic_api_key.get_secret_value()
        elif settings.elastic_username:
            password = (
                settings.elastic_password.get_secret_value() if settings.elastic_password else ""
            )
            options["basic_auth"] = (settings.elastic_username, password)
        try:
            if settings.elastic_url:
                self._client = Elasticsearch(settings.elastic_url, **options)
            else:
                self._client = Elasticsearch(cloud_id=settings.elastic_cloud_id, **options)
        except (ValueError, TypeError) as error:
            setting = "ELASTIC_URL" if settings.elastic_url else "ELASTIC_CLOUD_ID"
            raise StoreError(
                "invalid cluster settings", f"check {setting}: {self._redact(str(error))}"
            ) from None

    def __repr__(self) -> str:
        return f"ElasticStore(name={self.name!r}, auth={self.auth_method!r})"

    @property
    def api_compatibility(self) -> ApiCompatibility | None:
        """The REST API spoken to the cluster, or None before the first successful contact.

        Decided from `GET /` when the first request goes out: `compatible-with=8` for an
        8.x cluster, `compatible-with=9` for 9.x, whichever client major is installed.
        """
        transport = self._client.transport
        if isinstance(transport, CompatibilityTransport):
            return transport.compatibility
        return None

    # -- the Store protocol -------------------------------------------------------------------

    def esql(
        self,
        query: str,
        *,
        params: EsqlParams = None,
        now: datetime | None = None,
    ) -> EsqlResult:
        """Run one ES|QL query with `POST /_query`; response warnings land in `warnings`.

        Raises:
            StoreError: `now` was given (a cluster's `NOW()` cannot be fixed), the query was
                rejected ("ES|QL error" with ES's reason, which carries line:col), or the
                cluster could not answer.
        """
        if now is not None:
            raise StoreError(
                "NOW() cannot be fixed on a cluster",
                "Elasticsearch evaluates NOW() when the query runs; pass the instant as a "
                "parameter (e.g. ?now) or use the embedded store to fix the clock",
            )
        try:
            response = self._client.esql.query(query=query, params=_wire_params(params))
        except Exception as error:  # translated at the boundary
            self._raise(error, action="run the ES|QL query")
        body = response.body
        found = parse_warning_header(response.meta.headers.get("warning") or "")
        if body.get("is_partial"):
            # Elasticsearch 9 may answer from the shards that did respond; say so.
            found.append(PARTIAL_RESULTS_WARNING)
        return EsqlResult.from_body(body, found)

    def bulk(self, index: str, documents: Iterable[Document]) -> BulkResult:
        """Write `documents` with the bulk helper, retrying documents rejected with 429.

        Data streams (`qs-metrics`, `qs-logs`) take `create` operations, other indices `index`.
        A document's `_id` key, if any, becomes the operation's id (replacing that document
        in a plain index). Per-document failures are collected in `BulkResult.errors`, not raised.

        Raises:
            StoreError: the request as a whole failed (unreachable, unauthorised, …).
        """
        spec = spec_for(index)
        op_type = "create" if spec is not None and spec.data_stream else "index"

        def actions() -> Iterator[dict[str, Any]]:
            for document in documents:
                source = _json_ready(document)
                action = {"_op_type": op_type, "_index": index}
                # An `_id` in the document is metadata (as the embedded store reads it):
                # Elasticsearch refuses `_id` inside a document's source.
                doc_id = source.pop("_id", None)
                if doc_id is not None:
                    action["_id"] = str(doc_id)
                yield action | {"_source": source}

        written = 0
        duplicates = 0
        errors: list[str] = []
        try:
            for ok, item in streaming_bulk(
                self._client,
                actions(),
                chunk_size=self._bulk_chunk_size,
                max_retries=self._bulk_max_retries,
                initial_backoff=self._bulk_initial_backoff_s,
                max_backoff=self._bulk_max_backoff_s,
                raise_on_error=False,
                raise_on_exception=True,
            ):
                if ok:
                    written += 1
                elif op_type == "create" and _item_status(item) == 409:
                    # The id is already there: a sample written before (deterministic ids).
                    duplicates += 1
                else:
                    errors.append(self._describe_item_error(item))
        except Exception as error:  # translated at the boundary
            self._raise(error, action=f"write documents to {index}")
        return BulkResult(written=written, errors=errors, duplicates=duplicates)

    def index(
        self, index: str, document: Document, *, doc_id: str | None = None, create: bool = False
    ) -> str:
        """Write one document (replacing the one with the same `doc_id`); returns its id.

        With `create=True` the write is `op_type=create`: a taken id raises `DocumentExists`.

        Raises:
            DocumentExists: `create` (or a data stream) and the id is taken (ES's 409).
            StoreError: the write failed; a data stream cannot replace a document by id.
        """
        spec = spec_for(index)
        op_type = "create" if create or (spec is not None and spec.data_stream) else "index"
        client = self._client
        if op_type == "create" and doc_id is not None:
            # A create the client sends again after a dropped connection would meet its own
            # first attempt as a 409, indistinguishable from another writer's: so it is never
            # retried here, and the caller (who knows the id is its own) decides.
            client = client.options(max_retries=0)
        try:
            response = client.index(
                index=index, document=_json_ready(document), id=doc_id, op_type=op_type
            )
        except ConflictError as error:
            if doc_id is None:
                self._raise(error, action=f"write a document to {index}")
            raise DocumentExists(index, doc_id) from error
        except Exception as error:  # translated at the boundary
            self._raise(error, action=f"write a document to {index}")
        return str(response.body.get("_id", doc_id or ""))

    def ensure_templates(self, *, telemetry: bool = True) -> list[str]:
        """Install every index template, then create the plain indices and data streams.

        Creating them up front means `FROM qs-incidents` answers (with no rows) on a fresh
        cluster instead of failing with an unknown index. With `telemetry=False` the
        simulator's telemetry indices are left out (see `indices_to_install`).

        Returns:
            The names of the templates installed, in `INDICES` order.

        Raises:
            StoreError: "index template <name> rejected" with ES's reason, or a connection,
                authentication or permission problem.

        An index or data stream that already exists gets the fields the current spec adds
        (`PUT <index>/_mapping` with only those); a field it maps with another type is left
        as it is and reported in `mapping_warnings`, as is a mapping update the cluster
        refuses: the rest of the start goes on.
        """
        specs = indices_to_install(telemetry=telemetry)
        installed: list[str] = []
        for spec in specs:
            try:
                self._client.indices.put_index_template(
                    name=spec.template, body=spec.template_body()
                )
            except ApiError as error:
                if error.status_code == 400:
                    _, reason = _error_type_and_reason(error.body)
                    raise StoreError(
                        f"index template {spec.template} rejected", self._redact(reason)
                    ) from None
                self._raise(error, action=f"install index template {spec.template}")
            except Exception as error:  # translated at the boundary
                self._raise(error, action=f"install index template {spec.template}")
            installed.append(spec.template)
        for spec in specs:
            if not self._create_if_missing(spec.name, data_stream=spec.data_stream):
                # Made by an older version: the template change does not reach it.
                self._upgrade_mapping(spec)
        return installed

    def refresh(self, index: str | None = None) -> None:
        """Refresh `index` (or every `qs-*` index) so that recent writes are searchable."""
        target = index or "qs-*"
        try:
            self._client.indices.refresh(
                index=target, ignore_unavailable=True, allow_no_indices=True
            )
        except Exception as error:  # translated at the boundary
            self._raise(error, action=f"refresh {target}")

    def health(self) -> Health:
        """Cluster health, version, build flavour and licence.

        An unreachable or misconfigured cluster is reported (`ok=False`, the reason in
        `detail["error"]`), not raised, so status displays can always show something.
        """
        try:
            info = self.info()
            cluster = self._cluster_health()
        except StoreError as error:
            return Health(
                ok=False, status="unreachable", name=self.name, detail={"error": str(error)}
            )
        version = info.get("version", {})
        detail: dict[str, Any] = {
            "cluster_name": cluster.get("cluster_name", info.get("cluster_name", "")),
            "build_flavor": version.get("build_flavor", ""),
            "nodes": cluster.get("number_of_nodes", 0),
            "client_version": CLIENT_VERSION,
        }
        compatibility = self.api_compatibility
        if compatibility is not None:
            detail["api_compatibility"] = compatibility.description
        try:
            licence = self.licence()
            detail["licence"] = licence.get("type", "unknown")
            detail["licence_status"] = licence.get("status", "unknown")
        except StoreError as error:
            # Reading the licence needs the `monitor` privilege; health does not depend on it.
            detail["licence"] = "unknown"
            detail["licence_error"] = str(error)
        status = str(cluster.get("status", "unknown"))
        return Health(
            ok=status in ("green", "yellow"),
            status=status,
            name=self.name,
            version=str(version.get("number", "")),
            detail=detail,
        )

    def close(self) -> None:
        """Close the client's connections."""
        self._client.close()

    # -- extras used by `qs-tui doctor` -------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """The body of `GET /` (cluster name, version number and build flavour).

        Raises:
            StoreError: the cluster could not be reached or refused the request.
        """
        try:
            return dict(self._client.info().body)
        except Exception as error:  # translated at the boundary
            self._raise(error, action="read cluster info")

    def _cluster_health(self) -> dict[str, Any]:
        try:
            return dict(self._client.cluster.health().body)
        except Exception as error:  # translated at the boundary
            self._raise(error, action="read cluster health")

    def licence(self) -> dict[str, Any]:
        """The `license` object of `GET /_license` (type, status, …).

        Raises:
            StoreError: the licence could not be read.
        """
        try:
            return dict(self._client.license.get().body.get("license", {}))
        except Exception as error:  # translated at the boundary
            self._raise(error, action="read the licence")

    def index_templates(self) -> dict[str, dict[str, Any]]:
        """Every composable index template on the cluster, by name (`GET /_index_template`).

        Raises:
            StoreError: the templates could not be read.
        """
        try:
            body = self._client.indices.get_index_template().body
        except NotFoundError:
            return {}
        except Exception as error:  # translated at the boundary
            self._raise(error, action="read index templates")
        return {
            str(item["name"]): dict(item.get("index_template", {}))
            for item in body.get("index_templates", [])
        }

    def field_caps(self, indices: Sequence[str], fields: Sequence[str]) -> dict[str, Any]:
        """The field capabilities of `fields` across `indices` (`POST <indices>/_field_caps`;
        Elastic's reference, "Field capabilities API"); patterns that match nothing are
        skipped, fields mapped nowhere are left out of the answer.

        Raises:
            StoreError: the capabilities could not be read.
        """
        try:
            return dict(
                self._client.field_caps(
                    index=list(indices),
                    fields=list(fields),
                    ignore_unavailable=True,
                    allow_no_indices=True,
                ).body
            )
        except Exception as error:  # translated at the boundary
            self._raise(error, action=f"read field capabilities of {', '.join(indices)}")

    def document_count(self, index: str) -> int | None:
        """How many documents `index` holds, or None when it does not exist.

        Raises:
            StoreError: the count could not be read.
        """
        try:
            return int(self._client.count(index=index).body.get("count", 0))
        except NotFoundError:
            return None
        except Exception as error:  # translated at the boundary
            self._raise(error, action=f"count documents in {index}")

    # -- internals ----------------------------------------------------------------------------

    def _create_if_missing(self, name: str, *, data_stream: bool) -> bool:
        """Create the index or data stream; False when it already existed."""
        try:
            if data_stream:
                self._client.indices.create_data_stream(name=name)
            else:
                self._client.indices.create(index=name)
        except ApiError as error:
            error_type, _ = _error_type_and_reason(error.body)
            if error.status_code == 400 and error_type == "resource_already_exists_exception":
                return False
            self._raise(error, action=f"create {name}")
        except Exception as error:  # translated at the boundary
            self._raise(error, action=f"create {name}")
        return True

    def _warn(self, line: str) -> None:
        """Keep `line` in `mapping_warnings` and log it once (stderr when nothing else is
        configured, as the Slack notifier's warnings: `qs_tui.notify`)."""
        if line not in self.mapping_warnings:
            self.mapping_warnings.append(line)
            log.warning("%s", line)

    def _upgrade_mapping(self, spec: IndexSpec) -> None:
        """Add to an existing index or data stream the fields of `spec` it does not map.

        `GET <name>/_mapping` answers per concrete index (a data stream's backing indices);
        a field missing from any of them is added with one `PUT <name>/_mapping`, which
        Elasticsearch applies to every backing index of a data stream ("Update mapping API":
        https://www.elastic.co/guide/en/elasticsearch/reference/current/indices-put-mapping.html;
        "Add a new field mapping to a data stream":
        https://www.elastic.co/guide/en/elasticsearch/reference/current/modify-data-streams.html).
        Nothing is sent when the mapping is current, so a second start only reads.
        """
        action = f"read the mapping of {spec.name}"
        try:
            body = self._client.indices.get_mapping(index=spec.name).body
        except ApiError as error:
            if error.status_code == 403:
                # A key that may write but not read index metadata: writing still works, so
                # the start goes on without the upgrade.
                _, reason = _error_type_and_reason(error.body)
                self._warn(f"cannot {action}: {self._redact(reason)}")
                return
            self._raise(error, action=action)
        except Exception as error:  # translated at the boundary
            self._raise(error, action=action)
        missing: dict[str, Any] = {}
        for concrete in sorted(body):
            properties = (body[concrete].get("mappings") or {}).get("properties") or {}
            lacking, conflicts = mapping_upgrade(spec, concrete, properties)
            missing.update(lacking)
            for conflict in conflicts:
                self._warn(str(conflict))
        if not missing:
            return
        try:
            self._client.indices.put_mapping(index=spec.name, properties=missing)
        except ApiError as error:
            if error.status_code in (400, 403):
                # Refused (a type changed under us, or the key may not manage the index):
                # the index still takes writes, only the new fields stay unindexed.
                error_type, reason = _error_type_and_reason(error.body)
                self._warn(
                    f"cannot add fields {', '.join(sorted(missing))} to {spec.name}: "
                    f"{error_type}: {self._redact(reason)}"
                )
                return
            self._raise(error, action=f"update the mapping of {spec.name}")
        except Exception as error:  # translated at the boundary
            self._raise(error, action=f"update the mapping of {spec.name}")

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "****")
        return text

    @staticmethod
    def _auth_method(settings: Settings) -> str:
        if settings.elastic_api_key is not None:
            return "api_key"
        if settings.elastic_username:
            return "basic"
        return "none"

    def _credential_hint(self) -> str:
        if self.auth_method == "api_key":
            return "check ELASTIC_API_KEY"
        if self.auth_method == "basic":
            return "check ELASTIC_USERNAME and ELASTIC_PASSWORD"
        return (
            "the cluster requires credentials: "
            "set ELASTIC_API_KEY (or ELASTIC_USERNAME and ELASTIC_PASSWORD)"
        )

    def _describe_item_error(self, item: Mapping[str, Any]) -> str:
        """One line for a document the bulk request did not write."""
        _op, detail = next(iter(item.items()))
        status = detail.get("status", "?")
        error = detail.get("error")
        if isinstance(error, Mapping):
            text = f"{error.get('type', 'error')}: {error.get('reason', '')}"
        else:
            text = str(error or "unknown error")
        where = detail.get("_index", "?")
        doc_id = detail.get("_id")
        if doc_id:
            where = f"{where} id {doc_id}"
        if status == 429:
            text = f"{text} (still rejected after {self._bulk_max_retries} retries)"
        return self._redact(f"{where}: status {status}: {text}")

    def _tls_error(self, error: BaseException) -> StoreError:
        """What went wrong in a TLS handshake, read from the exception chain."""
        causes = _causes(error)
        title = f"TLS connection to {self.name} failed"
        if "FileNotFoundError" in causes or "No such file" in causes:
            return StoreError(
                title,
                f"the CA file ELASTIC_CA_CERTS={self._settings.elastic_ca_certs} cannot be read: "
                "point it at the PEM file of the CA that signed the cluster's certificate",
            )
        if "CERTIFICATE_VERIFY_FAILED" in causes:
            detail = re.search(r"certificate verify failed: ([^(]+)", causes)
            reason = f" ({detail.group(1).strip()})" if detail else ""
            return StoreError(
                title,
                f"the cluster's certificate could not be verified{reason}: set ELASTIC_CA_CERTS "
                "to the PEM file of the CA that signed it (for a throwaway local cluster only: "
                "ELASTIC_VERIFY_CERTS=false)",
            )
        if "WRONG_VERSION_NUMBER" in causes or "record layer failure" in causes:
            return StoreError(
                title,
                "the server does not speak TLS there: does ELASTIC_URL need http:// instead of "
                "https://?",
            )
        return StoreError(title, self._redact(causes.splitlines()[-1] if causes else str(error)))

    def _raise(self, error: BaseException, *, action: str) -> NoReturn:
        """Raise the `StoreError` a user can act on for a client `error` while doing `action`."""
        raise self._translate(error, action=action) from error

    def _translate(self, error: BaseException, *, action: str) -> StoreError:
        if isinstance(error, StoreError):
            return error
        where = self.name
        if isinstance(error, SSLError):
            return self._tls_error(error)
        if isinstance(error, ConnectionTimeout):
            return StoreUnavailable(
                f"timed out talking to {where}",
                f"no answer within {self._settings.elastic_request_timeout_s:g}s while trying "
                "to " + action + ": check the cluster's load or raise ELASTIC_REQUEST_TIMEOUT",
                may_have_landed=True,
            )
        if isinstance(error, ConnectionError):
            if "CERTIFICATE_VERIFY_FAILED" in _causes(error):
                return self._tls_error(error)
            return StoreUnavailable(
                f"cannot reach {where}",
                "is Elasticsearch running? check ELASTIC_URL / ELASTIC_CLOUD_ID and the network",
                may_have_landed=True,
            )
        if isinstance(error, UnsupportedProductError):
            return StoreError(
                f"{where} is not Elasticsearch",
                "the server did not identify itself as Elasticsearch (X-Elastic-Product header): "
                "check ELASTIC_URL",
            )
        if isinstance(error, AuthenticationException):
            return StoreError("authentication failed", self._credential_hint())
        if isinstance(error, AuthorizationException):
            _, reason = _error_type_and_reason(error.body)
            return StoreError(
                "permission denied", self._redact(f"cannot {action}: {reason}".rstrip(": "))
            )
        if isinstance(error, ApiError):
            error_type, reason = _error_type_and_reason(error.body)
            reason = self._redact(reason)
            if error_type == "media_type_header_exception":
                # The media types follow the cluster's own `GET /`, so this means the cluster
                # changed under us (an upgrade behind a load balancer) or is not 8.19 / 9.x.
                compatibility = self.api_compatibility
                spoken = compatibility.description if compatibility else "plain application/json"
                version = compatibility.server_version if compatibility else ""
                return StoreError(
                    "cluster refused the REST API version",
                    f"{where} refused the media type QuantumState sent ({reason}); it speaks "
                    f"{spoken}, chosen from GET / (Elasticsearch {version or '?'}): supported "
                    "clusters are 8.19 and 9.x; if the cluster was upgraded, start again",
                )
            if error_type in ("verification_exception", "parsing_exception") or (
                error.status_code == 400 and "ES|QL" in action
            ):
                return StoreError("ES|QL error", reason)
            if isinstance(error, NotFoundError) or error.status_code == 404:
                if error_type == "index_not_found_exception":
                    return StoreError(
                        "index not found",
                        f"{reason}: run `qs-tui seed` to create and fill QuantumState's indices",
                    )
                return StoreError("not found", f"cannot {action}: {reason}")
            if error.status_code == 429:
                return StoreUnavailable(
                    f"{where} is overloaded",
                    f"cannot {action}: too many requests "
                    f"({error_type + ': ' if error_type else ''}{reason})",
                    retry_after_s=_retry_after(error),
                )
            if error.status_code in (502, 503, 504):
                # The cluster (or the proxy in front of it) is there but cannot serve now:
                # no master, shards unavailable, a node restarting.
                return StoreUnavailable(
                    f"Elasticsearch error {error.status_code}",
                    f"cannot {action}: {error_type + ': ' if error_type else ''}{reason}",
                    retry_after_s=_retry_after(error),
                )
            return StoreError(
                f"Elasticsearch error {error.status_code}",
                f"cannot {action}: {error_type + ': ' if error_type else ''}{reason}",
            )
        if isinstance(error, SerializationError):
            return StoreError("unexpected response", f"cannot {action}: {self._redact(str(error))}")
        if isinstance(error, TransportError):
            return StoreError(f"cannot {action}", self._redact(str(error)))
        return StoreError(f"cannot {action}", self._redact(f"{type(error).__name__}: {error}"))
