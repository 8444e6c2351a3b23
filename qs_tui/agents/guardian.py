"""Guardian: verifies recovery on the signal that raised the incident, records it, and keeps
agents from fighting their own remediation (cooldown and loop guard)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from qs_tui.agents.base import Agent, AgentContext
from qs_tui.clock import iso_instant
from qs_tui.models import (
    ActionConsequence,
    ActionKind,
    AgentName,
    Anomaly,
    AnomalyKind,
    Incident,
    IncidentState,
    SignalCheck,
    Verification,
)
from qs_tui.store.templates import INCIDENTS


class SignalChecker(Protocol):
    """What the Guardian needs from Cassandra: re-reading an anomaly's signal."""

    def check(self, anomaly: Anomaly, *, since: datetime) -> SignalCheck:
        """Whether the anomaly's signal is healthy over `[since, now)`."""
        ...


@dataclass(frozen=True)
class RemediationRecord:
    """One remediation the Guardian remembers for the cooldown and the loop guard.

    Attributes:
        incident_id: the incident it was for.
        service: the service acted on.
        region: the region acted on.
        action: what was done.
        at: simulated instant the action finished.
    """

    incident_id: str
    service: str
    region: str
    action: ActionKind
    at: datetime


#: Anomalies that more load explains (what a region receiving traffic shows).
_LOAD_KINDS = frozenset(
    {AnomalyKind.CPU_SATURATION, AnomalyKind.LATENCY_REGRESSION, AnomalyKind.ERROR_SPIKE}
)


def _caused_note(incident: Incident) -> str:
    """`; but the action caused INC-0002` for a verification summary, or nothing."""
    if not incident.consequence_ids:
        return ""
    return f"; but the action caused {', '.join(incident.consequence_ids)}"


def format_duration(seconds: float) -> str:
    """`154.0` -> `2m34s`; `3720` -> `1h02m`; `42` -> `42s` (for transcript lines)."""
    whole = round(seconds)
    sign = "-" if whole < 0 else ""
    whole = abs(whole)
    if whole < 60:
        return f"{sign}{whole}s"
    if whole < 3600:
        return f"{sign}{whole // 60}m{whole % 60:02d}s"
    return f"{sign}{whole // 3600}h{whole % 3600 // 60:02d}m"


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else iso_instant(instant)


#: The longest `evidence_params` text kept: a keyword value is at most 32,766 bytes in
#: Elasticsearch (a longer one rejects the whole document), i.e. 8,191 characters of up to
#: four UTF-8 bytes each.
MAX_EVIDENCE_PARAMS_CHARS = 8191


def evidence_params(incident: Incident) -> str | None:
    """The parameters the incident's evidence queries ran with, as the JSON text the incidents
    index keeps (`{query name: {param: value}}`): the detector's query and the ones the
    Archaeologist ran, so the flight recorder can show each piece of evidence again exactly.

    None when the text would be too long to keep: the record is still written, and the
    recorder rebuilds the parameters as for a record written before they were kept.
    """
    anomaly = incident.anomaly
    ran: dict[str, dict[str, Any]] = {anomaly.query: dict(anomaly.params)}
    if incident.hypothesis is not None:
        ran.update(incident.hypothesis.queries)
    text = json.dumps(ran, sort_keys=True, default=str)
    return text if len(text) <= MAX_EVIDENCE_PARAMS_CHARS else None


