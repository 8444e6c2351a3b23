"""`open_store` picks the store the settings (or `--store`) ask for."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from qs_tui.config import Settings
from qs_tui.store.base import StoreError
from qs_tui.store.elastic import ElasticStore
from qs_tui.store.embedded import EmbeddedStore
from qs_tui.store.factory import open_store


def settings(**env: str) -> Settings:
    """Settings with exactly these variables."""
    return Settings.load(env=env, env_file=None)


def test_nothing_configured_opens_the_embedded_store_in_memory() -> None:
    store = open_store(settings())

    assert isinstance(store, EmbeddedStore)
    assert store.health().name == "embedded (memory)"
    store.close()


def test_data_dir_argument_wins_over_qs_data_dir(tmp_path: Path) -> None:
    chosen = tmp_path / "chosen"
    store = open_store(settings(QS_DATA_DIR=str(tmp_path / "ignored")), data_dir=chosen)

    assert store.health().name == f"embedded ({chosen})"
    assert chosen.is_dir()
    assert not (tmp_path / "ignored").exists()
    store.close()


def test_qs_data_dir_is_used_when_no_argument(tmp_path: Path) -> None:
    store = open_store(settings(QS_DATA_DIR=str(tmp_path)))

    assert store.health().name == f"embedded ({tmp_path})"
    store.close()


def test_a_configured_cluster_opens_the_elastic_store() -> None:
    store = open_store(settings(ELASTIC_URL="https://es.example.com:9200", ELASTIC_API_KEY="k3y"))

    assert isinstance(store, ElasticStore)
    assert store.name == "https://es.example.com:9200"
    store.close()


def test_kind_overrides_the_settings() -> None:
    store = open_store(settings(ELASTIC_URL="http://localhost:9200"), kind="embedded")

    assert isinstance(store, EmbeddedStore)
    store.close()


@pytest.mark.parametrize(("env", "kind"), [({}, "elastic"), ({"QS_STORE": "elastic"}, None)])
def test_elastic_without_a_cluster_says_what_to_set(env: dict[str, str], kind: str | None) -> None:
    with pytest.raises(StoreError) as caught:
        open_store(settings(**env), kind=kind)

    assert caught.value.title == "no cluster configured"
    assert "ELASTIC_URL" in caught.value.message
    assert "ELASTIC_CLOUD_ID" in caught.value.message


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(StoreError, match="choose embedded or elastic"):
        open_store(settings(), kind="mongo")


def test_a_cloud_id_names_the_deployment_endpoint_without_credentials() -> None:
    encoded = base64.b64encode(
        b"us-central1.gcp.cloud.es.io:443$4fa8821e75634032bed1cf22110e2f97$k"
    )
    store = open_store(
        settings(
            ELASTIC_CLOUD_ID="qs-prod:" + encoded.decode("ascii"),
            ELASTIC_USERNAME="elastic",
            ELASTIC_PASSWORD="pw-never-shown",
        )
    )

    assert isinstance(store, ElasticStore)
    assert store.name == "https://4fa8821e75634032bed1cf22110e2f97.us-central1.gcp.cloud.es.io"
    assert "pw-never-shown" not in repr(store)
    store.close()


def test_a_malformed_cloud_id_is_a_store_error() -> None:
    with pytest.raises(StoreError) as caught:
        open_store(settings(ELASTIC_CLOUD_ID="not-a-cloud-id"))

    assert caught.value.title == "invalid cluster settings"
    assert "ELASTIC_CLOUD_ID" in caught.value.message
