"""A store double that records what the simulator writes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from qs_tui.esql.catalog import EsqlResult
from qs_tui.store.base import BulkResult, Document, EsqlParams, Health, StoreError


class RecordingStore:
    """Keeps every bulk() call in memory; answers nothing else."""

    supports_fixed_now = False

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[dict[str, Any]]]] = []
        self.templates_installed = 0
        self.refreshes = 0

    def esql(
        self, query: str, *, params: EsqlParams = None, now: datetime | None = None
    ) -> EsqlResult:
        # As a store without the data would: the simulator then writes its whole history.
        raise StoreError("the recording store does not run queries")

    def bulk(self, index: str, documents: Iterable[Document]) -> BulkResult:
        batch = [dict(document) for document in documents]
        self.calls.append((index, batch))
        return BulkResult(written=len(batch))

    def index(
        self, index: str, document: Document, *, doc_id: str | None = None, create: bool = False
    ) -> str:
        self.calls.append((index, [dict(document)]))
        return doc_id or str(len(self.calls))

    def ensure_templates(self, *, telemetry: bool = True) -> list[str]:
        self.templates_installed += 1
        return []

    def refresh(self, index: str | None = None) -> None:
        self.refreshes += 1

    def health(self) -> Health:
        return Health(ok=True, status="embedded", name="recording")

    def close(self) -> None:
        return None

    def documents(self, index: str) -> list[dict[str, Any]]:
        """Every document written to `index`, in order."""
        return [doc for name, batch in self.calls if name == index for doc in batch]
