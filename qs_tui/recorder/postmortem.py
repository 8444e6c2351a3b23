"""The postmortem of one incident, written from its flight record (Markdown or JSON)."""

from __future__ import annotations

import json
from typing import Any

from qs_tui.models import AgentName
from qs_tui.profiles import Profile
from qs_tui.recorder.flight import FlightRecord

#: The transcript's sections in the order an incident meets the agents (the war room's panes).
_AGENT_ORDER: tuple[str, ...] = tuple(agent.value for agent in AgentName)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def postmortem_json(record: FlightRecord, profile: Profile | None) -> str:
    """The postmortem as one JSON document (the flight record plus the derived sections)."""
    data: dict[str, Any] = record.to_dict(profile)
    data["timeline"] = [
        {"at": d.at.isoformat(), "agent": d.agent, "decision": d.decision, "state": d.state}
        for d in record.decisions
    ]
    data["mttr_s"] = record.incident.get("mttr_s")
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)


def postmortem_markdown(record: FlightRecord, profile: Profile | None) -> str:
    """The postmortem as Markdown: summary, impact, timeline, evidence chain, options,
    approval, actions, verification, MTTR, each agent's transcript, the runbook and the
    ES|QL behind each piece."""
    inc = record.incident
    runbook = record.runbook_sections
    out: list[str] = [f"# Postmortem {record.incident_id}: {inc.get('title')}", ""]
    out += ["## Summary", ""]
    out.append(f"- Service: {inc.get('service')} in {inc.get('region')}")
    out.append(f"- Kind: {inc.get('kind')}; final state: **{inc.get('state')}**")
    if record.onset_at != record.opened_at:
        out.append(f"- Onset (to the minute, from the evidence): {record.onset_at.isoformat()}")
    out.append(f"- Detected: {record.opened_at.isoformat()}")
    if record.closed_at is not None:
        out.append(f"- Resolved: {record.closed_at.isoformat()}")
    out.append(f"- Root cause: {inc.get('root_cause') or 'not established'}")
    out.append(f"- Action: {inc.get('action') or 'none'}")
    out += ["", str(inc.get("summary") or ""), ""]
    out += ["## Impact", "", runbook.get("Symptoms", "not recorded").strip(), ""]
    out += [
        "## Timeline",
        "",
        "| time | agent | decision | state | message |",
        "|---|---|---|---|---|",
    ]
    for d in record.decisions:
        message = d.message.replace("|", "\\|")
        out.append(
            f"| {d.at.strftime('%H:%M:%S')} | {d.agent} | {d.decision} | {d.state or ''} "
            f"| {message} |"
        )
    out += ["", "## Evidence chain", ""]
    evidence = record.evidence(profile)
    if not evidence:
        out.append("No evidence recorded.")
    for number, item in enumerate(evidence, 1):
        out.append(f"{number}. ({item.weight:+.2f}) {item.text}")
    out += ["", "## Options weighed", ""]
    action = runbook.get("Action", "")
    chosen = next((ln for ln in action.splitlines() if ln.startswith("Chosen:")), None)
    out.append(chosen or "No plan recorded.")
    out += [f"- {option}" for option in record.options()]
    out += ["", "## Approval", ""]
    approval = record.approval()
    if approval is None:
        out.append("No approval recorded.")
    else:
        waited = _duration(approval.waited_s)
        out.append(
            f"{approval.outcome} by {approval.by} at {approval.answered_at.isoformat()}, "
            f"{waited} after it was asked"
        )
    out += ["", "## Actions", ""]
    steps = record.execution_steps()
    out += [f"- {step}" for step in steps] or ["No action executed."]
    out += ["", "## Verification", ""]
    outcome = runbook.get("Outcome", "").strip()
    out.append(outcome or "Not verified.")
    out += ["", "## MTTR", "", _duration(inc.get("mttr_s")), ""]
    out += ["## Transcript", ""]
    by_agent = record.transcript_by_agent()
    if not by_agent:
        out += ["No transcript recorded.", ""]
    for agent in _AGENT_ORDER + tuple(sorted(set(by_agent) - set(_AGENT_ORDER))):
        lines = by_agent.get(agent)
        if not lines:
            continue
        out += [f"### {agent}", ""]
        for line in lines:
            mark = {"warn": " (warning)", "error": " (error)"}.get(line.level, "")
            out.append(f"- {line.at.strftime('%H:%M:%S')}{mark} {line.text}")
        out.append("")
    out += ["## ES|QL to see each piece of evidence again", ""]
    for number, item in enumerate(evidence, 1):
        out += [f"{number}. {item.text} (`{item.query}.esql`)", "", "```esql", item.esql, "```", ""]
    out += ["## Runbook", "", str(inc.get("runbook") or "No runbook recorded.").strip(), ""]
    return "\n".join(out)
