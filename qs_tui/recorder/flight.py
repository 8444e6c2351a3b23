"""Reading an incident back from the store: its record, its audit trail and its telemetry.

Everything here comes from what a run already wrote: the incident document in `qs-incidents`
(its latest state and its runbook), the agents' decisions and transcript lines in
`qs-agent-decisions` (the audit trail, in order) and the affected service's metrics. Nothing
runs the pipeline again.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from qs_tui.esql.errors import EsqlError
from qs_tui.profiles import Profile, query_text
from qs_tui.queries import bind_params
from qs_tui.store.base import Store, StoreError

#: How far before detection the replayed telemetry starts (the detectors' baseline reaches
#: back about this far, so the climb before onset is on screen).
TELEMETRY_BEFORE = timedelta(minutes=30)
#: How far after the last recorded decision the replayed telemetry runs (the recovery).
TELEMETRY_AFTER = timedelta(minutes=2)

#: The state an incident enters when a decision is recorded: the audit trail's decisions
#: are the transitions of the pipeline's state machine (see `qs_tui.agents`).
STATE_AFTER_DECISION: dict[str, str] = {
    "detected": "detected",
    "hypothesis": "investigating",
    "approval_requested": "awaiting_approval",
    "approved": "executing",
    "rejected": "rejected",
    "timed_out": "rejected",
    "executed": "verifying",
    "already_done": "verifying",
    "dry_run": "verifying",
    "advised": "verifying",
    "no_action": "resolved",
    "refused": "escalated",
    "precheck_failed": "escalated",
    "failed": "escalated",
    "recovered": "resolved",
    "not_recovered": "escalated",
    "undone": "rolled_back",
    "undo_failed": "escalated",
}


#: The Diplomat's decisions that answer an approval request.
_APPROVAL_ANSWERS = ("approved", "rejected", "dry_run", "timed_out")


class IncidentNotFound(LookupError):
    """No incident with that id in the store."""


@dataclass(frozen=True)
class Decision:
    """One entry of the audit trail (`qs-agent-decisions`).

    Attributes:
        at: when it was made (simulated or real time, as recorded).
        sequence: its place in the run's trail (orders decisions made at the same instant).
        agent: who made it.
        decision: what (`hypothesis`, `plan:restart`, `approved`, …).
        message: the agent's words.
        confidence: how sure, when the agent said.
        state: the incident state this decision moves it into, if any.
    """

    at: datetime
    sequence: int
    agent: str
    decision: str
    message: str
    confidence: float | None
    state: str | None


@dataclass(frozen=True)
class TranscriptLine:
    """One line an agent said, as the audit trail recorded it (`record: transcript`).

    Attributes:
        at: when it was said (simulated or real time, as recorded).
        sequence: its place in the run's trail (shared with the decisions).
        agent: who said it.
        level: `info`, `warn` or `error`.
        text: the line, credentials masked.
        incident_id: the incident it is about (None: said before the incident had an id).
    """

    at: datetime
    sequence: int
    agent: str
    level: str
    text: str
    incident_id: str | None


@dataclass(frozen=True)
class Approval:
    """Who approved (or refused) the plan, when, and how long the question waited."""

    outcome: str
    by: str
    requested_at: datetime | None
    answered_at: datetime
    waited_s: float | None


@dataclass(frozen=True)
class Evidence:
    """One piece of the evidence chain, with the query that shows it again."""

    weight: float
    text: str
    query: str
    params: dict[str, Any]
    esql: str


@dataclass(frozen=True)
class TelemetryStep:
    """The affected service's metrics averaged over one 10-second step."""

    at: datetime
    values: dict[str, float | None]


