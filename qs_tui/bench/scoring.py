"""Scoring a run against a scenario's `[expected]` section: what was found, localised, fixed.

Used by `qs-tui bench scenarios` (its table and targets) and by `qs-tui run --headless` (its
exit status and closing summary).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from qs_tui.models import Incident, IncidentState
from qs_tui.sim.faults import ALL, FaultKind
from qs_tui.sim.scenario import ExpectedIncident, Scenario
from qs_tui.topology import Topology

#: Exit status: every incident resolved (or correctly left alone) and every expected one found.
EXIT_OK = 0
#: Exit status: an incident was missed, rolled back without a later fix, escalated or still open.
EXIT_UNRESOLVED = 2
#: Exit status: everything found, but the approver rejected a plan, so it was not executed
#: (what `--approve deny` is expected to end with).
EXIT_REJECTED = 3


def _regions_match(expected: str, actual: str) -> bool:
    return ALL in (expected, actual) or expected == actual


def fault_start(scenario: Scenario, expected: ExpectedIncident) -> datetime:
    """When the fault behind an expected incident begins (the first matching fault's offset)."""
    start = scenario.start_time
    fallback: datetime | None = None
    for fault in scenario.faults:
        if fault.service != expected.service or not _regions_match(fault.region, expected.region):
            continue
        at = start + fault.offset
        introduces = fault.params.introduces
        if fault.kind == expected.kind or (
            fault.kind is FaultKind.BAD_DEPLOY
            and expected.kind in (FaultKind.BAD_DEPLOY, introduces or FaultKind.MEMORY_LEAK)
        ):
            return at
        fallback = fallback or at
    return fallback or start


@dataclass(frozen=True)
class ExpectedMatch:
    """How the run fared against one `[[expected.incidents]]` entry.

    Attributes:
        expected: the entry.
        fault_start: when its fault began.
        related: incidents on the expected service or its dependents in the expected region
            (detection counts these: a cascade seen first upstream is still seen).
        localized: root incidents on exactly the expected service and region.
    """

    expected: ExpectedIncident
    fault_start: datetime
    related: tuple[Incident, ...]
    localized: tuple[Incident, ...]

    @property
    def detected(self) -> bool:
        """Whether anything was raised for this fault."""
        return bool(self.related)

    @property
    def first(self) -> Incident | None:
        """The first localized incident (or the first related one)."""
        if self.localized:
            return self.localized[0]
        return self.related[0] if self.related else None

    @property
    def final(self) -> Incident | None:
        """The last localized incident: the one whose outcome counts."""
        return self.localized[-1] if self.localized else None

    @property
    def resolved(self) -> bool:
        """Whether the last localized incident ended resolved."""
        final = self.final
        return final is not None and final.state is IncidentState.RESOLVED

    @property
    def root_cause_correct(self) -> bool:
        """Whether the localized incident's hypothesis names the expected root cause."""
        return any(root_cause_matches(self.expected, i) for i in self.localized)

    @property
    def actions(self) -> list[str]:
        """Actions chosen for the localized incidents, in order."""
        return [i.plan.chosen.action.value for i in self.localized if i.plan is not None]

    @property
    def action_correct(self) -> bool:
        """Whether a chosen action is one the scenario accepts."""
        accepted = {"do_nothing" if a == "none" else a for a in self.expected.actions}
        return any(action in accepted for action in self.actions)


def root_cause_matches(expected: ExpectedIncident, incident: Incident) -> bool:
    """Whether `incident`'s hypothesis names `expected.root_cause`.

    `deploy vX` needs the suspect deploy to be version X; a fault kind needs a non-deploy
    cause located at the expected service (and region), of that kind unless it is a cascade.
    """
    hypothesis = incident.hypothesis
    if hypothesis is None:
        return False
    wanted = expected.root_cause.strip()
    if wanted.lower().startswith("deploy"):
        version = wanted.split()[-1].lstrip("vV")
        deploy = hypothesis.suspect_deploy
        return (
            hypothesis.cause_kind == "deploy"
            and deploy is not None
            and deploy.version.lstrip("vV") == version
        )
    if hypothesis.cause_kind == "deploy":
        return False
    if hypothesis.root_service != expected.service:
        return False
    if not _regions_match(expected.region, hypothesis.root_region):
        return False
    if wanted == FaultKind.CASCADE.value:
        return True
    return incident.kind.value == wanted or wanted in hypothesis.cause


def match_expected(
    scenario: Scenario, incidents: Sequence[Incident], topology: Topology
) -> list[ExpectedMatch]:
    """Pair each expected incident with what the pipeline raised."""
    matches = []
    for expected in scenario.expected.incidents:
        around = {expected.service, *topology.dependents(expected.service)}
        related = tuple(
            i
            for i in incidents
            if i.service in around and _regions_match(expected.region, i.region)
        )
        localized = tuple(
            i
            for i in related
            if i.root_incident_id is None
            and i.service == expected.service
            and _regions_match(expected.region, i.region)
        )
        matches.append(ExpectedMatch(expected, fault_start(scenario, expected), related, localized))
    return matches


def false_incidents(
    incidents: Sequence[Incident], matches: Sequence[ExpectedMatch]
) -> list[Incident]:
    """Incidents no expected incident accounts for (a symptom counts with its root).

    An incident our own action caused is not a new, independent one: it is counted by
    `caused_by_own_actions` instead (as a failure of its own).
    """
    accounted = {i.id for match in matches for i in match.related}
    by_id = {i.id: i for i in incidents}
    found = []
    for incident in incidents:
        if incident.id in accounted or incident.caused_by is not None:
            continue
        root = by_id.get(incident.root_incident_id or "")
        if root is not None and root.id in accounted:
            continue
        found.append(incident)
    return found


# ---- incidents caused by the system's own actions ------------------------------------


def caused_by_own_actions(incidents: Sequence[Incident]) -> list[Incident]:
    """Incidents a remediation of ours explains (`Incident.caused_by`): each is a failure,
    the action fixed one problem by making another."""
    return [i for i in incidents if i.caused_by is not None]


def caused_line(incident: Incident) -> str:
    """`INC-0002 cpu_saturation on api-gateway/eu-central-1, caused by INC-0001's failover`."""
    cause = incident.caused_by
    tail = f", caused by {cause.incident_id}'s {cause.action.value}" if cause else ""
    return f"{incident.id} {incident.kind.value} on {incident.service}/{incident.region}{tail}"


def handled(incident: Incident, incidents: Sequence[Incident]) -> bool:
    """Resolved, or rolled back and then fixed by a later incident on the same signal."""
    if incident.state is IncidentState.RESOLVED:
        return True
    if incident.state is IncidentState.ROLLED_BACK:
        # Later by position (incidents come oldest first): ids continue across runs and need
        # not sort as text (INC-9999 < INC-10000).
        position = next((n for n, i in enumerate(incidents) if i.id == incident.id), -1)
        return any(
            later.anomaly.key == incident.anomaly.key and later.state is IncidentState.RESOLVED
            for later in incidents[position + 1 :]
        )
    return False


def exit_status(incidents: Sequence[Incident], matches: Sequence[ExpectedMatch]) -> tuple[int, str]:
    """The run's exit status and a sentence saying why (see the EXIT_* constants)."""
    missed = [m.expected for m in matches if not m.detected]
    if missed:
        names = ", ".join(f"{e.kind} on {e.service}/{e.region}" for e in missed)
        return EXIT_UNRESOLVED, f"missed: {names}"
    caused = caused_by_own_actions(incidents)
    if caused:
        listed = "; ".join(caused_line(i) for i in caused)
        return EXIT_UNRESOLVED, f"incidents caused by our own actions: {listed}"
    open_ = [i.id for i in incidents if not i.state.terminal]
    if open_:
        return EXIT_UNRESOLVED, f"still open: {', '.join(open_)}"
    rejected = [i for i in incidents if i.state is IncidentState.REJECTED]
    failed = [
        i for i in incidents if i.state is not IncidentState.REJECTED and not handled(i, incidents)
    ]
    if failed:
        listed = ", ".join(f"{i.id} {i.state.value}" for i in failed)
        return EXIT_UNRESOLVED, f"not resolved: {listed}"
    if rejected:
        listed = ", ".join(i.id for i in rejected)
        return EXIT_REJECTED, f"plans rejected, nothing executed for: {listed}"
    if not incidents:
        return EXIT_OK, "no incidents, as expected" if scenario_quiet(matches) else "no incidents"
    return EXIT_OK, "every incident resolved or correctly left alone"


def scenario_quiet(matches: Sequence[ExpectedMatch]) -> bool:
    """True when nothing was expected."""
    return not matches


__all__ = [
    "EXIT_OK",
    "EXIT_REJECTED",
    "EXIT_UNRESOLVED",
    "ExpectedMatch",
    "caused_by_own_actions",
    "caused_line",
    "exit_status",
    "false_incidents",
    "fault_start",
    "handled",
    "match_expected",
    "root_cause_matches",
    "scenario_quiet",
]
