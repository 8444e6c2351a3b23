"""The Diplomat: asks a human to approve a plan (never blocking) and tells Slack what happens.

An approval request travels as a `concurrent.futures.Future` inside an `ApprovalRequested`
event. Whoever subscribes (the TUI's modal, the headless runner's `--approve` handler)
answers with `answer_approval(future, decision, by=...)`, or by setting an `ApprovalDecision`
as the future's result directly (then `by` is `keyboard`). The pipeline polls; no answer
before the deadline is a rejection (`TIMED_OUT`, by `timeout`).
"""

from __future__ import annotations

import queue
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, InvalidStateError
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TextIO

from qs_tui.agents.base import Agent, AgentContext
from qs_tui.agents.events import ApprovalRequested, ApprovalSettled
from qs_tui.models import (
    ActionKind,
    AgentName,
    Approval,
    ApprovalDecision,
    Incident,
    Plan,
    RemediationOption,
)
from qs_tui.notify import Delivery, Notifier, slack_message
from qs_tui.remediation.base import action_noun, describe_target
from qs_tui.sim.clock import iso_instant

#: Answers a subscriber may give; TIMED_OUT is the Diplomat's own verdict.
ANSWERS = frozenset(
    {ApprovalDecision.APPROVED, ApprovalDecision.REJECTED, ApprovalDecision.DRY_RUN}
)


@dataclass(frozen=True)
class ApprovalAnswer:
    """Who answered an approval request, and their note (kept beside the future's result).

    Attributes:
        by: `keyboard`, `--approve auto`, `prompt`, …
        note: free text for the audit trail.
    """

    by: str
    note: str = ""


_answers: weakref.WeakKeyDictionary[Future[ApprovalDecision], ApprovalAnswer] = (
    weakref.WeakKeyDictionary()
)
_answers_lock = threading.Lock()


def answer_approval(
    future: Future[ApprovalDecision],
    decision: ApprovalDecision,
    *,
    by: str = "keyboard",
    note: str = "",
) -> bool:
    """Answer an approval request; safe to call from any thread.

    Args:
        future: the `ApprovalRequested.future` being answered.
        decision: APPROVED, REJECTED or DRY_RUN.
        by: who answered, for the transcript and the audit trail.
        note: an optional remark.

    Returns:
        False when the request was already settled (answered before, or timed out).

    Raises:
        ValueError: for TIMED_OUT, which only the Diplomat decides.
    """
    if decision not in ANSWERS:
        raise ValueError(f"an answer must be approved, rejected or dry_run, not {decision}")
    with _answers_lock:
        if future.done():
            return False
        _answers[future] = ApprovalAnswer(by=by, note=note)
        try:
            future.set_result(decision)
        except InvalidStateError:  # the Diplomat timed it out in between
            _answers.pop(future, None)
            return False
    return True


@dataclass
class PendingApproval:
    """A request waiting for its answer; `Diplomat.poll` settles it.

    Attributes:
        incident_id: the incident whose plan waits.
        incident: the incident as it was when approval was requested.
        plan: the plan waiting for approval.
        future: where the answer arrives.
        deadline: monotonic seconds after which the request times out (rejects).
        requested_at: simulated instant of the request.
        timeout_s: seconds the human was given.
        requested_wall: monotonic seconds when it was asked (to say how long it took).
        approval: the outcome, once settled (polling again returns it).
    """

    incident_id: str
    incident: Incident
    plan: Plan
    future: Future[ApprovalDecision]
    deadline: float
    requested_at: datetime
    timeout_s: float
    requested_wall: float
    approval: Approval | None = None

    @property
    def settled(self) -> bool:
        """Whether an outcome is known."""
        return self.approval is not None


def option_summary(option: RemediationOption) -> str:
    """`rollback of payment-service in us-east-1 (to 2.3.7)`."""
    return f"{action_noun(option.action)} of {describe_target(option)}"


def approval_question(plan: Plan) -> str:
    """`Approve rollback of payment-service in us-east-1 (to 2.3.7)?`."""
    return f"Approve {option_summary(plan.chosen)}?"


