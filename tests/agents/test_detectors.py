"""The detector registry: one module per anomaly kind, and everything the agents read from it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from qs_tui.agents.detectors import DETECTORS, detector_for, signature_kinds
from qs_tui.agents.detectors.base import DetectionPass, Finding, Signal
from qs_tui.models import ActionKind, Anomaly, AnomalyKind

ESQL = Path(__file__).resolve().parents[2] / "esql"


def test_every_kind_has_exactly_one_detector() -> None:
    kinds = [d.kind for d in DETECTORS]
    assert sorted(kinds) == sorted(AnomalyKind)
    assert len(set(kinds)) == len(kinds)
    for kind in AnomalyKind:
        assert detector_for(kind).kind is kind


def test_each_detector_names_a_query_of_the_library_and_the_signals_it_reads() -> None:
    for detector in DETECTORS:
        assert (ESQL / f"{detector.query}.esql").is_file(), detector.query
        assert detector.signals, detector.kind
        assert all(isinstance(signal, Signal) for signal in detector.signals)
        assert detector.critical_outcome and detector.search_words and detector.log_signatures


def test_cause_ranks_order_every_kind_once() -> None:
    ranks = [d.cause_rank for d in DETECTORS]
    assert sorted(ranks) == list(range(len(DETECTORS)))
    # A saturated CPU explains slow and failing requests, not the other way round.
    cpu = detector_for(AnomalyKind.CPU_SATURATION)
    for detector in DETECTORS:
        if detector.saturation_symptom:
            assert cpu.cause_rank < detector.cause_rank


def test_saturation_runs_after_the_detectors_whose_findings_it_reads() -> None:
    order = [d.kind for d in DETECTORS]
    cpu_at = order.index(AnomalyKind.CPU_SATURATION)
    for detector in DETECTORS:
        if detector.saturation_symptom:
            assert order.index(detector.kind) < cpu_at


def test_fault_signatures_point_at_their_detector_and_a_confirming_metric() -> None:
    named = signature_kinds()
    assert named["saturation"].kind is AnomalyKind.CPU_SATURATION
    assert named["memory"].kind is AnomalyKind.MEMORY_LEAK
    for signature, detector in named.items():
        assert signature in detector.log_signatures
        assert detector.health_metric is not None


def test_remedies_pick_by_log_and_cascade() -> None:
    latency = detector_for(AnomalyKind.LATENCY_REGRESSION)
    cache = latency.remedy(ActionKind.FLUSH_CACHE, dominant_log="cache", cascade=False)
    other = latency.remedy(ActionKind.FLUSH_CACHE, dominant_log="timeout", cascade=False)
    assert cache is not None and other is not None
    assert cache.effectiveness > other.effectiveness
    errors = detector_for(AnomalyKind.ERROR_SPIKE)
    assert errors.remedy(ActionKind.FAILOVER, dominant_log=None, cascade=False) is not None
    assert errors.remedy(ActionKind.FAILOVER, dominant_log=None, cascade=True) is None
    assert errors.remedy(ActionKind.RESTART, dominant_log=None, cascade=False) is None


def test_trend_detectors_date_their_onset_from_the_fit_others_from_bad_minutes() -> None:
    for detector in DETECTORS:
        assert (detector.trend is not None) != (detector.bad_minute is not None), detector.kind


def _anomaly(service: str, kind: AnomalyKind) -> Anomaly:
    at = datetime(2026, 11, 25, 12, tzinfo=UTC)
    return Anomaly(
        kind=kind,
        service=service,
        region="us-east-1",
        signal="x",
        detected_at=at,
        onset_at=at,
        value=1.0,
        critical_threshold=2.0,
        confidence=0.9,
        query=detector_for(kind).query,
        summary="-",
    )


def test_a_pass_knows_which_places_show_symptoms_of_saturation() -> None:
    slow = _anomaly("checkout", AnomalyKind.LATENCY_REGRESSION)
    leak = _anomaly("payment", AnomalyKind.MEMORY_LEAK)
    detection = DetectionPass(
        now=datetime(2026, 11, 25, tzinfo=UTC),
        earlier=(Finding(slow, 1.0), Finding(leak, 1.0)),
        saturation_symptoms=frozenset({AnomalyKind.LATENCY_REGRESSION}),
    )
    assert detection.strained() == {(slow.service, slow.region)}
