"""The Surgeon: carries out an approved plan as a workflow of checked, verified, revertible steps.

For the chosen option the workflow is: pre-check every target (read-only; a failure stops
everything before anything changes), skip targets already in the desired state, then for each
target apply the action and verify it took effect. When a step fails, the steps completed so
far are reverted in reverse order. A target of `all` regions becomes one target per region,
so a fleet-wide rollback goes region by region and stops at the first one that fails.

A dry run (approval DRY_RUN or `settings.dry_run`) runs the same pre-checks and reports what
would be done, changing nothing. A re-run of an execution that already succeeded reports
what was done instead of acting again.

Before any executor call the remediation policy decides (`qs_tui.remediation.policy.decide`):
under `--read-only`, a rate limit, or a freeze without a human's yes, no executor method is
called and the plan is reported as advice for a human. Every call to a real system (any
executor but the simulated cluster and advice) is written to the audit trail before and after
it is made, with credentials masked.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from qs_tui.agents.base import Agent, AgentContext
from qs_tui.clock import as_utc, iso_instant
from qs_tui.models import (
    ActionKind,
    AgentName,
    Approval,
    ApprovalDecision,
    ExecutionReport,
    ExecutionStep,
    Incident,
    Plan,
    RemediationOption,
    StepStatus,
)
from qs_tui.remediation.advisory import RoutingExecutor, advice_for
from qs_tui.remediation.base import (
    ADVISED,
    Details,
    RemediationExecutor,
    action_noun,
    action_verb,
    describe_target,
)
from qs_tui.remediation.policy import (
    NOT_REAL_EXECUTORS,
    RATE_WINDOW,
    ActionRecord,
    PolicyDecision,
    decide,
    redact,
)
from qs_tui.store.base import StoreError
from qs_tui.store.templates import DECISIONS

_T = TypeVar("_T")

#: The actions applied on real systems in the rate-limit window, from the audit trail (the
#: records `_audited` writes). Inline rather than in the query library: it reads our own
#: audit index, whose fields no schema profile maps differently.
RECENT_ACTIONS_QUERY = (
    f"FROM {DECISIONS} "
    '| WHERE agent == ?agent AND decision == "real_call_started" AND call == "apply" '
    "AND @timestamp > TO_DATETIME(?since) "
    "| SORT @timestamp "
    "| KEEP @timestamp, service, action, incident_id "
    "| LIMIT 10000"
)

_Key = tuple[str, str, str, str]


@dataclass(frozen=True)
class _Applied:
    """One target the action changed, with what the executor said it needs to revert it."""

    option: RemediationOption
    details: Details


def _where(option: RemediationOption) -> str:
    return f"{option.service}/{option.region}"


def _key(incident_id: str, option: RemediationOption) -> _Key:
    return (incident_id, option.action.value, option.service, option.region)


class Surgeon(Agent):
    """Executes plans through a remediation executor.

    Args:
        context: the shared agent context (`settings.dry_run` forces dry runs;
            `settings.read_only` and `settings.policy` are enforced before any executor call).
        executor: what carries the actions out (`SimulatedExecutor`, `WebhookExecutor`).
        history: actions carried out before this Surgeon started (from the audit trail),
            counted by the policy's rate limits (added to `context.actions`).
        secrets: credential values to mask in audit documents, beside the ones the
            executors read from the environment (`Settings.secrets()`).
    """

    name = AgentName.SURGEON

    def __init__(
        self,
        context: AgentContext,
        *,
        executor: RemediationExecutor,
        history: Sequence[ActionRecord] = (),
        secrets: Sequence[str] = (),
    ) -> None:
        super().__init__(context)
        self.executor = executor
        self._lock = threading.Lock()
        self._completed: dict[_Key, ExecutionReport] = {}
        self._applied: dict[_Key, list[_Applied]] = {}
        context.actions.extend(history)
        self._approvers: dict[str, str] = {}
        self._secrets = list(secrets)
        self._read_audit = False

    @property
    def history(self) -> list[ActionRecord]:
        """The actions applied so far (for the rate limits), oldest first."""
        with self._lock:
            return list(self.context.actions)

    def policy_decision(self, plan: Plan, approval: Approval) -> PolicyDecision:
        """What the policy says about carrying out `plan` now under `approval`."""
        settings = self.context.settings
        if not self._read_audit:
            self._read_audit = True
            policy = settings.policy
            if policy.max_actions_per_hour or policy.max_actions_per_service_per_hour:
                self._remember_recent_actions()
        return decide(
            settings.policy,
            plan,
            approval,
            self.now,
            self.history,
            read_only=settings.read_only,
        )

    # ---- execute ------------------------------------------------------------------------

    def execute(self, incident: Incident, plan: Plan, approval: Approval) -> ExecutionReport:
        """Carry out `plan.chosen` for `incident`, as approved.

        Never raises for a failed action: the report says what happened, step by step.
        """
        option = plan.chosen
        started = self.now
        what = f"{action_noun(option.action)} of {describe_target(option)}"
        refusal = self._refusal(incident, plan, approval)
        if refusal is not None:
            refused = [ExecutionStep(name="approval", status=StepStatus.SKIPPED, detail=refusal)]
            self.say(f"not executing {what}: {refusal}", incident_id=incident.id, level="warn")
            self.decide("refused", f"{what} not executed: {refusal}", incident_id=incident.id)
            return self._report(incident, option, refused, started, False, refusal, dry_run=False)
        dry_run = approval.decision is ApprovalDecision.DRY_RUN or self.context.settings.dry_run
        if option.action is ActionKind.DO_NOTHING:
            summary = f"no action taken on {describe_target(option)}, as planned"
            noop = [ExecutionStep(name="no action", status=StepStatus.OK, detail=plan.reason)]
            self.say(summary, incident_id=incident.id)
            self.decide("no_action", summary, incident_id=incident.id)
            return self._report(incident, option, noop, started, True, summary, dry_run=dry_run)
        if not dry_run:
            with self._lock:
                earlier = self._completed.get(_key(incident.id, option))
            if earlier is not None:
                return self._repeat(incident, option, earlier, started)
        # The policy decides before any executor call, whatever the approval says.
        verdict = self.policy_decision(plan, approval)
        if not verdict.allowed:
            return self._held(incident, option, started, verdict.rule)
        if verdict.by_policy:
            self.say(f"policy: {verdict.rule}", incident_id=incident.id)
            self.decide("policy", f"{what}: {verdict.rule}", incident_id=incident.id)
        with self._lock:
            self._approvers[incident.id] = approval.by

        steps: list[ExecutionStep] = []
        targets = self._targets(option)
        to_act: list[RemediationOption] = []
        already: list[str] = []
        for target in targets:
            ok, message = self._precheck(target, incident.id)
            status = StepStatus.OK if ok else StepStatus.FAILED
            steps.append(self._step(f"pre-check {_where(target)}", status, message))
            if not ok:
                summary = f"pre-check failed for {_where(target)}: {message}; nothing changed"
                self.say(f"{what}: {summary}", incident_id=incident.id, level="warn")
                self.decide("precheck_failed", f"{what}: {summary}", incident_id=incident.id)
                return self._report(
                    incident, option, steps, started, False, summary, dry_run=dry_run
                )
            done = self._already_done(target, incident.id)
            if done is not None:
                name = f"{target.action.value} {_where(target)}"
                steps.append(self._step(name, StepStatus.SKIPPED, done))
                already.append(done)
            else:
                to_act.append(target)

        if dry_run:
            return self._dry_run(incident, option, steps, to_act, already, started)
        if not to_act:
            summary = "; ".join(already) + "; nothing to do"
            self.say(f"{what}: {summary}", incident_id=incident.id)
            self.decide("already_done", f"{what}: {summary}", incident_id=incident.id)
            report = self._report(incident, option, steps, started, True, summary, dry_run=False)
            with self._lock:
                self._completed[_key(incident.id, option)] = report
            return report
        return self._act(incident, option, steps, to_act, started, approval)

    def _refusal(self, incident: Incident, plan: Plan, approval: Approval) -> str | None:
        if plan.incident_id != incident.id or approval.incident_id != incident.id:
            return (
                f"the plan ({plan.incident_id}) and approval ({approval.incident_id}) "
                f"are not for incident {incident.id}"
            )
        if approval.decision not in (ApprovalDecision.APPROVED, ApprovalDecision.DRY_RUN):
            return f"not approved ({approval.decision.value} by {approval.by})"
        return None

    def _remember_recent_actions(self) -> None:
        """Count the real actions of an earlier run (the audit trail of a persisted store or
        a cluster) against the rate limits; before this Surgeon has applied anything."""
        since = self.now - RATE_WINDOW
        try:
            result = self.context.store.esql(
                RECENT_ACTIONS_QUERY,
                params={"agent": self.name.value, "since": iso_instant(since)},
            )
        except StoreError as error:
            self.say(
                f"rate limits count only this run's actions: the audit trail could not be "
                f"read ({error.title})",
                level="warn",
            )
            return
        known = {(a.at, a.service, a.action, a.incident_id) for a in self.context.actions}
        for at, service, action, incident_id in result.values:
            try:
                record = ActionRecord(
                    as_utc(datetime.fromisoformat(str(at).replace("Z", "+00:00"))),
                    str(service),
                    ActionKind(str(action)),
                    str(incident_id or ""),
                )
            except ValueError:
                continue  # a record this version cannot read counts for nothing
            key = (record.at, record.service, record.action, record.incident_id)
            if key not in known:
                known.add(key)
                self.context.actions.append(record)

    def _held(
        self, incident: Incident, option: RemediationOption, started: datetime, rule: str
    ) -> ExecutionReport:
        """The policy holds the action: no executor is called; the plan goes to a human as
        advice (what they would run), with the rule that decided."""
        what = f"{action_noun(option.action)} of {describe_target(option)}"
        mapping = self.executor.config if isinstance(self.executor, RoutingExecutor) else None
        advice: list[str] = []
        steps = [self._step("policy", StepStatus.SKIPPED, rule)]
        for target in self._targets(option):
            mapped = None
            if mapping is not None:
                mapped = mapping.target_for(target.service, target.region, target.action)
            command = advice_for(target, mapped)
            advice.append(command)
            steps.append(
                self._step(
                    f"{option.action.value} {_where(target)}",
                    StepStatus.ADVISED,
                    f"not carried out ({rule}): {command}",
                )
            )
        summary = f"{rule}: {what} not carried out; a human would run: " + "; ".join(advice)
        self.say(f"policy: {summary}", incident_id=incident.id, level="warn")
        self.decide("policy_held", summary, incident_id=incident.id)
        report = self._report(incident, option, steps, started, False, summary, dry_run=False)
        return report.model_copy(update={"advice": advice})

    def _targets(self, option: RemediationOption) -> list[RemediationOption]:
        # Preparation first (a receiving region scaled out before a failover), so a failed
        # preparation stops the plan before the main action, and a failed main action
        # reverts the preparation with it.
        prepare = [p for p in option.prepare if p.region != "all"]
        if option.region != "all":
            return [*prepare, option]
        regions = self.context.topology.regions
        return [*prepare, *(option.model_copy(update={"region": r}) for r in regions)]

    def _dry_run(
        self,
        incident: Incident,
        option: RemediationOption,
        steps: list[ExecutionStep],
        to_act: list[RemediationOption],
        already: list[str],
        started: datetime,
    ) -> ExecutionReport:
        for target in to_act:
            steps.append(
                self._step(
                    f"{target.action.value} {_where(target)}",
                    StepStatus.DRY_RUN,
                    f"would {action_verb(target.action)} {describe_target(target)}",
                )
            )
            steps.append(
                self._step(
                    f"verify {_where(target)}",
                    StepStatus.DRY_RUN,
                    f"would confirm the {action_noun(target.action)} took effect",
                )
            )
        parts = [f"would {action_verb(t.action)} {describe_target(t)}" for t in to_act] + already
        summary = "dry run: " + "; ".join(parts) + "; pre-checks passed; nothing changed"
        self.say(summary, incident_id=incident.id)
        self.decide("dry_run", summary, incident_id=incident.id)
        return self._report(incident, option, steps, started, True, summary, dry_run=True)

    def _act(
        self,
        incident: Incident,
        option: RemediationOption,
        steps: list[ExecutionStep],
        to_act: list[RemediationOption],
        started: datetime,
        approval: Approval,
    ) -> ExecutionReport:
        what = f"{action_noun(option.action)} of {describe_target(option)}"
        applied: list[_Applied] = []
        advice: list[str] = []
        announced = False
        failure: str | None = None
        remaining = list(to_act)
        while remaining and failure is None:
            target = remaining.pop(0)
            name = f"{target.action.value} {_where(target)}"
            ok, message, details = self._apply(target, incident.id)
            if ok or details.get(ADVISED) is not True:
                # Attempted on the target, whatever came of it: it counts for rate limits.
                with self._lock:
                    self.context.actions.append(
                        ActionRecord(self.now, target.service, target.action, incident.id)
                    )
            if not ok and details.get(ADVISED) is True:
                # An advisory target: nothing was carried out, by design. Say what a human
                # would run; never announce it as executing.
                command = str(details.get("advice") or message)
                steps.append(self._step(name, StepStatus.ADVISED, command))
                advice.append(command)
                self.say(f"advice for {_where(target)}: {command}", incident_id=incident.id)
                continue
            if not announced:
                announced = True
                self.say(
                    f"executing: {action_verb(option.action)} {describe_target(option)}, "
                    f"approved by {approval.by}, via the {self._executor_name(target)} executor",
                    incident_id=incident.id,
                )
            if not ok:
                steps.append(self._step(name, StepStatus.FAILED, message))
                failure = f"{name} failed: {message}"
                continue
            if details.get("changed") is False:
                steps.append(self._step(name, StepStatus.SKIPPED, f"already done: {message}"))
                continue
            steps.append(self._step(name, StepStatus.OK, message))
            applied.append(_Applied(target, details))
            verified, check = self._verify(target, details, incident.id)
            status = StepStatus.OK if verified else StepStatus.FAILED
            steps.append(self._step(f"verify {_where(target)}", status, check))
            if verified:
                self.say(f"{name}: {message}; verified: {check}", incident_id=incident.id)
            else:
                failure = f"{name} did not take effect: {check}"
        for target in remaining:
            steps.append(
                self._step(
                    f"{target.action.value} {_where(target)}",
                    StepStatus.SKIPPED,
                    "not attempted: an earlier step failed",
                )
            )
        if failure is None and advice:
            return self._advised(incident, option, steps, started, applied, advice)
        if failure is None:
            summary = f"{what} done and verified"
            main = [t for t in to_act if t not in option.prepare]
            if len(main) > 1:
                summary += f" in {len(applied) - len(to_act) + len(main)} of {len(main)} regions"
            if len(main) < len(to_act):
                summary += ", after " + ", ".join(
                    f"{t.action.value} {_where(t)}" for t in to_act if t in option.prepare
                )
            report = self._report(incident, option, steps, started, True, summary, dry_run=False)
            with self._lock:
                self._completed[_key(incident.id, option)] = report
                self._applied[_key(incident.id, option)] = applied
            self.decide("executed", summary, incident_id=incident.id)
            return report

        self.say(
            f"{failure}; reverting {len(applied)} completed step(s)",
            incident_id=incident.id,
            level="error",
        )
        reverted = self._revert_all(incident.id, applied, steps)
        if not applied:
            summary = f"{failure}; nothing had changed"
        elif reverted:
            summary = f"{failure}; {len(applied)} completed step(s) reverted"
        else:
            summary = f"{failure}; some completed steps could not be reverted"
        self.decide("failed", summary, incident_id=incident.id)
        return self._report(
            incident,
            option,
            steps,
            started,
            False,
            summary,
            dry_run=False,
            rolled_back=bool(applied) and reverted,
        )

    def _advised(
        self,
        incident: Incident,
        option: RemediationOption,
        steps: list[ExecutionStep],
        started: datetime,
        applied: list[_Applied],
        advice: list[str],
    ) -> ExecutionReport:
        """The report when some targets are advisory: advice for a human, not a failure."""
        what = f"{action_noun(option.action)} of {describe_target(option)}"
        done = f"; carried out in {len(applied)} region(s)" if applied else ""
        summary = f"advisory: {what} not carried out{done}; a human would run: " + "; ".join(advice)
        with self._lock:
            if applied:
                self._applied[_key(incident.id, option)] = applied
        self.decide("advised", summary, incident_id=incident.id)
        report = self._report(incident, option, steps, started, False, summary, dry_run=False)
        return report.model_copy(update={"advice": advice})

    def _repeat(
        self,
        incident: Incident,
        option: RemediationOption,
        earlier: ExecutionReport,
        started: datetime,
    ) -> ExecutionReport:
        at = iso_instant(earlier.finished_at)
        detail = f"already done at {at}: {earlier.summary}"
        steps = [self._step(f"{option.action.value} {_where(option)}", StepStatus.SKIPPED, detail)]
        what = f"{action_noun(option.action)} of {describe_target(option)}"
        self.say(f"{what}: {detail}; not acting again", incident_id=incident.id)
        self.decide("already_done", f"{what}: {detail}", incident_id=incident.id)
        return self._report(incident, option, steps, started, True, detail, dry_run=False)

    # ---- undo ---------------------------------------------------------------------------

    def undo(self, report: ExecutionReport) -> ExecutionReport:
        """Revert what an execution changed, in reverse order (when verification fails).

        Returns a report of the reverts: `success` and `rolled_back` are True only when
        every change was undone; an action the executor cannot revert is reported as such.
        """
        started = self.now
        option = RemediationOption(
            action=report.action,
            service=report.service,
            region=report.region,
            expected_recovery_s=0,
            risk=0,
            blast_radius="",
            score=0,
            rationale="undo",
        )
        key = _key(report.incident_id, option)
        what = f"{action_noun(report.action)} of {report.service} in {report.region}"
        with self._lock:
            applied = self._applied.get(key, [])
        if report.dry_run or not applied:
            if report.dry_run:
                reason = "a dry run changed nothing"
            elif not report.success:
                reason = "the failed execution already reverted what it could (see its steps)"
            else:
                reason = "nothing was changed"
            skipped = [self._step(f"revert {_where(option)}", StepStatus.SKIPPED, reason)]
            summary = f"nothing to undo for the {what}: {reason}"
            self.say(summary, incident_id=report.incident_id)
            return self._undo_report(report, skipped, started, True, summary, rolled_back=False)
        self.say(
            f"undoing the {what}: reverting {len(applied)} step(s)",
            incident_id=report.incident_id,
            level="warn",
        )
        steps: list[ExecutionStep] = []
        reverted = self._revert_all(report.incident_id, applied, steps)
        if reverted:
            with self._lock:
                self._applied.pop(key, None)
                self._completed.pop(key, None)
            summary = f"undid the {what}"
        else:
            summary = f"could not fully undo the {what}; left as it is for a human"
        self.decide(
            "undone" if reverted else "undo_failed", summary, incident_id=report.incident_id
        )
        return self._undo_report(report, steps, started, reverted, summary, rolled_back=reverted)

    def _revert_all(
        self, incident_id: str, applied: list[_Applied], steps: list[ExecutionStep]
    ) -> bool:
        """Revert `applied` newest first, appending a step each; True when all were undone."""
        all_reverted = True
        for done in reversed(applied):
            name = f"revert {done.option.action.value} {_where(done.option)}"
            ok, message = self._revert(done, incident_id)
            steps.append(
                self._step(name, StepStatus.ROLLED_BACK if ok else StepStatus.FAILED, message)
            )
            level = "info" if ok else "warn"
            verdict = "reverted" if ok else "could not revert"
            self.say(
                f"{verdict} {done.option.action.value} on {_where(done.option)}: {message}",
                incident_id=incident_id,
                level=level,
            )
            all_reverted = all_reverted and ok
        return all_reverted

    # ---- executor calls: an executor that raises is a failed step, not a crash ----------

    def _precheck(self, option: RemediationOption, incident_id: str) -> tuple[bool, str]:
        try:
            return self._audited(
                "precheck",
                option,
                incident_id,
                {},
                lambda: self.executor.precheck(option, incident_id=incident_id),
                lambda answer: {"ok": answer[0], "message": answer[1]},
            )
        except Exception as error:
            return False, _failure("pre-check", error)

    def _already_done(self, option: RemediationOption, incident_id: str) -> str | None:
        try:
            return self._audited(
                "already_done",
                option,
                incident_id,
                {},
                lambda: self.executor.already_done(option, incident_id=incident_id),
                lambda answer: {"already_done": answer},
            )
        except Exception:
            return None  # unknown state: the apply step will find out

    def _apply(self, option: RemediationOption, incident_id: str) -> tuple[bool, str, Details]:
        try:
            return self._audited(
                "apply",
                option,
                incident_id,
                {},
                lambda: self.executor.apply(option, incident_id=incident_id),
                lambda answer: {"ok": answer[0], "message": answer[1], "details": answer[2]},
            )
        except Exception as error:
            return False, _failure("action", error), {}

    def _verify(
        self, option: RemediationOption, details: Details, incident_id: str = ""
    ) -> tuple[bool, str]:
        try:
            return self._audited(
                "verify",
                option,
                incident_id,
                {"details": details},
                lambda: self.executor.verify(option, details),
                lambda answer: {"ok": answer[0], "message": answer[1]},
            )
        except Exception as error:
            return False, _failure("verification", error)

    def _revert(self, done: _Applied, incident_id: str) -> tuple[bool, str]:
        try:
            return self._audited(
                "revert",
                done.option,
                incident_id,
                {"details": done.details},
                lambda: self.executor.revert(done.option, done.details, incident_id=incident_id),
                lambda answer: {"ok": answer[0], "message": answer[1]},
            )
        except Exception as error:
            return False, _failure("revert", error)

    def _executor_name(self, option: RemediationOption) -> str:
        """The executor that carries `option` out: through a router, the one it maps to."""
        executor: RemediationExecutor = self.executor
        if isinstance(executor, RoutingExecutor):
            executor = executor.executor_for(option)
        return executor.name

    # ---- the audit trail of real-system calls -------------------------------------------

    def _real_system(self, option: RemediationOption) -> tuple[str, dict[str, Any]] | None:
        """The executor name and target a call for `option` goes to, or None when it reaches
        no real system (the simulated cluster, advice)."""
        target: dict[str, Any] = {"service": option.service, "region": option.region}
        if isinstance(self.executor, RoutingExecutor):
            config = self.executor.config
            mapped = config.target_for(option.service, option.region, option.action)
            if mapped is not None:
                # The mapping names the variables that hold tokens, never the tokens.
                target = mapped.model_dump(mode="json", exclude_none=True)
        name = self._executor_name(option)
        if name in NOT_REAL_EXECUTORS:
            return None
        return name, target

    def _audited(
        self,
        call: str,
        option: RemediationOption,
        incident_id: str,
        request: dict[str, Any],
        run: Callable[[], _T],
        answer_of: Callable[[_T], dict[str, Any]],
    ) -> _T:
        """Make one executor call; when it reaches a real system, write an audit record
        before it (what is asked, of what target, approved by whom) and after it (the
        answer, or the error it raised)."""
        system = self._real_system(option)
        if system is None:
            return run()
        executor_name, target = system
        token_vars = [str(v) for k, v in target.items() if k.endswith("_env") and v]
        secrets = self.context.secrets_to_mask(self._secrets, token_vars)
        with self._lock:
            approved_by = self._approvers.get(incident_id, "unknown")
        base: dict[str, Any] = {
            "incident_id": incident_id or None,
            "agent": self.name.value,
            "executor": executor_name,
            "call": call,
            "action": option.action.value,
            "service": option.service,
            "region": option.region,
            "target": target,
            "approved_by": approved_by,
            "request": {
                "call": call,
                "action": option.action.value,
                "service": option.service,
                "region": option.region,
                "target_version": option.target_version,
                **request,
            },
        }
        where = f"{option.action.value} on {_where(option)} via {executor_name}"
        self._write_audit(base, "real_call_started", f"calling {call} for {where}", secrets)
        try:
            answer = run()
        except Exception as error:
            self._write_audit(
                {**base, "answer": {"error": _failure(call, error)}},
                "real_call_failed",
                f"{call} for {where} raised",
                secrets,
            )
            raise
        self._write_audit(
            {**base, "answer": answer_of(answer)},
            "real_call_finished",
            f"{call} for {where} answered",
            secrets,
        )
        return answer

    def _write_audit(
        self, document: dict[str, Any], decision: str, message: str, secrets: list[str]
    ) -> None:
        safe = redact(document, secrets)
        record = {
            "@timestamp": self.now,
            **safe,
            # Free-form parts as JSON text: searchable, and the same in every store.
            **{
                key: json.dumps(safe[key], sort_keys=True, default=str)
                for key in ("target", "request", "answer")
                if key in safe
            },
            "decision": decision,
            "message": redact(message, secrets),
            "sequence": self.context.next_sequence(),
        }
        # Through the record writer like every audit record: retried, queued, never raises.
        self.context.records.write(
            DECISIONS,
            record,
            what=f"{self.name.value}'s {decision} record"
            + (f" for {document['incident_id']}" if document.get("incident_id") else ""),
        )

    # ---- reports ------------------------------------------------------------------------

    def _step(self, name: str, status: StepStatus, detail: str) -> ExecutionStep:
        return ExecutionStep(name=name, status=status, detail=detail, at=self.now)

    def _report(
        self,
        incident: Incident,
        option: RemediationOption,
        steps: list[ExecutionStep],
        started: datetime,
        success: bool,
        summary: str,
        *,
        dry_run: bool,
        rolled_back: bool = False,
    ) -> ExecutionReport:
        return ExecutionReport(
            incident_id=incident.id,
            action=option.action,
            service=option.service,
            region=option.region,
            dry_run=dry_run,
            steps=steps,
            success=success,
            rolled_back=rolled_back,
            started_at=started,
            finished_at=self.now,
            summary=summary,
        )

    def _undo_report(
        self,
        report: ExecutionReport,
        steps: list[ExecutionStep],
        started: datetime,
        success: bool,
        summary: str,
        *,
        rolled_back: bool,
    ) -> ExecutionReport:
        return report.model_copy(
            update={
                "steps": steps,
                "success": success,
                "rolled_back": rolled_back,
                "started_at": started,
                "finished_at": self.now,
                "summary": summary,
            }
        )


def _failure(stage: str, error: Exception) -> str:
    # The type and message only: an executor's traceback is for logs, not the transcript.
    text = str(error).splitlines()[0][:200] if str(error) else ""
    return f"{stage} raised {type(error).__name__}" + (f": {text}" if text else "")
