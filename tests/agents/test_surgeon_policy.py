"""The Surgeon enforces the remediation policy itself, before any executor call, and writes
every call to a real system to the audit trail before and after it, without secrets."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from qs_tui.agents.base import AgentContext, PipelineSettings
from qs_tui.agents.diplomat import Diplomat, question_text
from qs_tui.agents.events import AgentSpoke, ApprovalRequested, Event
from qs_tui.agents.surgeon import Surgeon
from qs_tui.clock import ManualClock
from qs_tui.models import ActionKind, Approval, ApprovalDecision, RemediationOption, StepStatus
from qs_tui.remediation.advisory import RoutingExecutor
from qs_tui.remediation.base import Details
from qs_tui.remediation.config import PolicyConfig, RemediationConfig, parse_remediation
from qs_tui.remediation.policy import ActionRecord
from qs_tui.store.base import Store
from qs_tui.store.embedded import EmbeddedStore
from qs_tui.store.templates import DECISIONS
from qs_tui.topology import Topology
from tests.remediation.factories import make_approval, make_incident, make_option, make_plan

# Wednesday 2 December 2026, 12:00 UTC: no weekend freeze. Sunday 6 December, 20:00 Berlin.
WEEKDAY = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
SUNDAY_EVENING = datetime(2026, 12, 6, 19, 0, tzinfo=UTC)

POLICY = """\
[policy]
auto_approve = ["restart"]
max_risk = "low"
max_actions_per_service_per_hour = 2