@dataclass
class FlightRecord:
    """Everything recorded about one incident.

    Attributes:
        incident: the incident document as stored (latest record).
        decisions: its audit trail, in order (the detection first when it was found).
        telemetry: the affected service/region's metrics from before onset to verification.
        runbook_sections: the stored runbook split by its `## ` headings.
        transcript: what the agents said about it, in order (empty for a trail recorded
            before transcript lines were).
    """

    incident: dict[str, Any]
    decisions: list[Decision]
    telemetry: list[TelemetryStep]
    runbook_sections: dict[str, str] = field(default_factory=dict)
    profile_name: str = "qs"
    transcript: list[TranscriptLine] = field(default_factory=list)

    @property
    def incident_id(self) -> str:
        """The incident's id."""
        return str(self.incident["incident_id"])

    @property
    def opened_at(self) -> datetime:
        """When the incident was detected."""
        return _instant(self.incident.get("opened_at") or self.incident["@timestamp"])

    @property
    def closed_at(self) -> datetime | None:
        """When it was resolved (None while open or when it ended otherwise)."""
        value = self.incident.get("resolved_at")
        return _instant(value) if value else None

    @property
    def onset_at(self) -> datetime:
        """The anomaly's onset as the record stores it; for a record written before it did,
        to the minute as the evidence states it ("as of onset 13:36"), or the detection time
        when it does not."""
        recorded = self.incident.get("onset_at")
        if recorded:
            return _instant(recorded)
        opened = self.opened_at
        match = re.search(r"as of onset (\d{2}):(\d{2})", self.runbook_sections.get("Evidence", ""))
        if match is None:
            return opened
        onset = opened.replace(hour=int(match[1]), minute=int(match[2]), second=0, microsecond=0)
        return onset - timedelta(days=1) if onset > opened else onset

    def telemetry_at(self, at: datetime) -> dict[str, float | None]:
        """The metrics of the last telemetry step at or before `at` (empty before the first)."""
        earlier = [step for step in self.telemetry if step.at <= at]
        return earlier[-1].values if earlier else {}

    def transcript_by_agent(self) -> dict[str, list[TranscriptLine]]:
        """The transcript split per agent, each in the order it was said."""
        by_agent: dict[str, list[TranscriptLine]] = {}
        for line in self.transcript:
            by_agent.setdefault(line.agent, []).append(line)
        return by_agent

    def state_changes(self) -> list[Decision]:
        """The decisions that moved the incident to another state, in order."""
        return [d for d in self.decisions if d.state is not None]

    def approval(self) -> Approval | None:
        """The approval as the Diplomat recorded it: who, when, after how long.

        The wait is the one the Diplomat measured on the wall clock ("… after 12 s", see
        `qs_tui.agents.diplomat`), since a simulated clock stands still while a human thinks;
        without it, the time between the question and the answer in the trail.
        """
        asked = next((d for d in self.decisions if d.decision == "approval_requested"), None)
        for d in self.decisions:
            if d.agent != "Diplomat" or d.decision not in _APPROVAL_ANSWERS:
                continue
            by = re.search(r" by (.+?)(?: after \d+ s)?(?: \(.*\))?$", d.message)
            stopwatch = re.search(r" after (\d+) s\b", d.message)
            if stopwatch is not None:
                waited: float | None = float(stopwatch.group(1))
            else:
                waited = (d.at - asked.at).total_seconds() if asked is not None else None
            who = by.group(1) if by and d.decision != "timed_out" else "nobody (timeout)"
            return Approval(d.decision, who, asked.at if asked else None, d.at, waited)
        return None

    def execution_steps(self) -> list[str]:
        """The executor's steps (`pre-check …: ok`, `restart …: ok`) from the runbook."""
        action = self.runbook_sections.get("Action", "")
        match = re.search(r"^Execution: .*?\n((?:- .*\n?)*)", action, re.MULTILINE)
        if match is None:
            return []
        return [line[2:].strip() for line in match.group(1).splitlines() if line.startswith("- ")]

    def options(self) -> list[str]:
        """The options the Tactician weighed besides the chosen one, with its reasons."""
        action = self.runbook_sections.get("Action", "")
        _, _, rest = action.partition("Other options weighed:\n")
        block = rest.split("\n\n", 1)[0]  # the list ends at the next paragraph (Approval)
        return [line[2:].strip() for line in block.splitlines() if line.startswith("- ")]

    @property
    def evidence_params(self) -> dict[str, dict[str, Any]]:
        """The parameters each evidence query ran with, by query name, as the record stores
        them (empty for a record written before it did, or when unreadable)."""
        text = self.incident.get("evidence_params")
        if not text:
            return {}
        try:
            stored = json.loads(str(text))
        except ValueError:
            return {}  # a damaged record: the evidence falls back to the reconstruction
        if not isinstance(stored, dict):
            return {}
        return {str(k): dict(v) for k, v in stored.items() if isinstance(v, dict)}

    def evidence(self, profile: Profile | None) -> list[Evidence]:
        """The evidence chain from the runbook, each piece with the ES|QL that shows it again.

        Each query runs with the parameters the record stores for it; for a record written
        before it stored them, with the Archaeologist's windows (`qs_tui.agents.archaeologist`)
        rebuilt around the onset.
        """
        found = re.findall(
            r"^- \(([+-]?\d+\.\d+)\) (.*)$", self.runbook_sections.get("Evidence", ""), re.M
        )
        opened = self.opened_at
        service = str(self.incident.get("service"))
        region = str(self.incident.get("region"))
        kind = str(self.incident.get("kind"))
        out: list[Evidence] = []
        for weight, text in found:
            name, params = self._evidence_query(text, kind, opened, service, region)
            out.append(
                Evidence(float(weight), text, name, params, paste_ready(name, params, profile))
            )
        return out

    def _evidence_query(
        self, text: str, kind: str, opened: datetime, service: str, region: str
    ) -> tuple[str, dict[str, Any]]:
        """Which library query produced a piece of evidence, and its parameters: the stored
        ones when the record has them, else rebuilt."""
        name, params = self._rebuilt_query(text, kind, opened, service, region)
        stored = self.evidence_params.get(name)
        return name, (stored if stored is not None else params)

    def _rebuilt_query(
        self, text: str, kind: str, opened: datetime, service: str, region: str
    ) -> tuple[str, dict[str, Any]]:
        """Which library query produced a piece of evidence, and its parameters as the
        Archaeologist's windows place them around the onset."""
        iso = _iso
        # The Archaeologist's windows (`qs_tui.agents.archaeologist` defaults), from the onset.
        onset = self.onset_at
        if text.startswith("logs of"):
            return "investigate_error_logs", {
                "baseline_start": iso(onset - timedelta(minutes=20)),
                "onset": iso(onset),
                "end": iso(max(opened, onset + timedelta(seconds=1))),
                "service": service,
                "region": region,
            }
        if "deploy" in text:
            return "investigate_deploys", {
                "start": iso(onset - timedelta(minutes=30)),
                "end": iso(max(opened, onset + timedelta(minutes=2)) + timedelta(seconds=1)),
                "service": service,
            }
        if text.startswith("as of onset") or "service/regions" in text:
            return "investigate_service_health", {
                "baseline_start": iso(onset - timedelta(minutes=35)),
                "baseline_end": iso(onset - timedelta(minutes=5)),
                "start": iso(onset - timedelta(minutes=5)),
                "end": iso(onset),
            }
        if text.startswith("past incident") or "similar" in text:
            return "investigate_similar_incidents", {"text": f"{service} {kind}"}
        # The detector's own finding: its query over the window the runbook's check names.
        check = re.search(
            r"--param end=(\S+) --param start=(\S+)", self.runbook_sections.get("How to check", "")
        )
        if check:
            return kind, {"start": check.group(2).rstrip("`"), "end": check.group(1)}
        return kind, {"start": iso(opened - timedelta(minutes=15)), "end": iso(opened)}

    def to_dict(self, profile: Profile | None = None) -> dict[str, Any]:
        """A JSON-ready picture of the whole record."""
        approval = self.approval()
        return {
            # The evidence parameters are shown with each piece of evidence.
            "incident": {
                k: v for k, v in self.incident.items() if k not in ("runbook", "evidence_params")
            },
            "decisions": [_jsonable(asdict(d)) for d in self.decisions],
            "approval": _jsonable(asdict(approval)) if approval else None,
            "execution_steps": self.execution_steps(),
            "options": self.options(),
            "evidence": [asdict(e) for e in self.evidence(profile)],
            "telemetry_steps": len(self.telemetry),
            "transcript": {
                agent: [_jsonable(asdict(line)) for line in lines]
                for agent, lines in self.transcript_by_agent().items()
            },
            "runbook": self.incident.get("runbook"),
        }


