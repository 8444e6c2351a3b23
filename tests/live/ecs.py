"""ECS-shaped data at the HTTP boundary: load the fixtures into a cluster, read them back.

`load_ecs(url)` sends `fixtures/elasticsearch/ecs/` to a cluster as a team's collectors would
have (index creation with the integrations' mappings, then `_bulk`), through the official
client; the built-in `ecs` profile reads it back.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

ECS = Path(__file__).resolve().parents[2] / "fixtures" / "elasticsearch" / "ecs"

#: The instant the fixtures' newest samples were taken (see make_ecs_fixtures).
ANCHOR_ISO = "2026-11-25T14:00:00Z"


def _shifted(document: dict[str, Any], by: timedelta) -> dict[str, Any]:
    at = datetime.fromisoformat(document["@timestamp"].replace("Z", "+00:00")) + by
    return {**document, "@timestamp": at.isoformat().replace("+00:00", "Z")}


def load_ecs(url: str, *, shift: timedelta = timedelta(0)) -> int:
    """Create the ECS indices on the cluster at `url` and bulk the fixtures into them.

    `shift` moves every timestamp (to make the data recent for a wall-clock run). Returns how
    many documents were sent.
    """
    mappings = json.loads((ECS / "mappings.json").read_text(encoding="utf-8"))
    client = Elasticsearch(url)
    try:
        for index, mapping in mappings.items():
            if not index.startswith("_"):
                client.indices.create(index=index, mappings=mapping)
        sent = 0
        for name in ("metrics-system.ndjson", "traces-apm.ndjson"):
            lines = [
                json.loads(line)
                for line in (ECS / name).read_text(encoding="utf-8").splitlines()
                if line.strip()
            ]
            operations = [
                line if position % 2 == 0 else _shifted(line, shift)
                for position, line in enumerate(lines)
            ]
            answer = client.bulk(operations=operations, refresh=True)
            assert not answer["errors"], answer
            sent += len(lines) // 2
        return sent
    finally:
        client.close()