[[policy.freezes]]
name = "weekend freeze"
days = ["sat", "sun"]
from = "18:00"
to = "08:00"
timezone = "Europe/Berlin"
"""

SECRET = "hunter2-api-key-value"


class RecordingExecutor:
    """A real-system stand-in that records every call, in order, and answers yes.

    At `apply` it also reads the audit trail, to show the "before" record is already there
    when the call is made.
    """

    name = "recording"

    def __init__(self, store: Store | None = None, *, leak: str = "") -> None:
        self.calls: list[str] = []
        self.store = store
        self.leak = leak
        self.audited_before_apply: list[str] = []

    def precheck(self, option: RemediationOption, *, incident_id: str = "") -> tuple[bool, str]:
        self.calls.append("precheck")
        return True, "reachable"

    def already_done(self, option: RemediationOption, *, incident_id: str = "") -> str | None:
        self.calls.append("already_done")
        return None

    def apply(
        self, option: RemediationOption, *, incident_id: str = ""
    ) -> tuple[bool, str, Details]:
        self.calls.append("apply")
        if self.store is not None:
            self.audited_before_apply = [
                f"{row[0]} {row[1]}" for row in _audit_rows(self.store, "decision", "call")
            ]
        # An executor that carelessly echoes a credential in its answer.
        details: Details = {"changed": True, "authorization": f"Bearer {self.leak}"}
        return True, f"restarted (sent with key {self.leak})", details

    def verify(self, option: RemediationOption, details: Details) -> tuple[bool, str]:
        self.calls.append("verify")
        return True, "rolled out"

    def revert(
        self, option: RemediationOption, details: Details, *, incident_id: str = ""
    ) -> tuple[bool, str]:
        self.calls.append("revert")
        return True, "undone"


def _context(
    *, now: datetime, policy: PolicyConfig | None = None, read_only: bool = False
) -> tuple[AgentContext, list[Event]]:
    events: list[Event] = []
    clock = ManualClock(now)
    store = EmbeddedStore(now=clock.now)
    store.ensure_templates()
    settings = PipelineSettings(policy=policy or PolicyConfig(), read_only=read_only)
    context = AgentContext(
        store=store, clock=clock, sink=events.append, topology=Topology(), settings=settings
    )
    return context, events


def _policy() -> PolicyConfig:
    return parse_remediation(POLICY, path=Path("remediation.toml")).policy


def _audit_rows(store: Store, *columns: str) -> list[list[Any]]:
    store.refresh()
    result = store.esql(
        f'FROM {DECISIONS} | WHERE decision LIKE "real_call_*" | SORT sequence '
        f"| KEEP {', '.join(columns)}"
    )
    return [list(row) for row in result.values]


def _lines(events: list[Event]) -> list[str]:
    return [e.text for e in events if isinstance(e, AgentSpoke)]


# ---- nothing is called when the policy holds the action -----------------------------------


@pytest.mark.parametrize(
    ("case", "approver"),
    [
        ("read-only", "keyboard"),
        ("read-only", "auto-approval policy"),
        ("read-only", "--approve auto"),
        ("rate limit", "keyboard"),
        ("rate limit", "auto-approval policy"),
        ("rate limit", "--approve auto"),
        ("freeze", "auto-approval policy"),
        ("freeze", "--approve auto"),
    ],
)
def test_no_executor_method_is_called_when_the_policy_holds_whatever_the_approval(
    case: str, approver: str
) -> None:
    now = SUNDAY_EVENING if case == "freeze" else WEEKDAY
    context, events = _context(now=now, policy=_policy(), read_only=case == "read-only")
    history = []
    if case == "rate limit":
        earlier = now - timedelta(minutes=15)
        history = [ActionRecord(earlier, "payment-service", ActionKind.RESTART)] * 2
    executor = RecordingExecutor()
    surgeon = Surgeon(context, executor=executor, history=history)
    option = make_option(ActionKind.RESTART, risk=0.05)

    report = surgeon.execute(make_incident(now), make_plan(option), make_approval(now, by=approver))

    assert executor.calls == []
    expected_rule = {
        "read-only": "read-only: no executor is called",
        "rate limit": "rate limit: 2 actions on payment-service in the last hour",
        "freeze": "frozen: weekend freeze until Mon 08:00 Europe/Berlin; only a human may "
        f"approve, not the {approver}",
    }[case]
    assert report.summary.startswith(expected_rule + ": restart of payment-service")
    # The plan goes to a human as advice (the pipeline escalates an advised report).
    assert not report.success and not report.dry_run
    assert report.advice == ["restart payment-service in us-east-1"]
    assert [s.status for s in report.steps] == [StepStatus.SKIPPED, StepStatus.ADVISED]
    assert any(line.startswith(f"policy: {expected_rule}") for line in _lines(events))
    assert _audit_rows(context.store, "decision") == []


def test_read_only_holds_a_dry_run_too() -> None:
    context, _ = _context(now=WEEKDAY, read_only=True)
    executor = RecordingExecutor()
    surgeon = Surgeon(context, executor=executor)
    dry_run = make_approval(WEEKDAY, ApprovalDecision.DRY_RUN)

    report = surgeon.execute(
        make_incident(WEEKDAY), make_plan(make_option(ActionKind.ROLLBACK)), dry_run
    )

    assert executor.calls == [] and report.advised


def test_during_a_freeze_a_human_approval_runs_and_says_so() -> None:
    context, events = _context(now=SUNDAY_EVENING, policy=_policy())
    executor = RecordingExecutor()
    surgeon = Surgeon(context, executor=executor)
    option = make_option(ActionKind.ROLLBACK, risk=0.3)

    report = surgeon.execute(
        make_incident(SUNDAY_EVENING), make_plan(option), make_approval(SUNDAY_EVENING)
    )

    assert report.success
    assert executor.calls == ["precheck", "already_done", "apply", "verify"]
    assert (
        "policy: frozen: weekend freeze until Mon 08:00 Europe/Berlin; approved by a human "
        "(keyboard)"
    ) in _lines(events)


def test_the_surgeons_own_actions_count_against_the_rate_limit() -> None:
    context, _ = _context(now=WEEKDAY, policy=_policy())
    clock = context.clock
    assert isinstance(clock, ManualClock)
    executor = RecordingExecutor()
    surgeon = Surgeon(context, executor=executor)
    option = make_option(ActionKind.ROLLBACK)

    reports = []
    for number in (1, 2, 3):
        incident_id = f"inc-{number}"
        reports.append(
            surgeon.execute(
                make_incident(WEEKDAY, incident_id=incident_id),
                make_plan(option, incident_id=incident_id),
                make_approval(WEEKDAY, incident_id=incident_id),
            )
        )
        clock.advance(60)

    assert [r.success for r in reports] == [True, True, False]
    assert executor.calls.count("apply") == 2
    assert reports[2].summary.startswith(
        "rate limit: 2 actions on payment-service in the last hour"
    )
    assert [(a.service, a.incident_id) for a in surgeon.history] == [
        ("payment-service", "inc-1"),
        ("payment-service", "inc-2"),
    ]


# ---- the Diplomat approves what the policy allows, and shows what stands -------------------


def test_the_policy_auto_approves_a_low_risk_restart_and_the_surgeon_names_the_rule() -> None:
    context, events = _context(now=WEEKDAY, policy=_policy())
    diplomat = Diplomat(context)
    executor = RecordingExecutor()
    surgeon = Surgeon(context, executor=executor)
    incident = make_incident(WEEKDAY)
    plan = make_plan(make_option(ActionKind.RESTART, risk=0.1))

    answer = diplomat.request(incident, plan)

    assert isinstance(answer, Approval)
    assert answer.approved and answer.by == "auto-approval policy"
    assert answer.note == "auto-approved: restart ≤ low risk"
    assert not any(isinstance(e, ApprovalRequested) for e in events)
    report = surgeon.execute(incident, plan, answer)
    assert report.success and "apply" in executor.calls
    assert "policy: auto-approved: restart ≤ low risk" in _lines(events)


def test_a_riskier_plan_still_asks_a_human() -> None:
    context, events = _context(now=WEEKDAY, policy=_policy())

    answer = Diplomat(context).request(
        make_incident(WEEKDAY), make_plan(make_option(ActionKind.RESTART, risk=0.4))
    )

    assert not isinstance(answer, Approval)
    requests = [e for e in events if isinstance(e, ApprovalRequested)]
    assert len(requests) == 1 and requests[0].policy is None


def test_during_a_freeze_the_request_shows_the_rule_and_nothing_is_auto_approved() -> None:
    context, events = _context(now=SUNDAY_EVENING, policy=_policy())

    answer = Diplomat(context).request(
        make_incident(SUNDAY_EVENING), make_plan(make_option(ActionKind.RESTART, risk=0.1))
    )

    assert not isinstance(answer, Approval)
    (request,) = [e for e in events if isinstance(e, ApprovalRequested)]
    rule = "frozen: weekend freeze until Mon 08:00 Europe/Berlin: only a human may approve"
    assert request.policy == rule
    assert f"  policy: {rule}" in question_text(request).splitlines()
    assert any(line.endswith(f"; policy: {rule}") for line in _lines(events))


def test_under_read_only_the_low_risk_setting_does_not_auto_approve_either() -> None:
    context, events = _context(now=WEEKDAY, read_only=True)
    context.settings = context.settings.model_copy(update={"auto_approve_low_risk": True})

    answer = Diplomat(context).request(
        make_incident(WEEKDAY),
        make_plan(make_option(ActionKind.RESTART, risk=0.05), requires_approval=False),
    )

    assert not isinstance(answer, Approval)
    (request,) = [e for e in events if isinstance(e, ApprovalRequested)]
    assert request.policy == "read-only: nothing will be carried out, whatever the answer"


# ---- the audit trail of calls to real systems ------------------------------------------------


def test_every_real_call_is_audited_before_and_after_without_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KIBANA_API_KEY", SECRET)
    context, _ = _context(now=WEEKDAY)
    executor = RecordingExecutor(context.store, leak=SECRET)
    surgeon = Surgeon(context, executor=executor)
    option = make_option(ActionKind.RESTART)

    report = surgeon.execute(make_incident(WEEKDAY), make_plan(option), make_approval(WEEKDAY))

    assert report.success
    rows = _audit_rows(
        context.store, "decision", "call", "executor", "approved_by", "service", "action"
    )
    calls = ["precheck", "already_done", "apply", "verify"]
    assert [row[:2] for row in rows] == [
        [f"real_call_{phase}", call] for call in calls for phase in ("started", "finished")
    ]
    assert {tuple(row[2:]) for row in rows} == {
        ("recording", "keyboard", "payment-service", "restart")
    }
    # The "before" record was in the store when the executor was called.
    assert executor.audited_before_apply[-1] == "real_call_started apply"
    (answer,) = [
        json.loads(row[1])
        for row in _audit_rows(context.store, "decision", "answer", "call")
        if row[0] == "real_call_finished" and row[2] == "apply"
    ]
    assert answer == {
        "ok": True,
        "message": "restarted (sent with key [redacted])",
        "details": {"changed": True, "authorization": "[redacted]"},
    }
    assert SECRET not in json.dumps(_all_decisions(context.store), default=str)


def _all_decisions(store: Store) -> list[list[Any]]:
    store.refresh()
    return [list(row) for row in store.esql(f"FROM {DECISIONS} | LIMIT 10000").values]


def test_advice_and_the_simulated_cluster_are_not_real_calls() -> None:
    context, _ = _context(now=WEEKDAY)
    surgeon = Surgeon(context, executor=RoutingExecutor(RemediationConfig()))

    report = surgeon.execute(
        make_incident(WEEKDAY), make_plan(make_option(ActionKind.RESTART)), make_approval(WEEKDAY)
    )

    assert report.advised
    assert _audit_rows(context.store, "decision") == []


@pytest.fixture
def kubernetes_api() -> Iterator[Any]:
    pytest.importorskip("lightkube", reason="the kubernetes extra is not installed")
    from tests.remediation.fake_kubernetes import fake_kubernetes

    with fake_kubernetes() as server:
        yield server


def test_the_kubeconfig_token_is_in_no_audit_document(kubernetes_api: Any, tmp_path: Path) -> None:
    from qs_tui.remediation.config import KubernetesTarget
    from qs_tui.remediation.kubernetes import KubernetesExecutor
    from tests.remediation.fake_kubernetes import TOKEN, write_kubeconfig

    kubeconfig = write_kubeconfig(tmp_path, kubernetes_api.url)
    config = parse_remediation(
        f'[[services]]\nservice = "payment-service"\nexecutor = "kubernetes"\n'
        f'context = "prod"\nnamespace = "shop"\ndeployment = "payment"\n'
        f'kubeconfig = "{kubeconfig}"\n'
    )

    def build(target: Any) -> KubernetesExecutor:
        assert isinstance(target, KubernetesTarget)
        return KubernetesExecutor(
            target, environ={}, request_timeout_s=10.0, poll_interval_s=0.01, now=lambda: WEEKDAY
        )

    context, _ = _context(now=WEEKDAY)
    surgeon = Surgeon(context, executor=RoutingExecutor(config, build=build))

    report = surgeon.execute(
        make_incident(WEEKDAY), make_plan(make_option(ActionKind.RESTART)), make_approval(WEEKDAY)
    )

    assert report.success, report.summary
    assert any(r.headers.get("Authorization") == f"Bearer {TOKEN}" for r in kubernetes_api.requests)
    rows = _audit_rows(context.store, "decision", "call", "executor", "target")
    assert [row[1] for row in rows if row[0] == "real_call_started"] == [
        "precheck",
        "already_done",
        "apply",
        "verify",
    ]
    target = json.loads(rows[0][3])
    assert target["deployment"] == "payment" and target["namespace"] == "shop"
    assert {row[2] for row in rows} == {"kubernetes"}
    assert TOKEN not in json.dumps(_all_decisions(context.store), default=str)


# ---- the approval modal shows the rule --------------------------------------------------------


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_the_approval_modal_shows_the_rule_that_stands_whatever_the_answer() -> None:
    from dataclasses import replace

    from qs_tui.ui.screens import ApprovalModal
    from tests.ui.screen_data import DEADLINE, FrozenMonotonic, ScreenHost, approval_request, plain

    rule = "frozen: weekend freeze until Mon 08:00 Europe/Berlin: only a human may approve"
    plain_request = approval_request()
    modal = ApprovalModal(
        replace(plain_request, policy=rule), monotonic=FrozenMonotonic(DEADLINE - 60)
    )
    without = ApprovalModal(plain_request, monotonic=FrozenMonotonic(DEADLINE - 60))
    async with ScreenHost(modal).run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        assert plain(modal.query_one("#approval-policy")) == f"Policy: {rule}"
    async with ScreenHost(without).run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        assert not without.query("#approval-policy")


def test_a_restarted_surgeon_counts_the_real_actions_in_the_audit_trail() -> None:
    earlier_context, _ = _context(now=WEEKDAY, policy=_policy())
    store = earlier_context.store
    first = Surgeon(earlier_context, executor=RecordingExecutor())
    option = make_option(ActionKind.ROLLBACK)
    for number in (1, 2):
        incident_id = f"inc-{number}"
        report = first.execute(
            make_incident(WEEKDAY, incident_id=incident_id),
            make_plan(option, incident_id=incident_id),
            make_approval(WEEKDAY, incident_id=incident_id),
        )
        assert report.success

    def restarted(minutes_later: int) -> tuple[Surgeon, RecordingExecutor]:
        now = WEEKDAY + timedelta(minutes=minutes_later)
        context = AgentContext(
            store=store,
            clock=ManualClock(now),
            sink=lambda event: None,
            topology=Topology(),
            settings=PipelineSettings(policy=_policy()),
        )
        executor = RecordingExecutor()
        return Surgeon(context, executor=executor), executor

    soon, soon_executor = restarted(10)
    held = soon.execute(
        make_incident(WEEKDAY, incident_id="inc-3"),
        make_plan(option, incident_id="inc-3"),
        make_approval(WEEKDAY, incident_id="inc-3"),
    )
    later, later_executor = restarted(61)
    done = later.execute(
        make_incident(WEEKDAY, incident_id="inc-4"),
        make_plan(option, incident_id="inc-4"),
        make_approval(WEEKDAY, incident_id="inc-4"),
    )

    assert soon_executor.calls == []
    assert held.summary.startswith("rate limit: 2 actions on payment-service in the last hour")
    assert done.success and "apply" in later_executor.calls


def test_a_secret_only_in_the_env_file_is_masked_in_the_audit_trail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qs_tui.config import Settings
    from qs_tui.remediation.policy import policy_settings

    monkeypatch.delenv("ELASTIC_API_KEY", raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text(f"ELASTIC_API_KEY={SECRET}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # no remediation.toml here: the default policy
    settings = Settings.load(env={}, env_file=env_file)
    assert SECRET not in os.environ.values()  # only the file holds it
    context, _ = _context(now=WEEKDAY)
    context.settings = context.settings.model_copy(update=policy_settings(settings))
    assert SECRET not in repr(context.settings)
    surgeon = Surgeon(context, executor=RecordingExecutor(context.store, leak=SECRET))

    report = surgeon.execute(
        make_incident(WEEKDAY), make_plan(make_option(ActionKind.RESTART)), make_approval(WEEKDAY)
    )

    assert report.success
    assert SECRET not in json.dumps(_all_decisions(context.store), default=str)