def paste_ready(name: str, params: dict[str, Any], profile: Profile | None) -> str:
    """Library query `name` rendered for `profile`, its `?params` replaced by literals, as a
    user would paste it into Kibana's Discover (ES|QL mode): numbers and booleans as they
    are, anything else as a quoted string."""
    text = query_text(name, profile)

    def literal(match: re.Match[str]) -> str:
        value = params.get(match.group(1))
        if value is None:
            return match.group(0)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return repr(value)
        quoted = str(value).replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}"'

    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("//")]
    return re.sub(r"\?([A-Za-z_][A-Za-z0-9_]*)", literal, "\n".join(lines)).strip()


def _instant(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _iso(v) if isinstance(v, datetime) else v for k, v in data.items()}


def _sections(runbook: str) -> dict[str, str]:
    """The runbook's `## Heading` sections, by heading."""
    sections: dict[str, str] = {}
    for chunk in re.split(r"^## ", runbook, flags=re.MULTILINE)[1:]:
        heading, _, body = chunk.partition("\n")
        sections[heading.strip()] = body.strip() + "\n"
    return sections


def _query(store: Store, name: str, profile: Profile | None, **params: Any) -> list[dict[str, Any]]:
    try:
        return store.esql(query_text(name, profile), params=bind_params(params)).records()
    except EsqlError as error:
        raise StoreError(f"query {name}.esql failed", str(error)) from error


