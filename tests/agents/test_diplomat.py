"""The Diplomat: approval requests that never block, answers, timeouts, policy and Slack."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime
from typing import TypeVar

import pytest

from qs_tui.agents.base import AgentContext, PipelineSettings
from qs_tui.agents.diplomat import (
    UNDO_NOTICE,
    Diplomat,
    PendingApproval,
    PromptApprover,
    answer_approval,
    approval_handler,
    approve_all,
    deny_all,
    parse_answer,
)
from qs_tui.agents.events import AgentSpoke, ApprovalRequested, ApprovalSettled, Event
from qs_tui.clock import ManualClock
from qs_tui.models import (
    ActionKind,
    AgentName,
    Approval,
    ApprovalDecision,
    ExecutionReport,
    ExecutionStep,
    Incident,
    Plan,
    StepStatus,
)
from qs_tui.notify import Delivery, DeliveryCallback, SlackMessage, SlackNotifier
from qs_tui.store.embedded import EmbeddedStore
from qs_tui.store.templates import DECISIONS
from qs_tui.topology import Topology
from tests.remediation.factories import make_incident, make_option, make_plan
from tests.remediation.local_server import Reply, scripted_server
from tests.waiting import HANG_GUARD_S

START = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)
E = TypeVar("E")


class FakeMonotonic:
    """A monotonic clock the test moves by hand (no sleeping through timeouts)."""

    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


class RecordingNotifier:
    """A notifier that keeps messages and settles each with a fixed outcome."""

    def __init__(self, *, ok: bool = True, detail: str = "", attempts: int = 1) -> None:
        self.messages: list[SlackMessage] = []
        self.ok = ok
        self.detail = detail
        self.attempts = attempts

    def send(self, message: SlackMessage, *, on_done: DeliveryCallback | None = None) -> None:
        self.messages.append(message)
        if on_done is not None:
            on_done(Delivery(self.ok, self.attempts, self.detail, message.text))


class Setup:
    def __init__(
        self,
        settings: PipelineSettings | None = None,
        notifier: RecordingNotifier | SlackNotifier | None = None,
    ) -> None:
        self.events: list[Event] = []
        self.clock = ManualClock(START)
        self.store = EmbeddedStore(now=self.clock.now)
        self.store.ensure_templates()
        self.context = AgentContext(
            store=self.store,
            clock=self.clock,
            sink=self.events.append,
            topology=Topology(),
            settings=settings or PipelineSettings(approval_timeout_s=120),
        )
        self.monotonic = FakeMonotonic()
        self.diplomat = Diplomat(self.context, notifier=notifier, monotonic=self.monotonic)
        self.incident: Incident = make_incident(START)

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    def said(self) -> list[str]:
        return [e.text for e in self.of(AgentSpoke)]

    def decisions(self) -> list[tuple[str, str]]:
        self.store.refresh()
        result = self.store.esql(
            f"FROM {DECISIONS} | WHERE agent == ?agent AND decision IS NOT NULL"
            " | SORT sequence | KEEP decision, message",
            params={"agent": AgentName.DIPLOMAT.value},
        )
        return [(row[0], row[1]) for row in result.values]

    def ask(self, plan: Plan | None = None) -> PendingApproval:
        pending = self.diplomat.request(
            self.incident, plan or make_plan(make_option(target_version="2.3.7"))
        )
        assert isinstance(pending, PendingApproval)
        return pending


def make_dry_run_report(incident: Incident) -> ExecutionReport:
    """What the Surgeon reports after a dry run of a rollback that would pass its checks."""
    return ExecutionReport(
        incident_id=incident.id,
        action=ActionKind.ROLLBACK,
        service="payment-service",
        region="us-east-1",
        dry_run=True,
        steps=[
            ExecutionStep(
                name="pre-check payment-service in us-east-1",
                status=StepStatus.OK,
                detail="3 hosts healthy",
            )
        ],
        success=True,
        started_at=START,
        finished_at=START,
        summary="dry run: would roll back payment-service in us-east-1 to 2.3.7; "
        "pre-checks passed; nothing changed",
    )


@pytest.fixture
def setup() -> Setup:
    return Setup()


def test_a_request_emits_the_event_and_waits_without_blocking(setup: Setup) -> None:
    pending = setup.ask()

    (requested,) = setup.of(ApprovalRequested)
    assert requested.future is pending.future
    assert requested.timeout_s == 120
    assert requested.deadline == setup.monotonic.value + 120
    assert requested.plan.chosen.action is ActionKind.ROLLBACK
    assert pending.requested_at == START
    assert setup.diplomat.poll(pending) is None
    assert setup.said()[0].startswith(
        "Approve rollback of payment-service in us-east-1 (to 2.3.7)? risk 0.15"
    )
    assert "no answer within 120 s rejects" in setup.said()[0]


def test_an_approval_from_the_keyboard_settles_once(setup: Setup) -> None:
    pending = setup.ask()
    setup.monotonic.value += 12

    assert answer_approval(pending.future, ApprovalDecision.APPROVED, by="keyboard")
    first = setup.diplomat.poll(pending)
    again = setup.diplomat.poll(pending)

    assert isinstance(first, Approval)
    assert first.approved
    assert first.by == "keyboard"
    assert first.at == START
    assert again is first
    assert [(s.decision, s.by) for s in setup.of(ApprovalSettled)] == [
        (ApprovalDecision.APPROVED, "keyboard")
    ]
    assert setup.said()[-1] == (
        "rollback of payment-service in us-east-1 (to 2.3.7) approved by keyboard after 12 s"
    )
    assert [d for d, _ in setup.decisions()] == ["approval_requested", "approved"]


def test_a_rejection_is_not_an_approval(setup: Setup) -> None:
    pending = setup.ask()

    deny_all(setup.of(ApprovalRequested)[0])
    approval = setup.diplomat.poll(pending)

    assert approval is not None
    assert approval.decision is ApprovalDecision.REJECTED
    assert approval.by == "--approve deny"
    assert not approval.approved
    assert setup.said()[-1] == (
        "rollback of payment-service in us-east-1 (to 2.3.7) rejected by --approve deny"
    )
    assert setup.of(AgentSpoke)[-1].level == "warn"


def test_no_answer_before_the_deadline_times_out_as_a_rejection(setup: Setup) -> None:
    pending = setup.ask()
    setup.monotonic.value += 119.9
    assert setup.diplomat.poll(pending) is None

    setup.monotonic.value += 0.2
    approval = setup.diplomat.poll(pending)

    assert approval is not None
    assert approval.decision is ApprovalDecision.TIMED_OUT
    assert approval.by == "timeout"
    assert not approval.approved
    assert pending.future.cancelled()
    assert not answer_approval(pending.future, ApprovalDecision.APPROVED)
    assert setup.diplomat.poll(pending) is approval
    assert setup.said()[-1] == (
        "no answer within 120 s: rollback of payment-service in us-east-1 (to 2.3.7) "
        "rejected (timeout)"
    )
    assert [s.decision for s in setup.of(ApprovalSettled)] == [ApprovalDecision.TIMED_OUT]
    assert setup.decisions()[-1][0] == "timed_out"


def test_an_answer_that_lands_before_the_deadline_wins_even_if_polled_late(setup: Setup) -> None:
    pending = setup.ask()
    approve_all(setup.of(ApprovalRequested)[0])
    setup.monotonic.value += 500

    approval = setup.diplomat.poll(pending)

    assert approval is not None
    assert approval.decision is ApprovalDecision.APPROVED
    assert approval.by == "--approve auto"


@pytest.mark.parametrize(
    ("result", "decision"),
    [
        (ApprovalDecision.DRY_RUN, ApprovalDecision.DRY_RUN),
        (True, ApprovalDecision.APPROVED),
        (False, ApprovalDecision.REJECTED),
        ("approved", ApprovalDecision.APPROVED),
        ("maybe", ApprovalDecision.REJECTED),
        (ApprovalDecision.TIMED_OUT, ApprovalDecision.REJECTED),
    ],
)
def test_a_result_set_directly_on_the_future_counts_as_the_keyboard(
    setup: Setup, result: object, decision: ApprovalDecision
) -> None:
    pending = setup.ask()

    pending.future.set_result(result)  # type: ignore[arg-type]
    approval = setup.diplomat.poll(pending)

    assert approval is not None
    assert approval.decision is decision
    assert approval.by == "keyboard"


def test_an_exception_on_the_future_rejects(setup: Setup) -> None:
    pending = setup.ask()

    pending.future.set_exception(RuntimeError("modal closed"))
    approval = setup.diplomat.poll(pending)

    assert approval is not None
    assert approval.decision is ApprovalDecision.REJECTED
    assert approval.note == "the answer failed: RuntimeError"


def test_withdrawing_a_request_rejects_it(setup: Setup) -> None:
    pending = setup.ask()

    approval = setup.diplomat.withdraw(pending, reason="the incident recovered on its own")

    assert approval.decision is ApprovalDecision.REJECTED
    assert approval.by == "withdrawn"
    assert pending.future.cancelled()


def test_an_answer_given_after_the_deadline_is_refused_even_before_the_next_poll(
    setup: Setup,
) -> None:
    pending = setup.ask()
    setup.monotonic.value += 120.5  # past the deadline, and the pipeline has not polled yet

    assert not answer_approval(pending.future, ApprovalDecision.APPROVED, by="prompt")
    approval = setup.diplomat.poll(pending)

    assert approval is not None
    assert approval.decision is ApprovalDecision.TIMED_OUT
    assert not approval.approved


def test_a_result_set_late_on_the_future_is_judged_by_when_it_came(setup: Setup) -> None:
    pending = setup.ask()
    setup.monotonic.value += 125
    pending.future.set_result(ApprovalDecision.APPROVED)  # a subscriber bypassing the helper
    setup.monotonic.value += 5  # polled later still

    approval = setup.diplomat.poll(pending)

    assert approval is not None
    assert approval.decision is ApprovalDecision.TIMED_OUT
    assert "an answer came 5 s after the deadline and was refused" in approval.note
    assert setup.decisions()[-1][0] == "timed_out"


def test_an_answer_just_inside_the_deadline_counts_even_when_polled_after_it(
    setup: Setup,
) -> None:
    pending = setup.ask()
    setup.monotonic.value += 119.4
    assert answer_approval(pending.future, ApprovalDecision.APPROVED, by="keyboard")
    setup.monotonic.value += 10  # the next poll comes after the deadline

    approval = setup.diplomat.poll(pending)

    assert approval is not None and approval.approved
    # The stopwatch stops at the answer, not at the poll that found it.
    assert setup.said()[-1].endswith("approved by keyboard after 119 s")


def test_leaving_rejects_an_unanswered_request_for_the_record(setup: Setup) -> None:
    pending = setup.ask()

    approval = setup.diplomat.withdraw(pending, reason="the war room closed", by="operator left")

    assert approval.decision is ApprovalDecision.REJECTED
    assert approval.by == "operator left"
    assert setup.decisions()[-1] == (
        "rejected",
        "rollback of payment-service in us-east-1 (to 2.3.7) rejected by operator left "
        "(the war room closed)",
    )


def test_leaving_keeps_an_answer_already_given(setup: Setup) -> None:
    pending = setup.ask()
    assert answer_approval(pending.future, ApprovalDecision.APPROVED, by="keyboard")

    approval = setup.diplomat.withdraw(pending, reason="the war room closed", by="operator left")

    assert approval.decision is ApprovalDecision.APPROVED
    assert approval.by == "keyboard"


def test_timed_out_cannot_be_given_as_an_answer(setup: Setup) -> None:
    pending = setup.ask()

    with pytest.raises(ValueError, match="approved, rejected or dry_run"):
        answer_approval(pending.future, ApprovalDecision.TIMED_OUT)


def test_every_change_asks_a_human_by_default() -> None:
    setup = Setup()
    low_risk = make_plan(make_option(risk=0.05), requires_approval=False)

    outcome = setup.diplomat.request(setup.incident, low_risk)

    assert isinstance(outcome, PendingApproval)


def test_low_risk_plans_are_approved_by_policy_when_enabled() -> None:
    setup = Setup(PipelineSettings(auto_approve_low_risk=True, low_risk_threshold=0.2))
    low_risk = make_plan(make_option(ActionKind.RESTART, risk=0.1), requires_approval=False)

    outcome = setup.diplomat.request(setup.incident, low_risk)

    assert isinstance(outcome, Approval)
    assert outcome.approved
    assert outcome.by == "auto-approval policy"
    assert outcome.note == "risk 0.10 ≤ 0.20 and low-risk auto-approval is on"
    assert setup.of(ApprovalRequested) == []
    assert setup.decisions()[0][0] == "approved"


@pytest.mark.parametrize(("risk", "requires"), [(0.5, False), (0.1, True)])
def test_auto_approval_never_covers_risky_or_flagged_plans(risk: float, requires: bool) -> None:
    setup = Setup(PipelineSettings(auto_approve_low_risk=True, low_risk_threshold=0.2))

    outcome = setup.diplomat.request(
        setup.incident, make_plan(make_option(risk=risk), requires_approval=requires)
    )

    assert isinstance(outcome, PendingApproval)


def test_doing_nothing_needs_no_approval(setup: Setup) -> None:
    outcome = setup.diplomat.request(setup.incident, make_plan(make_option(ActionKind.DO_NOTHING)))

    assert isinstance(outcome, Approval)
    assert outcome.approved
    assert outcome.note == "doing nothing changes nothing"


def test_handlers_for_the_headless_runner() -> None:
    assert approval_handler("auto") is approve_all
    assert approval_handler("deny") is deny_all
    assert isinstance(
        approval_handler("prompt", input_stream=io.StringIO(), output_stream=io.StringIO()),
        PromptApprover,
    )
    with pytest.raises(ValueError, match="needs an input and an output stream"):
        approval_handler("prompt")
    with pytest.raises(ValueError, match="unknown approval mode"):
        approval_handler("maybe")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("line", "decision"),
    [
        ("y\n", ApprovalDecision.APPROVED),
        ("YES\n", ApprovalDecision.APPROVED),
        ("d\n", ApprovalDecision.DRY_RUN),
        ("n\n", ApprovalDecision.REJECTED),
        ("\n", ApprovalDecision.REJECTED),
        ("", ApprovalDecision.REJECTED),
    ],
)
def test_parse_answer_defaults_to_no(line: str, decision: ApprovalDecision) -> None:
    assert parse_answer(line) is decision


def test_the_prompt_only_queues_and_asks_between_ticks(setup: Setup) -> None:
    read_fd, write_fd = os.pipe()
    output = io.StringIO()
    with os.fdopen(read_fd, "r") as answers, os.fdopen(write_fd, "w") as typist:
        prompt = PromptApprover(
            input_stream=answers, output_stream=output, monotonic=setup.monotonic
        )
        pending = setup.ask()

        # Called from the pipeline's sink: it must come back at once without asking.
        prompt(setup.of(ApprovalRequested)[0])
        assert prompt.waiting
        assert output.getvalue() == ""
        assert setup.diplomat.poll(pending) is None

        typist.write("y\n")
        typist.flush()
        assert prompt.ask_waiting() == 1

    approval = setup.diplomat.poll(pending)
    assert approval is not None
    assert approval.decision is ApprovalDecision.APPROVED
    assert approval.by == "prompt"
    asked = output.getvalue()
    # From a pipe the answer is written after the question, so a log reads whole.
    assert asked.endswith(
        "Approve rollback of payment-service in us-east-1 (to 2.3.7)? [y/N/d] y\n"
    )
    assert "[inc-1] error spike on payment-service in us-east-1" in asked
    assert f"  {UNDO_NOTICE}\n" in asked


def test_the_prompt_asks_queued_requests_in_turn(setup: Setup) -> None:
    output = io.StringIO()
    prompt = PromptApprover(
        input_stream=io.StringIO("d\n"), output_stream=output, monotonic=setup.monotonic
    )
    first = setup.ask()
    second = setup.ask(make_plan(make_option(ActionKind.RESTART, service="auth-service")))
    requests = setup.of(ApprovalRequested)

    prompt(requests[0])
    prompt(requests[1])
    assert prompt.ask_waiting() == 2

    assert (a := setup.diplomat.poll(first)) is not None
    assert a.decision is ApprovalDecision.DRY_RUN
    assert (b := setup.diplomat.poll(second)) is not None
    assert b.decision is ApprovalDecision.REJECTED
    assert b.note == "no input (end of stream)"
    assert "Approve restart of auth-service in us-east-1? [y/N/d]" in output.getvalue()


def test_the_prompt_skips_requests_that_already_timed_out(setup: Setup) -> None:
    output = io.StringIO()
    prompt = PromptApprover(
        input_stream=io.StringIO("y\n"), output_stream=output, monotonic=setup.monotonic
    )
    pending = setup.ask()
    setup.monotonic.value += 121
    setup.diplomat.poll(pending)

    prompt(setup.of(ApprovalRequested)[0])
    assert prompt.ask_waiting() == 0

    assert output.getvalue() == ""


def test_a_question_nobody_answers_is_left_to_time_out(setup: Setup) -> None:
    read_fd, write_fd = os.pipe()
    output = io.StringIO()
    with os.fdopen(read_fd, "r") as answers, os.fdopen(write_fd, "w"):
        prompt = PromptApprover(
            input_stream=answers, output_stream=output, monotonic=setup.monotonic
        )
        pending = setup.ask()
        prompt(setup.of(ApprovalRequested)[0])
        setup.monotonic.value += 120  # the deadline has come: no time left to wait

        assert prompt.ask_waiting() == 1

        assert output.getvalue().endswith("no answer within 120 s: rejected\n")
        approval = setup.diplomat.poll(pending)
        assert approval is not None and approval.decision is ApprovalDecision.TIMED_OUT


def test_a_closed_input_rejects_with_one_line(setup: Setup) -> None:
    answers = io.StringIO("y\n")
    answers.close()
    output = io.StringIO()
    prompt = PromptApprover(input_stream=answers, output_stream=output, monotonic=setup.monotonic)
    pending = setup.ask()
    prompt(setup.of(ApprovalRequested)[0])

    assert prompt.ask_waiting() == 1

    assert output.getvalue().endswith("input closed: rejected\n")
    approval = setup.diplomat.poll(pending)
    assert approval is not None
    assert approval.decision is ApprovalDecision.REJECTED
    assert approval.note == "input closed"


def test_after_a_dry_run_the_prompt_shows_the_findings_and_wants_a_real_answer(
    setup: Setup,
) -> None:
    report = make_dry_run_report(setup.incident)
    output = io.StringIO()
    prompt = PromptApprover(
        input_stream=io.StringIO("d\n"), output_stream=output, monotonic=setup.monotonic
    )
    pending = setup.diplomat.request(
        setup.incident, make_plan(make_option(target_version="2.3.7")), dry_run=report
    )
    assert isinstance(pending, PendingApproval)
    (requested,) = setup.of(ApprovalRequested)
    assert requested.dry_run == report

    prompt(requested)
    prompt.ask_waiting()

    asked = output.getvalue()
    assert "  dry run findings:\n    dry run: would roll back payment-service" in asked
    assert "    pre-check payment-service in us-east-1 [ok]: 3 hosts healthy" in asked
    assert asked.endswith("(to 2.3.7)? [y/N] d\n")
    approval = setup.diplomat.poll(pending)
    assert approval is not None
    assert approval.decision is ApprovalDecision.REJECTED
    assert approval.note == "a second dry run is not a yes"
    assert setup.said()[0].startswith("after the dry run: Approve rollback")


def test_requests_and_answers_are_told_to_slack() -> None:
    notifier = RecordingNotifier()
    setup = Setup(notifier=notifier)
    pending = setup.ask()
    answer_approval(pending.future, ApprovalDecision.APPROVED, by="keyboard")
    setup.diplomat.poll(pending)

    titles = [m.blocks[0]["text"]["text"].split("\n")[0] for m in notifier.messages]

    assert titles == [
        "*Approval needed: rollback of payment-service in us-east-1 (to 2.3.7)*",
        "*Rollback of payment-service in us-east-1 (to 2.3.7) approved*",
    ]
    fields = notifier.messages[0].blocks[1]["fields"]
    assert "*Service*\npayment-service" in [f["text"] for f in fields]
    assert "*Time to critical*\nalready critical" in [f["text"] for f in fields]


def test_a_failed_notification_is_a_transcript_warning(setup: Setup) -> None:
    notifier = RecordingNotifier(ok=False, detail="HTTP 500", attempts=4)
    diplomat = Diplomat(setup.context, notifier=notifier)

    diplomat.notify(setup.incident, "error rate back to 1 %")

    warning = setup.of(AgentSpoke)[-1]
    assert warning.level == "warn"
    assert warning.text == "Slack notification failed after 4 attempts: HTTP 500"


def test_a_notifier_that_raises_never_reaches_the_pipeline(setup: Setup) -> None:
    class Broken:
        def send(self, message: SlackMessage, *, on_done: DeliveryCallback | None = None) -> None:
            raise RuntimeError("boom")

    diplomat = Diplomat(setup.context, notifier=Broken())

    diplomat.notify(setup.incident, "x")

    assert setup.said()[-1] == "Slack notification not sent: RuntimeError"


def test_the_webhook_secret_never_reaches_the_transcript() -> None:
    with scripted_server(Reply(500, "oops")) as server:
        secret_url = server.url + "/services/T01/B02/v3ryS3cr3t"
        notifier = SlackNotifier(secret_url, timeout_s=5, max_attempts=2, backoff_s=0.01)
        setup = Setup(notifier=notifier)
        pending = setup.ask()
        deny_all(setup.of(ApprovalRequested)[0])
        setup.diplomat.poll(pending)
        assert notifier.flush(HANG_GUARD_S)
        notifier.close()

    said = setup.said()
    assert said.count("Slack notification failed after 2 attempts: HTTP 500") == 2
    everything = " ".join(said) + " ".join(m for _, m in setup.decisions())
    assert "v3ryS3cr3t" not in everything
    assert server.url not in everything
    assert len(server.received) == 4
