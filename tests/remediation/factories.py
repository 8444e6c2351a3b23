"""Small builders for the models the Diplomat and Surgeon tests hand around."""

from __future__ import annotations

from datetime import datetime

from qs_tui.models import (
    ActionKind,
    Anomaly,
    AnomalyKind,
    Approval,
    ApprovalDecision,
    Incident,
    IncidentState,
    Plan,
    RemediationOption,
)


def make_option(
    action: ActionKind = ActionKind.ROLLBACK,
    *,
    service: str = "payment-service",
    region: str = "us-east-1",
    risk: float = 0.15,
    target_version: str | None = None,
) -> RemediationOption:
    """A remediation option with plausible numbers."""
    return RemediationOption(
        action=action,
        service=service,
        region=region,
        expected_recovery_s=90,
        risk=risk,
        blast_radius=f"2 hosts of {service} in {region}",
        blast_radius_hosts=2,
        score=0.8,
        rationale="the leak began with the last deploy",
        target_version=target_version,
    )


def make_incident(
    at: datetime,
    *,
    incident_id: str = "inc-1",
    service: str = "payment-service",
    region: str = "us-east-1",
    state: IncidentState = IncidentState.AWAITING_APPROVAL,
) -> Incident:
    """An error-spike incident on `service` in `region`, opened at `at`."""
    anomaly = Anomaly(
        kind=AnomalyKind.ERROR_SPIKE,
        service=service,
        region=region,
        signal="error_rate",
        detected_at=at,
        onset_at=at,
        value=0.16,
        baseline=0.01,
        critical_threshold=0.05,
        time_to_critical_s=0,
        confidence=0.9,
        query="error_spike",
        summary=f"error rate on {service} in {region} is 16 % against 1 % before",
    )
    return Incident(
        id=incident_id,
        kind=AnomalyKind.ERROR_SPIKE,
        service=service,
        region=region,
        state=state,
        opened_at=at,
        anomaly=anomaly,
    )


def make_plan(
    option: RemediationOption, *, incident_id: str = "inc-1", requires_approval: bool = True
) -> Plan:
    """A plan choosing `option`."""
    return Plan(
        incident_id=incident_id,
        options=[option],
        chosen=option,
        reason=f"{option.action.value} removes the cause fastest",
        time_to_critical_s=0,
        inaction_forecast="errors stay at 16 %",
        requires_approval=requires_approval,
        approval_reason="production change",
    )


def make_approval(
    at: datetime,
    decision: ApprovalDecision = ApprovalDecision.APPROVED,
    *,
    incident_id: str = "inc-1",
    by: str = "keyboard",
) -> Approval:
    """An approval record."""
    return Approval(incident_id=incident_id, decision=decision, by=by, at=at)
