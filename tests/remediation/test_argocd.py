"""ArgoCDExecutor against a local Argo CD API server: rollback, wait, roll forward."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qs_tui.models import ActionKind
from qs_tui.remediation.advisory import build_executor
from qs_tui.remediation.argocd import ArgoCDExecutor
from qs_tui.remediation.config import ArgoCDTarget
from tests.remediation.factories import make_option
from tests.remediation.fake_argocd import APP, TOKEN, FakeArgoCD, fake_argocd

SHA_12 = "4d5e6f708192a3b4c5d6e7f8091234567890abcd"
SHA_13 = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"


@pytest.fixture
def argo() -> Iterator[FakeArgoCD]:
    with fake_argocd() as server:
        yield server


def _target(argo: FakeArgoCD) -> ArgoCDTarget:
    return ArgoCDTarget(
        service="checkout", executor="argocd", server=argo.url, application="checkout-prod"
    )


def _executor(argo: FakeArgoCD, *, sync_timeout_s: float = 30.0) -> ArgoCDExecutor:
    return ArgoCDExecutor(
        _target(argo),
        token=TOKEN,
        timeout_s=5,
        sync_timeout_s=sync_timeout_s,
        poll_interval_s=0.01,
    )


def test_rollback_goes_to_the_previous_history_entry_and_waits_for_health(
    argo: FakeArgoCD,
) -> None:
    executor = _executor(argo)
    option = make_option(ActionKind.ROLLBACK, service="checkout")

    checked = executor.precheck(option, incident_id="inc-1")
    assert argo.posts() == []  # the pre-check (and so a dry run) only reads
    applied = executor.apply(option, incident_id="inc-1")
    verified = executor.verify(option, applied[2])

    assert checked == (True, "history 13 (9f8e7d6) is live; history 12 (4d5e6f7) is available")
    assert applied == (
        True,
        f"rolled Argo CD application checkout-prod at {argo.url} back from history 13 "
        "(9f8e7d6) to 12 (4d5e6f7)",
        {"changed": True, "from_id": 13, "to_id": 12},
    )
    assert verified == (
        True,
        f"Argo CD application checkout-prod at {argo.url} rolled back and Healthy",
    )
    (rollback,) = argo.posts()
    assert rollback.path == f"{APP}/rollback"
    assert rollback.headers["Content-Type"] == "application/json"
    assert rollback.json() == {"name": "checkout-prod", "id": 12, "dryRun": False, "prune": False}
    assert {r.headers["Authorization"] for r in argo.requests} == {f"Bearer {TOKEN}"}
    assert argo.live_revision() == SHA_12
    assert executor.already_done(option, incident_id="inc-1") is not None
    assert executor.already_done(option, incident_id="inc-2") is None

    assert executor.revert(option, applied[2], incident_id="inc-1") == (
        True,
        f"rolled Argo CD application checkout-prod at {argo.url} forward to history 13",
    )
    assert argo.posts()[-1].json()["id"] == 13
    assert argo.live_revision() == SHA_13


def test_auto_sync_on_fails_the_precheck(argo: FakeArgoCD) -> None:
    argo.app["spec"]["syncPolicy"]["automated"] = {"prune": True, "selfHeal": True}
    ok, message = _executor(argo).precheck(make_option(ActionKind.ROLLBACK, service="checkout"))
    assert not ok
    assert "auto-sync is on" in message and "turn auto-sync off first" in message


def test_a_single_deployment_has_nothing_to_roll_back_to(argo: FakeArgoCD) -> None:
    argo.app["status"]["history"] = argo.app["status"]["history"][-1:]
    ok, message = _executor(argo).precheck(make_option(ActionKind.ROLLBACK, service="checkout"))
    assert (ok, message) == (
        False,
        f"Argo CD application checkout-prod at {argo.url} has no previous deployment in its "
        "history",
    )


def test_permission_denied_is_one_clear_line(argo: FakeArgoCD) -> None:
    argo.forbid = True
    ok, message, details = _executor(argo).apply(
        make_option(ActionKind.ROLLBACK, service="checkout"), incident_id="inc-1"
    )
    assert not ok and details == {}
    assert message == (
        f"Argo CD answered HTTP 403 to roll back Argo CD application checkout-prod at "
        f"{argo.url}: permission denied: applications, sync, shop/checkout-prod, sub: "
        "quantumstate, iat: 2026-11-25T09:00:00Z"
    )


def test_a_missing_application_fails_the_precheck(argo: FakeArgoCD) -> None:
    argo.missing = True
    ok, message = _executor(argo).precheck(make_option(ActionKind.ROLLBACK, service="checkout"))
    assert not ok
    assert message.endswith('applications.argoproj.io "checkout-prod" not found')
    assert "HTTP 404" in message


def test_a_failed_operation_fails_verification_at_once(argo: FakeArgoCD) -> None:
    argo.outcome = "failed"
    executor = _executor(argo)
    option = make_option(ActionKind.ROLLBACK, service="checkout")
    _, _, details = executor.apply(option, incident_id="inc-1")
    assert executor.verify(option, details) == (
        False,
        f"the rollback of Argo CD application checkout-prod at {argo.url} ended Failed: "
        "one or more objects failed to apply (dry run)",
    )


def test_an_application_that_never_becomes_healthy_times_out(argo: FakeArgoCD) -> None:
    argo.outcome = "degraded"
    executor = _executor(argo, sync_timeout_s=0.2)
    option = make_option(ActionKind.ROLLBACK, service="checkout")
    _, _, details = executor.apply(option, incident_id="inc-1")
    assert executor.verify(option, details) == (
        False,
        f"Argo CD application checkout-prod at {argo.url} did not become healthy within "
        "0.2 s (operation Succeeded, health Degraded)",
    )


def test_other_actions_are_not_argo_cd_actions(argo: FakeArgoCD) -> None:
    ok, message = _executor(argo).precheck(make_option(ActionKind.RESTART, service="checkout"))
    assert not ok and "only rolls back" in message
    assert argo.requests == []


def test_the_token_comes_from_the_variable_the_mapping_names(argo: FakeArgoCD) -> None:
    executor = build_executor(_target(argo), environ={"ARGOCD_AUTH_TOKEN": TOKEN})
    assert executor.precheck(make_option(ActionKind.ROLLBACK, service="checkout"))[0] is True
    assert TOKEN not in repr(executor)
    bare = build_executor(_target(argo), environ={})
    ok, message = bare.precheck(make_option(ActionKind.ROLLBACK, service="checkout"))
    assert not ok and "HTTP 401" in message
