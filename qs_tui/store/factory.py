"""`open_store`: the one place that decides which store the app talks to."""

from __future__ import annotations

from pathlib import Path

from qs_tui.config import Settings
from qs_tui.store.base import Store, StoreError

__all__ = ["open_store"]


def open_store(
    settings: Settings,
    *,
    kind: str | None = None,
    data_dir: Path | None = None,
) -> Store:
    """Open the store `kind` names, or the one `settings` chooses.

    Args:
        settings: the loaded settings; `settings.store_kind` decides when `kind` is None.
        kind: `"embedded"` or `"elastic"` to override the settings (e.g. `--store`).
        data_dir: where the embedded store persists (overrides `QS_DATA_DIR`); None keeps
            the settings' choice, which may be memory only.

    Returns:
        An `EmbeddedStore` with the index templates installed, or an `ElasticStore`
        (connected lazily; call `ensure_templates()` before writing).

    Raises:
        StoreError: an unknown kind, or `elastic` without `ELASTIC_URL`/`ELASTIC_CLOUD_ID`.
    """
    chosen = kind or settings.store_kind
    if chosen == "embedded":
        # Imported here so that a cluster-only run never loads the embedded engine, and
        # the embedded default never imports the elasticsearch client.
        from qs_tui.store.embedded import EmbeddedStore

        store = EmbeddedStore(data_dir=data_dir or settings.data_dir, retention=settings.retention)
        store.ensure_templates()
        return store
    if chosen == "elastic":
        if not settings.cluster_configured:
            raise StoreError(
                "no cluster configured",
                "set ELASTIC_URL (e.g. https://localhost:9200) or ELASTIC_CLOUD_ID, with "
                "ELASTIC_API_KEY or ELASTIC_USERNAME/ELASTIC_PASSWORD (in the environment or "
                ".env), or use the embedded store",
            )
        from qs_tui.store.elastic import ElasticStore

        return ElasticStore(settings)
    raise StoreError("unknown store", f"{kind!r}: choose embedded or elastic")
