"""Fixtures for the store tests: the fake Elasticsearch server and stores pointed at it."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from qs_tui.config import Settings
from qs_tui.store.elastic import ElasticStore
from tests.store.fake_es import FakeElasticsearch

#: An API key in the encoded form Kibana shows: base64("<id>:<secret>").
API_KEY_ID = "VuaCfGcBCdbkQm-e5aOx"
API_KEY_SECRET = "ui2lp2axTNmsyakw9tvNnw"
API_KEY = base64.b64encode(f"{API_KEY_ID}:{API_KEY_SECRET}".encode()).decode("ascii")
PASSWORD = "s3cr3t-Pa55word"


def settings_for(url: str, **env: str) -> Settings:
    """Settings for `url` plus any other variables, ignoring the process environment."""
    return Settings.load(env={"ELASTIC_URL": url, **env}, env_file=None)


def elastic_store_for(url: str, **env: str) -> ElasticStore:
    """An `ElasticStore` for `url` that backs off briefly and does not retry connections."""
    return ElasticStore(
        settings_for(url, **env),
        bulk_initial_backoff_s=0.01,
        bulk_max_backoff_s=0.02,
        connection_retries=0,
    )


@pytest.fixture
def fake_es() -> Iterator[FakeElasticsearch]:
    """A fake Elasticsearch 9.x answering from fixtures."""
    with FakeElasticsearch() as server:
        yield server


@pytest.fixture
def elastic_store(fake_es: FakeElasticsearch) -> Iterator[ElasticStore]:
    """An `ElasticStore` with an API key, pointed at `fake_es`."""
    store = elastic_store_for(fake_es.url, ELASTIC_API_KEY=API_KEY)
    yield store
    store.close()


@pytest.fixture(scope="session")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made with the openssl command."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "http_ca.crt", folder / "http.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key
