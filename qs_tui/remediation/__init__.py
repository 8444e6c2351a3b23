"""Remediation executors: the simulated cluster, advisory, Kubernetes, Argo CD, Kibana
Workflows and a webhook; `RoutingExecutor` picks one per service from `remediation.toml`.

The executors are loaded when first asked for (PEP 562), so code that only needs the
contract (`RemediationExecutor`) does not load the simulator or a client library with them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qs_tui.remediation.base import Details, RemediationExecutor

if TYPE_CHECKING:
    from qs_tui.remediation.advisory import AdvisoryExecutor, RoutingExecutor
    from qs_tui.remediation.simulated import SimulatedExecutor
    from qs_tui.remediation.webhook import WebhookExecutor

__all__ = [
    "AdvisoryExecutor",
    "Details",
    "RemediationExecutor",
    "RoutingExecutor",
    "SimulatedExecutor",
    "WebhookExecutor",
]


def __getattr__(name: str) -> Any:
    if name == "SimulatedExecutor":
        from qs_tui.remediation.simulated import SimulatedExecutor

        return SimulatedExecutor
    if name in ("AdvisoryExecutor", "RoutingExecutor"):
        from qs_tui.remediation import advisory

        return getattr(advisory, name)
    if name == "WebhookExecutor":
        from qs_tui.remediation.webhook import WebhookExecutor

        return WebhookExecutor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
