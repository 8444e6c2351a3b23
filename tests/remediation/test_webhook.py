"""WebhookExecutor against a real automation endpoint on 127.0.0.1."""

from __future__ import annotations

import pytest

from qs_tui.models import ActionKind
from qs_tui.remediation import WebhookExecutor
from qs_tui.remediation.webhook import redact_url
from tests.remediation.factories import make_option
from tests.remediation.local_server import Reply, closed_port_url, scripted_server

TOKEN = "Bearer top-s3cr3t"


def test_each_step_posts_the_documented_body() -> None:
    with scripted_server(
        Reply(200, {"ok": True, "message": "rollback to 2.3.7 is possible"}),
        Reply(200, {"ok": True, "message": "rolled back", "details": {"job": 41}}),
        Reply(200, {"ok": True, "message": "redeployed 2.4.0"}),
    ) as server:
        executor = WebhookExecutor(
            server.url + "/qs/remediate", timeout_s=5, headers={"Authorization": TOKEN}
        )
        option = make_option(ActionKind.ROLLBACK, target_version="2.3.7")

        checked = executor.precheck(option, incident_id="inc-7")
        applied = executor.apply(option, incident_id="inc-7")
        verified = executor.verify(option, applied[2])
        reverted = executor.revert(option, applied[2], incident_id="inc-7")

    assert checked == (True, "rollback to 2.3.7 is possible")
    assert applied == (True, "rolled back", {"job": 41, "changed": True})
    assert verified == (True, f"confirmed by {server.url}")
    assert reverted == (True, "redeployed 2.4.0")
    bodies = [r.json() for r in server.received]
    assert bodies[0] == {
        "action": "rollback",
        "service": "payment-service",
        "region": "us-east-1",
        "incident_id": "inc-7",
        "dry_run": True,
        "target_version": "2.3.7",
        "revert": False,
    }
    assert bodies[1]["dry_run"] is False
    assert bodies[1]["revert"] is False
    assert bodies[2]["revert"] is True
    assert bodies[2]["details"] == {"job": 41, "changed": True}
    assert {r.path for r in server.received} == {"/qs/remediate"}
    assert all(r.headers["Authorization"] == TOKEN for r in server.received)


def test_an_endpoint_reporting_no_change_makes_the_target_already_done() -> None:
    with scripted_server(
        Reply(200, {"ok": True, "message": "already on 2.3.7", "changed": False})
    ) as server:
        executor = WebhookExecutor(server.url, timeout_s=5)
        option = make_option(ActionKind.ROLLBACK)

        executor.precheck(option, incident_id="inc-7")

    assert executor.already_done(option, incident_id="inc-7") == "already on 2.3.7"
    assert executor.already_done(option, incident_id="inc-8") is None


def test_an_error_status_is_a_failure_with_the_endpoint_message() -> None:
    with scripted_server(
        Reply(409, {"ok": False, "message": "change freeze until 18:00"})
    ) as server:
        executor = WebhookExecutor(server.url + "/hook?token=abc", timeout_s=5)

        ok, message, _ = executor.apply(make_option(ActionKind.RESTART), incident_id="i")

    assert not ok
    assert message == f"{server.url} answered HTTP 409: change freeze until 18:00"
    assert "token" not in message


def test_a_refusal_in_json_is_a_failure() -> None:
    with scripted_server(Reply(200, {"ok": False, "message": "unknown service"})) as server:
        ok, message = WebhookExecutor(server.url, timeout_s=5).precheck(make_option())

    assert (ok, message) == (False, "unknown service")


def test_an_answer_that_is_not_the_json_contract_is_a_failure() -> None:
    with scripted_server(Reply(200, b"<html>login</html>")) as server:
        ok, message, _ = WebhookExecutor(server.url, timeout_s=5).apply(make_option())

    assert not ok
    assert message == f'{server.url} did not answer with JSON {{"ok": …, "message": …}}'


def test_an_unreachable_endpoint_is_a_failure_naming_only_the_host() -> None:
    url = closed_port_url()
    executor = WebhookExecutor(url + "/hooks/s3cr3t", timeout_s=5, headers={"Authorization": TOKEN})

    ok, message = executor.precheck(make_option())

    assert not ok
    assert message.startswith(f"cannot reach the automation endpoint {url} (")
    assert "s3cr3t" not in message
    assert "s3cr3t" not in repr(executor)


def test_the_endpoint_may_say_the_change_did_not_take_effect() -> None:
    with scripted_server(
        Reply(200, {"ok": True, "message": "queued", "verified": False})
    ) as server:
        executor = WebhookExecutor(server.url, timeout_s=5)
        option = make_option(ActionKind.SCALE_OUT)
        _, _, details = executor.apply(option)

    verified, message = executor.verify(option, details)

    assert not verified
    assert message == f"{server.url} reported the change did not take effect"


def test_redact_url_keeps_only_scheme_host_and_port() -> None:
    assert redact_url("https://u:pw@ops.example.com:8443/h/abc?token=x") == (
        "https://ops.example.com:8443"
    )


def test_a_url_without_http_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        WebhookExecutor("ftp://ops.example.com/x")
