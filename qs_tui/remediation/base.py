"""The contract every remediation executor keeps, and the words to describe an action."""

from __future__ import annotations

from typing import Any, Protocol

from qs_tui.models import ActionKind, RemediationOption

Details = dict[str, Any]

#: Set to True in `apply`'s details by an advisory executor: the action was not carried out
#: by design, and `details["advice"]` says what a human would run. The Surgeon reports it as
#: advice, not as a failure.
ADVISED = "advised"


class RemediationExecutor(Protocol):
    """Carries out one remediation on one target (a service in one region).

    The Surgeon drives it one step at a time: `precheck` and `already_done` (read-only, also
    in a dry run), then `apply`, then `verify`, and `revert` when a later step fails or the
    Guardian finds the action did not help. Each answers in words for the transcript and never
    raises for an expected failure.

    Attributes:
        name: short name for transcripts (`simulated`, `webhook`).
    """

    name: str

    def precheck(self, option: RemediationOption, *, incident_id: str = "") -> tuple[bool, str]:
        """Whether the action can be carried out now (the target exists, prerequisites hold).

        Returns:
            (ok, message): the message says what was checked or what is wrong.
        """
        ...

    def already_done(self, option: RemediationOption, *, incident_id: str = "") -> str | None:
        """Whether the target is already in the state the action would bring it to.

        Returns:
            A message such as `already rolled back from 2.4.0 to 2.3.7`, or None when the
            action still has something to do (or the executor cannot tell).
        """
        ...

    def apply(
        self, option: RemediationOption, *, incident_id: str = ""
    ) -> tuple[bool, str, Details]:
        """Carry out the action.

        Returns:
            (ok, message, details): details are JSON-ready facts `verify` and `revert` need;
            `details["changed"] is False` means the target was already in the desired state;
            `details[ADVISED] is True` (with `ok` False) means nothing was carried out by
            design and `details["advice"]` is the command a human would run.
        """
        ...

    def verify(self, option: RemediationOption, details: Details) -> tuple[bool, str]:
        """Confirm the change took effect on the target (not that the incident recovered)."""
        ...

    def revert(
        self, option: RemediationOption, details: Details, *, incident_id: str = ""
    ) -> tuple[bool, str]:
        """Undo an applied action; `(False, why)` when the action cannot be undone."""
        ...


_VERBS: dict[ActionKind, str] = {
    ActionKind.ROLLBACK: "roll back",
    ActionKind.RESTART: "restart",
    ActionKind.SCALE_OUT: "scale out",
    ActionKind.FAILOVER: "fail over",
    ActionKind.FLUSH_CACHE: "flush the cache of",
    ActionKind.DO_NOTHING: "leave alone",
}

_NOUNS: dict[ActionKind, str] = {
    ActionKind.ROLLBACK: "rollback",
    ActionKind.RESTART: "restart",
    ActionKind.SCALE_OUT: "scale-out",
    ActionKind.FAILOVER: "failover",
    ActionKind.FLUSH_CACHE: "cache flush",
    ActionKind.DO_NOTHING: "no action",
}


def action_verb(action: ActionKind) -> str:
    """`rollback` -> `roll back` (for "would roll back payment-service in us-east-1")."""
    return _VERBS[action]


def action_noun(action: ActionKind) -> str:
    """`scale_out` -> `scale-out` (for "Approve scale-out of payment-service …?")."""
    return _NOUNS[action]


def describe_target(option: RemediationOption) -> str:
    """`payment-service in us-east-1 (to 2.3.7)`."""
    where = "every region" if option.region == "all" else option.region
    text = f"{option.service} in {where}"
    if option.action is ActionKind.ROLLBACK and option.target_version:
        text += f" (to {option.target_version})"
    return text


def same_version(left: str | None, right: str | None) -> bool:
    """Whether two version strings name the same version (`v2.3.7` equals `2.3.7`)."""
    if left is None or right is None:
        return False
    return left.strip().removeprefix("v") == right.strip().removeprefix("v")
