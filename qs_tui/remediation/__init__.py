"""Remediation executors: the simulated cluster (default) and a webhook for real systems."""

from __future__ import annotations

from qs_tui.remediation.base import Details, RemediationExecutor
from qs_tui.remediation.simulated import SimulatedExecutor
from qs_tui.remediation.webhook import WebhookExecutor

__all__ = ["Details", "RemediationExecutor", "SimulatedExecutor", "WebhookExecutor"]
