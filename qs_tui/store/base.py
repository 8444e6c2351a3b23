"""The `Store` protocol: the one door to data, and the error every store raises."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from qs_tui.esql.catalog import EsqlResult

Document = Mapping[str, Any]
EsqlParams = list[Any] | dict[str, Any] | None


class StoreError(Exception):
    """A store failure in words a user can act on.

    Attributes:
        title: a short summary ("cannot reach Elasticsearch", "authentication failed").
        message: what happened and what to do about it. Never contains credentials.
    """

    def __init__(self, title: str, message: str = "") -> None:
        super().__init__(f"{title}: {message}" if message else title)
        self.title = title
        self.message = message


class StoreUnavailable(StoreError):
    """The store did not serve the request, and trying again later may work: no answer
    (connection refused or dropped, a timeout), or an answer that says "not now" (429, 502,
    503, 504). What the pipeline backs off from and shows as an outage.

    Attributes:
        retry_after_s: seconds the server asked to wait (`Retry-After`), if it said.
        may_have_landed: the request may have been carried out even though no answer came
            (the connection dropped or timed out after it was sent); a 429 or 503 means it
            was not.
    """

    def __init__(
        self,
        title: str,
        message: str = "",
        *,
        retry_after_s: float | None = None,
        may_have_landed: bool = False,
    ) -> None:
        super().__init__(title, message)
        self.retry_after_s = retry_after_s
        self.may_have_landed = may_have_landed


class DocumentExists(StoreError):
    """A create-if-absent write found a document with that id already there (ES's 409
    `version_conflict_engine_exception`): someone else wrote it first.

    Attributes:
        doc_id: the id that is taken.
    """

    def __init__(self, index: str, doc_id: str) -> None:
        super().__init__("document already exists", f"[{doc_id}] in {index}: version conflict")
        self.doc_id = doc_id


@dataclass(frozen=True)
class Health:
    """What `Store.health()` reports.

    Attributes:
        ok: whether the store answers and can serve queries.
        status: `green`, `yellow`, `red` (cluster health) or `embedded`.
        name: where the data lives: `embedded (memory)`, `embedded (./data)` or the cluster's
            URL without credentials.
        version: the Elasticsearch version, or the engine's for the embedded store.
        detail: anything else worth showing (licence, node count, documents held).
    """

    ok: bool
    status: str
    name: str
    version: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BulkResult:
    """Outcome of `Store.bulk`: how many documents were written and the per-document errors.

    `duplicates` counts documents a data stream already held under the same `_id` (ES answers
    those `create` operations 409 per item): they are already there, so neither written nor
    errors. That is what makes telemetry with deterministic ids safe to write twice.
    """

    written: int
    errors: list[str] = field(default_factory=list)
    duplicates: int = 0


@runtime_checkable
class Store(Protocol):
    """What agents, the simulator and the CLI need from a store.

    Optional abilities are flags with safe defaults rather than `hasattr` checks.
    """

    #: True when `esql(..., now=...)` can fix `NOW()` (only the embedded store can).
    supports_fixed_now: bool

    def esql(
        self,
        query: str,
        *,
        params: EsqlParams = None,
        now: datetime | None = None,
    ) -> EsqlResult:
        """Run one ES|QL query with parameters; ES|QL warnings come back in `result.warnings`."""
        ...

    def bulk(self, index: str, documents: Iterable[Document]) -> BulkResult:
        """Write many documents to `index` (a data stream or an index)."""
        ...

    def index(
        self, index: str, document: Document, *, doc_id: str | None = None, create: bool = False
    ) -> str:
        """Write one document (replacing the one with the same `doc_id`); returns its id.

        With `create=True` the write only happens if no document has that id: otherwise it
        raises `DocumentExists` (how two processes agree on who owns an id).
        """
        ...

    def ensure_templates(self, *, telemetry: bool = True) -> list[str]:
        """Install the project's index templates (idempotent); returns the names installed.

        With `telemetry=False` only the agents' own indices (incidents, decisions) are
        installed: a live session must not create telemetry indices on the team's cluster.
        """
        ...

    def refresh(self, index: str | None = None) -> None:
        """Make everything written so far visible to queries."""
        ...

    def health(self) -> Health:
        """Report whether the store is reachable and serving."""
        ...

    def close(self) -> None:
        """Release connections and flush anything buffered."""
        ...