class Diplomat(Agent):
    """Asks for approval and tells people what happens.

    Args:
        context: the shared agent context (its settings hold the approval policy).
        notifier: where notifications go (a `SlackNotifier`); None sends none.
        monotonic: the wall-clock source for deadlines (injectable for tests).
    """

    name = AgentName.DIPLOMAT

    def __init__(
        self,
        context: AgentContext,
        *,
        notifier: Notifier | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(context)
        self.notifier = notifier
        self._monotonic = monotonic

    # ---- approval -----------------------------------------------------------------------

    def auto_approval(self, plan: Plan) -> str | None:
        """Why no human is needed for `plan`, or None when one is.

        Every production change asks a human unless low-risk auto-approval was enabled and
        the Tactician found the plan low-risk; doing nothing changes nothing and never asks.
        """
        chosen = plan.chosen
        if chosen.action is ActionKind.DO_NOTHING:
            return "doing nothing changes nothing"
        settings = self.context.settings
        if (
            settings.auto_approve_low_risk
            and not plan.requires_approval
            and chosen.risk <= settings.low_risk_threshold
        ):
            return (
                f"risk {chosen.risk:.2f} ≤ {settings.low_risk_threshold:.2f} "
                "and low-risk auto-approval is on"
            )
        return None

    def request(self, incident: Incident, plan: Plan) -> PendingApproval | Approval:
        """Approve at once when the policy allows, otherwise ask and return a handle to poll.

        Emits `ApprovalRequested` (the subscriber answers its future) and notifies Slack.
        """
        unattended_reason = self.auto_approval(plan)
        if unattended_reason is not None:
            approval = Approval(
                incident_id=incident.id,
                decision=ApprovalDecision.APPROVED,
                by="auto-approval policy",
                at=self.now,
                note=unattended_reason,
            )
            what = option_summary(plan.chosen)
            self.say(f"no approval needed for {what}: {unattended_reason}", incident_id=incident.id)
            self.decide(
                "approved",
                f"{what} approved by policy: {unattended_reason}",
                incident_id=incident.id,
            )
            return approval
        timeout_s = self.context.settings.approval_timeout_s
        started = self._monotonic()
        future: Future[ApprovalDecision] = Future()
        pending = PendingApproval(
            incident_id=incident.id,
            incident=incident,
            plan=plan,
            future=future,
            deadline=started + timeout_s,
            requested_at=self.now,
            timeout_s=timeout_s,
            requested_wall=started,
        )
        question = approval_question(plan)
        risk = plan.chosen.risk
        self.say(
            f"{question} risk {risk:.2f}, {plan.chosen.blast_radius}; "
            f"no answer within {timeout_s:g} s rejects",
            incident_id=incident.id,
            data={"action": plan.chosen.action.value, "risk": risk, "timeout_s": timeout_s},
        )
        self.decide(
            "approval_requested",
            f"{question} ({plan.approval_reason})",
            incident_id=incident.id,
        )
        self.context.sink(
            ApprovalRequested(
                incident=incident,
                plan=plan,
                future=future,
                timeout_s=timeout_s,
                deadline=pending.deadline,
            )
        )
        self.notify(
            incident,
            f"{plan.reason} Answer in QuantumState within {timeout_s:g} s; no answer rejects.",
            title=f"Approval needed: {option_summary(plan.chosen)}",
        )
        return pending

    def poll(self, pending: PendingApproval) -> Approval | None:
        """The outcome of a request: None while waiting, then the same Approval every time."""
        if pending.approval is not None:
            return pending.approval
        future = pending.future
        if not future.done():
            if self._monotonic() < pending.deadline:
                return None
            # Cancelling marks the request over for the subscriber (a late answer is refused);
            # it fails only when an answer landed in the meantime, which then wins.
            if future.cancel():
                note = f"no answer within {pending.timeout_s:g} s"
                return self._settle(pending, ApprovalDecision.TIMED_OUT, "timeout", note)
        decision, by, note = _read_answer(future)
        return self._settle(pending, decision, by, note)

    def withdraw(self, pending: PendingApproval, *, reason: str) -> Approval:
        """Close a request nobody needs any more (the incident ended); it counts as rejected."""
        if pending.approval is not None:
            return pending.approval
        if pending.future.cancel():
            return self._settle(pending, ApprovalDecision.REJECTED, "withdrawn", reason)
        decision, by, note = _read_answer(pending.future)
        return self._settle(pending, decision, by, note)

    def _settle(
        self, pending: PendingApproval, decision: ApprovalDecision, by: str, note: str
    ) -> Approval:
        approval = Approval(
            incident_id=pending.incident_id, decision=decision, by=by, at=self.now, note=note
        )
        pending.approval = approval
        waited = max(0.0, self._monotonic() - pending.requested_wall)
        option = pending.plan.chosen
        what = option_summary(option)
        verdict = _VERDICTS[decision]
        text = f"{what} {verdict} by {by}"
        if waited >= 1:  # instant answers (auto, deny, policy) need no stopwatch
            text += f" after {waited:.0f} s"
        if decision is ApprovalDecision.TIMED_OUT:
            text = f"no answer within {pending.timeout_s:g} s: {what} rejected (timeout)"
        if note and decision is not ApprovalDecision.TIMED_OUT:
            text += f" ({note})"
        level = (
            "info" if decision in (ApprovalDecision.APPROVED, ApprovalDecision.DRY_RUN) else "warn"
        )
        self.say(text, incident_id=pending.incident_id, level=level, data=_decision_data(approval))
        self.decide(decision.value, text, incident_id=pending.incident_id)
        self.context.sink(
            ApprovalSettled(
                incident_id=pending.incident_id, decision=decision, by=by, at=approval.at
            )
        )
        self.notify(pending.incident, text, title=f"{what.capitalize()} {verdict}")
        return approval

    # ---- notifications ------------------------------------------------------------------

    def notify(self, incident: Incident, text: str, *, title: str | None = None) -> None:
        """Post `text` about `incident` to Slack when configured; never blocks, never raises.

        A failed delivery shows up later as a warning in the transcript (without the URL),
        emitted from the notifier's delivery thread.
        """
        if self.notifier is None:
            return
        where = f"{incident.service} in {incident.region}"
        headline = title or f"{incident.kind.value.replace('_', ' ')} on {where}"
        fields = {
            "Service": incident.service,
            "Region": incident.region,
            "State": incident.state.value.replace("_", " "),
        }
        ttc = incident.anomaly.time_to_critical_s
        if ttc is not None:
            fields["Time to critical"] = "already critical" if ttc <= 0 else f"{ttc / 60:.0f} min"
        context = f"incident {incident.id} · {iso_instant(self.now)}"
        message = slack_message(headline, text, fields=fields, context=context)
        incident_id = incident.id

        def delivered(outcome: Delivery) -> None:
            if not outcome.ok:
                attempts = f" after {outcome.attempts} attempts" if outcome.attempts > 1 else ""
                self.say(
                    f"Slack notification failed{attempts}: {outcome.detail}",
                    incident_id=incident_id,
                    level="warn",
                )

        try:
            self.notifier.send(message, on_done=delivered)
        except Exception as error:  # a notifier must never take the pipeline down
            self.say(
                f"Slack notification not sent: {type(error).__name__}",
                incident_id=incident_id,
                level="warn",
            )


_VERDICTS: dict[ApprovalDecision, str] = {
    ApprovalDecision.APPROVED: "approved",
    ApprovalDecision.REJECTED: "rejected",
    ApprovalDecision.DRY_RUN: "approved as a dry run",
    ApprovalDecision.TIMED_OUT: "timed out",
}


def _decision_data(approval: Approval) -> dict[str, str]:
    return {"decision": approval.decision.value, "by": approval.by}


def _read_answer(future: Future[ApprovalDecision]) -> tuple[ApprovalDecision, str, str]:
    """The decision in a finished future, who gave it and their note.

    Subscribers are meant to set an `ApprovalDecision`; a bool (a modal's yes/no) or the
    decision's string value are accepted too. Anything else, an exception or a cancellation
    rejects, because only a clear yes may change production.
    """
    with _answers_lock:
        answer = _answers.pop(future, None)
    by = answer.by if answer else "keyboard"
    note = answer.note if answer else ""
    try:
        raw: object = future.result(timeout=0)
    except CancelledError:
        return ApprovalDecision.REJECTED, "cancelled", "the request was cancelled"
    except Exception as error:
        return ApprovalDecision.REJECTED, by, f"the answer failed: {type(error).__name__}"
    if isinstance(raw, bool):
        return (ApprovalDecision.APPROVED if raw else ApprovalDecision.REJECTED), by, note
    try:
        decision = ApprovalDecision(str(raw))
    except ValueError:
        return ApprovalDecision.REJECTED, by, f"unrecognised answer {raw!r}"
    if decision not in ANSWERS:
        return ApprovalDecision.REJECTED, by, f"unrecognised answer {decision.value!r}"
    return decision, by, note


# ---- the headless runner's answerers ---------------------------------------------------

ApprovalHandler = Callable[[ApprovalRequested], None]


def approve_all(request: ApprovalRequested) -> None:
    """`--approve auto`: approve every request at once."""
    answer_approval(request.future, ApprovalDecision.APPROVED, by="--approve auto")


def deny_all(request: ApprovalRequested) -> None:
    """`--approve deny`: reject every request at once."""
    answer_approval(request.future, ApprovalDecision.REJECTED, by="--approve deny")


def parse_answer(line: str) -> ApprovalDecision:
    """`y`/`yes` approves, `d`/`dry`/`dry-run` approves as a dry run, anything else rejects."""
    word = line.strip().lower()
    if word in ("y", "yes"):
        return ApprovalDecision.APPROVED
    if word in ("d", "dry", "dry-run", "dry_run", "dryrun"):
        return ApprovalDecision.DRY_RUN
    return ApprovalDecision.REJECTED


class PromptApprover:
    """`--approve prompt`: asks on a text stream pair, one request at a time, off-thread.

    Calling it with an `ApprovalRequested` returns at once; a daemon thread writes the
    question to `output`, reads one line from `input`, and answers the future. Requests that
    time out while queued are skipped; an answer that arrives too late is reported as such.

    Args:
        input_stream: where answers are read (`sys.stdin`).
        output_stream: where questions are written (`sys.stderr` keeps `--json` clean).
    """

    def __init__(self, *, input_stream: TextIO, output_stream: TextIO) -> None:
        self.input = input_stream
        self.output = output_stream
        self._requests: queue.Queue[ApprovalRequested] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._answered = threading.Condition()
        self._handled = 0

    def __call__(self, request: ApprovalRequested) -> None:
        """Queue `request` to be asked; never blocks."""
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="approval-prompt", daemon=True
                )
                self._thread.start()
        self._requests.put(request)

    def wait_handled(self, count: int, timeout_s: float) -> bool:
        """Wait until `count` requests were handled in all (for the runner's shutdown, tests)."""
        with self._answered:
            return self._answered.wait_for(lambda: self._handled >= count, timeout=timeout_s)

    def _run(self) -> None:
        while True:
            request = self._requests.get()
            try:
                self._ask(request)
            except (OSError, ValueError):
                # A closed stream rejects what is left, which is what no answer means anyway.
                answer_approval(request.future, ApprovalDecision.REJECTED, by="prompt")
            with self._answered:
                self._handled += 1
                self._answered.notify_all()

    def _ask(self, request: ApprovalRequested) -> None:
        if request.future.done():
            return
        plan = request.plan
        incident = request.incident
        self.output.write(
            f"\n[{incident.id}] {incident.kind.value.replace('_', ' ')} on "
            f"{incident.service} in {incident.region}\n"
            f"  plan: {plan.reason}\n"
            f"  risk {plan.chosen.risk:.2f}; {plan.chosen.blast_radius}; "
            f"no answer within {request.timeout_s:g} s rejects\n"
            f"{approval_question(plan)} [y/N/d] "
        )
        self.output.flush()
        line = self.input.readline()
        note = "" if line else "no input (end of stream)"
        decision = parse_answer(line)
        if not answer_approval(request.future, decision, by="prompt", note=note):
            self.output.write("  too late: the request had already timed out (rejected)\n")
            self.output.flush()


def approval_handler(
    mode: Literal["auto", "deny", "prompt"],
    *,
    input_stream: TextIO | None = None,
    output_stream: TextIO | None = None,
) -> ApprovalHandler:
    """The answerer for `qs-tui run --headless --approve MODE`.

    Raises:
        ValueError: for an unknown mode, or `prompt` without both streams.
    """
    if mode == "auto":
        return approve_all
    if mode == "deny":
        return deny_all
    if mode == "prompt":
        if input_stream is None or output_stream is None:
            raise ValueError("--approve prompt needs an input and an output stream")
        return PromptApprover(input_stream=input_stream, output_stream=output_stream)
    raise ValueError(f"unknown approval mode {mode!r}: use auto, deny or prompt")
