"""Slack notifications through an incoming webhook, posted in the background with retries."""

from __future__ import annotations

import http.client
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from qs_tui.config import Settings

log = logging.getLogger(__name__)

#: HTTP statuses worth retrying: rate limited, or the server failed for now.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Longest pause honoured from a `Retry-After` header, so a bad header cannot stall delivery.
MAX_RETRY_AFTER_S = 30.0
#: Slack's limit on the text of one section block.
MAX_SECTION_CHARS = 3000


@dataclass(frozen=True)
class SlackMessage:
    """A message in Slack's incoming-webhook format.

    Attributes:
        text: the plain-text fallback (notifications, screen readers).
        blocks: Block Kit blocks shown instead of `text` when present.
    """

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def payload(self) -> dict[str, Any]:
        """The JSON body for the webhook."""
        body: dict[str, Any] = {"text": self.text}
        if self.blocks:
            body["blocks"] = self.blocks
        return body


@dataclass(frozen=True)
class Delivery:
    """How posting one message ended.

    Attributes:
        ok: whether Slack accepted it.
        attempts: how many requests were made.
        detail: what went wrong last (`HTTP 503`, `connection refused`), empty when ok.
        text: the message's fallback text, to say which message this was.
    """

    ok: bool
    attempts: int
    detail: str
    text: str


DeliveryCallback = Callable[[Delivery], None]


class Notifier(Protocol):
    """Anything that can deliver a message without blocking the caller."""

    def send(self, message: SlackMessage, *, on_done: DeliveryCallback | None = None) -> None:
        """Queue `message`; `on_done` is called (from another thread) once it is settled."""
        ...


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters Slack's mrkdwn gives meaning to (`&`, `<`, `>`)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(
    title: str, body: str, *, fields: dict[str, str] | None = None, context: str = ""
) -> SlackMessage:
    """Build a message: a bold title, a body, optional two-column fields and a footer line.

    Args:
        title: one line, e.g. `Approval needed: rollback payment-service in us-east-1`.
        body: the explanation (plain text; it is escaped for mrkdwn).
        fields: label -> value pairs shown in two columns (at most ten, Slack's limit).
        context: a small grey footer (incident id, time).
    """
    text = f"*{escape_mrkdwn(title)}*\n{escape_mrkdwn(body)}"
    if len(text) > MAX_SECTION_CHARS:  # Slack rejects the whole message over the limit
        text = text[: MAX_SECTION_CHARS - 1] + "…"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    if fields:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{escape_mrkdwn(k)}*\n{escape_mrkdwn(v)}"}
                    for k, v in list(fields.items())[:10]
                ],
            }
        )
    if context:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": escape_mrkdwn(context)}]}
        )
    return SlackMessage(text=f"{title}: {body}" if body else title, blocks=blocks)


class SlackNotifier:
    """Posts messages to a Slack incoming webhook from one background thread.

    `send()` never blocks and never raises: messages go on a bounded queue that a daemon
    thread drains, retrying with exponential backoff on HTTP 429 (honouring `Retry-After`),
    5xx and connection errors. Other 4xx answers (a revoked or mistyped webhook) are not
    retried. The webhook URL is a secret: it never appears in `repr()`, logs or results.

    Args:
        webhook_url: the incoming-webhook URL.
        timeout_s: seconds to wait for one request.
        max_attempts: requests per message before giving up.
        backoff_s: the first pause between attempts; it doubles each time.
        max_queued: messages waiting at most; beyond that new ones are dropped (and reported).
    """

    def __init__(
        self,
        webhook_url: str,
        *,
        timeout_s: float = 5.0,
        max_attempts: int = 4,
        backoff_s: float = 0.5,
        max_queued: int = 100,
    ) -> None:
        if not webhook_url.startswith(("https://", "http://")):
            raise ValueError("the Slack webhook URL must start with https://")
        self._url = webhook_url
        self.timeout_s = timeout_s
        self.max_attempts = max(1, max_attempts)
        self.backoff_s = backoff_s
        self._queue: queue.Queue[tuple[SlackMessage, DeliveryCallback | None] | None] = queue.Queue(
            maxsize=max_queued
        )
        self._pending = 0
        self._idle = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def __repr__(self) -> str:
        return "SlackNotifier(webhook=<hidden>)"

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> SlackNotifier | None:
        """A notifier for `SLACK_WEBHOOK_URL`, or None when it is not set."""
        if settings.slack_webhook_url is None:
            return None
        return cls(settings.slack_webhook_url.get_secret_value(), **options)

    def send(self, message: SlackMessage, *, on_done: DeliveryCallback | None = None) -> None:
        """Queue `message` for delivery; returns at once.

        Args:
            message: what to post.
            on_done: called from the delivery thread with the outcome (also when the
                message is dropped because the queue is full or the notifier is closed).
        """
        if self._closed:
            _report(on_done, Delivery(False, 0, "notifier closed", message.text))
            return
        self._ensure_thread()
        with self._idle:
            self._pending += 1
        try:
            self._queue.put_nowait((message, on_done))
        except queue.Full:
            self._settle_one()
            _report(on_done, Delivery(False, 0, "too many messages queued; dropped", message.text))

    def flush(self, timeout_s: float) -> bool:
        """Wait until every queued message is settled; False if `timeout_s` ran out first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout_s)

    def close(self, timeout_s: float = 5.0) -> None:
        """Deliver what is queued (waiting at most `timeout_s`), then stop the thread."""
        self.flush(timeout_s)
        self._closed = True
        thread = self._thread
        if thread is not None:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                return  # the daemon thread dies with the process
            thread.join(timeout=timeout_s)

    def deliver(self, message: SlackMessage) -> Delivery:
        """Post `message` now, in the calling thread, with the retry policy (blocks)."""
        body = json.dumps(message.payload()).encode()
        detail = ""
        for attempt in range(1, self.max_attempts + 1):
            retry_after: float | None = None
            try:
                request = urllib.request.Request(
                    self._url,
                    data=body,
                    headers={"Content-Type": "application/json"},
                    method="POST",
                )
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    response.read()
                return Delivery(True, attempt, "", message.text)
            except urllib.error.HTTPError as error:
                detail = f"HTTP {error.code}"
                if error.code not in RETRYABLE_STATUSES:
                    return Delivery(False, attempt, f"{detail} (not retried)", message.text)
                retry_after = _retry_after(error.headers.get("Retry-After"))
            except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
                # Describe the failure without the URL: it carries the webhook's secret path.
                reason = getattr(error, "reason", error)
                detail = f"connection failed ({type(reason).__name__})"
            if attempt < self.max_attempts:
                pause = self.backoff_s * 2 ** (attempt - 1)
                time.sleep(max(pause, retry_after or 0.0))
        return Delivery(False, self.max_attempts, detail, message.text)

    def _ensure_thread(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="slack-notifier", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            message, on_done = item
            try:
                outcome = self.deliver(message)
            except Exception as error:  # the thread must survive anything a message does
                outcome = Delivery(False, 0, f"unexpected {type(error).__name__}", message.text)
            _report(on_done, outcome)
            self._settle_one()

    def _settle_one(self) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER_S)
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _report(callback: DeliveryCallback | None, outcome: Delivery) -> None:
    if not outcome.ok:
        log.warning("Slack notification failed: %s", outcome.detail)
    if callback is None:
        return
    try:
        callback(outcome)
    except Exception:  # a faulty callback must not kill the delivery thread
        log.exception("Slack delivery callback failed")
