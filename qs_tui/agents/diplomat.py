"""The Diplomat: asks a human to approve a plan (never blocking) and tells Slack what happens.

An approval request travels as a `concurrent.futures.Future` inside an `ApprovalRequested`
event. Whoever subscribes (the TUI's modal, the headless runner's `--approve` handler)
answers with `answer_approval(future, decision, by=...)`, or by setting an `ApprovalDecision`
as the future's result directly (then `by` is `keyboard`). The pipeline polls; no answer
before the deadline is a rejection (`TIMED_OUT`, by `timeout`).

The deadline is judged when the answer arrives, not when the pipeline next looks: every
answer is stamped on the Diplomat's monotonic clock as it is given, and one stamped at or
after the deadline is refused (`answer_approval` returns False) and the request times out.
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
from qs_tui.clock import iso_instant
from qs_tui.models import (
    ActionKind,
    AgentName,
    Approval,
    ApprovalDecision,
    ExecutionReport,
    Incident,
    Plan,
    RemediationOption,
)
from qs_tui.notify import Delivery, Notifier, slack_message
from qs_tui.remediation import policy
from qs_tui.remediation.base import action_noun, describe_target

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
        answered_at: the Diplomat's monotonic seconds when the answer was given (None when
            the request's clock is unknown).
    """

    by: str
    note: str = ""
    answered_at: float | None = None


@dataclass(frozen=True)
class _Deadline:
    """When a request stops accepting answers, on the clock of the Diplomat that asked."""

    at: float
    monotonic: Callable[[], float]


