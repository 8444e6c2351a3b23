"""Advisory remediation: the exact command a human would run, and nothing carried out."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from qs_tui.agents.base import AgentContext, PipelineSettings
from qs_tui.agents.events import AgentSpoke, Event
from qs_tui.agents.pipeline import Pipeline
from qs_tui.agents.surgeon import Surgeon
from qs_tui.clock import ManualClock
from qs_tui.headless import ScenarioRun, incident_summary, write_summary
from qs_tui.models import (
    ActionKind,
    AgentName,
    ApprovalDecision,
    IncidentState,
    RemediationOption,
    StepStatus,
)
from qs_tui.remediation import Details, RemediationExecutor
from qs_tui.remediation.advisory import AdvisoryExecutor, RoutingExecutor, advice_for
from qs_tui.remediation.config import RemediationConfig, Target, parse_remediation
from qs_tui.store.embedded import EmbeddedStore
from qs_tui.topology import Topology
from tests.agents.conftest import make_world
from tests.remediation.factories import make_approval, make_incident, make_option, make_plan

START = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)

CONFIG = parse_remediation(
    """\
[[services]]
service = "payment-service"
executor = "kubernetes"
context = "prod"
namespace = "shop"
deployment = "payment"
max_replicas = 6

[[services]]
service = "checkout"
executor = "argocd"
server = "https://argocd.example.com"
application = "checkout-prod"

[[services]]
service = "search"
executor = "workflows"
workflows = { restart = "wf-restart-search" }

