"""The simulator's ecs and otel shapes: documented fields and types, and a canonical sample
written in a shape reads back through that profile as the same values."""

from __future__ import annotations

import io
import math
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from qs_tui.cli import main
from qs_tui.clock import FrozenClock, ManualClock
from qs_tui.profiles import load_profile
from qs_tui.profiles.render import render_query
from qs_tui.queries import QueryFile, bind_params, load_query
from qs_tui.sim.cluster import Simulation
from qs_tui.sim.scenario import load_scenario
from qs_tui.sim.seed import seed
from qs_tui.sim.shapes import ShapeError, make_shape, simulated_shape
from qs_tui.store import templates as T
from qs_tui.store.embedded import EmbeddedStore
from tests.sim.conftest import START

SAMPLE: dict[str, Any] = {
    "_id": "payment-service-use1-a/1764079200000/metrics",
    "@timestamp": "2026-11-25T14:00:00.000Z",
    "service": "payment-service",
    "region": "us-east-1",
    "host": "payment-service-use1-a",
    "cpu_percent": 47.25,
    "memory_percent": 61.5,
    "error_rate": 0.02,
    "latency_p95_ms": 131.7,
    "requests_per_s": 80.5,
    "disk_percent": 42.125,
}
LOG_LINE: dict[str, Any] = {
    "_id": "payment-service-use1-a/1764079200000/log-0",
    "@timestamp": "2026-11-25T13:59:57.125Z",
    "service": "payment-service",
    "region": "us-east-1",
    "host": "payment-service-use1-a",
    "level": "ERROR",
    "error_code": "E_DB_TIMEOUT",
    "message": "E_DB_TIMEOUT: query on orders timed out after 300ms",
    "trace_id": "0123456789abcdef0123456789abcdef",
}
DEPLOY: dict[str, Any] = {
    "_id": "payment-service/us-east-1/1764079190000/deploy",
    "@timestamp": "2026-11-25T13:59:50.000Z",
    "service": "payment-service",
    "region": "us-east-1",
    "version": "2.4.0",
    "previous_version": "2.3.9",
    "author": "A. Person",
    "commit": "abc1234",
    "description": "release 2.4.0",
}
BATCH = {T.LOGS: [LOG_LINE], T.DEPLOYMENTS: [DEPLOY], T.METRICS: [SAMPLE]}
# A canonical read of every sample in a window: rendered for a profile like any library query.
READ_SAMPLES = QueryFile(
    name="read_samples",
    text="FROM qs-metrics\n"
    "| WHERE @timestamp >= TO_DATETIME(?start) AND @timestamp < TO_DATETIME(?end)\n"
    "| KEEP @timestamp, service, region, host, cpu_percent, memory_percent, disk_percent,\n"
    "       error_rate, latency_p95_ms, requests_per_s\n"
    "| SORT host, @timestamp\n"
    "| LIMIT 10000\n",
    description="every canonical sample in [?start, ?end)",
    params=("start", "end"),
)


def _by_index(shape: str) -> dict[str, list[dict[str, Any]]]:
    writer = make_shape(shape, initial_versions={"payment-service": "2.3.9"}, interval_s=10)
    return writer.convert(BATCH)


def test_ecs_documents_have_the_system_apm_and_ecs_fields() -> None:
    out = _by_index("ecs")
    assert set(out) == {T.ECS_CPU, T.ECS_MEMORY, T.ECS_FILESYSTEM, T.ECS_TRACES, T.ECS_LOGS}
    (cpu,) = out[T.ECS_CPU]
    assert cpu["system.cpu.total.norm.pct"] == pytest.approx(0.4725)
    assert cpu["host.name"] == "payment-service-use1-a"
    assert cpu["service.name"] == "payment-service"
    assert cpu["cloud.region"] == "us-east-1"
    assert cpu["_id"] == "payment-service-use1-a/1764079200000/system.cpu"
    assert out[T.ECS_MEMORY][0]["system.memory.actual.used.pct"] == pytest.approx(0.615)
    assert out[T.ECS_FILESYSTEM][0]["system.filesystem.used.pct"] == pytest.approx(0.42125)
    success, failure = out[T.ECS_TRACES]
    assert (success["event.outcome"], failure["event.outcome"]) == ("success", "failure")
    for transaction in (success, failure):
        assert transaction["processor.event"] == "transaction"
        assert transaction["transaction.duration.us"] == 131_700  # the p95, in microseconds
        # The deploy at 13:59:50 precedes the sample: the transactions run the new version.
        assert transaction["service.version"] == "2.4.0"
    # The interval's requests split by the error rate (per 10 s bucket).
    total = (
        success["transaction.representative_count"] + failure["transaction.representative_count"]
    )
    assert total == pytest.approx(805.0)
    assert failure["transaction.representative_count"] == pytest.approx(805.0 * 0.02)
    (log,) = out[T.ECS_LOGS]
    assert log["log.level"] == "ERROR"
    assert log["error.code"] == "E_DB_TIMEOUT"
    assert log["message"].startswith("E_DB_TIMEOUT")
    assert log["_id"] == LOG_LINE["_id"]


