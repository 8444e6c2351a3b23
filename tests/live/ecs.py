"""ECS-shaped data at the HTTP boundary: load the fixtures into a cluster, read them back.

`load_ecs(url)` sends `fixtures/elasticsearch/ecs/` to a cluster as a team's collectors would
have (index creation with the integration's mappings, then `_bulk`), through the official
client. `ecs_render` is the metrics source part the `ecs` profile renders (bucket mode, per
the profile contract), written out here so these tests pin the exact ES|QL sent.
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

#: The ecs profile's metrics source part for a query bounded by ?start/?end (bucket mode).
ECS_METRICS = """\
FROM metrics-system.cpu-*, metrics-system.memory-*, metrics-system.filesystem-*
| WHERE @timestamp >= TO_DATETIME(?start) AND @timestamp <= TO_DATETIME(?end)
| STATS cpu_percent = AVG(system.cpu.total.norm.pct) * 100.0,
        memory_percent = AVG(system.memory.actual.used.pct) * 100.0,
        disk_percent = MAX(system.filesystem.used.pct) * 100.0
     BY @timestamp = BUCKET(@timestamp, 10 seconds), service = service.name,
        region = cloud.region, host = host.name
| WHERE service IS NOT NULL AND host IS NOT NULL"""


def ecs_render(text: str, profile: Any) -> str:
    """Replace a canonical `FROM qs-metrics | WHERE <bounds>` with the ECS source part."""
    lines = text.splitlines()
    body = [line for line in lines if line.strip() and not line.lstrip().startswith("//")]
    assert body[0] == "FROM qs-metrics", body[0]
    assert body[1].startswith("| WHERE @timestamp >= TO_DATETIME(?start) AND @timestamp <"), body[1]
    return "\n".join([ECS_METRICS, *body[2:]])


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