[[services]]
service = "legacy"
executor = "webhook"
url = "https://user:pw@ops.example.com/hooks/s3cret"
""",
    path=Path("remediation.toml"),
)


@pytest.mark.parametrize(
    ("action", "service", "expected"),
    [
        (
            ActionKind.RESTART,
            "payment-service",
            "kubectl rollout restart deployment/payment -n shop --context prod",
        ),
        (
            ActionKind.ROLLBACK,
            "payment-service",
            "kubectl rollout undo deployment/payment -n shop --context prod",
        ),
        (
            ActionKind.SCALE_OUT,
            "payment-service",
            "kubectl scale deployment/payment -n shop --context prod --replicas=$(( "
            "$(kubectl get deployment/payment -n shop --context prod "
            "-o jsonpath='{.spec.replicas}') + 1 ))   # keep it at most 6 replicas",
        ),
        (
            ActionKind.FAILOVER,
            "payment-service",
            "fail over payment-service in us-east-1 "
            "(a failover has no Kubernetes command; do it by hand)",
        ),
        (ActionKind.ROLLBACK, "checkout", "argocd app rollback checkout-prod"),
        (
            ActionKind.RESTART,
            "checkout",
            "argocd app actions run checkout-prod restart --kind Deployment --all",
        ),
        (
            ActionKind.RESTART,
            "search",
            'curl -X POST "$KIBANA_URL/api/workflows/workflow/wf-restart-search/run" '
            '-H "Authorization: ApiKey $KIBANA_API_KEY" -H "kbn-xsrf: true" '
            "-H 'Content-Type: application/json' -d "
            """'{"inputs":{"action":"restart","service":"search","region":"us-east-1"}}'""",
        ),
        (
            ActionKind.ROLLBACK,
            "search",
            "roll back search in us-east-1 (no workflow is mapped to rollback)",
        ),
        (
            ActionKind.RESTART,
            "legacy",
            "restart legacy in us-east-1 through the automation endpoint https://ops.example.com",
        ),
        (ActionKind.RESTART, "inventory-service", "restart inventory-service in us-east-1"),
    ],
)
def test_the_advice_is_the_command_for_the_mapped_target(
    action: ActionKind, service: str, expected: str
) -> None:
    option = make_option(action, service=service)
    assert advice_for(option, CONFIG.target_for(service, "us-east-1")) == expected


def test_the_advisory_executor_never_claims_it_acted() -> None:
    executor = AdvisoryExecutor(CONFIG)
    option = make_option(ActionKind.RESTART)

    ok, message = executor.precheck(option, incident_id="inc-1")
    applied = executor.apply(option, incident_id="inc-1")

    assert ok and "nothing will be carried out" in message
    assert executor.already_done(option, incident_id="inc-1") is None
    assert applied == (
        False,
        "advisory, nothing carried out; a human would run: "
        "kubectl rollout restart deployment/payment -n shop --context prod",
        {
            "changed": False,
            "advised": True,
            "advice": "kubectl rollout restart deployment/payment -n shop --context prod",
        },
    )
    assert executor.verify(option, applied[2])[0] is False


class RecordingExecutor:
    """Stands for a real executor: records the targets it is asked to act on."""

    name = "recording"

    def __init__(self) -> None:
        self.applied: list[tuple[str, str]] = []

    def precheck(self, option: RemediationOption, *, incident_id: str = "") -> tuple[bool, str]:
        return True, "reachable"

    def already_done(self, option: RemediationOption, *, incident_id: str = "") -> str | None:
        return None

    def apply(
        self, option: RemediationOption, *, incident_id: str = ""
    ) -> tuple[bool, str, Details]:
        self.applied.append((option.service, option.region))
        return True, "restarted", {"changed": True}

    def verify(self, option: RemediationOption, details: Details) -> tuple[bool, str]:
        return True, "rolled out"

    def revert(
        self, option: RemediationOption, details: Details, *, incident_id: str = ""
    ) -> tuple[bool, str]:
        return True, "nothing to undo"


def _context() -> tuple[AgentContext, list[Event]]:
    events: list[Event] = []
    clock = ManualClock(START)
    store = EmbeddedStore(now=clock.now)
    store.ensure_templates()
    context = AgentContext(
        store=store,
        clock=clock,
        sink=events.append,
        topology=Topology(),
        settings=PipelineSettings(),
    )
    return context, events


def test_routing_sends_mapped_regions_to_their_executor_and_advises_for_the_rest() -> None:
    config = parse_remediation(
        '[[services]]\nservice = "payment-service"\nregion = "us-east-1"\n'
        'executor = "kubernetes"\nnamespace = "shop"\ndeployment = "payment"\n'
    )
    real = RecordingExecutor()
    built: list[Target] = []

    def build(target: Target) -> RemediationExecutor:
        built.append(target)
        return real

    context, events = _context()
    surgeon = Surgeon(context, executor=RoutingExecutor(config, build=build))
    option = make_option(ActionKind.RESTART, region="all")

    report = surgeon.execute(
        make_incident(START), make_plan(option), make_approval(START, ApprovalDecision.APPROVED)
    )

    regions = context.topology.regions
    assert real.applied == [("payment-service", "us-east-1")]
    assert len(built) == 1  # built once, when first needed
    assert report.advised and not report.success
    others = [r for r in regions if r != "us-east-1"]
    assert report.advice == [f"restart payment-service in {r}" for r in others]
    statuses = {s.name: s.status for s in report.steps}
    assert statuses["restart payment-service/us-east-1"] is StepStatus.OK
    assert all(statuses[f"restart payment-service/{r}"] is StepStatus.ADVISED for r in others)
    assert report.summary.startswith("advisory: restart of payment-service in every region")
    # The transcript names the executor the region is mapped to, not the router.
    lines = [e.text for e in events if isinstance(e, AgentSpoke) and e.agent is AgentName.SURGEON]
    executing = [line for line in lines if line.startswith("executing")]
    assert len(executing) == 1 and executing[0].endswith(f"via the {real.name} executor")


def test_an_advisory_surgeon_gives_the_mapped_command_and_never_says_executing() -> None:
    context, events = _context()
    surgeon = Surgeon(context, executor=AdvisoryExecutor(CONFIG))
    option = make_option(ActionKind.ROLLBACK, target_version="2.3.7")

    report = surgeon.execute(
        make_incident(START), make_plan(option), make_approval(START, ApprovalDecision.APPROVED)
    )

    command = "kubectl rollout undo deployment/payment -n shop --context prod"
    assert report.advice == [command]
    assert [s.status for s in report.steps] == [StepStatus.OK, StepStatus.ADVISED]
    lines = [e.text for e in events if isinstance(e, AgentSpoke) and e.agent is AgentName.SURGEON]
    assert f"advice for payment-service/us-east-1: {command}" in lines
    assert not any(line.startswith("executing") for line in lines)


def test_an_advised_incident_is_escalated_with_the_command_and_nothing_changes() -> None:
    world = make_world("leak-after-deploy", history="45m")
    events: list[Event] = []
    config = parse_remediation(
        '[[services]]\nservice = "payment-service"\nexecutor = "advisory"\n'
        'note = "VMs run by the platform team"\n'
    )
    pipeline = Pipeline(
        store=world.store,
        source=world.simulation,
        executor=RoutingExecutor(config),
        clock=world.clock,
        sink=_approving(events),
        topology=world.topology,
    )
    # Until the incident is handed over (within 8 min): what it does after is not in question.
    pipeline.run_until(
        world.now + timedelta(minutes=8),
        step_s=30,
        stop_when=lambda running: any(i.state.terminal for i in running.incidents()),
    )

    first = pipeline.incidents()[0]
    assert first.service == "payment-service"
    assert first.state is IncidentState.ESCALATED
    assert first.execution is not None and first.execution.advised
    assert first.execution.advice == [
        "roll back payment-service in us-east-1 (to 2.3.7) (VMs run by the platform team)"
    ]
    assert "over to a human" in first.history[-1].reason
    assert world.simulation.group("payment-service", "us-east-1").version == "2.4.0"
    facts = incident_summary(first)
    assert facts["executed"] is False
    assert facts["advice"] == first.execution.advice
    out = io.StringIO()
    run = ScenarioRun(
        scenario=world.scenario, pipeline=pipeline, simulation=world.simulation, store=world.store
    )
    write_summary(run, 0, "", out)
    assert (
        "  advice      roll back payment-service in us-east-1 (to 2.3.7) "
        "(VMs run by the platform team)  (not carried out: advisory)\n"
    ) in out.getvalue()


def _approving(events: list[Event]) -> Any:
    from qs_tui.agents.diplomat import approve_all
    from qs_tui.agents.events import ApprovalRequested

    def sink(event: Event) -> None:
        events.append(event)
        if isinstance(event, ApprovalRequested):
            approve_all(event)

    return sink


def test_a_failover_goes_to_the_workflow_mapped_for_it_and_a_restart_to_kubernetes() -> None:
    config = parse_remediation(
        '[[services]]\nservice = "payment-service"\nexecutor = "kubernetes"\n'
        'namespace = "shop"\ndeployment = "payment"\n\n'
        '[[services]]\nservice = "payment-service"\nactions = ["failover"]\n'
        'executor = "workflows"\nworkflows = { failover = "wf-drain" }\n'
    )
    built: dict[str, RecordingExecutor] = {}

    def build(target: Target) -> RemediationExecutor:
        return built.setdefault(target.executor, RecordingExecutor())

    routing = RoutingExecutor(config, build=build)
    routing.apply(make_option(ActionKind.FAILOVER))
    routing.apply(make_option(ActionKind.RESTART))

    assert sorted(built) == ["kubernetes", "workflows"]
    assert built["workflows"].applied == [("payment-service", "us-east-1")]
    assert built["kubernetes"].applied == [("payment-service", "us-east-1")]
    advice = AdvisoryExecutor(config).advice(make_option(ActionKind.FAILOVER))
    assert "/api/workflows/workflow/wf-drain/run" in advice


def test_an_empty_configuration_advises_for_everything() -> None:
    executor = RoutingExecutor(RemediationConfig())
    option = make_option(ActionKind.SCALE_OUT, service="cart")
    assert executor.executor_for(option) is executor.advisory
    assert executor.apply(option)[1].endswith("scale out cart in us-east-1")