def test_otel_documents_have_the_hostmetrics_span_and_log_fields() -> None:
    out = _by_index("otel")
    assert set(out) == {T.OTEL_HOSTMETRICS, T.OTEL_TRACES, T.OTEL_LOGS}
    cpu, memory, disk = out[T.OTEL_HOSTMETRICS]
    assert cpu["attributes.state"] == "idle"
    assert cpu["metrics.system.cpu.utilization"] == pytest.approx(1 - 0.4725)
    assert memory["attributes.state"] == "used"
    assert memory["metrics.system.memory.utilization"] == pytest.approx(0.615)
    assert disk["metrics.system.filesystem.utilization"] == pytest.approx(0.42125)
    assert cpu["resource.attributes.host.name"] == "payment-service-use1-a"
    # A time series data stream makes its own ids (a client's is refused there).
    assert all("_id" not in d for d in (cpu, memory, disk))
    ok, error = out[T.OTEL_TRACES]
    assert (ok["status.code"], error["status.code"]) == ("Unset", "Error")
    assert (
        ok["attributes.http.response.status_code"],
        error["attributes.http.response.status_code"],
    ) == (200, 500)
    for span in (ok, error):
        assert span["kind"] == "Server"
        assert span["duration"] == 131_700_000  # nanoseconds
        assert span["resource.attributes.service.version"] == "2.4.0"
    assert error["attributes.transaction.representative_count"] == pytest.approx(16.1)
    (log,) = out[T.OTEL_LOGS]
    assert (log["severity_text"], log["body.text"]) == ("ERROR", LOG_LINE["message"])
    assert log["attributes.error.type"] == "E_DB_TIMEOUT"


def test_versions_stay_until_the_next_deploy_across_batches() -> None:
    writer = make_shape("ecs", initial_versions={"payment-service": "2.3.9"}, interval_s=10)
    earlier = SAMPLE | {"@timestamp": "2026-11-25T13:59:40.000Z"}
    first = writer.convert({T.DEPLOYMENTS: [DEPLOY], T.METRICS: [earlier]})
    assert {d["service.version"] for d in first[T.ECS_TRACES]} == {"2.3.9"}
    later = writer.convert({T.METRICS: [SAMPLE]})
    assert {d["service.version"] for d in later[T.ECS_TRACES]} == {"2.4.0"}


def test_unknown_shape_and_unsuited_interval_are_clear_errors() -> None:
    with pytest.raises(ShapeError, match="no shape called 'datadog'; choose one of qs, ecs, otel"):
        make_shape("datadog", initial_versions={}, interval_s=10)
    with pytest.raises(ShapeError, match=r"multiple of 10s .* not 15s"):
        make_shape("otel", initial_versions={}, interval_s=15)


