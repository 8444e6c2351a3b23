"""The remediation policy: one function decides whether an approved action may run, and
which rule decided.

`decide` is called by the Surgeon before any executor call, whatever the approval says:

1. read-only (`--read-only`, `QS_READ_ONLY=1`): nothing runs, not even a dry run;
2. a rate limit (`max_actions_per_service_per_hour`, `max_actions_per_hour`) reached: nothing
   runs, a human takes over;
3. a change freeze in force: only a human's approval counts (not the auto-approval policy,
   not a blanket `--approve auto`);
4. otherwise the approval stands, and the rule names who gave it (the policy's auto-approval
   rule, or the human).

`auto_approval` is the Diplomat's question (may this plan run without asking anyone?); it
answers with the same rules, so what the Diplomat approves the Surgeon lets through.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from qs_tui.clock import iso_instant
from qs_tui.models import ActionKind, Approval, ApprovalDecision, Plan
from qs_tui.remediation.config import WEEKDAYS, Freeze, PolicyConfig, load_remediation

if TYPE_CHECKING:
    from qs_tui.config import Settings

#: Who approves when the auto-approval policy does (the Diplomat's `Approval.by`).
POLICY_APPROVER = "auto-approval policy"

#: Approvers that are not a human looking at this plan: the policy, and the blanket
#: `--approve auto` of a headless run. During a freeze their yes does not count.
NOT_HUMAN_APPROVERS = frozenset({POLICY_APPROVER, "--approve auto"})

#: The window of the rate limits.
RATE_WINDOW = timedelta(hours=1)

#: Executors that reach no real system: their calls are not audited as real-system calls.
NOT_REAL_EXECUTORS = frozenset({"simulated", "advisory"})


@dataclass(frozen=True)
class ActionRecord:
    """One action carried out (or attempted) on a real target, for the rate limits.

    Attributes:
        at: when it was applied.
        service: the service acted on.
        action: what was done.
        incident_id: the incident it was for.
    """

    at: datetime
    service: str
    action: ActionKind
    incident_id: str = ""


@dataclass(frozen=True)
class PolicyDecision:
    """Whether an action may run, and the rule that decided (shown to the human and logged).

    Attributes:
        allowed: the executor may be called.
        rule: the rule in words (`frozen: weekend freeze until Mon 08:00`).
        by_policy: a rule of the policy (or read-only) decided, not simply the approval;
            the Surgeon says so in the transcript.
    """

    allowed: bool
    rule: str
    by_policy: bool = True


def is_human(approval: Approval) -> bool:
    """Whether a person answered this very plan (not the policy or `--approve auto`)."""
    return approval.by not in NOT_HUMAN_APPROVERS


def decide(
    policy: PolicyConfig,
    plan: Plan,
    approval: Approval,
    now: datetime,
    history: Sequence[ActionRecord] = (),
    *,
    read_only: bool = False,
) -> PolicyDecision:
    """Whether `plan.chosen` may run now under `approval`; read-only wins over everything.

    Args:
        policy: the `[policy]` of `remediation.toml`.
        plan: the plan to carry out.
        approval: how it was approved (a dry run is allowed unless read-only: it changes
            nothing).
        now: the (simulated) time.
        history: actions already carried out (the audit trail's), for the rate limits.
        read_only: `--read-only` / `QS_READ_ONLY`.
    """
    if read_only:
        return PolicyDecision(False, "read-only: no executor is called")
    if approval.decision is ApprovalDecision.DRY_RUN:
        return PolicyDecision(True, f"dry run asked by {approval.by}: nothing changes", False)
    if not approval.approved:
        return PolicyDecision(
            False, f"not approved ({approval.decision.value} by {approval.by})", False
        )
    limited = rate_limit(policy, plan.chosen.service, now, history)
    if limited is not None:
        return PolicyDecision(False, limited)
    frozen = freeze_in_force(policy, now)
    if frozen is not None and not is_human(approval):
        return PolicyDecision(False, f"{frozen}; only a human may approve, not the {approval.by}")
    if frozen is not None:
        return PolicyDecision(True, f"{frozen}; approved by a human ({approval.by})")
    if approval.by == POLICY_APPROVER:
        rule = auto_approve_rule(policy, plan)
        if rule is not None:
            return PolicyDecision(True, rule)
        # The Diplomat may also auto-approve under the pipeline's own low-risk setting;
        # its note says why (and the Diplomat has said it).
        return PolicyDecision(True, f"auto-approved: {approval.note or 'by policy'}", False)
    return PolicyDecision(True, f"approved by {approval.by}", False)


def auto_approval(
    policy: PolicyConfig,
    plan: Plan,
    now: datetime,
    history: Sequence[ActionRecord] = (),
    *,
    read_only: bool = False,
) -> str | None:
    """The rule under which `plan` may run without a human, or None when one must decide
    (always when something blocks it: see `blocking_rule`)."""
    if blocking_rule(policy, plan, now, history, read_only=read_only) is not None:
        return None
    return auto_approve_rule(policy, plan)


def blocking_rule(
    policy: PolicyConfig,
    plan: Plan,
    now: datetime,
    history: Sequence[ActionRecord] = (),
    *,
    read_only: bool = False,
) -> str | None:
    """What the policy will say about `plan` whoever approves it (shown in the approval
    request): read-only, a rate limit, or a freeze; None when nothing stands in the way."""
    if read_only:
        return "read-only: nothing will be carried out, whatever the answer"
    limited = rate_limit(policy, plan.chosen.service, now, history)
    if limited is not None:
        return f"{limited}: nothing will be carried out, a human takes over"
    frozen = freeze_in_force(policy, now)
    if frozen is not None:
        return f"{frozen}: only a human may approve"
    return None


def auto_approve_rule(policy: PolicyConfig, plan: Plan) -> str | None:
    """`auto-approved: restart ≤ low risk` when the action and its risk are within the
    policy's auto-approval, else None (time and rate limits aside)."""
    option = plan.chosen
    if option.action not in policy.auto_approve or option.risk > policy.max_risk:
        return None
    return f"auto-approved: {option.action.value} ≤ {policy.risk_level} risk"


def rate_limit(
    policy: PolicyConfig, service: str, now: datetime, history: Sequence[ActionRecord]
) -> str | None:
    """`rate limit: 3 actions on payment in the last hour` when another action would exceed
    a limit, else None."""
    since = now - RATE_WINDOW
    recent = [record for record in history if since < record.at <= now]
    per_service = policy.max_actions_per_service_per_hour
    on_service = sum(record.service == service for record in recent)
    if per_service is not None and on_service >= per_service:
        return f"rate limit: {_actions(on_service)} on {service} in the last hour"
    overall = policy.max_actions_per_hour
    if overall is not None and len(recent) >= overall:
        return f"rate limit: {_actions(len(recent))} across the estate in the last hour"
    return None


def _actions(count: int) -> str:
    return f"{count} action" + ("" if count == 1 else "s")


def freeze_in_force(policy: PolicyConfig, now: datetime) -> str | None:
    """`frozen: weekend freeze until Mon 08:00` when a freeze holds at `now`, else None."""
    for freeze in policy.freezes:
        until = freeze_end(freeze, now)
        if until is not None:
            return f"frozen: {freeze.name} until {_format_until(freeze, until)}"
    return None


def freeze_end(freeze: Freeze, now: datetime) -> datetime | None:
    """When `freeze` ends if it holds at `now` (following back-to-back weekly windows),
    else None."""
    if freeze.start is not None and freeze.end is not None:
        return freeze.end if freeze.start <= now < freeze.end else None
    end = _window_end(freeze, now)
    if end is None:
        return None
    # Windows that touch (`days = ["sat", "sun"]` without times) make one freeze.
    for _ in range(7):
        following = _window_end(freeze, end)
        if following is None or following <= end:
            break
        end = following
    return end


def _window_end(freeze: Freeze, now: datetime) -> datetime | None:
    """The end of the weekly window holding `now`, or None."""
    zone = ZoneInfo(freeze.timezone)
    local = now.astimezone(zone)
    days = set(freeze.days or ())
    # A window that crosses midnight started the day before, so look at both days.
    for start_day in (local.date() - timedelta(days=1), local.date()):
        if WEEKDAYS[start_day.weekday()] not in days:
            continue
        start, end = _window(freeze, start_day, zone)
        if start <= now < end:
            return end
    return None


def _window(freeze: Freeze, day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, freeze.from_, tzinfo=zone)
    end_day = day if freeze.to > freeze.from_ else day + timedelta(days=1)
    return start, datetime.combine(end_day, freeze.to, tzinfo=zone)


def _format_until(freeze: Freeze, until: datetime) -> str:
    if freeze.days is not None:
        local = until.astimezone(ZoneInfo(freeze.timezone))
        zone = "" if freeze.timezone == "UTC" else f" {freeze.timezone}"
        return local.strftime("%a %H:%M") + zone
    return iso_instant(until.astimezone(UTC))


# ---- the audit trail of real-system calls ------------------------------------------------

#: Keys whose values are credentials wherever they appear in a request or an answer.
_SECRET_KEY = re.compile(
    r"(?i)(token|secret|password|passwd|api[-_]?key|authorization|credential|cookie|bearer)"
)
REDACTED = "[redacted]"

#: Environment variables that hold credentials for the real systems (the executors read
#: them): their values are masked in audit documents even where a message repeats one.
SECRET_ENV_VARS = (
    "ARGOCD_AUTH_TOKEN",
    "KIBANA_API_KEY",
    "ELASTIC_API_KEY",
    "ELASTIC_PASSWORD",
)


def known_secrets(
    names: Sequence[str] = (), *, environ: Mapping[str, str] | None = None
) -> list[str]:
    """The values of the credential variables in `environ` (the usual ones and `names`),
    longest first, so masking a long one never leaves part of it behind."""
    env = os.environ if environ is None else environ
    values = {env[name] for name in (*SECRET_ENV_VARS, *names) if env.get(name)}
    # Values shorter than 3 characters would mask ordinary words; the stores do the same.
    return sorted((value for value in values if len(value) >= 3), key=len, reverse=True)


def _secret_key(key: str) -> bool:
    # `token_env = "ARGOCD_AUTH_TOKEN"` names a variable, not a credential: keep it.
    return bool(_SECRET_KEY.search(key)) and not key.endswith("_env")


def redact(value: Any, secrets: Sequence[str] = ()) -> Any:
    """`value` made safe for the audit trail: credential-named keys are replaced and any
    known secret inside a string is masked, at any depth."""
    if isinstance(value, Mapping):
        return {
            str(key): REDACTED if _secret_key(str(key)) else redact(item, secrets)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item, secrets) for item in value]
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    if value is None or isinstance(value, bool | int | float | datetime):
        return value
    return redact(str(value), secrets)


def policy_settings(settings: Settings) -> dict[str, Any]:
    """The pipeline settings the policy sets: `read_only` from `QS_READ_ONLY`/`--read-only`,
    `policy` from `remediation.toml` (`QS_REMEDIATION`) and the credentials the audit trail
    masks (`.env` ones too, which the process environment does not hold); for
    `PipelineSettings.model_copy(update=...)`.

    Raises:
        RemediationConfigError: the file is bad (`file:line: field: problem`).
    """
    config = load_remediation(settings.remediation)
    return {
        "read_only": settings.read_only,
        "policy": config.policy,
        "secrets": tuple(settings.secrets()),
    }


__all__ = [
    "NOT_HUMAN_APPROVERS",
    "NOT_REAL_EXECUTORS",
    "POLICY_APPROVER",
    "RATE_WINDOW",
    "REDACTED",
    "SECRET_ENV_VARS",
    "ActionRecord",
    "PolicyDecision",
    "auto_approval",
    "auto_approve_rule",
    "blocking_rule",
    "decide",
    "freeze_end",
    "freeze_in_force",
    "is_human",
    "known_secrets",
    "policy_settings",
    "rate_limit",
    "redact",
]
