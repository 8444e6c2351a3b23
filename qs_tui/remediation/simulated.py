"""The default executor: remediation on the simulated cluster (`qs_tui.sim.cluster`).

What `revert` means for each action on the simulator:

- restart, flush_cache: nothing to undo (a restart leaves no state behind, a cache refills
  on its own), so the revert succeeds at once.
- rollback: not revertible; the simulator cannot redeploy a chosen version, and rolling
  forward would bring the suspect version back.
- scale_out: not revertible; the simulator cannot remove hosts (the extra host is harmless).
- failover: not revertible; the simulator cannot move traffic back.

A revert that cannot be done answers `(False, why)`; the Surgeon reports it and leaves the
target as it is for a human to decide.
"""

from __future__ import annotations

from qs_tui.models import ActionKind, RemediationOption
from qs_tui.remediation.base import Details, same_version
from qs_tui.sim.cluster import MAX_HOSTS_PER_REGION, GroupState, Simulation
from qs_tui.sim.cluster import ActionKind as SimulatedAction

_STATELESS = frozenset({ActionKind.RESTART, ActionKind.FLUSH_CACHE})

_NOT_REVERTIBLE: dict[ActionKind, str] = {
    ActionKind.ROLLBACK: (
        "a rollback is not revertible on the simulated cluster "
        "(rolling forward would redeploy the suspect version)"
    ),
    ActionKind.SCALE_OUT: (
        "a scale-out is not revertible on the simulated cluster (it cannot remove hosts)"
    ),
    ActionKind.FAILOVER: (
        "a failover is not revertible on the simulated cluster (it cannot move traffic back)"
    ),
}


class SimulatedExecutor:
    """Applies remediations to a `Simulation` through `apply_action`.

    Args:
        simulation: the simulated cluster; its telemetry after an action reflects it.
    """

    name = "simulated"

    def __init__(self, simulation: Simulation) -> None:
        self.simulation = simulation

    def _group(self, option: RemediationOption) -> GroupState | None:
        try:
            return self.simulation.group(option.service, option.region)
        except KeyError:
            return None

    def precheck(self, option: RemediationOption, *, incident_id: str = "") -> tuple[bool, str]:
        """Check the target exists and the action's prerequisites hold on the simulator."""
        if option.action is ActionKind.DO_NOTHING:
            return True, "no action to check"
        group = self._group(option)
        if group is None:
            return False, f"no {option.service} in {option.region} on the simulated cluster"
        hosts = len(group.hosts)
        if option.action is ActionKind.ROLLBACK:
            if group.rolled_back_from is not None:
                return True, f"{option.service} already runs {group.version} after a rollback"
            if group.previous_version is None:
                return False, f"nothing to roll back: {group.version} is the only version"
            if option.target_version and not same_version(
                option.target_version, group.previous_version
            ):
                return False, (
                    f"the plan rolls back to {option.target_version} but the previous version "
                    f"of {option.service} in {option.region} is {group.previous_version}"
                )
            return True, f"{group.version} is live; {group.previous_version} is available"
        if option.action is ActionKind.SCALE_OUT and hosts >= MAX_HOSTS_PER_REGION:
            return False, f"already at the maximum of {MAX_HOSTS_PER_REGION} hosts"
        if option.action is ActionKind.FAILOVER and group.traffic_weight > 0:
            others = [
                region
                for region in self.simulation.topology.regions
                if region != option.region
                and self.simulation.group(option.service, region).traffic_weight > 0
            ]
            if not others:
                return False, f"no other region serves {option.service} to take the traffic"
            return True, f"{', '.join(others)} can take the traffic"
        return True, f"{option.service} runs {hosts} hosts in {option.region}"

    def already_done(self, option: RemediationOption, *, incident_id: str = "") -> str | None:
        """Rollbacks and failovers have a state to find; the other actions never are done."""
        group = self._group(option)
        if group is None:
            return None
        if option.action is ActionKind.ROLLBACK and group.rolled_back_from is not None:
            return f"already rolled back from {group.rolled_back_from} to {group.version}"
        if option.action is ActionKind.FAILOVER and group.traffic_weight == 0:
            return f"{option.region} is already drained"
        return None

    def apply(
        self, option: RemediationOption, *, incident_id: str = ""
    ) -> tuple[bool, str, Details]:
        """Run the action on the simulator at the clock's now."""
        if option.action is ActionKind.DO_NOTHING:
            return True, "nothing done, by choice", {"changed": False}
        result = self.simulation.apply_action(
            SimulatedAction(option.action.value), option.service, option.region
        )
        details: Details = {
            **result.details,
            "changed": result.changed,
            "at": result.at.isoformat(),
            "removed_faults": list(result.removed_faults),
        }
        return result.ok, result.message, details

    def verify(self, option: RemediationOption, details: Details) -> tuple[bool, str]:
        """Read the simulator's state back and confirm the action's effect is there."""
        group = self._group(option)
        if group is None:
            return False, f"{option.service} in {option.region} is gone"
        action = option.action
        if action is ActionKind.ROLLBACK:
            expected = details.get("version")
            if expected is not None and group.version == expected:
                return True, f"{option.service} in {option.region} runs {group.version}"
            return False, f"{option.service} in {option.region} still runs {group.version}"
        if action is ActionKind.RESTART:
            at = details.get("at")
            restarted = [
                h.name
                for h in group.hosts
                if at is not None
                and (t := group.restarted_at.get(h.name)) is not None
                and t.isoformat() == at
            ]
            if len(restarted) == len(group.hosts):
                return True, f"all {len(restarted)} hosts restarted"
            return False, f"{len(restarted)} of {len(group.hosts)} hosts restarted"
        if action is ActionKind.SCALE_OUT:
            added = details.get("added")
            names = {h.name for h in group.hosts}
            if added in names:
                return True, f"{added} is serving ({len(names)} hosts)"
            return False, f"{added or 'the new host'} is not among the hosts"
        if action is ActionKind.FAILOVER:
            if group.traffic_weight == 0:
                return True, f"{option.region} receives no traffic"
            return False, f"{option.region} still receives {group.traffic_weight:.0%} of its load"
        return True, "done (nothing to read back)"

    def revert(
        self, option: RemediationOption, details: Details, *, incident_id: str = ""
    ) -> tuple[bool, str]:
        """Undo the action where the simulator allows it (see the module's table)."""
        if option.action in _STATELESS or option.action is ActionKind.DO_NOTHING:
            return True, f"nothing to undo after a {option.action.value}"
        return False, _NOT_REVERTIBLE[option.action]
