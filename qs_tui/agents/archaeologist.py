"""The Archaeologist: digs through logs, deployments and past incidents to explain an anomaly."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from qs_tui.agents.base import Agent, AgentContext
from qs_tui.agents.detectors import detector_for, signature_kinds
from qs_tui.clock import iso_instant
from qs_tui.esql.errors import EsqlError
from qs_tui.models import (
    AgentName,
    AnomalyKind,
    Deployment,
    Evidence,
    Hypothesis,
    Incident,
)
from qs_tui.queries import bind_params
from qs_tui.store.base import StoreError

CauseKind = Literal["deploy", "fault", "dependency", "capacity", "unknown"]

#: How a rollback deploy describes itself: undoing a release is never a suspect.
_ROLLBACK_PREFIX = "rollback"

# Weights of each kind of evidence at full strength; the confidence is a logistic function
# of their sum, so stronger or more numerous evidence always raises it.
_METRIC_WEIGHT = 0.35
_LOG_WEIGHT = 0.45
_DEPLOY_WEIGHT = 0.75
_SIMILAR_SAME_SERVICE = 0.25
_SIMILAR_SAME_KIND = 0.12
_SIMILAR_DISAGREES = 0.04
_LOGISTIC_SLOPE = 3.0
_LOGISTIC_MIDPOINT = 0.6
#: Net deploy support above which the deploy is named as the cause.
_DEPLOY_THRESHOLD = 0.3


def confidence_from(evidence: list[Evidence]) -> float:
    """A confidence in [0.01, 0.99] from the evidence weights (logistic in their sum).

    Monotonic: adding supporting evidence, or strengthening it, always raises the result.
    """
    total = sum(item.weight for item in evidence)
    value = 1.0 / (1.0 + math.exp(-_LOGISTIC_SLOPE * (total - _LOGISTIC_MIDPOINT)))
    return round(min(0.99, max(0.01, value)), 3)


@dataclass(frozen=True)
class ServiceHealth:
    """One service in one region over a window compared with its baseline.

    Attributes:
        service: the service.
        region: the region.
        reasons: what deviates (`error rate +0.25`); empty when healthy.
        metrics: the numbers the query returned.
    """

    service: str
    region: str
    reasons: tuple[str, ...]
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def sick(self) -> bool:
        """Whether anything deviates from the baseline."""
        return bool(self.reasons)


def deviations(row: Mapping[str, Any]) -> tuple[str, ...]:
    """What is abnormal in one row of `investigate_service_health.esql`."""
    reasons: list[str] = []

    def number(name: str) -> float | None:
        value = row.get(name)
        return float(value) if isinstance(value, int | float) else None

    base_errors, errors = number("base_errors"), number("errors")
    if (
        base_errors is not None
        and errors is not None
        and errors - base_errors > max(0.02, 2.0 * base_errors)
    ):
        reasons.append(f"error rate {errors:.3f} (baseline {base_errors:.3f})")
    latency_ratio = number("latency_ratio")
    if latency_ratio is not None and latency_ratio > 1.5:
        reasons.append(f"latency x{latency_ratio:.1f}")
    base_cpu, cpu = number("base_cpu"), number("cpu")
    if base_cpu is not None and cpu is not None and cpu - base_cpu > 20.0:
        reasons.append(f"cpu {cpu:.0f}% (baseline {base_cpu:.0f}%)")
    base_memory, memory = number("base_memory"), number("memory")
    if base_memory is not None and memory is not None and memory - base_memory > 8.0:
        reasons.append(f"memory {memory:.0f}% (baseline {base_memory:.0f}%)")
    rps_change = number("rps_change")
    if rps_change is not None and rps_change < -0.4:
        reasons.append(f"traffic {rps_change:+.0%}")
    base_disk, disk = number("base_disk"), number("disk")
    if base_disk is not None and disk is not None and disk - base_disk > 10.0:
        reasons.append(f"disk {disk:.0f}% (baseline {base_disk:.0f}%)")
    return tuple(reasons)


@dataclass(frozen=True)
class LogSignal:
    """One group of error/warning lines from `investigate_error_logs.esql`."""

    code: str
    level: str
    signature: str
    before: int
    after: int
    hosts: int
    surprise: float
    """How unlikely the count after onset is given the rate before (a Poisson z-score)."""


class Archaeologist(Agent):
    """Investigates an incident and returns a hypothesis with an evidence chain.

    Args:
        context: the shared agent context.
        deploy_lookback_s: how long before the onset a deploy counts as a suspect.
        deploy_half_life_s: the gap between deploy and onset that halves the deploy's blame.
        log_baseline_s: how long before the onset the logs are read as the normal rate.
        health_window_s: the window "as of" an instant in which health is judged.
    """

    name = AgentName.ARCHAEOLOGIST

    def __init__(
        self,
        context: AgentContext,
        *,
        deploy_lookback_s: float = 1800.0,
        deploy_half_life_s: float = 600.0,
        log_baseline_s: float = 1200.0,
        health_window_s: float = 300.0,
    ) -> None:
        super().__init__(context)
        self.deploy_lookback_s = deploy_lookback_s
        self.deploy_half_life_s = deploy_half_life_s
        self.log_baseline_s = log_baseline_s
        self.health_window_s = health_window_s
        #: The parameters each query first ran with in the current investigation.
        self._ran: dict[str, dict[str, Any]] = {}

    # ---- the investigation --------------------------------------------------------------

    def investigate(self, incident: Incident) -> Hypothesis:
        """Explain `incident`: logs, suspect deploys, past incidents, state at onset.

        Every link is said in the transcript; the hypothesis is also written to the
        agent-decisions index.
        """
        anomaly = incident.anomaly
        onset = anomaly.onset_at
        self._ran = {}
        evidence: list[Evidence] = [
            Evidence(
                kind="metric",
                summary=anomaly.summary,
                weight=round(_METRIC_WEIGHT * anomaly.confidence, 3),
                query=anomaly.query,
                data={"value": anomaly.value, "confidence": anomaly.confidence},
            )
        ]
        at_onset = self._health(
            baseline_end=onset - timedelta(seconds=self.health_window_s),
            start=onset - timedelta(seconds=self.health_window_s),
            end=onset,
        )
        root_service, root_region, upstream = self._locate_root(incident, at_onset, evidence)
        now_health = self._health(
            baseline_end=onset - timedelta(seconds=self.health_window_s),
            start=max(onset, self.now - timedelta(seconds=self.health_window_s)),
            end=self.now,
        )
        self._state_at_onset(incident, at_onset, evidence)
        signatures = self._logs(incident, evidence)
        dominant = signatures[0] if signatures else None
        suspect, deploy_support = self._deploys(
            incident, root_service, root_region, now_health, evidence
        )
        cascade = not upstream and self._cascade(incident, now_health, evidence)

        cause_kind: CauseKind
        if suspect is not None and deploy_support >= _DEPLOY_THRESHOLD:
            cause = f"deploy v{suspect.version}"
            cause_kind = "dependency" if upstream else "deploy"
        else:
            if suspect is not None:
                self._acquit(incident, suspect, deploy_support, evidence)
            suspect = None
            if upstream or cascade:
                cause, cause_kind = "cascade", "dependency" if upstream else "fault"
            else:
                kind = self._underlying(incident, signatures, now_health, evidence)
                cause = kind.value
                cause_kind = "capacity" if detector_for(kind).capacity else "fault"
        similar = self._similar(incident, cause_kind, suspect, evidence)
        confidence = confidence_from(evidence)
        summary = self._summary(incident, cause, root_service, root_region, dominant, suspect)
        hypothesis = Hypothesis(
            incident_id=incident.id,
            cause=cause,
            cause_kind=cause_kind,
            suspect_deploy=suspect,
            root_service=root_service,
            root_region=root_region,
            evidence=evidence,
            confidence=confidence,
            similar_incidents=similar,
            summary=summary,
            queries=dict(self._ran),
        )
        self.say(
            f"hypothesis: {summary} (confidence {confidence:.0%} from {len(evidence)} "
            f"pieces of evidence)",
            incident_id=incident.id,
            data={"cause": cause, "cause_kind": cause_kind, "confidence": confidence},
        )
        self.decide("hypothesis", summary, incident_id=incident.id, confidence=confidence)
        return hypothesis

    # ---- queries ------------------------------------------------------------------------

    def _records(self, name: str, **params: Any) -> list[dict[str, Any]] | None:
        """Rows of `esql/<name>.esql`, or None when the index does not exist yet."""
        # The first run of each is the one its evidence cites (the estate *at onset* for
        # `investigate_service_health`, which runs again later for the estate now).
        self._ran.setdefault(name, bind_params(params))
        try:
            return self.query(name, **params).records()
        except (EsqlError, StoreError) as error:
            # An index that was never written (no deploys, no past incidents) is not a failure
            # of the investigation: it is simply no evidence.
            if "Unknown index" in str(error) or "index_not_found" in str(error):
                return None
            raise

    def _health(
        self, *, baseline_end: datetime, start: datetime, end: datetime
    ) -> dict[tuple[str, str], ServiceHealth]:
        """Every service and region in [start, end) against the half hour before baseline_end."""
        rows = self._records(
            "investigate_service_health",
            baseline_start=baseline_end - timedelta(seconds=self.context.settings.baseline_s),
            baseline_end=baseline_end,
            start=start,
            end=end,
        )
        health: dict[tuple[str, str], ServiceHealth] = {}
        for row in rows or []:
            key = (str(row["service"]), str(row["region"]))
            health[key] = ServiceHealth(key[0], key[1], deviations(row), row)
        return health

    # ---- the links of the chain ---------------------------------------------------------

    def _locate_root(
        self,
        incident: Incident,
        at_onset: dict[tuple[str, str], ServiceHealth],
        evidence: list[Evidence],
    ) -> tuple[str, str, bool]:
        """Where the problem starts: the incident's own service, or an upstream one."""
        anomaly = incident.anomaly
        topology = self.context.topology
        if anomaly.symptom_of is not None and anomaly.symptom_of[:2] == (
            anomaly.service,
            anomaly.region,
        ):
            # Another face of a problem on the same service (slow because it errors): the root
            # is here, and its own incident carries the investigation of the cause.
            root_kind = anomaly.symptom_of[2]
            text = (
                f"{anomaly.kind.value} on {anomaly.service} in {anomaly.region} follows from its "
                f"{root_kind}, which began first"
            )
            evidence.append(
                Evidence(
                    kind="topology",
                    summary=text,
                    weight=0.2,
                    data={"root": list(anomaly.symptom_of), "hops": 0},
                )
            )
            self.say(text, incident_id=incident.id)
            return anomaly.service, anomaly.region, False
        if anomaly.symptom_of is not None:
            service, region, kind = anomaly.symptom_of
            hops = topology.dependents(service).get(anomaly.service)
            path = f"{hops} hop{'s' if hops != 1 else ''} downstream" if hops else "downstream"
            text = (
                f"{anomaly.service} is {path} of {service}, whose {kind} began first in {region}:"
                f" a symptom, the cause is upstream"
            )
            evidence.append(
                Evidence(
                    kind="topology",
                    summary=text,
                    weight=0.4,
                    data={"root": [service, region, kind], "hops": hops},
                )
            )
            self.say(text, incident_id=incident.id)
            return service, region, True
        # No link from detection: was a service this one depends on already failing at onset?
        distances = {
            callee: hops
            for callee in topology.services
            if (hops := topology.dependents(callee).get(anomaly.service)) is not None
        }
        # Only errors and slowness travel to callers; a callee's full disk or busy CPU does not
        # explain this service's trouble until it shows as one of those.
        failing = [
            (hops, callee)
            for callee, hops in distances.items()
            if (state := at_onset.get((callee, anomaly.region))) is not None and _propagating(state)
        ]
        if failing:
            hops, callee = max(failing)
            reasons = ", ".join(at_onset[(callee, anomaly.region)].reasons)
            text = (
                f"{callee} (which {anomaly.service} depends on, {hops} hop"
                f"{'s' if hops != 1 else ''} away) was already failing at onset: {reasons}"
            )
            evidence.append(
                Evidence(
                    kind="topology",
                    summary=text,
                    weight=0.3,
                    query="investigate_service_health",
                    data={"root": [callee, anomaly.region], "hops": hops},
                )
            )
            self.say(text, incident_id=incident.id)
            return callee, anomaly.region, True
        return anomaly.service, anomaly.region, False

    def _state_at_onset(
        self,
        incident: Incident,
        at_onset: dict[tuple[str, str], ServiceHealth],
        evidence: list[Evidence],
    ) -> None:
        """Time travel: how the estate looked in the minutes before the onset."""
        anomaly = incident.anomaly
        own = at_onset.get((anomaly.service, anomaly.region))
        others_sick = sorted(
            f"{key[0]}/{key[1]}"
            for key, state in at_onset.items()
            if state.sick and key != (anomaly.service, anomaly.region)
        )
        minutes = self.health_window_s / 60
        stamp = anomaly.onset_at.strftime("%H:%M")
        if own is None:
            return
        if not others_sick:
            text = (
                f"as of onset {stamp}: the other {len(at_onset) - 1} service/regions were "
                f"healthy in the {minutes:.0f} min before; the problem starts on "
                f"{anomaly.service} in {anomaly.region}"
            )
            weight = 0.15
        else:
            shown = ", ".join(others_sick[:3]) + ("…" if len(others_sick) > 3 else "")
            text = (
                f"as of onset {stamp}: {len(others_sick)} other service/regions were already "
                f"unhealthy ({shown})"
            )
            weight = 0.0
        if own.sick:
            text += f"; {anomaly.service} itself already showed {', '.join(own.reasons)}"
        evidence.append(
            Evidence(
                kind="state_at_onset",
                summary=text,
                weight=weight,
                query="investigate_service_health",
                data={"as_of": iso_instant(anomaly.onset_at), "unhealthy": others_sick},
            )
        )
        self.say(text, incident_id=incident.id)

    def _logs(self, incident: Incident, evidence: list[Evidence]) -> list[str]:
        """Error logs around the onset grouped by code; the new signatures, dominant first."""
        anomaly = incident.anomaly
        onset = anomaly.onset_at
        end = max(self.now, onset + timedelta(seconds=1))
        rows = self._records(
            "investigate_error_logs",
            baseline_start=onset - timedelta(seconds=self.log_baseline_s),
            onset=onset,
            end=end,
            service=anomaly.service,
            region=anomaly.region,
        )
        before_min = self.log_baseline_s / 60.0
        # Investigations start seconds after onset: rates over a short span still count.
        after_min = max(1.0 / 6.0, (end - onset).total_seconds() / 60.0)
        signals: list[LogSignal] = []
        for row in rows or []:
            before, after = int(row["before"] or 0), int(row["after"] or 0)
            # One pseudo-count keeps a code never seen before from looking infinitely new.
            expected = (before + 1) / before_min * after_min
            surprise = (after - expected) / math.sqrt(expected + 1.0)
            signals.append(
                LogSignal(
                    code=str(row["code"]),
                    level=str(row["level"]),
                    signature=str(row["signature"]),
                    before=before,
                    after=after,
                    hosts=int(row["hosts"] or 0),
                    surprise=surprise,
                )
            )
        grown = sorted(
            (
                s
                for s in signals
                if s.surprise >= 2.5
                and s.after >= 3
                and s.after / after_min >= 3.0 * (s.before + 1) / before_min
            ),
            key=lambda s: (-s.surprise, s.code, s.signature),
        )
        if not grown:
            text = (
                f"logs of {anomaly.service} in {anomaly.region}: no error code grew after "
                f"onset ({sum(s.after for s in signals)} error/warn lines since)"
            )
            # Leaks and filling disks only log near their limit: quiet logs are expected there.
            quiet_is_normal = detector_for(anomaly.kind).quiet_logs_normal
            evidence.append(
                Evidence(
                    kind="logs",
                    summary=text,
                    weight=0.0 if quiet_is_normal else -0.05,
                    query="investigate_error_logs",
                    data={"signatures": {}, "dominant": None},
                )
            )
            self.say(text, incident_id=incident.id)
            return []
        expected_signatures = detector_for(anomaly.kind).log_signatures
        # The lines that explain this kind of anomaly lead; otherwise the most surprising.
        fitting = [s for s in grown if s.signature in expected_signatures]
        top = fitting[0] if fitting else grown[0]
        fits = bool(fitting)
        strength = 1.0 - math.exp(-top.surprise / 10.0)
        weight = round(_LOG_WEIGHT * strength * (1.0 if fits else 0.5), 3)
        rate_before = top.before / before_min
        rate_after = top.after / after_min
        parts = [f"{s.code}/{s.signature} {s.before}->{s.after}" for s in grown[:3] if s is not top]
        text = (
            f"logs: {top.level} {top.code} ({top.signature}) rose from {rate_before:.1f} to "
            f"{rate_after:.1f}/min after onset on {top.hosts} host"
            f"{'s' if top.hosts != 1 else ''}" + (f"; also {', '.join(parts)}" if parts else "")
        )
        signatures: dict[str, int] = {}
        for signal in grown:
            signatures[signal.signature] = signatures.get(signal.signature, 0) + signal.after
        evidence.append(
            Evidence(
                kind="logs",
                summary=text,
                weight=weight,
                query="investigate_error_logs",
                data={
                    "dominant": top.signature,
                    "code": top.code,
                    "rate_before_per_min": round(rate_before, 2),
                    "rate_after_per_min": round(rate_after, 2),
                    "signatures": signatures,
                    "fits_kind": fits,
                },
            )
        )
        self.say(text, incident_id=incident.id)
        return list(dict.fromkeys([top.signature, *(signal.signature for signal in grown)]))

    def _acquit(
        self,
        incident: Incident,
        suspect: Deployment,
        support: float,
        evidence: list[Evidence],
    ) -> None:
        """A deploy too weakly tied to the onset is not the cause; it leaves some doubt."""
        for index, item in enumerate(evidence):
            if item.kind == "deploy" and item.data.get("version") == suspect.version:
                weight = round(-min(0.15, max(0.0, support) / 2), 3)
                summary = f"{item.summary}; too weakly tied to the onset to blame"
                evidence[index] = item.model_copy(update={"weight": weight, "summary": summary})
                self.say(
                    f"not blaming {suspect.version}: its support {support:.2f} is below "
                    f"{_DEPLOY_THRESHOLD:.2f}",
                    incident_id=incident.id,
                )
                return

    def _underlying(
        self,
        incident: Incident,
        signatures: list[str],
        now_health: dict[tuple[str, str], ServiceHealth],
        evidence: list[Evidence],
    ) -> AnomalyKind:
        """The fault behind the anomaly: its own kind, unless logs and metrics name another.

        A latency regression whose logs say "worker pool saturated" while CPU is far above
        its baseline is CPU saturation; the latency is how it shows.
        """
        anomaly = incident.anomaly
        own = now_health.get((anomaly.service, anomaly.region))
        if own is None:
            return anomaly.kind
        named = signature_kinds()
        for signature in signatures:
            found = named.get(signature)
            if found is None or found.kind is anomaly.kind or found.health_metric is None:
                continue
            kind, metric = found.kind, found.health_metric
            confirming = [reason for reason in own.reasons if reason.startswith(metric)]
            if not confirming:
                continue
            text = (
                f"the {anomaly.kind.value} comes from {kind.value}: {signature} lines in the logs "
                f"and {confirming[0]} on {anomaly.service} in {anomaly.region}"
            )
            evidence.append(
                Evidence(
                    kind="metric",
                    summary=text,
                    weight=0.2,
                    query="investigate_service_health",
                    data={"underlying": kind.value, "signature": signature},
                )
            )
            self.say(text, incident_id=incident.id)
            return kind
        hot = [reason for reason in own.reasons if reason.startswith("cpu")]
        if hot and detector_for(anomaly.kind).saturation_symptom:
            # Before the logs say so, a CPU far above its baseline already explains slow or
            # failing requests.
            text = (
                f"the {anomaly.kind.value} comes from cpu_saturation: {hot[0]} on "
                f"{anomaly.service} in {anomaly.region}"
            )
            evidence.append(
                Evidence(
                    kind="metric",
                    summary=text,
                    weight=0.15,
                    query="investigate_service_health",
                    data={"underlying": AnomalyKind.CPU_SATURATION.value, "signature": None},
                )
            )
            self.say(text, incident_id=incident.id)
            return AnomalyKind.CPU_SATURATION
        return anomaly.kind

    def _deploys(
        self,
        incident: Incident,
        service: str,
        region: str,
        now_health: dict[tuple[str, str], ServiceHealth],
        evidence: list[Evidence],
    ) -> tuple[Deployment | None, float]:
        """The newest deploy of the root service just before onset, and how much it is to blame."""
        onset = incident.anomaly.onset_at
        # The onset is an estimate: a deploy a couple of minutes after it may still be the cause.
        slack = timedelta(seconds=120)
        rows = self._records(
            "investigate_deploys",
            start=onset - timedelta(seconds=self.deploy_lookback_s),
            end=max(self.now, onset + slack) + timedelta(seconds=1),
            service=service,
        )
        deploys = [_deployment(row) for row in rows or []]
        candidates = [
            d
            for d in deploys
            if d.region == region
            and d.at <= onset + slack
            and not (d.description or "").lower().startswith(_ROLLBACK_PREFIX)
        ]
        if not candidates:
            text = (
                f"no deploy of {service} in {region} in the "
                f"{self.deploy_lookback_s / 60:.0f} min before onset"
            )
            # No release to blame rules out the most common cause of a new fault.
            evidence.append(
                Evidence(kind="deploy", summary=text, weight=0.1, query="investigate_deploys")
            )
            self.say(text, incident_id=incident.id)
            return None, 0.0
        suspect = max(candidates, key=lambda d: d.at)
        gap_s = max(0.0, (onset - suspect.at).total_seconds())
        # Bad releases show within minutes: blame halves for every `deploy_half_life_s` of gap.
        proximity = 0.5 ** (gap_s / self.deploy_half_life_s)
        weight = _DEPLOY_WEIGHT * proximity
        before = f" (from {suspect.previous_version})" if suspect.previous_version else ""
        by = f" by {suspect.author}" if suspect.author else ""
        when = f"{gap_s / 60:.0f} min before onset" if gap_s >= 60 else "at onset"
        text = f"suspect: {service} {suspect.version}{before} deployed to {region} {when}{by}"
        if suspect.description:
            text += f" — {suspect.description!r}"
        # The same version elsewhere: sick there too supports it, healthy there weakens it.
        elsewhere = sorted(
            {d.region for d in deploys if d.version == suspect.version and d.region != region}
        )
        sick = [r for r in elsewhere if (s := now_health.get((service, r))) and s.sick]
        healthy = [r for r in elsewhere if r not in sick]
        if sick:
            weight += 0.1
            text += f"; {suspect.version} also runs in {', '.join(sick)}, unhealthy there too"
        if healthy:
            weight -= 0.25 * len(healthy) / len(elsewhere)
            text += f"; {suspect.version} also runs in {', '.join(healthy)}, healthy there"
        weight = round(max(-1.0, min(1.0, weight)), 3)
        evidence.append(
            Evidence(
                kind="deploy",
                summary=text,
                weight=weight,
                query="investigate_deploys",
                data={
                    "version": suspect.version,
                    "previous_version": suspect.previous_version,
                    "region": region,
                    "minutes_before_onset": round(gap_s / 60, 1),
                    "also_unhealthy": sick,
                    "also_healthy": healthy,
                },
            )
        )
        self.say(text, incident_id=incident.id)
        return suspect, weight

    def _cascade(
        self,
        incident: Incident,
        now_health: dict[tuple[str, str], ServiceHealth],
        evidence: list[Evidence],
    ) -> bool:
        """Whether the incident's service is the root of a cascade (its callers fail now)."""
        anomaly = incident.anomaly
        dependents = self.context.topology.dependents(anomaly.service)
        failing = sorted(
            (hops, service)
            for service, hops in dependents.items()
            if (state := now_health.get((service, anomaly.region))) is not None and state.sick
        )
        if not failing:
            return False
        names = [service for _, service in failing]
        text = (
            f"cascade: {len(names)} service{'s' if len(names) != 1 else ''} calling "
            f"{anomaly.service} in {anomaly.region} fail since onset ({', '.join(names)})"
        )
        evidence.append(
            Evidence(
                kind="topology",
                summary=text,
                weight=round(min(0.4, 0.15 + 0.1 * len(names)), 3),
                query="investigate_service_health",
                data={"dependents_failing": names},
            )
        )
        self.say(text, incident_id=incident.id)
        return True

    def _similar(
        self,
        incident: Incident,
        cause_kind: CauseKind,
        suspect: Deployment | None,
        evidence: list[Evidence],
    ) -> list[str]:
        """Past incidents like this one (full-text search) and what fixed them."""
        anomaly = incident.anomaly
        words = [anomaly.service, detector_for(anomaly.kind).search_words, anomaly.signal]
        if suspect is not None:
            words.append(f"deploy {suspect.version}")
        rows = self._records("investigate_similar_incidents", text=" ".join(words))
        matches: list[dict[str, Any]] = [
            row
            for row in rows or []
            if row.get("incident_id") != incident.id and row.get("kind") == anomaly.kind.value
        ]
        if not matches:
            return []
        ids: list[str] = []
        for row in matches[:3]:
            same_service = row.get("service") == anomaly.service
            past_cause = str(row.get("root_cause") or "")
            past_deploy = past_cause.lower().startswith("deploy")
            agrees = past_deploy == (cause_kind == "deploy" or suspect is not None)
            weight = _SIMILAR_SAME_SERVICE if same_service else _SIMILAR_SAME_KIND
            if not agrees:
                weight = _SIMILAR_DISAGREES
            if row.get("state") != "resolved":
                weight /= 2
            action = row.get("action") or "nothing"
            when = str(row.get("@timestamp") or "")[:16].replace("T", " ")
            text = (
                f"seen before: {row.get('incident_id')} ({when}) {anomaly.kind.value} on "
                f"{row.get('service')}/{row.get('region')}, cause {past_cause or 'unknown'}, "
                f"{row.get('state')} by {action}"
            )
            mttr = row.get("mttr_s")
            if isinstance(mttr, int | float):
                text += f" in {mttr / 60:.1f} min"
            evidence.append(
                Evidence(
                    kind="similar_incident",
                    summary=text,
                    weight=round(weight, 3),
                    query="investigate_similar_incidents",
                    data={
                        "incident_id": row.get("incident_id"),
                        "service": row.get("service"),
                        "root_cause": past_cause,
                        "action": row.get("action"),
                        "state": row.get("state"),
                        "score": row.get("_score"),
                        "agrees": agrees,
                    },
                )
            )
            self.say(text, incident_id=incident.id)
            ids.append(str(row.get("incident_id")))
        return ids

    def _summary(
        self,
        incident: Incident,
        cause: str,
        root_service: str,
        root_region: str,
        dominant: str | None,
        suspect: Deployment | None,
    ) -> str:
        anomaly = incident.anomaly
        where = f"{root_service} in {root_region}"
        hint = f" ({dominant} errors in the logs)" if dominant and dominant != "other" else ""
        if suspect is not None:
            text = f"{anomaly.kind.value} caused by deploy {suspect.version} of {where}{hint}"
        elif cause == "cascade" and root_service != anomaly.service:
            text = (
                f"{anomaly.kind.value} on {anomaly.service} is a symptom of a cascade from {where}"
            )
        elif cause == "cascade":
            text = f"{anomaly.kind.value} on {where} cascades to its callers{hint}"
        else:
            text = f"{cause} on {where}, no deploy to blame{hint}"
        return text


def _propagating(state: ServiceHealth) -> bool:
    """Whether a service fails in a way its callers feel (errors or latency)."""
    return any(reason.startswith(("error rate", "latency")) for reason in state.reasons)


def _deployment(row: Mapping[str, Any]) -> Deployment:
    at = row["@timestamp"]
    if isinstance(at, str):
        at = datetime.fromisoformat(at.replace("Z", "+00:00"))
    return Deployment(
        service=str(row["service"]),
        region=str(row["region"]),
        version=str(row["version"]),
        previous_version=row.get("previous_version"),
        author=row.get("author"),
        commit=row.get("commit"),
        at=at,
        description=row.get("description"),
    )
