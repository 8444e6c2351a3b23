"""An incident's detail: evidence chain, plan, approval, execution, verification and runbook."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Markdown, Static

from qs_tui.models import Incident
from qs_tui.ui.screens._format import (
    STEP_COLOURS,
    action_name,
    clock,
    duration,
    percent,
    stamp,
    state_badge,
    text,
    weight,
    words,
)

#: Columns of the options table.
OPTION_COLUMNS = ("", "action", "score", "risk", "recovery", "hosts", "why")


class IncidentScreen(Screen[None]):
    """Everything known about one incident, top to bottom in the order the agents worked.

    Args:
        incident: the incident to show; `show()` replaces it when it changes.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
    ]

    DEFAULT_CSS = """
    IncidentScreen {
        background: $background;
    }
    IncidentScreen #incident-title {
        dock: top;
        height: auto;
        padding: 0 1;
        background: $panel;
        text-style: bold;
    }
    IncidentScreen #incident-body {
        padding: 0 1;
        scrollbar-gutter: stable;
    }
    IncidentScreen .section {
        margin-top: 1;
        color: $text-accent;
        text-style: bold;
    }
    IncidentScreen .muted {
        color: $text-muted;
    }
    IncidentScreen #incident-options {
        height: auto;
        max-height: 10;
    }
    IncidentScreen #incident-runbook {
        margin: 0;
        padding: 0 1;
        background: $surface;
    }
    """

    def __init__(self, incident: Incident) -> None:
        super().__init__()
        self.incident = incident

    def compose(self) -> ComposeResult:
        yield Static(id="incident-title")
        with VerticalScroll(id="incident-body"):
            yield Static(id="incident-summary")
            yield Static("Timeline", classes="section")
            yield Static(id="incident-timeline")
            yield Static("Evidence chain", classes="section")
            yield Static(id="incident-evidence")
            yield Static("Plan", classes="section")
            yield Static(id="incident-plan")
            yield DataTable(id="incident-options", cursor_type="row", zebra_stripes=True)
            yield Static("Approval", classes="section")
            yield Static(id="incident-approval")
            yield Static("Execution", classes="section")
            yield Static(id="incident-execution")
            yield Static("Verification", classes="section")
            yield Static(id="incident-verification")
            yield Static("Runbook", classes="section")
            yield Markdown(id="incident-runbook")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#incident-options", DataTable)
        table.add_columns(*OPTION_COLUMNS)
        self.show(self.incident)
        self.query_one("#incident-body", VerticalScroll).focus()

    def show(self, incident: Incident) -> None:
        """Show `incident` (the app calls this when the incident it shows changes)."""
        self.incident = incident
        self.query_one("#incident-title", Static).update(self._title())
        self.query_one("#incident-summary", Static).update(self._summary())
        self.query_one("#incident-timeline", Static).update(self._timeline())
        self.query_one("#incident-evidence", Static).update(self._evidence())
        self.query_one("#incident-plan", Static).update(self._plan())
        self._fill_options()
        self.query_one("#incident-approval", Static).update(self._approval())
        self.query_one("#incident-execution", Static).update(self._execution())
        self.query_one("#incident-verification", Static).update(self._verification())
        runbook = incident.runbook or "_The Guardian writes the runbook when the incident closes._"
        self.query_one("#incident-runbook", Markdown).update(runbook)

    # ---- sections -------------------------------------------------------------------------

    def _title(self) -> str:
        incident = self.incident
        return (
            f"{text(incident.id)} · {text(words(incident.kind.value))} on "
            f"{text(incident.service)} in {text(incident.region)} · "
            f"{state_badge(incident.state)}"
        )

    def _summary(self) -> str:
        incident = self.incident
        anomaly = incident.anomaly
        lines = [text(anomaly.summary)]
        closed = f" · closed {stamp(incident.closed_at)}" if incident.closed_at else ""
        lines.append(f"[$text-muted]opened {stamp(incident.opened_at)}{closed}[/]")
        details = [
            f"signal {text(anomaly.signal)} = {anomaly.value:.2f}",
            f"critical at {anomaly.critical_threshold:g}",
            f"onset {clock(anomaly.onset_at)}",
            f"{percent(anomaly.confidence)} sure the anomaly is real",
        ]
        if anomaly.time_to_critical_s is not None:
            details.append(f"time to critical {duration(anomaly.time_to_critical_s)}")
        lines.append(" · ".join(details))
        if incident.root_incident_id:
            lines.append(f"symptom of {text(incident.root_incident_id)}")
        if incident.symptom_ids:
            lines.append(f"symptoms: {text(', '.join(incident.symptom_ids))}")
        return "\n".join(lines)

    def _timeline(self) -> str:
        if not self.incident.history:
            return "[$text-muted]no state changes yet[/]"
        return "\n".join(
            f"{clock(change.at)} {state_badge(change.state)} {text(change.reason)}"
            for change in self.incident.history
        )

    def _evidence(self) -> str:
        hypothesis = self.incident.hypothesis
        if hypothesis is None:
            return "[$text-muted]the Archaeologist has not reported yet[/]"
        lines = [
            f"[bold]{text(hypothesis.summary)}[/]",
            f"cause {text(hypothesis.cause)} ({text(hypothesis.cause_kind)}) at "
            f"{text(hypothesis.root_service)} in {text(hypothesis.root_region)} · "
            f"{percent(hypothesis.confidence)} sure the root cause is right",
        ]
        deploy = hypothesis.suspect_deploy
        if deploy is not None:
            lines.append(
                f"suspect deploy {text(deploy.version)} by {text(deploy.author or 'unknown')} "
                f"at {clock(deploy.at)}"
            )
        for evidence in hypothesis.evidence:
            source = f" [$text-muted]({text(evidence.query)})[/]" if evidence.query else ""
            lines.append(
                f"{weight(evidence)} {text(words(evidence.kind))}: {text(evidence.summary)}{source}"
            )
        if hypothesis.similar_incidents:
            lines.append(f"similar past incidents: {text(', '.join(hypothesis.similar_incidents))}")
        return "\n".join(lines)

    def _plan(self) -> str:
        plan = self.incident.plan
        if plan is None:
            return "[$text-muted]the Tactician has not chosen yet[/]"
        chosen = plan.chosen
        ttc = plan.time_to_critical_s
        lines = [
            f"[bold]{text(action_name(chosen.action))}[/] on {text(chosen.service)} in "
            f"{text(chosen.region)}: {text(plan.reason)}",
            f"risk {chosen.risk:.2f} · recovery {duration(chosen.expected_recovery_s)} · "
            f"blast radius: {text(chosen.blast_radius)}",
            f"[$text-warning]if nothing is done: {text(plan.inaction_forecast)}"
            + (f" (critical in {duration(ttc)})" if ttc is not None and ttc > 0 else "")
            + "[/]",
            f"[$text-muted]{text(plan.approval_reason)}[/]",
        ]
        return "\n".join(lines)

    def _fill_options(self) -> None:
        table = self.query_one("#incident-options", DataTable)
        table.clear()
        plan = self.incident.plan
        table.display = plan is not None
        if plan is None:
            return
        for option in sorted(plan.options, key=lambda o: o.score, reverse=True):
            table.add_row(
                "▶" if option == plan.chosen else "",
                action_name(option.action),
                f"{option.score:+.2f}",
                f"{option.risk:.2f}",
                duration(option.expected_recovery_s),
                str(option.blast_radius_hosts),
                option.rationale,
            )

    def _approval(self) -> str:
        approval = self.incident.approval
        if approval is None:
            return "[$text-muted]not asked yet[/]"
        colour = "$success" if approval.approved else "$warning"
        note = f" · {text(approval.note)}" if approval.note else ""
        return (
            f"[bold {colour}]{text(words(approval.decision.value))}[/] by {text(approval.by)} "
            f"at {clock(approval.at)}{note}"
        )

    def _execution(self) -> str:
        report = self.incident.execution
        if report is None:
            return "[$text-muted]nothing executed[/]"
        mode = " (dry run)" if report.dry_run else ""
        lines = [f"{text(report.summary)}{mode}"]
        for step in report.steps:
            colour = STEP_COLOURS[step.status]
            detail = f" — {text(step.detail)}" if step.detail else ""
            lines.append(
                f"{clock(step.at)} [{colour}]{step.status.value:<11}[/] {text(step.name)}{detail}"
            )
        if report.rolled_back:
            lines.append("[$error]completed steps were rolled back[/]")
        return "\n".join(lines)

    def _verification(self) -> str:
        verification = self.incident.verification
        if verification is None:
            return "[$text-muted]not verified yet[/]"
        colour = "$success" if verification.recovered else "$error"
        verdict = "recovered" if verification.recovered else "not recovered"
        mttr = f" · MTTR {duration(verification.mttr_s)}" if verification.mttr_s else ""
        return (
            f"[bold {colour}]{verdict}[/] after {verification.checks} checks{mttr}\n"
            f"{text(verification.summary)}"
        )