@pytest.mark.parametrize(
    ("shape", "index", "types"),
    [
        (
            "ecs",
            T.ECS_CPU,
            {"system.cpu.total.norm.pct": "scaled_float", "host.name": "keyword"},
        ),
        (
            "ecs",
            T.ECS_TRACES,
            {
                "transaction.duration.us": "long",
                "transaction.representative_count": "double",
                "service.version": "keyword",
                "event.outcome": "keyword",
            },
        ),
        ("ecs", T.ECS_LOGS, {"message": "match_only_text", "log.level": "keyword"}),
        (
            "otel",
            T.OTEL_HOSTMETRICS,
            {
                "metrics.system.cpu.utilization": "double",
                "attributes.state": "keyword",
                "resource.attributes.service.name": "keyword",
            },
        ),
        ("otel", T.OTEL_TRACES, {"duration": "long", "kind": "keyword", "status.code": "keyword"}),
        ("otel", T.OTEL_LOGS, {"body.text": "match_only_text", "severity_text": "keyword"}),
    ],
)
def test_the_embedded_store_types_the_shapes_as_their_templates_say(
    shape: str, index: str, types: dict[str, str]
) -> None:
    store = EmbeddedStore()
    simulation = Simulation(clock=FrozenClock(START), shape=shape)
    simulation.backfill(store, timedelta(minutes=1))
    result = store.esql(f"FROM {index} | LIMIT 1")
    columns = {column.name: column.type for column in result.columns}
    expected = {name: "double" if kind == "scaled_float" else kind for name, kind in types.items()}
    expected = {n: "text" if k == "match_only_text" else k for n, k in expected.items()}
    assert {name: columns[name] for name in types} == expected
    properties = store.get_mapping(index)["properties"]
    assert {name: properties[name]["type"] for name in types} == types


def _samples(store: EmbeddedStore, text: str) -> list[dict[str, Any]]:
    params = bind_params({"start": START - timedelta(minutes=10), "end": START})
    return list(store.esql(text, params=params).records())


@pytest.mark.parametrize(("shape", "tolerance"), [("otel", 1e-9), ("ecs", 0.05 + 1e-9)])
def test_a_sample_written_in_a_shape_reads_back_through_its_profile(
    shape: str, tolerance: float
) -> None:
    """Every canonical sample of ten minutes, written as `shape` and read through the profile,
    equals the sample the qs shape stores. ECS's `*.pct` fields are scaled_float with factor
    1000, as the System integration maps them: 0.05 percentage points of rounding at most."""
    stores = {}
    for name in ("qs", shape):
        store = EmbeddedStore()
        store.ensure_templates()
        Simulation(clock=FrozenClock(START), shape=name).backfill(store, timedelta(minutes=10))
        stores[name] = store
    expected = _samples(stores["qs"], READ_SAMPLES.text)
    got = _samples(stores[shape], render_query(READ_SAMPLES, load_profile(shape)))
    assert len(got) == len(expected) == 24 * 60
    for want, have in zip(expected, got, strict=True):
        assert [have[k] for k in ("@timestamp", "service", "region", "host")] == [
            want[k] for k in ("@timestamp", "service", "region", "host")
        ]
        for column in ("error_rate", "latency_p95_ms", "requests_per_s"):
            assert math.isclose(have[column], want[column], rel_tol=1e-9, abs_tol=1e-9), column
        for column in ("cpu_percent", "memory_percent", "disk_percent"):
            assert abs(have[column] - want[column]) <= tolerance, column


@pytest.mark.parametrize("shape", ["ecs", "otel"])
def test_a_deploy_reads_back_as_the_first_appearance_of_its_version(shape: str) -> None:
    """leak-after-deploy deploys payment-service 2.4.0 in us-east-1 20 minutes before its
    start: read through the profile, the deployment is there within one interval."""
    scenario = load_scenario("leak-after-deploy")
    query = load_query("investigate_deploys")
    params = bind_params(
        {
            "start": scenario.start_time - timedelta(minutes=30),
            "end": scenario.start_time,
            "service": "payment-service",
        }
    )
    found: dict[str, list[tuple[str, str, datetime]]] = {}
    for name in ("qs", shape):
        store = EmbeddedStore()
        seed(store, scenario, history=timedelta(minutes=30), shape=name)
        text = render_query(query, load_profile(name))
        found[name] = [
            (r["version"], r["region"], datetime.fromisoformat(r["@timestamp"]))
            for r in store.esql(text, params=params).records()
            if r["version"] == "2.4.0"
        ]
    ((version, region, deployed_at),) = found["qs"]
    ((shaped_version, shaped_region, first_seen),) = found[shape]
    assert (shaped_version, shaped_region) == (version, region) == ("2.4.0", "us-east-1")
    assert timedelta(0) <= first_seen - deployed_at < timedelta(seconds=10)