_answers: weakref.WeakKeyDictionary[Future[ApprovalDecision], ApprovalAnswer] = (
    weakref.WeakKeyDictionary()
)
_deadlines: weakref.WeakKeyDictionary[Future[ApprovalDecision], _Deadline] = (
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
        False when the request was already settled (answered before, or timed out), or when
        the answer comes at or after the request's deadline: the deadline is judged now, at
        the moment of answering, not when the pipeline next polls.

    Raises:
        ValueError: for TIMED_OUT, which only the Diplomat decides.
    """
    if decision not in ANSWERS:
        raise ValueError(f"an answer must be approved, rejected or dry_run, not {decision}")
    with _answers_lock:
        if future.done():
            return False
        deadline = _deadlines.get(future)
        answered_at = deadline.monotonic() if deadline is not None else None
        if deadline is not None and answered_at is not None and answered_at >= deadline.at:
            return False  # too late: the Diplomat's next poll times the request out
        _answers[future] = ApprovalAnswer(by=by, note=note, answered_at=answered_at)
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
        dry_run: the findings of the dry run this request follows, if it follows one.
        approval: the outcome, once settled (polling again returns it).
        set_at: monotonic seconds when the future got its result, stamped by the future's
            own callback (so a result set directly on the future is timed too).
    """

    incident_id: str
    incident: Incident
    plan: Plan
    future: Future[ApprovalDecision]
    deadline: float
    requested_at: datetime
    timeout_s: float
    requested_wall: float
    dry_run: ExecutionReport | None = None
    approval: Approval | None = None
    set_at: float | None = None

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


#: Said with every approval request: the undo of a fix that does not verify is a change to
#: production too, made under the same approval, so the human approves both at once.
UNDO_NOTICE = "if the fix does not verify, it is undone automatically (approving covers both)"


def dry_run_findings(report: ExecutionReport) -> list[str]:
    """What a dry run found, one line per step (`pre-check payment-service: ok, …`)."""
    lines = [report.summary]
    for step in report.steps:
        detail = f": {step.detail}" if step.detail else ""
        lines.append(f"{step.name} [{step.status.value.replace('_', ' ')}]{detail}")
    return lines


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

        Every production change asks a human unless the remediation policy auto-approves
        it (`auto_approve` within `max_risk`), or low-risk auto-approval was enabled and the
        Tactician found the plan low-risk; neither applies under read-only, a rate limit or
        a change freeze. Doing nothing changes nothing and never asks.
        """
        chosen = plan.chosen
        if chosen.action is ActionKind.DO_NOTHING:
            return "doing nothing changes nothing"
        settings = self.context.settings
        by_policy = policy.auto_approval(
            settings.policy,
            plan,
            self.now,
            self.context.actions,
            read_only=settings.read_only,
        )
        if by_policy is not None:
            return by_policy
        if self._policy_rule(plan) is not None:
            return None
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

    def request(
        self, incident: Incident, plan: Plan, *, dry_run: ExecutionReport | None = None
    ) -> PendingApproval | Approval:
        """Approve at once when the policy allows, otherwise ask and return a handle to poll.

        Emits `ApprovalRequested` (the subscriber answers its future) and notifies Slack.

        Args:
            incident: the incident whose plan needs a yes.
            plan: the plan.
            dry_run: the findings of a dry run of this plan: the human asked to see them
                first, so the plan comes back for a real yes or no with them shown (a
                second dry run is not offered).
        """
        unattended_reason = None if dry_run is not None else self.auto_approval(plan)
        if unattended_reason is not None:
            approval = Approval(
                incident_id=incident.id,
                decision=ApprovalDecision.APPROVED,
                by=policy.POLICY_APPROVER,
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
            dry_run=dry_run,
        )
        with _answers_lock:
            _deadlines[future] = _Deadline(at=pending.deadline, monotonic=self._monotonic)

        def stamp(_: Future[ApprovalDecision]) -> None:
            # Runs in the thread that set the result, at that moment: the answer's time.
            pending.set_at = self._monotonic()

        future.add_done_callback(stamp)
        question = approval_question(plan)
        risk = plan.chosen.risk
        after = "after the dry run: " if dry_run is not None else ""
        rule = self._policy_rule(plan)
        self.say(
            f"{after}{question} risk {risk:.2f}, {plan.chosen.blast_radius}; "
            f"no answer within {timeout_s:g} s rejects"
            + (f"; policy: {rule}" if rule is not None else ""),
            incident_id=incident.id,
            data={"action": plan.chosen.action.value, "risk": risk, "timeout_s": timeout_s},
        )
        self.decide(
            "approval_requested",
            f"{after}{question} ({plan.approval_reason}; {UNDO_NOTICE})",
            incident_id=incident.id,
        )
        self.context.sink(
            ApprovalRequested(
                incident=incident,
                plan=plan,
                future=future,
                timeout_s=timeout_s,
                deadline=pending.deadline,
                dry_run=dry_run,
                policy=rule,
            )
        )
        self.notify(
            incident,
            f"{plan.reason} Answer in QuantumState within {timeout_s:g} s; no answer rejects.",
            title=f"Approval needed: {option_summary(plan.chosen)}",
        )
        return pending

    def _policy_rule(self, plan: Plan) -> str | None:
        """The policy's rule that stands whatever the answer (read-only, a rate limit, a
        freeze), shown with the question; None when the answer alone decides."""
        settings = self.context.settings
        return policy.blocking_rule(
            settings.policy,
            plan,
            self.now,
            self.context.actions,
            read_only=settings.read_only,
        )

    def poll(self, pending: PendingApproval) -> Approval | None:
        """The outcome of a request: None while waiting, then the same Approval every time."""
        if pending.approval is not None:
            return pending.approval
        future = pending.future
        if not future.done():
            if self._monotonic() < pending.deadline:
                return None
            # Cancelling marks the request over for the subscriber (a late answer is refused);
            # it fails only when an answer landed in the meantime, which then wins if it
            # came in time (judged below by its own time stamp).
            if future.cancel():
                return self._time_out(pending)
        return self._settle_answer(pending)

    def withdraw(self, pending: PendingApproval, *, reason: str, by: str = "withdrawn") -> Approval:
        """Close a request nobody will answer any more; with no answer it counts as rejected.

        An answer already given in time is honoured as what it was (the caller decides what
        to do with an approval it can no longer carry out).

        Args:
            pending: the open request.
            reason: why it is withdrawn (the note of the rejection).
            by: who closed it, for the audit trail (`withdrawn`, `operator left`).
        """
        if pending.approval is not None:
            return pending.approval
        if pending.future.cancel():
            return self._settle(pending, ApprovalDecision.REJECTED, by, reason)
        return self._settle_answer(pending)

    def _time_out(self, pending: PendingApproval, late: str = "") -> Approval:
        note = f"no answer within {pending.timeout_s:g} s{late}"
        return self._settle(pending, ApprovalDecision.TIMED_OUT, "timeout", note)

    def _settle_answer(self, pending: PendingApproval) -> Approval:
        """Settle a request whose future is done, judging the answer by when it was given."""
        decision, by, note, answered_at = _read_answer(pending.future)
        if answered_at is None:
            answered_at = pending.set_at
        if answered_at is not None and answered_at >= pending.deadline:
            # Given after the deadline, though before this poll: too late, whatever it said.
            late = answered_at - pending.deadline
            return self._time_out(
                pending, f" (an answer came {late:.0f} s after the deadline and was refused)"
            )
        if decision is ApprovalDecision.DRY_RUN and pending.dry_run is not None:
            # The dry run was done and shown; only a real yes may change production now.
            return self._settle(
                pending, ApprovalDecision.REJECTED, by, "a second dry run is not a yes"
            )
        return self._settle(pending, decision, by, note, answered_at)

    def _settle(
        self,
        pending: PendingApproval,
        decision: ApprovalDecision,
        by: str,
        note: str,
        answered_at: float | None = None,
    ) -> Approval:
        approval = Approval(
            incident_id=pending.incident_id, decision=decision, by=by, at=self.now, note=note
        )
        pending.approval = approval
        # How long the human took: to their answer, not to the poll that found it.
        ended = answered_at if answered_at is not None else self._monotonic()
        waited = max(0.0, ended - pending.requested_wall)
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


def _read_answer(
    future: Future[ApprovalDecision],
) -> tuple[ApprovalDecision, str, str, float | None]:
    """The decision in a finished future, who gave it, their note and when (if known).

    Subscribers are meant to set an `ApprovalDecision`; a bool (a modal's yes/no) or the
    decision's string value are accepted too. Anything else, an exception or a cancellation
    rejects, because only a clear yes may change production.
    """
    with _answers_lock:
        answer = _answers.pop(future, None)
    by = answer.by if answer else "keyboard"
    note = answer.note if answer else ""
    at = answer.answered_at if answer else None
    try:
        raw: object = future.result(timeout=0)
    except CancelledError:
        return ApprovalDecision.REJECTED, "cancelled", "the request was cancelled", None
    except Exception as error:
        return ApprovalDecision.REJECTED, by, f"the answer failed: {type(error).__name__}", at
    if isinstance(raw, bool):
        return (ApprovalDecision.APPROVED if raw else ApprovalDecision.REJECTED), by, note, at
    try:
        decision = ApprovalDecision(str(raw))
    except ValueError:
        return ApprovalDecision.REJECTED, by, f"unrecognised answer {raw!r}", at
    if decision not in ANSWERS:
        return ApprovalDecision.REJECTED, by, f"unrecognised answer {decision.value!r}", at
    return decision, by, note, at


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


class _LineReader:
    """Reads one line of `stream` at a time, and only when a question wants one.

    `readline()` cannot be given a timeout, so it runs on a daemon thread; reading only on
    demand means a line is never taken from a script's input before a question asks for it.
    """

    def __init__(self, stream: TextIO, monotonic: Callable[[], float]) -> None:
        self.stream = stream
        self._monotonic = monotonic
        self._lines: queue.Queue[tuple[str | None, float]] = queue.Queue()
        self._demand = threading.Semaphore(0)
        self._outstanding = False
        self._thread: threading.Thread | None = None

    def next_line(self, *, asked_at: float, timeout_s: float) -> str | None:
        """The next line typed after `asked_at`, `""` at end of input, None on a timeout.

        Raises:
            EOFError: when the stream is closed or unreadable.
        """
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="approval-input", daemon=True)
            self._thread.start()
        if not self._outstanding:
            self._outstanding = True
            self._demand.release()
        until = self._monotonic() + timeout_s
        while True:
            try:
                line, arrived = self._lines.get(timeout=max(0.0, until - self._monotonic()))
            except queue.Empty:
                return None  # the demand stays open: a late line is judged when it comes
            self._outstanding = False
            if line is None:
                raise EOFError("input closed")
            if arrived >= asked_at:
                return line
            # A line left over from an earlier question that timed out: not an answer to
            # this one (the person had not seen it yet). Ask for the next line instead.
            self._outstanding = True
            self._demand.release()

    def _run(self) -> None:
        while True:
            self._demand.acquire()
            try:
                line: str | None = self.stream.readline()
            except (OSError, ValueError):  # closed or unreadable: no answers will come
                line = None
            self._lines.put((line, self._monotonic()))
            if line is None:
                return


class PromptApprover:
    """`--approve prompt`: asks on a text stream pair, one question at a time.

    Calling it with an `ApprovalRequested` only queues the question (the pipeline never
    blocks in a subscriber). The runner calls `ask_waiting()` between ticks, with simulated
    time held: it prints each queued question, waits for a line until the request's deadline
    and answers the future. Nothing else is ticking meanwhile, so no transcript line prints
    over the question, and however long the person takes (within the deadline) the incident
    is exactly where it was when they answer.

    Args:
        input_stream: where answers are read (`sys.stdin`).
        output_stream: where questions are written (`sys.stderr` keeps `--json` clean).
        monotonic: the clock the requests' deadlines are on (`time.monotonic`).
    """

    def __init__(
        self,
        *,
        input_stream: TextIO,
        output_stream: TextIO,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.input = input_stream
        self.output = output_stream
        self._monotonic = monotonic
        self._requests: queue.Queue[ApprovalRequested] = queue.Queue()
        self._reader = _LineReader(input_stream, monotonic)
        self._closed = False
        self.asked = 0
        """How many questions were put to the person so far."""

    def __call__(self, request: ApprovalRequested) -> None:
        """Queue `request` to be asked; never blocks."""
        self._requests.put(request)

    @property
    def waiting(self) -> bool:
        """Whether questions are queued."""
        return not self._requests.empty()

    def ask_waiting(self) -> int:
        """Ask every queued question in turn, on the calling thread; how many were asked.

        Requests that timed out while queued are skipped. A question with no line before its
        deadline is left to time out (the Diplomat rejects it and says so).
        """
        asked = 0
        while True:
            try:
                request = self._requests.get_nowait()
            except queue.Empty:
                return asked
            if request.future.done():
                continue
            asked += 1
            self.asked += 1
            try:
                self._ask(request)
            except OSError:  # the terminal went away: what is left is rejected below
                answer_approval(
                    request.future, ApprovalDecision.REJECTED, by="prompt", note="output closed"
                )

    def _ask(self, request: ApprovalRequested) -> None:
        self.output.write(question_text(request))
        self.output.flush()
        if self._closed:
            line: str | None = ""
            note = "input closed"
        else:
            try:
                line = self._reader.next_line(
                    asked_at=self._monotonic(),
                    timeout_s=request.deadline - self._monotonic(),
                )
                note = "" if line else "no input (end of stream)"
            except EOFError:
                self._closed = True
                line, note = "", "input closed"
        if line is None:
            self.output.write(f"\n  no answer within {request.timeout_s:g} s: rejected\n")
            self.output.flush()
            return
        if not line:
            self.output.write(f"\n  {note}: rejected\n")
        elif not _is_terminal(self.input):
            # A terminal echoes what was typed; from a pipe, say it, so a log reads whole.
            self.output.write(line if line.endswith("\n") else line + "\n")
        decision = parse_answer(line)
        if decision is ApprovalDecision.DRY_RUN and request.dry_run is not None:
            decision = ApprovalDecision.REJECTED
            note = "a second dry run is not a yes"
        if not answer_approval(request.future, decision, by="prompt", note=note):
            self.output.write("  too late: the request had already timed out (rejected)\n")
        self.output.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (OSError, ValueError):
        return False


def question_text(request: ApprovalRequested) -> str:
    """The headless prompt for `request`: the incident, the plan, its risk, any dry-run
    findings, the undo notice and the question with its keys."""
    plan = request.plan
    incident = request.incident
    lines = [
        "",
        f"[{incident.id}] {incident.kind.value.replace('_', ' ')} on "
        f"{incident.service} in {incident.region}",
        f"  plan: {plan.reason}",
        f"  risk {plan.chosen.risk:.2f}; {plan.chosen.blast_radius}",
        f"  {UNDO_NOTICE}",
    ]
    if request.policy is not None:
        lines.append(f"  policy: {request.policy}")
    keys = "[y/N/d]"
    if request.dry_run is not None:
        lines.append("  dry run findings:")
        lines.extend(f"    {line}" for line in dry_run_findings(request.dry_run))
        keys = "[y/N]"
    lines.append(f"  no answer within {request.timeout_s:g} s rejects")
    return "\n".join(lines) + f"\n{approval_question(plan)} {keys} "


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
