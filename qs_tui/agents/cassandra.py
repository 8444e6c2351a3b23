"""Cassandra detects and predicts: runs the registered detectors, rolls their findings up,
dates the onsets and links symptoms to their causes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from qs_tui.agents.base import Agent, AgentContext
from qs_tui.agents.detectors import DETECTORS, DetectionTuning, detector_for
from qs_tui.agents.detectors.base import DetectionPass, Finding, Group, Key, Row
from qs_tui.agents.detectors.trend import refit, trend_onset
from qs_tui.clock import iso_instant
from qs_tui.models import AgentName, Anomaly, AnomalyKind, SignalCheck

#: A check starts just after `since`: a sample stamped exactly then predates an action.
_AFTER = timedelta(milliseconds=1)
#: Rounds of (onset, slope) refinement for a new trend, and when they have settled.
_REFIT_ROUNDS = 3
_ONSET_TOLERANCE_S = 30.0
#: The kinds a hot CPU in the same place explains.
_SATURATION_SYMPTOMS = frozenset(d.kind for d in DETECTORS if d.saturation_symptom)


class Cassandra(Agent):
    """Detect and predict with every detector in `qs_tui.agents.detectors`: memory leaks,
    error spikes, latency regressions, CPU saturation, disk fill and regional traffic drops,
    each from an ES|QL query in `esql/`.

    Cassandra remembers what it currently sees (one anomaly per service, region and kind):
    while an anomaly lasts its baseline stays the one measured before the onset, so a long
    incident does not become "normal"; it speaks and writes the audit trail only when a
    finding is new.

    Args:
        context: the shared agent context.
        tuning: detector thresholds (defaults suit the simulator and real noisy traffic).
    """

    name = AgentName.CASSANDRA

    def __init__(self, context: AgentContext, *, tuning: DetectionTuning | None = None) -> None:
        super().__init__(context)
        self._tuning = tuning or DetectionTuning()
        self._active: dict[Key, Anomaly] = {}
        self._spreads: dict[Key, float] = {}
        self._traffic_baselines: dict[str, dict[str, float]] = {}
        self._timeline: dict[Group, list[Row]] = {}
        #: CPU rows by window during one pass: the CPU and traffic detectors share them.
        self._cpu_memo: dict[tuple[datetime, datetime], tuple[list[Row], dict[Group, float]]]
        self._cpu_memo = {}
        self._in_pass = False

    # ---- public API ---------------------------------------------------------------------

    @property
    def tuning(self) -> DetectionTuning:
        """The detectors' thresholds."""
        return self._tuning

    @property
    def active(self) -> dict[Key, Anomaly]:
        """The anomalies seen in the last pass, by key."""
        return dict(self._active)

    def detect(self) -> list[Anomaly]:
        """Run every detector for the window ending now.

        Returns:
            One anomaly per (service, region, kind), roots first; a symptom (of a cascade
            along the dependency graph, or of another kind in the same service and region)
            carries `symptom_of` = its root's key.
        """
        now = self.now
        tuning = self.tuning
        longest = max(tuning.spike_window_s, tuning.latency_window_s, tuning.traffic_window_s)
        self._timeline = self._minutes(self.baseline_start(now - timedelta(seconds=longest)), now)
        findings: list[Finding] = []
        self._cpu_memo = {}
        self._in_pass = True
        try:
            for detector in DETECTORS:
                detection = DetectionPass(
                    now=now,
                    earlier=tuple(findings),
                    saturation_symptoms=_SATURATION_SYMPTOMS,
                )
                findings += detector.detect(self, detection)
        finally:
            self._in_pass = False
            self._cpu_memo = {}
        anomalies = self._roll_up(findings)
        anomalies = self._estimate_onsets(now, anomalies)
        anomalies = self._link(anomalies)
        self._report(anomalies)
        return anomalies

    def check(self, anomaly: Anomaly, *, since: datetime) -> SignalCheck:
        """Re-read `anomaly`'s signal over [since, now): is it back within bounds?

        Args:
            anomaly: a finding of `detect()`.
            since: start of the window (usually when the remediation finished).

        Returns:
            Whether the signal is healthy, its current value and how many samples said so.
        """
        now = self.now
        # A sample stamped exactly at `since` was written before an action taken then.
        after = since + _AFTER
        if after >= now:
            return SignalCheck(healthy=False, value=None, samples=0, summary="no samples yet")
        return detector_for(anomaly.kind).check(self, anomaly, after, now)

    # ---- what detectors may ask (DetectorHost) ---------------------------------------------

    def run(self, name: str, **params: Any) -> list[Row]:
        """Run a query of the library and return its rows as records."""
        return self.query(name, **params).records()

    def baseline_start(self, start: datetime) -> datetime:
        """Where the baseline window before a current window starting at `start` begins."""
        return start - timedelta(seconds=self.context.settings.baseline_s)

    def robust_baseline(self, group: Group, column: str, start: datetime) -> float | None:
        """Median of the per-minute averages of `column` before `start` (`metrics_timeline`).

        A fault already underway when Cassandra first looks pollutes a baseline window's mean,
        standard deviation and p95; the median of its minutes holds until half of them are bad.
        """
        stamp = iso_instant(start)
        values = sorted(
            float(row[column])
            for row in self._timeline.get(group, [])
            if row[column] is not None and str(row["minute"]) < stamp
        )
        if len(values) < self.tuning.min_samples:
            return None
        middle = len(values) // 2
        if len(values) % 2:
            return values[middle]
        return (values[middle - 1] + values[middle]) / 2

    def remembered(self, key: Key) -> Anomaly | None:
        """The anomaly seen under `key` in the last pass, if any."""
        return self._active.get(key)

    def spread(self, key: Key) -> float | None:
        """The baseline spread measured when the anomaly under `key` was new."""
        return self._spreads.get(key)

    def traffic_baselines(self, service: str) -> dict[str, float] | None:
        """Per region, the throughput measured before `service`'s last drop began."""
        return self._traffic_baselines.get(service)

    def dropping(self, service: str) -> bool:
        """Whether a traffic drop of `service` was seen in the last pass."""
        return any(k[0] == service and k[2] == AnomalyKind.TRAFFIC_DROP.value for k in self._active)

    def cpu_rows(self, start: datetime, end: datetime) -> tuple[list[Row], dict[Group, float]]:
        """Per-host CPU rows for a window, and per group the number of hosts that served
        (sum of samples over the most samples of one host: a host added midway counts in
        part). Within one detection pass each window is read once."""
        window = (start, end)
        if self._in_pass and window in self._cpu_memo:
            return self._cpu_memo[window]
        rows = self.run("cpu_saturation", start=start, end=end, threshold=self.tuning.cpu_threshold)
        samples: dict[Group, list[int]] = {}
        for row in rows:
            samples.setdefault((row["service"], row["region"]), []).append(int(row["samples"]))
        hosts = {g: sum(counts) / max(counts) for g, counts in samples.items() if max(counts) > 0}
        if self._in_pass:
            self._cpu_memo[window] = (rows, hosts)
        return rows, hosts

    # ---- roll-up, onset, cascade ----------------------------------------------------------

    def _roll_up(self, findings: Iterable[Finding]) -> list[Anomaly]:
        """One anomaly per (service, region, kind): the worst host names the group."""
        by_key: dict[Key, list[Finding]] = {}
        for finding in findings:
            by_key.setdefault(finding.anomaly.key, []).append(finding)
        anomalies = []
        for key, group in by_key.items():
            group.sort(key=lambda f: (-f.severity, f.anomaly.host or ""))
            worst = group[0]
            anomaly = worst.anomaly
            if len(group) > 1:
                anomaly = anomaly.model_copy(
                    update={"summary": f"{anomaly.summary} [{len(group)} hosts affected]"}
                )
            # Baselines measured when a finding is new stay with it (detection and checks).
            if "spread" in worst.detail and key not in self._active:
                self._spreads[key] = float(worst.detail["spread"])
            if "regional" in worst.detail and not self.dropping(key[0]):
                self._traffic_baselines[key[0]] = dict(worst.detail["regional"])
            anomalies.append(anomaly)
        return anomalies

    def _estimate_onsets(self, now: datetime, anomalies: list[Anomaly]) -> list[Anomaly]:
        """Onset: from the fit for trends, else the first bad minute of the trailing run."""
        if not anomalies:
            return anomalies
        out = []
        for anomaly in anomalies:
            detector = detector_for(anomaly.kind)
            trend = detector.trend
            known = self._active.get(anomaly.key)
            if known is not None:
                onset = known.onset_at
                if trend is not None:
                    anomaly = refit(self, trend, anomaly, onset, now)
                    anomaly = anomaly.model_copy(update={"baseline": known.baseline})
            elif trend is not None:
                onset, level = trend_onset(self, trend, detector.query, anomaly, now)
                anomaly = refit(self, trend, anomaly, onset, now)
                if level is not None:
                    # The steeper refit moves the crossing with the normal level later: a few
                    # rounds settle onset and slope together.
                    for _ in range(_REFIT_ROUNDS):
                        slope = anomaly.slope_per_s or 0.0
                        crossing = now - timedelta(
                            seconds=max(0.0, (anomaly.value - level) / slope)
                        )
                        if abs((crossing - onset).total_seconds()) < _ONSET_TOLERANCE_S:
                            break
                        onset = max(onset, crossing)
                        anomaly = refit(self, trend, anomaly, onset, now)
                    anomaly = anomaly.model_copy(update={"baseline": level})
            else:
                rows = self._timeline.get((anomaly.service, anomaly.region), [])
                onset = self._run_onset(anomaly, rows)
            out.append(anomaly.model_copy(update={"onset_at": min(onset, now)}))
        return out

    def _minutes(self, start: datetime, end: datetime) -> dict[Group, list[Row]]:
        series: dict[Group, list[Row]] = {}
        for row in self.run("metrics_timeline", start=start, end=end):
            series.setdefault((row["service"], row["region"]), []).append(row)
        for rows in series.values():
            rows.sort(key=lambda r: str(r["minute"]))
        return series

    def _run_onset(self, anomaly: Anomaly, rows: list[Row]) -> datetime:
        """Start of the earliest minute of the bad run that reaches the present."""
        make_predicate = detector_for(anomaly.kind).bad_minute
        bad = make_predicate(self, anomaly, rows) if make_predicate is not None else None
        if bad is None:
            return anomaly.onset_at
        onset = anomaly.onset_at
        misses = 0
        for row in reversed(rows):
            if bad(row):
                onset = _parse_time(str(row["minute"]))
                misses = 0
            else:
                misses += 1
                # The newest bucket may hold a few seconds only; one good minute ends a run.
                if misses > 1 or onset != anomaly.onset_at:
                    break
        return onset

    def _link(self, anomalies: list[Anomaly]) -> list[Anomaly]:
        """Mark symptoms: other kinds in the same service/region, then cascades upstream."""
        by_group: dict[Group, list[Anomaly]] = {}
        for anomaly in anomalies:
            by_group.setdefault((anomaly.service, anomaly.region), []).append(anomaly)
        parent: dict[Key, Key] = {}
        roots: list[Anomaly] = []
        for members in by_group.values():
            members.sort(key=lambda a: (detector_for(a.kind).cause_rank, a.onset_at))
            roots.append(members[0])
            for other in members[1:]:
                parent[other.key] = members[0].key
        topology = self.context.topology
        remaining = sorted(roots, key=lambda a: (a.onset_at, a.service, a.region))
        while remaining:
            candidates = [
                a
                for a in remaining
                if any(_depends(topology, b, a) for b in remaining if b is not a)
            ]
            if not candidates:
                break
            root = min(candidates, key=lambda a: (a.onset_at, a.service))
            followers = [b for b in remaining if b is not root and _depends(topology, b, root)]
            for follower in followers:
                parent[follower.key] = root.key
            remaining = [a for a in remaining if a is not root and a not in followers]

        def ultimate(key: Key) -> Key:
            seen = set()
            while key in parent and key not in seen:
                seen.add(key)
                key = parent[key]
            return key

        linked = []
        for anomaly in anomalies:
            if anomaly.key in parent:
                anomaly = anomaly.model_copy(update={"symptom_of": ultimate(anomaly.key)})
            linked.append(anomaly)
        linked.sort(key=lambda a: (a.symptom_of is not None, a.onset_at, a.service, a.region))
        return linked

    def _report(self, anomalies: list[Anomaly]) -> None:
        """Speak about new findings and record them; forget the ones that cleared."""
        current = {a.key: a for a in anomalies}
        for key, anomaly in current.items():
            previous = self._active.get(key)
            if previous is not None and previous.symptom_of == anomaly.symptom_of:
                continue
            data = {
                "kind": anomaly.kind.value,
                "service": anomaly.service,
                "region": anomaly.region,
                "host": anomaly.host,
                "value": anomaly.value,
                "baseline": anomaly.baseline,
                "time_to_critical_s": anomaly.time_to_critical_s,
                "confidence": round(anomaly.confidence, 3),
                "onset_at": iso_instant(anomaly.onset_at),
                "query": anomaly.query,
            }
            text = anomaly.summary
            if anomaly.symptom_of is not None:
                text += f" — symptom of {anomaly.symptom_of[2]} on {anomaly.symptom_of[0]}"
                text += f"/{anomaly.symptom_of[1]}"
            level = "warn" if anomaly.symptom_of is None else "info"
            self.say(text, level=level, data=data)
            decision = "detected" if anomaly.symptom_of is None else "linked_symptom"
            self.decide(decision, text, incident_id=None, confidence=anomaly.confidence)
        self._active = current


def _depends(topology: Any, dependent: Anomaly, upstream: Anomaly) -> bool:
    """Whether `dependent` can be a symptom of `upstream`: same region, its service calls
    `upstream`'s (directly or not), and it did not start clearly before it."""
    if dependent.region != upstream.region or dependent.service == upstream.service:
        return False
    if dependent.service not in topology.dependents(upstream.service):
        return False
    return dependent.onset_at >= upstream.onset_at - timedelta(seconds=60)


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


__all__ = ["Cassandra", "DetectionTuning"]