class Guardian(Agent):
    """Verify, record, learn; cool down and guard against remediation loops.

    MTTR is measured from detection (`anomaly.detected_at`, the moment Cassandra raised it) to
    the first verification that finds the signal healthy again, in simulated seconds.

    Args:
        context: the shared agent context.
        cassandra: re-reads the anomaly's signal (the same ES|QL signal that raised it).
    """

    name = AgentName.GUARDIAN

    def __init__(self, context: AgentContext, *, cassandra: SignalChecker) -> None:
        super().__init__(context)
        self.cassandra = cassandra
        self._checks: dict[str, int] = {}
        self._remediations: list[RemediationRecord] = []
        self._recovered: set[str] = set()
        self._cooldown_from: dict[tuple[str, str], datetime] = {}

    # ---- consequences of our own actions ------------------------------------------------

    def consequence_of(
        self, anomaly: Anomaly, incidents: Sequence[Incident]
    ) -> ActionConsequence | None:
        """Our own action that explains `anomaly`, if one does.

        An action explains a new anomaly on the same service when it was carried out (not a
        dry run) within the verification window before now and it moved load onto where the
        anomaly is: a failover sends the drained region's traffic to the other regions, so
        CPU saturation, latency or saturation errors there are its consequence.
        """
        if anomaly.kind not in _LOAD_KINDS:
            return None
        now = self.now
        window = self.context.settings.verify_timeout_s
        for incident in reversed(incidents):
            report = incident.execution
            if report is None or report.dry_run or not report.success:
                continue
            if report.action is not ActionKind.FAILOVER or report.service != anomaly.service:
                continue
            if report.region in (anomaly.region, "all"):
                continue
            if not 0 <= (now - report.finished_at).total_seconds() <= window:
                continue
            explanation = (
                f"the failover of {report.service} from {report.region} at "
                f"{report.finished_at:%H:%M:%S} moved its traffic to {anomaly.region}"
            )
            return ActionConsequence(
                incident_id=incident.id,
                action=report.action,
                service=report.service,
                region=report.region,
                acted_at=report.finished_at,
                explanation=explanation,
            )
        return None

    def note_consequence(self, caused: Incident, cause: Incident) -> None:
        """Say (and record) that `caused` is a consequence of `cause`'s remediation."""
        consequence = caused.caused_by
        if consequence is None:
            return
        summary = (
            f"{caused.id} ({caused.kind.value} on {caused.service}/{caused.region}) is a "
            f"consequence of our own action on {cause.id}: {consequence.explanation}"
        )
        self.say(summary, incident_id=cause.id, level="warn")
        self.decide("caused_incident", summary, incident_id=cause.id)

    # ---- verification -------------------------------------------------------------------

    @staticmethod
    def watch_since(incident: Incident) -> datetime:
        """Start of the window recovery is judged on: when the action finished, or, when
        nothing was executed (do nothing), when the incident entered verification."""
        if incident.execution is not None:
            return incident.execution.finished_at
        for change in reversed(incident.history):
            if change.state is IncidentState.VERIFYING:
                return change.at
        return incident.opened_at

    def verify(self, incident: Incident) -> Verification | None:
        """Re-check the incident's signal since the action finished.

        Returns:
            A recovered Verification once the signal is healthy, a failed one once
            `settings.verify_timeout_s` of simulated time passed without recovery, and None
            while it is still too early to tell (call again on a later tick).
        """
        anomaly = incident.anomaly
        since = self.watch_since(incident)
        now = self.now
        checks = self._checks.get(incident.id, 0) + 1
        self._checks[incident.id] = checks
        result = self.cassandra.check(anomaly, since=since)
        waited = (now - since).total_seconds()
        where = f"{incident.service}/{incident.region}"
        value = result.value
        shown = "no samples" if value is None else f"{value:.4g}"
        caused = _caused_note(incident)
        if result.healthy and result.samples > 0:
            mttr = (now - anomaly.detected_at).total_seconds()
            summary = (
                f"{anomaly.signal} on {where} healthy again ({shown} over {result.samples} "
                f"samples); MTTR {format_duration(mttr)} from detection{caused}"
            )
            verification = Verification(
                incident_id=incident.id,
                recovered=True,
                checks=checks,
                last_value=value,
                threshold=anomaly.critical_threshold,
                recovered_at=now,
                mttr_s=mttr,
                summary=summary,
            )
            self.say(summary, incident_id=incident.id, data=self._data(result, mttr=mttr))
            self.decide("recovered", summary, incident_id=incident.id)
            return verification
        if waited >= self.context.settings.verify_timeout_s:
            summary = (
                f"{anomaly.signal} on {where} still unhealthy ({shown}) "
                f"{format_duration(waited)} after acting: {result.summary}{caused}"
            )
            verification = Verification(
                incident_id=incident.id,
                recovered=False,
                checks=checks,
                last_value=value,
                threshold=anomaly.critical_threshold,
                summary=summary,
            )
            self.say(summary, incident_id=incident.id, level="warn", data=self._data(result))
            self.decide("not_recovered", summary, incident_id=incident.id)
            return verification
        if checks == 1:
            self.say(
                f"watching {anomaly.signal} on {where} (query {anomaly.query}) for up to "
                f"{format_duration(self.context.settings.verify_timeout_s)}: {result.summary}",
                incident_id=incident.id,
                data=self._data(result),
            )
        return None

    @staticmethod
    def _data(result: SignalCheck, *, mttr: float | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "healthy": result.healthy,
            "value": result.value,
            "samples": result.samples,
        }
        if mttr is not None:
            data["mttr_s"] = mttr
        return data

    # ---- records and runbooks -----------------------------------------------------------

    def runbook(self, incident: Incident) -> str:
        """A markdown runbook for the incident: symptoms, evidence, action, outcome, checks."""
        anomaly = incident.anomaly
        lines = [
            f"# {incident.id}: {anomaly.kind.value.replace('_', ' ')} on "
            f"{incident.service} in {incident.region}",
            "",
            f"- Opened: {_iso(incident.opened_at)}",
            f"- State: {incident.state.value}",
        ]
        if incident.closed_at is not None:
            lines.append(f"- Closed: {_iso(incident.closed_at)}")
        if incident.root_incident_id:
            lines.append(f"- Symptom of: {incident.root_incident_id}")
        if incident.symptom_ids:
            lines.append(f"- Symptoms: {', '.join(incident.symptom_ids)}")
        lines += ["", "## Symptoms", "", anomaly.summary, ""]
        lines.append(f"- Signal: `{anomaly.signal}` = {anomaly.value:.4g}")
        if anomaly.baseline is not None:
            lines.append(f"- Baseline: {anomaly.baseline:.4g}")
        lines.append(f"- Critical at: {anomaly.critical_threshold:.4g}")
        if anomaly.time_to_critical_s is not None:
            lines.append(
                f"- Predicted time to critical: {format_duration(anomaly.time_to_critical_s)}"
            )
        lines.append(f"- Detection confidence: {anomaly.confidence:.2f}")
        lines += ["", "## Evidence", ""]
        hypothesis = incident.hypothesis
        if hypothesis is None:
            lines.append("Not investigated.")
        else:
            lines.append(
                f"Root cause: **{hypothesis.cause}** ({hypothesis.cause_kind}, "
                f"confidence {hypothesis.confidence:.2f}). {hypothesis.summary}"
            )
            lines.append("")
            lines += [f"- ({item.weight:+.2f}) {item.summary}" for item in hypothesis.evidence]
            if hypothesis.similar_incidents:
                lines.append(f"- Similar past incidents: {', '.join(hypothesis.similar_incidents)}")
        lines += ["", "## Action", ""]
        plan = incident.plan
        if plan is None:
            lines.append("No plan was made.")
        else:
            chosen = plan.chosen
            lines.append(
                f"Chosen: **{chosen.action.value}** on {chosen.service}/{chosen.region} "
                f"(expected recovery {format_duration(chosen.expected_recovery_s)}, risk "
                f"{chosen.risk:.2f}, blast radius {chosen.blast_radius}). {plan.reason}"
            )
            lines.append(f"If nothing is done: {plan.inaction_forecast}")
            others = [o for o in plan.options if o.action is not chosen.action]
            if others:
                lines.append("")
                lines.append("Other options weighed:")
                lines += [
                    f"- {o.action.value}: score {o.score:.2f}, risk {o.risk:.2f}, {o.rationale}"
                    for o in others
                ]
        if incident.approval is not None:
            approval = incident.approval
            lines.append("")
            lines.append(
                f"Approval: {approval.decision.value} by {approval.by}"
                + (f" ({approval.note})" if approval.note else "")
            )
        if incident.execution is not None:
            lines.append("")
            lines.append(f"Execution: {incident.execution.summary}")
            lines += [
                f"- {step.name}: {step.status.value}" + (f" ({step.detail})" if step.detail else "")
                for step in incident.execution.steps
            ]
        lines += ["", "## Outcome", ""]
        if incident.verification is not None:
            lines.append(incident.verification.summary)
        lines.append(f"Final state: {incident.state.value}.")
        if incident.history:
            lines.append(f"Last transition: {incident.history[-1].reason}")
        lines += ["", "## How to check", ""]
        params = " ".join(f"--param {k}={v}" for k, v in sorted(anomaly.params.items()))
        lines.append(
            f"Re-run the detector that raised it: `qs-tui esql @esql/{anomaly.query}.esql"
            + (f" {params}" if params else "")
            + "`"
        )
        lines.append(
            f"Healthy means `{anomaly.signal}` on {incident.service}/{incident.region} back "
            + (
                f"near its baseline of {anomaly.baseline:.4g}."
                if anomaly.baseline is not None
                else f"below {anomaly.critical_threshold:.4g} and no longer trending up."
            )
        )
        return "\n".join(lines) + "\n"

    def reserve(self, incident: Incident) -> None:
        """Claim `incident.id` in the incidents index before anything is written under it:
        a create-if-absent write of a stub (no text, so full-text searches for similar past
        incidents do not find it) that the full record replaces when the incident closes.

        Raises:
            DocumentExists: another run already holds this id.
            StoreError: the store is unavailable.
        """
        self.context.store.index(
            INCIDENTS, self.claim_document(incident), doc_id=incident.id, create=True
        )

    @staticmethod
    def claim_document(incident: Incident) -> dict[str, Any]:
        """The stub that claims an incident id (no text fields: not a past incident yet)."""
        return {
            "@timestamp": incident.opened_at,
            "incident_id": incident.id,
            "service": incident.service,
            "region": incident.region,
            "host": incident.anomaly.host,
            "kind": incident.kind.value,
            "state": incident.state.value,
            "opened_at": incident.opened_at,
            "onset_at": incident.anomaly.onset_at,
        }

    def incident_document(self, incident: Incident) -> dict[str, Any]:
        """The incident as the incidents index holds it (doc id = incident id)."""
        runbook = incident.runbook or self.runbook(incident)
        hypothesis = incident.hypothesis
        plan = incident.plan
        verification = incident.verification
        kind = incident.kind.value.replace("_", " ")
        document: dict[str, Any] = {
            "@timestamp": incident.opened_at,
            "incident_id": incident.id,
            "service": incident.service,
            "region": incident.region,
            "host": incident.anomaly.host,
            "kind": incident.kind.value,
            "state": incident.state.value,
            "title": f"{kind} on {incident.service} in {incident.region}",
            "summary": incident.anomaly.summary
            + (f" {verification.summary}" if verification is not None else ""),
            "root_cause": (
                f"{hypothesis.cause}: {hypothesis.summary}" if hypothesis is not None else None
            ),
            "action": plan.chosen.action.value if plan is not None else None,
            "confidence": hypothesis.confidence if hypothesis is not None else None,
            "opened_at": incident.opened_at,
            "resolved_at": incident.closed_at if incident.state is IncidentState.RESOLVED else None,
            "mttr_s": verification.mttr_s if verification is not None else None,
            "runbook": runbook,
            "onset_at": incident.anomaly.onset_at,
            "evidence_params": evidence_params(incident),
        }
        return document

    def record(self, incident: Incident) -> bool:
        """Write the incident to the incidents index (doc id = incident id, so a later record
        replaces an earlier one) and its runbook to `settings.runbook_dir` when set.

        The write is retried and, if the store stays down, queued (see `RecordWriter`); the
        transcript says "recorded" only once the record is really in the store.

        Returns:
            True when the incident record is in the store now; False when it is queued.
        """
        document = self.incident_document(incident)
        runbook = str(document["runbook"])
        hypothesis = incident.hypothesis
        verification = incident.verification
        written = self.context.records.write(
            INCIDENTS, document, doc_id=incident.id, what=f"the record of {incident.id}"
        )
        directory = self.context.settings.runbook_dir
        if directory is not None:
            path = Path(directory) / f"{incident.id}.md"
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(runbook, encoding="utf-8")
            except OSError as error:
                self.say(
                    f"could not write runbook {path.name}: {error.strerror or error}",
                    incident_id=incident.id,
                    level="warn",
                )
        outcome = incident.state.value.replace("_", " ")
        if verification is not None and verification.mttr_s is not None:
            outcome += f", MTTR {format_duration(verification.mttr_s)}"
        if written:
            self.say(
                f"recorded {incident.id} ({outcome}) in {INCIDENTS} with a "
                f"{runbook.count(chr(10))}-line runbook, so future investigations can find it",
                incident_id=incident.id,
            )
        elif self.context.records.pending:
            self.say(
                f"{incident.id} ({outcome}) is NOT recorded yet: the store is unavailable, so "
                f"its record waits in the audit queue ({self.context.records.pending} waiting)",
                incident_id=incident.id,
                level="error",
            )
        else:
            self.say(
                f"{incident.id} ({outcome}) is NOT recorded: the store refused the record",
                incident_id=incident.id,
                level="error",
            )
        self.decide(
            "recorded",
            f"{incident.id} recorded as {incident.state.value}",
            incident_id=incident.id,
            confidence=hypothesis.confidence if hypothesis is not None else None,
        )
        return written

    # ---- cooldown and loop guard --------------------------------------------------------

    def note_remediation(self, incident: Incident) -> None:
        """Remember that `incident` was acted on (starts the cooldown of its service/region).

        Only root incidents with a real (not dry-run) execution count towards the loop guard;
        a cascade's symptoms fixed by their root's action only get the cooldown.
        """
        execution = incident.execution
        if execution is None or execution.dry_run:
            return
        at = execution.finished_at
        self._cooldown_from[(incident.service, incident.region)] = at
        if incident.root_incident_id is None:
            self._remediations.append(
                RemediationRecord(
                    incident.id, incident.service, incident.region, execution.action, at
                )
            )

    def note_recovered(self, incident: Incident) -> None:
        """Remember that `incident`'s remediation brought the signal back (see the loop guard)."""
        self._recovered.add(incident.id)

    def clear_cooldown(self, service: str, region: str) -> None:
        """Lift the cooldown (the remediation did not hold, so there is nothing to protect)."""
        self._cooldown_from.pop((service, region), None)

    def cooldown_remaining_s(self, service: str, region: str) -> float:
        """Simulated seconds the cooldown of service/region still runs (0 when none)."""
        started = self._cooldown_from.get((service, region))
        if started is None:
            return 0.0
        elapsed = (self.now - started).total_seconds()
        return max(0.0, self.context.settings.cooldown_s - elapsed)

    def recent_remediations(self, service: str) -> list[RemediationRecord]:
        """Remediations of `service` within the loop guard's window that did not bring lasting
        recovery: the signal never recovered, or the same service/region needed acting on
        again later. Recovered fixes in other regions (a bad deploy rolled back region by
        region) do not count."""
        window = self.context.settings.loop_guard_window_s
        now = self.now
        mine = [
            record
            for record in self._remediations
            if record.service == service and (now - record.at).total_seconds() <= window
        ]
        return [
            record
            for index, record in enumerate(mine)
            if record.incident_id not in self._recovered
            or any(later.region == record.region for later in mine[index + 1 :])
        ]

    def loop_guard_tripped(self, service: str) -> bool:
        """Whether acting again on `service` would exceed the loop guard."""
        return len(self.recent_remediations(service)) >= self.context.settings.loop_guard_count

    def may_act(self, service: str, region: str) -> tuple[bool, str]:
        """Whether the agents may remediate service/region now, and why (or why not)."""
        settings = self.context.settings
        remaining = self.cooldown_remaining_s(service, region)
        if remaining > 0:
            return (
                False,
                f"cooldown: {service}/{region} was remediated recently; "
                f"{format_duration(remaining)} left so we don't fight our own fix",
            )
        recent = self.recent_remediations(service)
        window = format_duration(settings.loop_guard_window_s)
        if len(recent) >= settings.loop_guard_count:
            actions = ", ".join(f"{r.action.value} ({r.incident_id})" for r in recent)
            return (
                False,
                f"loop guard: {service} was remediated {len(recent)} times in {window} "
                f"without lasting recovery ({actions}); a human must take over",
            )
        return (
            True,
            f"{service} remediated {len(recent)} of {settings.loop_guard_count} allowed "
            f"times in {window}; no cooldown on {service}/{region}",
        )
