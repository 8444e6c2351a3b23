"""Slack notifications: message format, retries against a real local server, no leaked secret."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from qs_tui.config import Settings
from qs_tui.notify import Delivery, SlackMessage, SlackNotifier, escape_mrkdwn, slack_message
from tests.remediation.local_server import Reply, closed_port_url, scripted_server
from tests.waiting import HANG_GUARD_S

SECRET_PATH = "/services/T0001/B0001/s3cr3tT0k3n"


def _notifier(url: str, **options: Any) -> SlackNotifier:
    return SlackNotifier(url + SECRET_PATH, timeout_s=5, backoff_s=0.01, **options)


def test_message_has_fallback_text_and_blocks_with_escaped_mrkdwn() -> None:
    message = slack_message(
        "Approval needed: rollback of payment-service",
        "errors <5xx> & timeouts",
        fields={"Service": "payment-service", "Region": "us-east-1"},
        context="incident inc-1",
    )

    payload = message.payload()

    assert (
        payload["text"] == "Approval needed: rollback of payment-service: errors <5xx> & timeouts"
    )
    section, fields, footer = payload["blocks"]
    assert section["text"]["type"] == "mrkdwn"
    assert "errors &lt;5xx&gt; &amp; timeouts" in section["text"]["text"]
    assert [f["text"] for f in fields["fields"]] == [
        "*Service*\npayment-service",
        "*Region*\nus-east-1",
    ]
    assert footer["type"] == "context"
    assert escape_mrkdwn("a<b>&c") == "a&lt;b&gt;&amp;c"


def test_a_long_body_is_cut_to_slacks_section_limit() -> None:
    message = slack_message("runbook", "x" * 5000)

    text = message.blocks[0]["text"]["text"]

    assert len(text) == 3000
    assert text.endswith("…")
    assert message.text == "runbook: " + "x" * 5000


def test_failures_then_success_are_retried_until_delivered() -> None:
    with scripted_server(
        Reply(500, "oops"),
        Reply(429, "rate_limited", {"Retry-After": "0"}),
        Reply(200, "ok"),
    ) as server:
        notifier = _notifier(server.url)

        outcome = notifier.deliver(SlackMessage("disk fill on inventory-service"))

    assert outcome.ok
    assert outcome.attempts == 3
    assert len(server.received) == 3
    assert all(r.path == SECRET_PATH for r in server.received)
    assert server.received[-1].json() == {"text": "disk fill on inventory-service"}
    assert server.received[-1].headers["Content-Type"] == "application/json"


def test_a_server_that_always_fails_gives_up_after_max_attempts() -> None:
    with scripted_server(Reply(503, "unavailable")) as server:
        notifier = _notifier(server.url, max_attempts=3)

        outcome = notifier.deliver(SlackMessage("memory leak"))

    assert not outcome.ok
    assert outcome.attempts == 3
    assert outcome.detail == "HTTP 503"
    assert len(server.received) == 3


def test_client_errors_are_not_retried() -> None:
    with scripted_server(Reply(404, "no_service")) as server:
        outcome = _notifier(server.url).deliver(SlackMessage("x"))

    assert not outcome.ok
    assert outcome.attempts == 1
    assert outcome.detail == "HTTP 404 (not retried)"
    assert len(server.received) == 1


def test_connection_errors_are_retried_and_reported_without_the_url() -> None:
    url = closed_port_url()
    notifier = _notifier(url, max_attempts=2)

    outcome = notifier.deliver(SlackMessage("x"))

    assert not outcome.ok
    assert outcome.attempts == 2
    assert outcome.detail.startswith("connection failed")
    assert "127.0.0.1" not in outcome.detail
    assert "s3cr3t" not in outcome.detail


def test_send_returns_at_once_and_reports_delivery_from_the_background() -> None:
    release = threading.Event()
    outcomes: list[Delivery] = []
    with scripted_server(Reply(500, "oops"), Reply(200, "ok")) as server:
        notifier = _notifier(server.url)

        def held(outcome: Delivery) -> None:
            # Holds the delivery thread until the test has checked that send() came back
            # first: proof that the caller never waits for Slack.
            release.wait(HANG_GUARD_S)
            outcomes.append(outcome)

        notifier.send(SlackMessage("first"), on_done=held)
        assert outcomes == []
        release.set()
        assert notifier.flush(HANG_GUARD_S)
        notifier.close()

    assert [o.ok for o in outcomes] == [True]
    assert outcomes[0].attempts == 2


def test_failed_background_delivery_is_logged_without_the_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outcomes: list[Delivery] = []
    with scripted_server(Reply(500, "oops")) as server:
        notifier = _notifier(server.url, max_attempts=2)
        with caplog.at_level(logging.WARNING, logger="qs_tui.notify"):
            notifier.send(SlackMessage("x"), on_done=outcomes.append)
            assert notifier.flush(HANG_GUARD_S)
        notifier.close()

    assert [o.detail for o in outcomes] == ["HTTP 500"]
    assert "Slack notification failed: HTTP 500" in caplog.text
    assert "s3cr3t" not in caplog.text
    assert "s3cr3t" not in repr(notifier)


def test_send_after_close_reports_a_failure_instead_of_raising() -> None:
    notifier = _notifier(closed_port_url())
    notifier.close()
    outcomes: list[Delivery] = []

    notifier.send(SlackMessage("late"), on_done=outcomes.append)

    assert [(o.ok, o.detail) for o in outcomes] == [(False, "notifier closed")]


def test_from_settings_builds_a_notifier_only_when_the_webhook_is_set() -> None:
    unset = Settings.load(env={}, env_file=None)
    configured = Settings.load(
        env={"SLACK_WEBHOOK_URL": "https://hooks.slack.com" + SECRET_PATH}, env_file=None
    )

    assert SlackNotifier.from_settings(unset) is None
    notifier = SlackNotifier.from_settings(configured)
    assert isinstance(notifier, SlackNotifier)
    assert "s3cr3t" not in repr(notifier)


def test_a_webhook_url_without_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="must start with https://"):
        SlackNotifier("hooks.slack.com/services/x")
