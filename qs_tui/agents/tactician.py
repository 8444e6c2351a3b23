"""The Tactician: weighs the remediations against the cost of doing nothing and picks one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from qs_tui.agents.archaeologist import ServiceHealth, deviations
from qs_tui.agents.base import Agent, AgentContext
from qs_tui.agents.detectors import detector_for
from qs_tui.esql.errors import EsqlError
from qs_tui.models import (
    ActionKind,
    AgentName,
    Anomaly,
    AnomalyKind,
    Hypothesis,
    Incident,
    Plan,
    RemediationOption,
)
from qs_tui.store.base import StoreError


@dataclass(frozen=True)
class ActionProfile:
    """What an action costs in general, before the incident is considered.

    Attributes:
        recovery_s: seconds from acting until the signal is normal again, when it works.
        risk: chance it makes things worse, before the blast radius is counted.
    """

    recovery_s: float
    risk: float


#: General profiles; the blast radius and the state of the estate adjust the risk.
PROFILES: dict[ActionKind, ActionProfile] = {
    ActionKind.ROLLBACK: ActionProfile(recovery_s=180.0, risk=0.2),
    ActionKind.RESTART: ActionProfile(recovery_s=90.0, risk=0.1),
    ActionKind.SCALE_OUT: ActionProfile(recovery_s=150.0, risk=0.03),
    ActionKind.FAILOVER: ActionProfile(recovery_s=60.0, risk=0.2),
    ActionKind.FLUSH_CACHE: ActionProfile(recovery_s=45.0, risk=0.06),
    ActionKind.DO_NOTHING: ActionProfile(recovery_s=3600.0, risk=0.0),
}

#: Effect of one past success with an action on its chance of working now.
_LEARNED_BONUS = 0.1
#: How much time pressure counts in the score.
_URGENCY_WEIGHT = 0.3


@dataclass(frozen=True)
class _Situation:
    """What the options are scored against."""

    incident: Incident
    hypothesis: Hypothesis
    service: str
    region: str
    hosts: int
    healthy_regions: tuple[str, ...]
    busiest_other_cpu: float | None
    requests_per_s: float | None
    """Traffic the target serves now (all its hosts), for the blast radius."""
    dominant_log: str | None
    learned: Mapping[ActionKind, list[str]]

    @property
    def anomaly(self) -> Anomaly:
        return self.incident.anomaly

    @property
    def kind(self) -> AnomalyKind:
        """The fault to fix: the hypothesis' cause when it names a kind, else the anomaly's."""
        try:
            return AnomalyKind(self.hypothesis.cause)
        except ValueError:
            return self.incident.anomaly.kind

    @property
    def symptom_handled_upstream(self) -> bool:
        """A symptom whose root has its own incident: fixing the root fixes this."""
        return self.incident.root_incident_id is not None


class Tactician(Agent):
    """Chooses the remediation for an investigated incident and the approval it needs.

    Args:
        context: the shared agent context.
        health_window_s: the recent window used to judge the other regions' health.
    """

    name = AgentName.TACTICIAN

    def __init__(self, context: AgentContext, *, health_window_s: float = 300.0) -> None:
        super().__init__(context)
        self.health_window_s = health_window_s

    def plan(self, incident: Incident) -> Plan:
        """Score every option for `incident` and pick the best.

        Raises:
            ValueError: if the incident has not been investigated (no hypothesis).
        """
        hypothesis = incident.hypothesis
        if hypothesis is None:
            raise ValueError(f"incident {incident.id} has no hypothesis to plan from")
        situation = self._situation(incident, hypothesis)
        forecast = self._inaction_forecast(situation)
        self.say(f"if nothing is done: {forecast}", incident_id=incident.id)
        options = [self._option(situation, action) for action in ActionKind]
        options.sort(key=lambda o: (-o.score, o.risk, o.action.value))
        chosen = options[0]
        runner_up = options[1]
        reason = (
            f"{chosen.action.value} scores {chosen.score:.2f} against {runner_up.action.value}'s "
            f"{runner_up.score:.2f}: {chosen.rationale}"
        )
        requires_approval, approval_reason = self._approval(chosen)
        shown = ", ".join(f"{o.action.value} {o.score:.2f}" for o in options)
        self.say(f"options: {shown}", incident_id=incident.id)
        target = f" to {chosen.target_version}" if chosen.target_version else ""
        self.say(
            f"choose {chosen.action.value}{target} on {chosen.service} in {chosen.region}: "
            f"{chosen.rationale}; ~{chosen.expected_recovery_s / 60:.1f} min to recover, "
            f"risk {chosen.risk:.2f}, blast radius {chosen.blast_radius}",
            incident_id=incident.id,
            data={"action": chosen.action.value, "score": chosen.score, "risk": chosen.risk},
        )
        self.say(
            approval_reason,
            incident_id=incident.id,
            level="warn" if requires_approval else "info",
        )
        plan = Plan(
            incident_id=incident.id,
            options=options,
            chosen=chosen,
            reason=reason,
            time_to_critical_s=incident.anomaly.time_to_critical_s,
            inaction_forecast=forecast,
            requires_approval=requires_approval,
            approval_reason=approval_reason,
        )
        self.decide(
            f"plan:{chosen.action.value}",
            f"{reason} {approval_reason}",
            incident_id=incident.id,
            confidence=hypothesis.confidence,
        )
        return plan

    # ---- the situation ------------------------------------------------------------------

    def _situation(self, incident: Incident, hypothesis: Hypothesis) -> _Situation:
        topology = self.context.topology
        # Act where the problem starts, which in a cascade is upstream of the incident.
        service, region = hypothesis.root_service, hypothesis.root_region
        others = tuple(r for r in topology.regions if r != region)
        health = self._health()
        healthy = tuple(r for r in others if not _sick(health.get((service, r))))
        cpus = [
            float(state.metrics["cpu"])
            for r in others
            if (state := health.get((service, r))) is not None
            and isinstance(state.metrics.get("cpu"), int | float)
        ]
        dominant: str | None = None
        learned: dict[ActionKind, list[str]] = {}
        for item in hypothesis.evidence:
            if item.kind == "logs" and item.data.get("dominant"):
                dominant = str(item.data["dominant"])
            if item.kind == "similar_incident" and item.data.get("state") == "resolved":
                try:
                    action = ActionKind(str(item.data.get("action")))
                except ValueError:
                    continue
                learned.setdefault(action, []).append(str(item.data.get("incident_id")))
        return _Situation(
            incident=incident,
            hypothesis=hypothesis,
            service=service,
            region=region,
            hosts=topology.hosts_per_region,
            healthy_regions=healthy,
            busiest_other_cpu=max(cpus) if cpus else None,
            requests_per_s=_region_traffic(
                health.get((service, region)), topology.hosts_per_region
            ),
            dominant_log=dominant,
            learned=learned,
        )

    def _health(self) -> dict[tuple[str, str], ServiceHealth]:
        """Every service and region now against the half hour before the window."""
        end = self.now
        start = end - timedelta(seconds=self.health_window_s)
        try:
            rows = self.query(
                "investigate_service_health",
                baseline_start=start - timedelta(seconds=self.context.settings.baseline_s),
                baseline_end=start,
                start=start,
                end=end,
            ).records()
        except (EsqlError, StoreError) as error:
            self.say(f"cannot read the estate's health: {error}", level="warn")
            return {}
        return {
            (str(r["service"]), str(r["region"])): ServiceHealth(
                str(r["service"]), str(r["region"]), deviations(r), r
            )
            for r in rows
        }

    # ---- scoring ------------------------------------------------------------------------

    def _effectiveness(self, s: _Situation, action: ActionKind) -> tuple[float, str]:
        """Chance `action` fixes the incident, and why.

        What each action does for each kind of fault comes from the fault's detector
        (`Detector.remedies`); deploys, cascades and what the logs say weigh in here.
        """
        h = s.hypothesis
        suspect = h.suspect_deploy
        remedy = detector_for(s.kind).remedy(
            action, dominant_log=s.dominant_log, cascade=h.cause == "cascade"
        )
        words = {
            "service": s.service,
            "region": s.region,
            "regions": ", ".join(s.healthy_regions),
            "version": suspect.version if suspect is not None else "",
        }
        if action is ActionKind.DO_NOTHING:
            if s.symptom_handled_upstream:
                root = s.incident.root_incident_id
                return (
                    0.85,
                    f"a symptom: it recovers when root incident {root} on {s.service} is fixed",
                )
            return 0.05, "the cause stays in place"
        if s.symptom_handled_upstream:
            return 0.1, f"acts on {s.service}, which is handled by the root incident"
        if action is ActionKind.ROLLBACK:
            if suspect is not None and suspect.previous_version:
                return 0.92, (
                    f"removes {suspect.version}, the suspect deploy, by going back to "
                    f"{suspect.previous_version}"
                )
            if suspect is not None:
                # Deploys seen as a version's first appearance (a profile's `versions`) do not
                # name the version before; a rollback returns to whatever ran before, as
                # `kubectl rollout undo` does.
                return 0.92, (
                    f"removes {suspect.version}, the suspect deploy, by going back to the "
                    "version before it"
                )
            return 0.05, "no recent deploy to blame"
        if action is ActionKind.FAILOVER:
            regions = words["regions"]
            if not s.healthy_regions:
                return 0.05, f"no healthy region to move {s.service}'s traffic to"
            if remedy is not None and remedy.despite_deploy:
                return remedy.effectiveness, remedy.why.format(**words)
            if suspect is not None:
                return 0.4, f"moves users to {regions} but {suspect.version} stays live"
            if s.dominant_log == "connection_pool":
                return 0.3, f"moves users to {regions}; the exhausted pool keeps failing callers"
            if remedy is not None:
                return remedy.effectiveness, remedy.why.format(**words)
            return 0.35, f"moves users to {regions}; the fault stays in {s.region}"
        if suspect is not None:
            # A bad version stays bad: other actions only buy time.
            if remedy is not None and remedy.with_deploy is not None:
                effectiveness, why = remedy.with_deploy
                return effectiveness, why.format(**words)
            return 0.08, f"leaves {suspect.version} live"
        if action is ActionKind.RESTART:
            if h.cause == "cascade":
                return 0.8, f"resets {s.service}'s exhausted pools, the source of the cascade"
            if s.dominant_log == "connection_pool":
                return 0.75, "the logs show an exhausted connection pool; a restart resets it"
        if remedy is not None:
            return remedy.effectiveness, remedy.why.format(**words)
        fallback = {
            ActionKind.RESTART: (0.15, "a restart does not remove the cause"),
            ActionKind.SCALE_OUT: (0.08, "more hosts do not remove the cause"),
            ActionKind.FLUSH_CACHE: (0.03, "the cache is not involved"),
        }
        return fallback.get(action, (0.0, "not applicable"))

    def _option(self, s: _Situation, action: ActionKind) -> RemediationOption:
        effectiveness, why = self._effectiveness(s, action)
        past = s.learned.get(action, [])
        if past and action is not ActionKind.DO_NOTHING:
            effectiveness = min(0.97, effectiveness + _LEARNED_BONUS * len(past))
            why += f"; it fixed {', '.join(past)} before"
        profile = PROFILES[action]
        service, region = s.service, s.region
        if action is ActionKind.DO_NOTHING:
            service, region = s.anomaly.service, s.anomaly.region
        blast, hosts, spread = self._blast_radius(s, action)
        risk = min(1.0, profile.risk + 0.15 * spread)
        if action is ActionKind.FAILOVER and s.busiest_other_cpu is not None:
            # The regions taking the traffic may not have the headroom for it.
            risk = min(1.0, risk + max(0.0, s.busiest_other_cpu - 50.0) / 100.0)
        recovery = profile.recovery_s
        if action is ActionKind.DO_NOTHING and s.symptom_handled_upstream:
            recovery = PROFILES[ActionKind.RESTART].recovery_s
        ttc = s.anomaly.time_to_critical_s
        if action is ActionKind.DO_NOTHING:
            urgency = 0.0 if s.symptom_handled_upstream else _inaction_cost(ttc)
        elif ttc is not None and ttc > 0:
            urgency = _URGENCY_WEIGHT * min(1.0, recovery / ttc)
        else:
            urgency = _URGENCY_WEIGHT * min(1.0, recovery / 600.0)
        score = effectiveness * (1.0 - risk) - urgency
        return RemediationOption(
            action=action,
            service=service,
            region=region,
            expected_recovery_s=recovery,
            risk=round(risk, 3),
            blast_radius=blast,
            blast_radius_hosts=hosts,
            score=round(score, 3),
            rationale=why,
            target_version=(
                s.hypothesis.suspect_deploy.previous_version
                if action is ActionKind.ROLLBACK and s.hypothesis.suspect_deploy is not None
                else None
            ),
        )

    def _blast_radius(self, s: _Situation, action: ActionKind) -> tuple[str, int, float]:
        """Who is affected while the action runs: text, hosts touched, share of the service."""
        topology = self.context.topology
        hosts = s.hosts
        total = max(1, hosts * len(topology.regions))
        callers = len(topology.dependents(s.service))
        callers_text = (
            f"; {callers} dependent service{'s' if callers != 1 else ''}" if callers else ""
        )
        where = f"{s.service} in {s.region}"
        if s.requests_per_s is not None:
            callers_text = f" (~{s.requests_per_s:.0f} req/s)" + callers_text
        if action is ActionKind.ROLLBACK:
            return (
                f"{hosts} hosts of {where}, redeployed one at a time{callers_text}",
                hosts,
                hosts / total,
            )
        if action is ActionKind.RESTART:
            return (
                f"{hosts} hosts of {where}, restarted one at a time{callers_text}",
                hosts,
                hosts / total,
            )
        if action is ActionKind.SCALE_OUT:
            return f"none: one host added to {where}", 0, 0.0
        if action is ActionKind.FAILOVER:
            others = ", ".join(s.healthy_regions) or "no region"
            moved = hosts * (1 + len(s.healthy_regions))
            return f"all users of {where} move to {others}{callers_text}", moved, moved / total
        if action is ActionKind.FLUSH_CACHE:
            return (
                f"{hosts} hosts of {where} run on a cold cache for a minute{callers_text}",
                hosts,
                hosts / total,
            )
        affected = f"users of {s.anomaly.service} in {s.anomaly.region} keep suffering"
        return f"no change; {affected}", 0, 0.0

    # ---- words --------------------------------------------------------------------------

    def _inaction_forecast(self, s: _Situation) -> str:
        anomaly = s.anomaly
        outcome = detector_for(anomaly.kind).critical_outcome
        ttc = anomaly.time_to_critical_s
        where = f"{anomaly.service} in {anomaly.region}"
        callers = len(self.context.topology.dependents(anomaly.service))
        plural = "s are" if callers != 1 else " is"
        tail = f"; {callers} dependent service{plural} exposed" if callers else ""
        if s.symptom_handled_upstream:
            return f"{where} follows its root cause on {s.service}; fixing that fixes this{tail}"
        if ttc is not None and ttc <= 0:
            return f"{anomaly.signal} on {where} is already critical: {outcome}{tail}"
        if ttc is not None:
            when = _duration(ttc)
            return (
                f"{anomaly.signal} on {where} reaches {anomaly.critical_threshold:g} in ~{when}: "
                f"{outcome}{tail}"
            )
        baseline = f" (normal {anomaly.baseline:.3g})" if anomaly.baseline is not None else ""
        return f"{anomaly.signal} on {where} stays at {anomaly.value:.3g}{baseline}{tail}"

    def _approval(self, chosen: RemediationOption) -> tuple[bool, str]:
        settings = self.context.settings
        if chosen.action is ActionKind.DO_NOTHING:
            return False, "no approval needed: nothing in production changes"
        if settings.auto_approve_low_risk and chosen.risk <= settings.low_risk_threshold:
            return False, (
                f"auto-approved by policy: risk {chosen.risk:.2f} is at or below the low-risk "
                f"threshold {settings.low_risk_threshold:.2f}"
            )
        if settings.auto_approve_low_risk:
            return True, (
                f"a human must approve: risk {chosen.risk:.2f} is above the low-risk threshold "
                f"{settings.low_risk_threshold:.2f}"
            )
        return True, (
            f"a human must approve {chosen.action.value} on {chosen.service} in {chosen.region}: "
            "every production change needs one (low-risk auto-approval is off)"
        )


def _sick(state: ServiceHealth | None) -> bool:
    # A region with no samples cannot take traffic either.
    return state is None or state.sick


def _region_traffic(state: ServiceHealth | None, hosts: int) -> float | None:
    """Requests per second a service serves in a region (the health query averages per host)."""
    if state is None or not isinstance(state.metrics.get("rps"), int | float):
        return None
    return float(state.metrics["rps"]) * hosts


def _inaction_cost(time_to_critical_s: float | None) -> float:
    """How much doing nothing costs: more the sooner the signal turns critical."""
    if time_to_critical_s is None:
        return 0.4
    return 0.4 + 0.5 * (1.0 - min(1.0, max(0.0, time_to_critical_s) / 3600.0))


def _duration(seconds: float) -> str:
    if seconds >= 5400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min"
