"""KubernetesExecutor against a local Kubernetes API server: the requests kubectl would send."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

# The client is an optional extra (in the dev extra); without it the executor says how to
# install it, and these tests have nothing to talk to.
pytest.importorskip("lightkube", reason="the kubernetes extra is not installed")

from qs_tui.agents.base import AgentContext, PipelineSettings
from qs_tui.agents.events import AgentSpoke, Event
from qs_tui.agents.surgeon import Surgeon
from qs_tui.clock import ManualClock
from qs_tui.models import ActionKind, ApprovalDecision, StepStatus
from qs_tui.remediation.config import KubernetesTarget
from qs_tui.remediation.kubernetes import KubernetesExecutor
from qs_tui.store.embedded import EmbeddedStore
from qs_tui.topology import Topology
from tests.remediation.factories import make_approval, make_incident, make_option, make_plan
from tests.remediation.fake_kubernetes import (
    DEPLOYMENTS,
    REPLICASETS,
    TOKEN,
    FakeKubernetes,
    fake_kubernetes,
    write_kubeconfig,
)

NOW = datetime(2026, 11, 25, 15, 4, 5, tzinfo=UTC)
PAYMENT = f"{DEPLOYMENTS}/payment"


@pytest.fixture
def api() -> Iterator[FakeKubernetes]:
    with fake_kubernetes() as server:
        yield server


def _executor(
    api: FakeKubernetes,
    tmp_path: Path,
    *,
    max_replicas: int = 10,
    rollout_timeout_s: float = 30.0,
    request_timeout_s: float = 10.0,
) -> KubernetesExecutor:
    target = KubernetesTarget(
        service="payment-service",
        executor="kubernetes",
        context="prod",
        namespace="shop",
        deployment="payment",
        kubeconfig=write_kubeconfig(tmp_path, api.url),
        max_replicas=max_replicas,
        rollout_timeout_s=rollout_timeout_s,
    )
    return KubernetesExecutor(
        target,
        environ={},
        request_timeout_s=request_timeout_s,
        poll_interval_s=0.01,
        now=lambda: NOW,
    )


def test_restart_is_the_patch_kubectl_rollout_restart_sends(
    api: FakeKubernetes, tmp_path: Path
) -> None:
    executor = _executor(api, tmp_path)
    option = make_option(ActionKind.RESTART)

    checked = executor.precheck(option, incident_id="inc-1")
    assert api.deployment["metadata"]["generation"] == 4  # the dry run persisted nothing
    applied = executor.apply(option, incident_id="inc-1")
    verified = executor.verify(option, applied[2])

    assert checked == (
        True,
        "deployment/payment in namespace shop in context prod can be restarted "
        "(server-side dry run passed)",
    )
    assert applied[0] and applied[2] == {"changed": True, "restarted_at": "2026-11-25T15:04:05Z"}
    assert verified == (True, "deployment payment successfully rolled out (3 available)")
    dry, real = api.writes()
    for request in (dry, real):
        assert request.path == PAYMENT
        assert request.headers["Content-Type"] == "application/strategic-merge-patch+json"
        assert request.json() == {
            "spec": {
                "template": {
                    "metadata": {
                        "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-25T15:04:05Z"}
                    }
                }
            }
        }
        assert request.query.get("fieldManager") == ["quantumstate"]
    assert dry.query["dryRun"] == ["All"]
    assert "dryRun" not in real.query
    # The prod context's credentials, not the kubeconfig's current (staging) context.
    assert {r.headers["Authorization"] for r in api.requests} == {f"Bearer {TOKEN}"}
    template = api.deployment["spec"]["template"]["metadata"]
    assert template["annotations"]["kubectl.kubernetes.io/restartedAt"] == "2026-11-25T15:04:05Z"
    assert executor.already_done(option, incident_id="inc-1") is None
    count = len(api.requests)
    assert executor.revert(option, applied[2]) == (True, "nothing to undo after a restart")
    assert len(api.requests) == count


def test_rollback_goes_to_the_previous_revision_as_kubectl_rollout_undo_finds_it(
    api: FakeKubernetes, tmp_path: Path
) -> None:
    executor = _executor(api, tmp_path)
    option = make_option(ActionKind.ROLLBACK, target_version="2.3.7")

    checked = executor.precheck(option, incident_id="inc-1")
    applied = executor.apply(option, incident_id="inc-1")
    verified = executor.verify(option, applied[2])

    # Revision 9 belongs to another Deployment that the label selector also matches: ignored.
    assert checked == (
        True,
        "revision 4 is live; revision 3 (registry.example.com/shop/payment:2.3.7) is available "
        "(server-side dry run passed)",
    )
    assert applied == (
        True,
        "rolled deployment/payment in namespace shop in context prod back from revision 4 to "
        "revision 3 (registry.example.com/shop/payment:2.3.7)",
        {"changed": True, "from_revision": 4, "to_revision": 3},
    )
    assert verified[0] is True
    assert api.image() == "registry.example.com/shop/payment:2.3.7"
    lists = [r for r in api.requests if r.path == REPLICASETS]
    assert lists and all(r.query["labelSelector"] == ["app=payment"] for r in lists)
    dry, real = api.writes()
    assert dry.query["dryRun"] == ["All"] and "dryRun" not in real.query
    assert real.headers["Content-Type"] == "application/json-patch+json"
    template, annotations = real.json()
    assert template["op"] == "replace" and template["path"] == "/spec/template"
    assert template["value"]["metadata"]["labels"] == {"app": "payment"}  # no pod-template-hash
    assert template["value"]["spec"]["containers"][0]["image"].endswith(":2.3.7")
    assert annotations == {
        "op": "replace",
        "path": "/metadata/annotations",
        "value": {
            "deployment.kubernetes.io/revision": "4",  # kept from the Deployment
            "kubernetes.io/change-cause": "deploy payment 2.3.7",  # from the ReplicaSet
            "quantumstate.io/rolled-back-for": "inc-1",
        },
    }
    assert executor.already_done(option, incident_id="inc-1") == (
        "deployment/payment in namespace shop in context prod was already rolled back for "
        "inc-1 (now revision 5)"
    )
    assert executor.already_done(option, incident_id="inc-2") is None

    reverted = executor.revert(option, applied[2], incident_id="inc-1")

    assert reverted == (
        True,
        "rolled deployment/payment in namespace shop in context prod forward to revision 4",
    )
    assert api.image() == "registry.example.com/shop/payment:2.4.0"


def test_scale_out_adds_one_replica_through_the_scale_subresource(
    api: FakeKubernetes, tmp_path: Path
) -> None:
    executor = _executor(api, tmp_path, max_replicas=4)
    option = make_option(ActionKind.SCALE_OUT)

    checked = executor.precheck(option, incident_id="inc-1")
    applied = executor.apply(option, incident_id="inc-1")
    verified = executor.verify(option, applied[2])

    assert checked[0] and "from 3 to 4 replicas" in checked[1]
    assert applied[2] == {"changed": True, "replicas_from": 3, "replicas_to": 4}
    assert verified == (True, "deployment payment successfully rolled out (4 available)")
    dry, real = api.writes()
    for request in (dry, real):
        assert request.path == f"{PAYMENT}/scale"
        assert request.headers["Content-Type"] == "application/merge-patch+json"
        assert request.json() == {"spec": {"replicas": 4}}
    assert dry.query["dryRun"] == ["All"] and "dryRun" not in real.query

    # At the cap now: a second scale-out is refused before anything is sent.
    writes = len(api.writes())
    assert executor.precheck(option, incident_id="inc-1") == (
        False,
        "deployment/payment in namespace shop in context prod already runs 4 replicas, "
        "the cap set in remediation.toml (max_replicas = 4)",
    )
    assert len(api.writes()) == writes

    assert executor.revert(option, applied[2])[0] is True
    assert api.deployment["spec"]["replicas"] == 3


def test_a_forbidden_patch_fails_the_precheck_in_one_line(
    api: FakeKubernetes, tmp_path: Path
) -> None:
    api.forbid_patch = True
    ok, message = _executor(api, tmp_path).precheck(make_option(ActionKind.RESTART))
    assert not ok
    assert message.startswith(
        "the Kubernetes API answered HTTP 403 (Forbidden) to patch deployment/payment"
    )
    assert "cannot patch resource" in message and "\n" not in message


def test_a_missing_deployment_fails_the_precheck(api: FakeKubernetes, tmp_path: Path) -> None:
    api.missing = True
    ok, message = _executor(api, tmp_path).precheck(make_option(ActionKind.ROLLBACK))
    assert (ok, message) == (
        False,
        "the Kubernetes API answered HTTP 404 (NotFound) to read deployment/payment in "
        'namespace shop in context prod: deployments.apps "payment" not found',
    )


def test_an_api_server_that_does_not_answer_times_out(api: FakeKubernetes, tmp_path: Path) -> None:
    api.hang = True
    ok, message = _executor(api, tmp_path, request_timeout_s=0.2).precheck(
        make_option(ActionKind.RESTART)
    )
    assert (ok, message) == (
        False,
        "the Kubernetes API did not answer within 0.2 s (read deployment/payment in "
        "namespace shop in context prod)",
    )


def test_a_rollout_that_never_becomes_available_fails_verification(
    api: FakeKubernetes, tmp_path: Path
) -> None:
    api.stuck = True
    executor = _executor(api, tmp_path, rollout_timeout_s=0.2)
    option = make_option(ActionKind.RESTART)
    ok, _, details = executor.apply(option, incident_id="inc-1")
    assert ok
    assert executor.verify(option, details) == (
        False,
        "the rollout of deployment/payment in namespace shop in context prod did not finish "
        "within 0.2 s: 2 of 3 updated replicas of payment available",
    )


def test_failover_has_no_kubernetes_meaning(api: FakeKubernetes, tmp_path: Path) -> None:
    ok, message = _executor(api, tmp_path).precheck(make_option(ActionKind.FAILOVER))
    assert not ok
    assert "failover has no Kubernetes meaning" in message
    assert api.requests == []


def test_a_missing_context_is_a_kubeconfig_error(api: FakeKubernetes, tmp_path: Path) -> None:
    target = KubernetesTarget(
        service="payment-service",
        executor="kubernetes",
        context="eu-prod",
        namespace="shop",
        deployment="payment",
        kubeconfig=write_kubeconfig(tmp_path, api.url),
    )
    ok, message = KubernetesExecutor(target, environ={}).precheck(make_option(ActionKind.RESTART))
    assert (ok, message) == (False, "kubeconfig: Context 'eu-prod' not found")


def test_kubeconfig_is_found_through_the_kubeconfig_variable(
    api: FakeKubernetes, tmp_path: Path
) -> None:
    path = write_kubeconfig(tmp_path, api.url)
    target = KubernetesTarget(
        service="payment-service",
        executor="kubernetes",
        context="prod",
        namespace="shop",
        deployment="payment",
    )
    executor = KubernetesExecutor(
        target, environ={"KUBECONFIG": f"{tmp_path / 'absent'}:{path}"}, now=lambda: NOW
    )
    assert executor.precheck(make_option(ActionKind.RESTART))[0] is True


# ---- through the Surgeon: transcript lines and the report, never a traceback ------------


def _surgeon(executor: KubernetesExecutor) -> tuple[Surgeon, list[Event]]:
    events: list[Event] = []
    clock = ManualClock(NOW)
    store = EmbeddedStore(now=clock.now)
    store.ensure_templates()
    context = AgentContext(
        store=store,
        clock=clock,
        sink=events.append,
        topology=Topology(),
        settings=PipelineSettings(),
    )
    return Surgeon(context, executor=executor), events


def test_a_stuck_rollback_is_reported_and_rolled_forward_by_the_surgeon(
    api: FakeKubernetes, tmp_path: Path
) -> None:
    api.stuck = True
    surgeon, events = _surgeon(_executor(api, tmp_path, rollout_timeout_s=0.2))
    option = make_option(ActionKind.ROLLBACK, target_version="2.3.7")

    report = surgeon.execute(make_incident(NOW), make_plan(option), make_approval(NOW))

    assert not report.success and report.rolled_back
    assert [s.status for s in report.steps] == [
        StepStatus.OK,
        StepStatus.OK,
        StepStatus.FAILED,
        StepStatus.ROLLED_BACK,
    ]
    assert "did not finish within 0.2 s" in report.summary
    assert api.image() == "registry.example.com/shop/payment:2.4.0"  # rolled forward again
    lines = [e.text for e in events if isinstance(e, AgentSpoke)]
    assert any("reverting 1 completed step(s)" in line for line in lines)
    assert not any("Traceback" in line for line in lines)


def test_a_dry_run_through_the_surgeon_sends_only_server_side_dry_runs(
    api: FakeKubernetes, tmp_path: Path
) -> None:
    surgeon, _ = _surgeon(_executor(api, tmp_path))
    option = make_option(ActionKind.ROLLBACK)

    report = surgeon.execute(
        make_incident(NOW), make_plan(option), make_approval(NOW, ApprovalDecision.DRY_RUN)
    )

    assert report.success and report.dry_run
    assert [r.query.get("dryRun") for r in api.writes()] == [["All"]]
    assert api.image() == "registry.example.com/shop/payment:2.4.0"
