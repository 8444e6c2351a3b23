"""Textual messages the pipeline worker posts to the war room (one per pipeline event)."""

from __future__ import annotations

import time

from textual.message import Message

from qs_tui.agents.events import (
    AgentSpoke,
    ApprovalRequested,
    ApprovalSettled,
    Event,
    IncidentChanged,
    MetricsSampled,
    StoreDegraded,
    StoreRecovered,
)
from qs_tui.store.base import Health


class PipelineMessage(Message):
    """Base of the messages that carry a pipeline event into the UI thread.

    Attributes:
        posted_at: `time.monotonic()` when the worker posted it (for message latency).
    """

    def __init__(self) -> None:
        super().__init__()
        self.posted_at = time.monotonic()


class AgentSpokeMessage(PipelineMessage):
    """An agent said something (a transcript line)."""

    def __init__(self, event: AgentSpoke) -> None:
        super().__init__()
        self.event = event


class IncidentChangedMessage(PipelineMessage):
    """An incident entered a new state."""

    def __init__(self, event: IncidentChanged) -> None:
        super().__init__()
        self.event = event


class ApprovalRequestedMessage(PipelineMessage):
    """The Diplomat asks the human to approve a plan."""

    def __init__(self, event: ApprovalRequested) -> None:
        super().__init__()
        self.event = event


class ApprovalSettledMessage(PipelineMessage):
    """An approval request was answered or timed out."""

    def __init__(self, event: ApprovalSettled) -> None:
        super().__init__()
        self.event = event


class MetricsSampledMessage(PipelineMessage):
    """New telemetry was written (the newest values per service and region)."""

    def __init__(self, event: MetricsSampled) -> None:
        super().__init__()
        self.event = event


class StoreDegradedMessage(PipelineMessage):
    """The store stopped answering (or still does not)."""

    def __init__(self, event: StoreDegraded) -> None:
        super().__init__()
        self.event = event


class StoreRecoveredMessage(PipelineMessage):
    """The store answers again."""

    def __init__(self, event: StoreRecovered) -> None:
        super().__init__()
        self.event = event


class RuntimeReady(PipelineMessage):
    """The worker wrote the history and built the pipeline; live data follows.

    Attributes:
        health: what the store reported once it was ready.
        history_s: simulated seconds of history written before the live part.
        setup_s: wall seconds the setup took.
    """

    def __init__(self, *, health: Health, history_s: float, setup_s: float) -> None:
        super().__init__()
        self.health = health
        self.history_s = history_s
        self.setup_s = setup_s


class RuntimeFailed(PipelineMessage):
    """The worker could not set up or keep running; `text` says what went wrong."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


def message_for(event: Event) -> PipelineMessage:
    """The Textual message that carries `event` to the UI thread.

    Raises:
        TypeError: for an object that is not a pipeline event.
    """
    if isinstance(event, MetricsSampled):
        return MetricsSampledMessage(event)
    if isinstance(event, AgentSpoke):
        return AgentSpokeMessage(event)
    if isinstance(event, IncidentChanged):
        return IncidentChangedMessage(event)
    if isinstance(event, ApprovalRequested):
        return ApprovalRequestedMessage(event)
    if isinstance(event, ApprovalSettled):
        return ApprovalSettledMessage(event)
    if isinstance(event, StoreDegraded):
        return StoreDegradedMessage(event)
    if isinstance(event, StoreRecovered):
        return StoreRecoveredMessage(event)
    raise TypeError(f"not a pipeline event: {type(event).__name__}")


__all__ = [
    "AgentSpokeMessage",
    "ApprovalRequestedMessage",
    "ApprovalSettledMessage",
    "IncidentChangedMessage",
    "MetricsSampledMessage",
    "PipelineMessage",
    "RuntimeFailed",
    "RuntimeReady",
    "StoreDegradedMessage",
    "StoreRecoveredMessage",
    "message_for",
]
