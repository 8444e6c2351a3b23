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
    LoadForecast,
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
#: Average CPU percent a region may be forecast to run at after taking on traffic. Cassandra
#: calls a host hot at 85% (`DetectionTuning.cpu_threshold`); hosts scatter around the
#: average, so the average must stay well below that for none of them to cross it.
CAPACITY_CEILING_PERCENT = 75.0
#: At most this many hosts are added to a receiving region before a failover.
MAX_ADDED_HOSTS = 4
#: Utilisation at which the queueing forecast stops (a saturated host's latency is unbounded).
_MAX_UTILISATION = 0.97


@dataclass(frozen=True)
class RegionCapacity:
    """One service in one region now: hosts, and what an average host serves and burns.

    Attributes:
        hosts: hosts that reported in the window.
        rps_per_host: requests per second of an average host.
        cpu: average CPU percent.
        latency_ms: average p95 latency, when known.
    """

    hosts: int
    rps_per_host: float
    cpu: float
    latency_ms: float | None = None

    @property
    def rps(self) -> float:
        """Requests per second the region serves (all its hosts)."""
        return self.rps_per_host * self.hosts


def forecast_load(
    service: str,
    region: str,
    now: RegionCapacity,
    added_rps: float,
    *,
    ceiling: float = CAPACITY_CEILING_PERCENT,
    max_added_hosts: int = MAX_ADDED_HOSTS,
) -> LoadForecast:
    """What taking on `added_rps` does to `region`, and the hosts to add first to stay under
    `ceiling`.

    CPU is taken as proportional to the requests each host serves (the first-order capacity
    model: utilisation = arrival rate x service time, the utilisation law). p95 latency
    follows the M/M/1 queue's response time, service time / (1 - utilisation): a host at 90%
    answers about five times slower than an idle one. Both are deliberately simple and err
    on the busy side (proportional CPU counts the idle floor as load).
    """
    rps_after = now.rps + max(0.0, added_rps)

    def cpu_with(extra: int) -> float:
        if now.rps <= 0.0:
            return now.cpu  # no traffic to scale from: nothing to forecast with
        per_host_ratio = (rps_after / (now.hosts + extra)) / now.rps_per_host
        return now.cpu * per_host_ratio

    alone = cpu_with(0)
    added = 0
    while cpu_with(added) > ceiling and added < max_added_hosts:
        added += 1
    cpu_after = cpu_with(added)
    latency_after: float | None = None
    if now.latency_ms is not None:
        before = min(_MAX_UTILISATION, now.cpu / 100.0)
        after = min(_MAX_UTILISATION, cpu_after / 100.0)
        latency_after = now.latency_ms * (1.0 - before) / (1.0 - after)
    return LoadForecast(
        service=service,
        region=region,
        hosts=now.hosts,
        added_hosts=added if cpu_with(added) < alone else 0,
        rps_before=round(now.rps, 1),
        rps_after=round(rps_after, 1),
        cpu_before=round(now.cpu, 1),
        cpu_after=round(min(100.0, cpu_after), 1),
        cpu_after_alone=round(min(100.0, alone), 1),
        latency_before_ms=round(now.latency_ms, 1) if now.latency_ms is not None else None,
        latency_after_ms=round(latency_after, 1) if latency_after is not None else None,
        ceiling=ceiling,
    )


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
    capacity: Mapping[str, RegionCapacity]
    """The service's capacity in every region that reported (empty when unreadable)."""
    source_rps: float | None
    """Requests per second the target region serves normally (what a failover moves)."""

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

    def __init__(
        self,
        context: AgentContext,
        *,
        health_window_s: float = 300.0,
        capacity_window_s: float = 180.0,
        capacity_ceiling: float = CAPACITY_CEILING_PERCENT,
    ) -> None:
        super().__init__(context)
        self.health_window_s = health_window_s
        self.capacity_window_s = capacity_window_s
        self.capacity_ceiling = capacity_ceiling

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
        for forecast_line in chosen.forecast:
            self.say(
                f"load forecast for {chosen.action.value}: {forecast_line.summary}",
                incident_id=incident.id,
                level="info" if forecast_line.within_capacity else "warn",
            )
        if chosen.prepare:
            steps = ", ".join(f"{p.action.value} {p.region}" for p in chosen.prepare)
            self.say(
                f"first: {steps}, then {chosen.action.value} {chosen.region}",
                incident_id=incident.id,
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
            f"{reason}; {approval_reason}",
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
        capacity = self._capacity(service)
        source = health.get((service, region))
        source_rps: float | None = None
        if source is not None and region in capacity:
            # A failover moves the region's normal traffic, even when a fault has cut it.
            per_host = [
                float(v)
                for v in (source.metrics.get("rps"), source.metrics.get("base_rps"))
                if isinstance(v, int | float)
            ]
            if per_host:
                source_rps = max(per_host) * capacity[region].hosts
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
            capacity=capacity,
            source_rps=source_rps,
        )

    def _capacity(self, service: str) -> dict[str, RegionCapacity]:
        """`service`'s hosts, traffic and CPU per region over the last few minutes."""
        end = self.now
        start = end - timedelta(seconds=self.capacity_window_s)
        try:
            rows = self.query("capacity_by_region", start=start, end=end).records()
        except (EsqlError, StoreError) as error:
            self.say(f"cannot read the estate's capacity: {error}", level="warn")
            return {}
        found: dict[str, RegionCapacity] = {}
        for row in rows:
            if str(row["service"]) != service:
                continue
            hosts, rps, cpu = row.get("hosts"), row.get("rps"), row.get("cpu")
            if not isinstance(hosts, int) or not isinstance(rps, int | float):
                continue
            if not isinstance(cpu, int | float):
                continue
            latency = row.get("latency")
            found[str(row["region"])] = RegionCapacity(
                hosts=hosts,
                rps_per_host=float(rps),
                cpu=float(cpu),
                latency_ms=float(latency) if isinstance(latency, int | float) else None,
            )
        return found

    def _failover_forecast(self, s: _Situation) -> list[LoadForecast]:
        """The receiving regions' load after `s.service` leaves `s.region` (even split)."""
        receivers = [
            (region, now)
            for region, now in sorted(s.capacity.items())
            if region != s.region and now.rps > 0.0
        ]
        if not receivers or s.source_rps is None:
            return []
        share = s.source_rps / len(receivers)
        return [
            forecast_load(s.service, region, now, share, ceiling=self.capacity_ceiling)
            for region, now in receivers
        ]

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
        forecast: list[LoadForecast] = []
        prepare: list[RemediationOption] = []
        recovery = profile.recovery_s
        if action is ActionKind.FAILOVER:
            forecast = self._failover_forecast(s)
            if forecast:
                # Scale the receiving regions out first so they take the traffic within
                # capacity; what still does not fit counts as risk of the next incident.
                prepare = [
                    self._scale_out_step(s, f.region)
                    for f in forecast
                    for _ in range(f.added_hosts)
                ]
                risk += PROFILES[ActionKind.SCALE_OUT].risk * len(prepare)
                worst = max(f.cpu_after for f in forecast)
                # Every 10 points over the ceiling: +0.2, the risk of a whole risky action.
                risk += max(0.0, worst - self.capacity_ceiling) / 50.0
                risk = min(1.0, risk)
                if prepare:
                    # The new hosts must be up before the traffic moves: about half a minute,
                    # a fifth of a scale-out's recovery (which includes the signal settling).
                    recovery += PROFILES[ActionKind.SCALE_OUT].recovery_s / 5.0
                    why += (
                        f"; {len(prepare)} host(s) added to "
                        + ", ".join(f.region for f in forecast if f.added_hosts)
                        + " first"
                    )
                over = [f for f in forecast if not f.within_capacity]
                if over:
                    why += "; over capacity: " + "; ".join(f.summary for f in over)
            elif s.busiest_other_cpu is not None:
                # No capacity reading: the regions taking the traffic may lack the headroom.
                risk = min(1.0, risk + max(0.0, s.busiest_other_cpu - 50.0) / 100.0)
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
            forecast=forecast,
            prepare=prepare,
        )

    def _scale_out_step(self, s: _Situation, region: str) -> RemediationOption:
        """One host added to `s.service` in `region`, ahead of a failover."""
        profile = PROFILES[ActionKind.SCALE_OUT]
        return RemediationOption(
            action=ActionKind.SCALE_OUT,
            service=s.service,
            region=region,
            expected_recovery_s=profile.recovery_s,
            risk=profile.risk,
            blast_radius=f"none: one host added to {s.service} in {region}",
            score=0.0,
            rationale=f"headroom in {region} for the traffic a failover moves there",
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
        over = [f for f in chosen.forecast if not f.within_capacity]
        if over:
            # Beyond what scaling out can absorb: a human decides, with the forecast.
            return True, (
                f"a human must approve {chosen.action.value} on {chosen.service} in "
                f"{chosen.region}: it would overload the estate even after scaling out: "
                + "; ".join(f.summary for f in over)
            )
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
