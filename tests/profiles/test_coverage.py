"""`qs-tui doctor --profile`: mapped fields the store holds, signals and detectors that run."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from qs_tui.cli import main
from qs_tui.profiles import load_profile
from qs_tui.profiles.coverage import profile_coverage
from qs_tui.store.embedded import EmbeddedStore
from tests.profiles.test_render import _shop_store
from tests.store.fake_es import FakeElasticsearch, load_fixture

SHOP = Path(__file__).parent / "shop.toml"
WHERE = "metrics-system.cpu-shop, traces-apm-shop"

pytestmark = pytest.mark.filterwarnings("ignore::elasticsearch.ElasticsearchWarning")


def _lines(store: EmbeddedStore) -> dict[str, str]:
    checks = profile_coverage(load_profile(str(SHOP)), store)
    return {check.name: check.line() for check in checks}


def test_embedded_store_coverage_lists_signals_and_detectors() -> None:
    lines = _lines(_shop_store())
    assert lines["metrics"] == f"ok    metrics: 2 indices match {WHERE}"
    assert lines["cpu"] == f"ok    cpu: available — system.cpu.total.norm.pct in {WHERE}"
    assert lines["error rate"] == f"ok    error rate: available — ratio of documents in {WHERE}"
    assert lines["disk"] == "warn  disk: missing — the profile does not map it"
    assert lines["logs"] == "ok    logs: 1 index match logs-shop"
    assert lines["deployments"] == "ok    deployments: 1 index match traces-apm-shop"
    assert lines["detector memory_leak"] == "ok    detector memory_leak: available (memory)"
    assert lines["detector disk_fill"] == "warn  detector disk_fill: cannot run — needs disk"
    assert lines["coverage"] == "ok    coverage: 5 of 6 signals, 5 of 6 detectors available"


def test_a_field_the_store_lacks_makes_its_signal_and_detectors_missing() -> None:
    store = _shop_store()
    store.bulk("other-index", [{"@timestamp": "2026-11-25T13:00:00Z"}])
    shop = load_profile(str(SHOP))
    assert shop.metrics is not None
    latency = shop.metrics.signals["latency_p95_ms"].model_copy(
        update={"field": "transaction.duration.ms"}
    )
    signals = {**shop.metrics.signals, "latency_p95_ms": latency}
    metrics = shop.metrics.model_copy(update={"signals": signals})
    lines = {
        c.name: c.line()
        for c in profile_coverage(shop.model_copy(update={"metrics": metrics}), store)
    }
    assert lines["p95 latency"] == (
        f"warn  p95 latency: missing — no field transaction.duration.ms in {WHERE}"
    )
    assert lines["detector latency_regression"] == (
        "warn  detector latency_regression: cannot run — needs p95 latency"
    )


def test_a_field_of_an_unusable_type_fails() -> None:
    store = EmbeddedStore()
    store.bulk(
        "metrics-system.cpu-shop",
        [{"@timestamp": "2026-11-25T13:00:00Z", "service.name": "a", "cloud.region": "r",
          "host.name": "h", "system.cpu.total.norm.pct": "high"}],
    )  # fmt: skip
    lines = _lines(store)
    assert lines["cpu"].startswith(
        f"FAIL  cpu: missing — field system.cpu.total.norm.pct in {WHERE} is "
    )
    assert lines["cpu"].endswith("not a number ES|QL can read")


def test_nothing_matching_is_reported_per_data_set() -> None:
    lines = _lines(EmbeddedStore())
    assert lines["metrics"] == f"warn  metrics: unusable — no index matches {WHERE}"
    assert lines["cpu"] == f"warn  cpu: missing — no index matches {WHERE}"
    assert lines["coverage"] == "FAIL  coverage: 0 of 6 signals, 0 of 6 detectors available"


def test_doctor_profile_reads_field_caps_from_the_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(SHOP.parent.parent)  # no .env
    for name in ("QS_PROFILE", "QS_STORE", "ELASTIC_CLOUD_ID", "ELASTIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with FakeElasticsearch() as server:
        server.field_caps = load_fixture("field_caps_shop.json")
        # The fixture's cluster has no transaction durations: no p95 latency.
        monkeypatch.setenv("ELASTIC_URL", server.url)
        out, err = io.StringIO(), io.StringIO()
        status = main(
            ["doctor", "--profile", str(SHOP), "--env-file", "/dev/null"], out=out, err=err
        )
        requests = server.requests_to(
            "POST", r"/metrics-system\.cpu-shop,traces-apm-shop/_field_caps"
        )
    lines = out.getvalue().splitlines()
    assert status == 0, out.getvalue() + err.getvalue()
    assert requests, "the field caps of the metrics indices were not asked for"
    assert "system.cpu.total.norm.pct" in requests[0].body["fields"]
    assert requests[0].query["ignore_unavailable"] == "true"
    assert f"ok    cpu: available — system.cpu.total.norm.pct in {WHERE}" in lines
    assert f"warn  p95 latency: missing — no field transaction.duration.us in {WHERE}" in lines
    assert "warn  detector latency_regression: cannot run — needs p95 latency" in lines
    assert "ok    logs: 1 index match logs-shop" in lines
    assert "ok    coverage: 4 of 6 signals, 4 of 6 detectors available" in lines


def test_doctor_without_a_chosen_profile_prints_no_coverage(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("QS_PROFILE", "ELASTIC_URL", "ELASTIC_CLOUD_ID", "QS_STORE"):
        monkeypatch.delenv(name, raising=False)
    out = io.StringIO()
    main(["doctor"], out=out, err=io.StringIO())
    assert "coverage:" not in out.getvalue()
    out = io.StringIO()
    main(["doctor", "--profile", "qs"], out=out, err=io.StringIO())
    # The embedded store maps QuantumState's own indices as soon as it opens.
    assert "ok    coverage: 6 of 6 signals, 6 of 6 detectors available" in out.getvalue()


def test_every_detector_signal_has_a_canonical_column() -> None:
    from qs_tui.agents.detectors import Signal
    from qs_tui.profiles import SIGNAL_COLUMNS, SIGNAL_LABELS

    assert {signal.value for signal in Signal} == set(SIGNAL_COLUMNS) == set(SIGNAL_LABELS)