def load_incident(store: Store, incident_id: str, profile: Profile | None = None) -> FlightRecord:
    """Read back everything recorded about `incident_id`.

    Raises:
        IncidentNotFound: the incidents index has no such incident.
        StoreError: the store could not answer.
    """
    rows = _query(store, "incident_record", profile, incident_id=incident_id)
    if not rows:
        raise IncidentNotFound(incident_id)
    incident = {**rows[0], **_provenance(store, incident_id, profile)}
    record = FlightRecord(incident, [], [], _sections(str(incident.get("runbook") or "")))
    opened = record.opened_at
    service, region = incident.get("service"), incident.get("region")
    trail = _query(
        store, "incident_decisions", profile, incident_id=incident_id, start=opened, end=opened
    )
    decisions: list[Decision] = []
    for row in trail:
        decision = str(row.get("decision"))
        # A detection is recorded before the incident has an id: ours if it names our service.
        unowned = row.get("incident_id") is None
        if unowned and (decision != "detected" or str(service) not in str(row.get("message"))):
            continue
        state = "planned" if decision.startswith("plan:") else STATE_AFTER_DECISION.get(decision)
        if decision == "dry_run" and row.get("agent") == "Diplomat":
            state = "executing"  # approved as a dry run: the Surgeon's dry run follows
        decisions.append(
            Decision(
                _instant(row["@timestamp"]),
                int(row.get("sequence") or 0),
                str(row.get("agent")),
                decision,
                str(row.get("message") or ""),
                row.get("confidence"),
                state,
            )
        )
    record.decisions = decisions
    last = max([d.at for d in decisions] + [record.closed_at or opened])
    record.transcript = _transcript(store, record, profile, end=last)
    steps = _query(
        store,
        "incident_telemetry",
        profile,
        start=min(opened, record.onset_at) - TELEMETRY_BEFORE,
        end=last + TELEMETRY_AFTER,
        service=service,
        region=region,
    )
    record.telemetry = [
        TelemetryStep(_instant(row["step"]), {k: v for k, v in row.items() if k != "step"})
        for row in steps
    ]
    return record


def _provenance(store: Store, incident_id: str, profile: Profile | None) -> dict[str, Any]:
    """The record's `onset_at` and `evidence_params` (empty for an incidents index made
    before they were recorded; None values for a record written before)."""
    try:
        rows = _query(store, "incident_provenance", profile, incident_id=incident_id)
    except StoreError as error:
        if _unknown_column(error, "onset_at") or _unknown_column(error, "evidence_params"):
            return {}
        raise
    if not rows:
        return {}
    return {key: rows[0].get(key) for key in ("onset_at", "evidence_params")}


def _transcript(
    store: Store, record: FlightRecord, profile: Profile | None, *, end: datetime
) -> list[TranscriptLine]:
    """The incident's transcript lines, and the unowned ones of its time that name its
    service (a finding is spoken of before its incident has an id)."""
    service = str(record.incident.get("service"))
    try:
        rows = _query(
            store,
            "incident_transcript",
            profile,
            incident_id=record.incident_id,
            start=record.opened_at,
            end=end,
        )
    except StoreError as error:
        if _unknown_column(error, "record"):
            return []  # an audit trail written before transcript lines were recorded
        raise
    lines: list[TranscriptLine] = []
    for row in rows:
        text = str(row.get("message") or "")
        if row.get("incident_id") is None and service not in text:
            continue
        lines.append(
            TranscriptLine(
                _instant(row["@timestamp"]),
                int(row.get("sequence") or 0),
                str(row.get("agent")),
                str(row.get("level") or "info"),
                text,
                row.get("incident_id"),
            )
        )
    return lines


def _unknown_column(error: StoreError, column: str) -> bool:
    # Elasticsearch: "Unknown column [record]"; the embedded engine says the same.
    return f"Unknown column [{column}]" in str(error)


def list_incidents(
    store: Store,
    *,
    since: datetime | None = None,
    service: str | None = None,
    profile: Profile | None = None,
) -> list[dict[str, Any]]:
    """Past incidents opened since `since` (all when None), newest first, of `service` if set."""
    start = since or datetime(1970, 1, 1, tzinfo=UTC)
    rows = _query(store, "incident_list", profile, start=start)
    return [row for row in rows if service is None or row.get("service") == service]


def parse_since(text: str, now: datetime) -> datetime:
    """`7d`, `12h`, `30m` or an ISO instant as the start of a listing.

    Raises:
        ValueError: naming the value and the accepted forms.
    """
    match = re.fullmatch(r"(\d+)\s*([smhdw])", text.strip())
    if match:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
        return now - timedelta(**{unit[match.group(2)]: int(match.group(1))})
    try:
        return _instant(text)
    except ValueError:
        raise ValueError(
            f"--since {text!r}: give a duration (30m, 12h, 7d, 2w) or an ISO-8601 instant"
        ) from None