@pytest.fixture
def _embedded_only(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ELASTIC_URL", "ELASTIC_CLOUD_ID", "QS_STORE", "QS_DATA_DIR", "QS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("_embedded_only")
def test_seed_profile_writes_the_shape_from_the_command_line() -> None:
    out, err = io.StringIO(), io.StringIO()
    argv = ["--env-file", os.devnull, "seed", "--scenario", "memory-leak", "--history", "2m"]
    status = main([*argv, "--profile", "ecs"], out=out, err=err)
    assert status == 0, err.getvalue()
    text = out.getvalue()
    assert text.startswith("seeded scenario memory-leak in the ecs shape:")
    for index in (T.ECS_CPU, T.ECS_MEMORY, T.ECS_FILESYSTEM, T.ECS_TRACES, T.ECS_LOGS):
        assert f"  {index} " in text


@pytest.mark.usefixtures("_embedded_only")
def test_seed_refuses_a_profile_it_cannot_simulate(tmp_path: Path) -> None:
    custom = tmp_path / "mine.toml"
    out, err = io.StringIO(), io.StringIO()
    argv = ["--env-file", os.devnull, "seed", "--history", "1m", "--profile", str(custom)]
    assert main(argv, out=out, err=err) == 1
    assert err.getvalue().splitlines()[-1] == (
        "error: seed --profile: the simulator writes the shapes of the built-in profiles "
        f"qs, ecs, otel, not {str(custom)!r}"
    )
    assert out.getvalue() == ""


def test_retention_prunes_the_shapes_telemetry() -> None:
    """Old ECS documents leave the in-process store as old qs samples do."""
    clock = ManualClock(START)
    simulation = Simulation(clock=clock, shape="ecs")
    store = EmbeddedStore(now=clock.now, retention=timedelta(minutes=20))
    simulation.backfill(store, timedelta(minutes=10))
    clock.advance(40 * 60)
    simulation.step(store)
    oldest = store.esql(f"FROM {T.ECS_CPU}, {T.ECS_TRACES} | STATS oldest = MIN(@timestamp)")
    (row,) = oldest.records()
    # Pruned to the last 20 minutes (the retention) behind the clock.
    assert datetime.fromisoformat(row["oldest"]) >= START + timedelta(minutes=20)


def test_the_simulator_writes_the_shape_its_readers_expect(tmp_path: Path) -> None:
    assert [simulated_shape(load_profile(name)) for name in ("qs", "ecs", "otel")] == [
        "qs",
        "ecs",
        "otel",
    ]
    assert simulated_shape(None) == "qs"
    # A custom profile, even one named like a built-in, has no simulated shape of its own.
    custom = tmp_path / "ecs.toml"
    custom.write_text(
        'name = "ecs"\n[metrics]\nindices = ["m-*"]\nservice = "s"\nregion = "r"\nhost = "h"\n',
        encoding="utf-8",
    )
    assert simulated_shape(load_profile(custom)) == "qs"


@pytest.mark.parametrize("shape", ["ecs", "otel"])
def test_a_drained_host_reads_back_as_serving_nothing_and_failing_nothing(shape: str) -> None:
    """After a failover a region's hosts serve no requests: the qs shape stores an error rate
    of 0 for them, and so must the profile (transactions that stand for no requests)."""
    values = {}
    for name in ("qs", shape):
        clock = ManualClock(START)
        simulation = Simulation(clock=clock, shape=name)
        store = EmbeddedStore(now=clock.now)
        store.ensure_templates()
        simulation.backfill(store, timedelta(minutes=1))
        assert simulation.apply_action("failover", "api-gateway", "us-east-1").ok
        clock.advance(60)
        simulation.step(store)
        text = READ_SAMPLES.text if name == "qs" else render_query(READ_SAMPLES, load_profile(name))
        params = bind_params({"start": START + timedelta(seconds=30), "end": clock.now()})
        values[name] = [
            (r["host"], r["requests_per_s"], r["error_rate"])
            for r in store.esql(text, params=params).records()
            if r["service"] == "api-gateway" and r["region"] == "us-east-1"
        ]
    assert values["qs"] and all(rps == 0.0 and rate == 0.0 for _, rps, rate in values["qs"])
    assert values[shape] == values["qs"]
