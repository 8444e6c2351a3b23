"""Small text helpers the screens share: durations, instants, evidence weights, safe markup."""

from __future__ import annotations

from datetime import datetime

from textual.markup import escape

from qs_tui.models import ActionKind, Evidence, IncidentState, StepStatus
from qs_tui.remediation.base import action_noun

#: Theme variable each incident state is coloured with.
STATE_COLOURS: dict[IncidentState, str] = {
    IncidentState.DETECTED: "$warning",
    IncidentState.INVESTIGATING: "$warning",
    IncidentState.PLANNED: "$accent",
    IncidentState.AWAITING_APPROVAL: "$accent",
    IncidentState.EXECUTING: "$accent",
    IncidentState.VERIFYING: "$accent",
    IncidentState.RESOLVED: "$success",
    IncidentState.REJECTED: "$error",
    IncidentState.ROLLED_BACK: "$error",
    IncidentState.ESCALATED: "$error",
}

#: Theme variable each workflow step status is coloured with.
STEP_COLOURS: dict[StepStatus, str] = {
    StepStatus.PENDING: "$foreground-muted",
    StepStatus.OK: "$success",
    StepStatus.FAILED: "$error",
    StepStatus.ROLLED_BACK: "$warning",
    StepStatus.SKIPPED: "$foreground-muted",
    StepStatus.DRY_RUN: "$accent",
    StepStatus.ADVISED: "$warning",
}


def text(value: object) -> str:
    """`value` as markup-safe text (data can contain `[…]`, which markup would swallow)."""
    return escape(str(value))


def words(name: str) -> str:
    """`awaiting_approval` -> `awaiting approval`."""
    return name.replace("_", " ")


def duration(seconds: float | None) -> str:
    """`1567.5` -> `26m07s`, `42` -> `42s`, `3720` -> `1h02m`, None -> `—`."""
    if seconds is None:
        return "—"
    whole = round(seconds)
    sign = "-" if whole < 0 else ""
    whole = abs(whole)
    if whole < 60:
        return f"{sign}{whole}s"
    if whole < 3600:
        return f"{sign}{whole // 60}m{whole % 60:02d}s"
    return f"{sign}{whole // 3600}h{whole % 3600 // 60:02d}m"


def clock(instant: datetime | None) -> str:
    """`14:00:10` (UTC), or `—` when unknown."""
    return "—" if instant is None else instant.strftime("%H:%M:%S")


def stamp(instant: datetime | None) -> str:
    """`2026-11-25 14:00:10 UTC`, or `—` when unknown."""
    return "—" if instant is None else instant.strftime("%Y-%m-%d %H:%M:%S UTC")


def action_name(action: ActionKind) -> str:
    """`scale_out` -> `scale-out` (the noun the transcript uses)."""
    return action_noun(action)


def weight(evidence: Evidence) -> str:
    """An evidence weight as signed markup: supporting links in green, weakening ones in red."""
    colour = "$success" if evidence.weight > 0 else "$error" if evidence.weight < 0 else "$text"
    return f"[{colour}]{evidence.weight:+.2f}[/]"


def state_badge(state: IncidentState) -> str:
    """The state as coloured markup (`[$success]resolved[/]`)."""
    return f"[bold {STATE_COLOURS[state]}]{words(state.value)}[/]"


def percent(share: float) -> str:
    """A confidence or share in 0..1 as a whole percentage (`0.495` -> `50%`): one format
    for every confidence the war room shows."""
    return f"{share:.0%}"


def countdown(seconds: float) -> str:
    """Seconds left as `m:ss` (`1:54`), never negative."""
    whole = max(0, int(seconds + 0.999))  # round up: "0:01" until the very last moment
    return f"{whole // 60}:{whole % 60:02d}"
