"""Writes `fixtures/elasticsearch/ecs/*.ndjson`: a small estate as Elastic Agent and APM ship it.

Run `python -m tests.live.make_ecs_fixtures` to regenerate (seeded: the output is stable).

The estate, five minutes before 2026-11-25T14:00:00Z at Elastic Agent's default 10 s period:
- `frontend` (us-east-1: 1 host), `checkout` (us-east-1: 2 hosts), `payment` (us-east-1 and
  eu-west-1: 1 host each), as the System integration's cpu, memory and filesystem metricsets
  write them, with `service.name` and `cloud.region` added on the hosts (an `add_fields`
  processor / the cloud metadata processor).
- `legacy-batch` (eu-west-1: 1 host) whose samples stop two hours earlier: gone from the estate.
- APM transactions in `traces-apm-default`, one document per host and 10 s standing for 50
  requests (`transaction.representative_count`), about 1% failed.
- APM exit spans in `traces-apm-default`: frontend calls checkout over HTTP
  (`checkout:8080`), checkout calls payment (`payment.shop.svc:8443`) and PostgreSQL
  (`postgresql`, not a watched service).

Field names: Elastic Agent System integration, "System cpu/memory/filesystem metrics" field
references (`system.cpu.total.norm.pct`, `system.memory.actual.used.pct`,
`system.filesystem.used.pct`, percentages as fractions 0-1); APM span fields
(`processor.event`, `span.destination.service.resource`) and transaction fields
(`transaction.duration.us`, `transaction.representative_count`, `event.outcome`).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[2] / "fixtures" / "elasticsearch" / "ecs"
ANCHOR = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)

HOSTS = (
    ("frontend-use1-a", "frontend", "us-east-1"),
    ("checkout-use1-a", "checkout", "us-east-1"),
    ("checkout-use1-b", "checkout", "us-east-1"),
    ("payment-use1-a", "payment", "us-east-1"),
    ("payment-euw1-a", "payment", "eu-west-1"),
)
GONE = ("legacy-batch-euw1-a", "legacy-batch", "eu-west-1")
CALLS = (
    ("frontend", "frontend-use1-a", "us-east-1", "checkout:8080", "external", "http"),
    ("checkout", "checkout-use1-a", "us-east-1", "payment.shop.svc:8443", "external", "http"),
    ("checkout", "checkout-use1-b", "us-east-1", "postgresql", "db", "postgresql"),
)


def _iso(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def _common(at: datetime, host: str, service: str, region: str, dataset: str) -> dict[str, Any]:
    return {
        "@timestamp": _iso(at),
        "data_stream": {"type": "metrics", "dataset": dataset, "namespace": "default"},
        "event": {"dataset": dataset, "module": "system", "duration": 1200000},
        "metricset": {"name": dataset.split(".")[1], "period": 10000},
        "agent": {"type": "metricbeat", "version": "8.19.6"},
        "host": {"name": host, "hostname": host, "os": {"type": "linux"}},
        "cloud": {"provider": "aws", "region": region},
        "service": {"name": service},
    }


def _metrics(rng: random.Random, at: datetime, host: tuple[str, str, str]) -> list[Any]:
    name, service, region = host
    lines: list[Any] = []
    cpu = _common(at, name, service, region, "system.cpu")
    cpu["system"] = {
        "cpu": {"cores": 4, "total": {"pct": 0, "norm": {"pct": round(rng.uniform(0.2, 0.4), 4)}}}
    }
    cpu["system"]["cpu"]["total"]["pct"] = round(
        cpu["system"]["cpu"]["total"]["norm"]["pct"] * 4, 4
    )
    memory = _common(at, name, service, region, "system.memory")
    memory["system"] = {"memory": {"actual": {"used": {"pct": round(rng.uniform(0.4, 0.55), 4)}}}}
    disk = _common(at, name, service, region, "system.filesystem")
    disk["system"] = {
        "filesystem": {"mount_point": "/", "used": {"pct": round(rng.uniform(0.3, 0.31), 4)}}
    }
    for index, document in (
        ("metrics-system.cpu-default", cpu),
        ("metrics-system.memory-default", memory),
        ("metrics-system.filesystem-default", disk),
    ):
        lines += [{"create": {"_index": index}}, document]
    return lines


def _spans(rng: random.Random, at: datetime) -> list[Any]:
    lines: list[Any] = []
    for service, host, region, resource, span_type, subtype in CALLS:
        document = {
            "@timestamp": _iso(at),
            "data_stream": {"type": "traces", "dataset": "apm", "namespace": "default"},
            "processor": {"event": "span"},
            "service": {"name": service, "version": "1.4.2"},
            "host": {"name": host},
            "cloud": {"region": region},
            "span": {
                "id": f"{rng.getrandbits(64):016x}",
                "type": span_type,
                "subtype": subtype,
                "duration": {"us": rng.randint(900, 4000)},
                "destination": {"service": {"resource": resource}},
            },
            "event": {"outcome": "success"},
        }
        lines += [{"create": {"_index": "traces-apm-default"}}, document]
    return lines


def _transaction(rng: random.Random, at: datetime, host: tuple[str, str, str]) -> list[Any]:
    name, service, region = host
    document = {
        "@timestamp": _iso(at),
        "data_stream": {"type": "traces", "dataset": "apm", "namespace": "default"},
        "processor": {"event": "transaction"},
        "service": {"name": service, "version": "1.4.2"},
        "host": {"name": name},
        "cloud": {"region": region},
        "transaction": {
            "id": f"{rng.getrandbits(64):016x}",
            "type": "request",
            "duration": {"us": rng.randint(20000, 60000)},
            "representative_count": 50.0,
        },
        "event": {"outcome": "failure" if rng.random() < 0.01 else "success"},
    }
    return [{"create": {"_index": "traces-apm-default"}}, document]


def build() -> dict[str, list[Any]]:
    """The fixture files' lines: bulk action/document pairs, oldest first."""
    rng = random.Random("ecs-fixtures")
    metrics: list[Any] = []
    for step in range(30, 0, -1):
        at = ANCHOR - timedelta(seconds=10 * (step - 1))
        for host in HOSTS:
            metrics += _metrics(rng, at, host)
    for step in range(6):
        metrics += _metrics(rng, ANCHOR - timedelta(hours=2, seconds=10 * step), GONE)
    spans: list[Any] = []
    for step in range(30, 0, -1):
        at = ANCHOR - timedelta(seconds=10 * (step - 1))
        for host in HOSTS:
            spans += _transaction(rng, at, host)
    for step in range(0, 300, 60):
        spans += _spans(rng, ANCHOR - timedelta(seconds=step))
    return {"metrics-system.ndjson": metrics, "traces-apm.ndjson": spans}


def main() -> None:
    """Write the files."""
    OUT.mkdir(parents=True, exist_ok=True)
    for name, lines in build().items():
        text = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)
        (OUT / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
