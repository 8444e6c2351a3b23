"""Fixtures for the live-source tests: a fake cluster holding ECS-shaped telemetry."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from qs_tui.clock import FrozenClock
from qs_tui.profiles import load_profile
from qs_tui.store.elastic import ElasticStore
from tests.live.ecs import ANCHOR_ISO, load_ecs
from tests.store.conftest import API_KEY, elastic_store_for
from tests.store.fake_es import FakeElasticsearch

ANCHOR = datetime.fromisoformat(ANCHOR_ISO.replace("Z", "+00:00")).astimezone(UTC)


@dataclass(frozen=True)
class EcsCluster:
    """A fake cluster loaded with the ECS fixtures, a store pointed at it, and the moment
    (`clock`) the fixtures' newest samples were taken.

    Attributes:
        fake: the server (its `requests` list what the client sent).
        store: an `ElasticStore` with an API key.
        clock: frozen at the fixtures' newest sample.
        loaded: how many requests the loading sent (those before are not the source's).
    """

    fake: FakeElasticsearch
    store: ElasticStore
    clock: FrozenClock
    loaded: int


#: The built-in profile for Elastic Agent's System integration and APM.
ECS = load_profile("ecs")


@pytest.fixture
def ecs_cluster() -> Iterator[EcsCluster]:
    """A fake Elasticsearch 9.x with the engine on, holding the ECS fixtures."""
    with FakeElasticsearch(engine=True) as fake:
        load_ecs(fake.url)
        store = elastic_store_for(fake.url, ELASTIC_API_KEY=API_KEY)
        yield EcsCluster(fake, store, FrozenClock(ANCHOR), len(fake.requests))
        store.close()
