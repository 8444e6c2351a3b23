"""What every agent shares: the context it works in, its voice, and the audit trail."""

from __future__ import annotations

import itertools
import secrets
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from qs_tui.agents.events import AgentSpoke, EventSink
from qs_tui.agents.records import RecordWriter
from qs_tui.clock import Clock
from qs_tui.esql.catalog import EsqlResult
from qs_tui.models import AgentName
from qs_tui.profiles import Profile, query_text
from qs_tui.queries import bind_params
from qs_tui.remediation.config import PolicyConfig
from qs_tui.remediation.policy import ActionRecord, known_secrets, redact
from qs_tui.store.base import Store
from qs_tui.store.templates import DECISIONS
from qs_tui.topology import Topology

#: The `record` of a transcript line in the agent-decisions index (decisions have none).
TRANSCRIPT_RECORD = "transcript"


class PipelineSettings(BaseModel):
    """Knobs of the incident pipeline; defaults suit the shipped scenarios."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    detect_every_s: float = Field(default=30.0, gt=0)
    """Simulated seconds between detection passes."""
    window_s: float = Field(default=600.0, gt=0)
    """Length of the current window the detectors look at."""
    baseline_s: float = Field(default=1800.0, gt=0)
    """Length of the baseline window before the current one."""
    approval_timeout_s: float = Field(default=120.0, gt=0)
    """Wall-clock seconds a human has to answer; no answer rejects."""
    auto_approve_low_risk: bool = False
    """Let the policy approve low-risk plans without a human (off: every change asks)."""
    low_risk_threshold: float = Field(default=0.2, ge=0, le=1)
    """Risk at or below which a plan counts as low-risk for auto-approval."""
    dry_run: bool = False
    """Execute every plan as a dry run (nothing changes)."""
    read_only: bool = False
    """`--read-only` / `QS_READ_ONLY`: no executor is called, whatever the policy or the
    approval says; the Surgeon reports the plan as advice and a human takes over."""
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    """The `[policy]` of `remediation.toml`: auto-approval, rate limits, change freezes."""
    secrets: tuple[str, ...] = Field(default=(), repr=False, exclude=True)
    """The configured credentials (`Settings.secrets()`, from the environment or `.env`):
    masked in every audit record of a call to a real system. Never shown or serialised."""
    verify_timeout_s: float = Field(default=600.0, gt=0)
    """Simulated seconds the Guardian waits for recovery before rolling back."""
    cooldown_s: float = Field(default=900.0, ge=0)
    """Simulated seconds after a remediation during which a service is not acted on again."""
    loop_guard_count: int = Field(default=3, ge=1)
    """Remediations of one service within `loop_guard_window_s` before escalating to a human."""
    loop_guard_window_s: float = Field(default=3600.0, gt=0)
    """The loop guard's window."""
    runbook_dir: str | None = None
    """Where the Guardian writes markdown runbooks (None: kept on the incident only)."""
    record_retry_delays_s: tuple[float, ...] = (0.05, 0.2, 0.75)
    """Wall seconds before each retry of a failed audit write (then the record is queued)."""
    record_queue_max: int = Field(default=10_000, ge=1)
    """Audit records kept while the store is down (beyond it the oldest are lost, counted)."""
    store_retry_first_s: float = Field(default=10.0, gt=0)
    """Clock seconds before the first retry of a store that stopped answering (it doubles)."""
    store_retry_max_s: float = Field(default=120.0, gt=0)
    """The longest wait between retries of a store that is down."""
    store_retry_jitter: float = Field(default=0.1, ge=0, le=1)
    """Up to this fraction is added to each wait (0: exact waits)."""


@dataclass
class AgentContext:
    """What agents work with. Shared by all six; nothing here touches the UI.

    Attributes:
        store: the one door to data.
        clock: simulated time (agents never call datetime.now()).
        sink: where events go (TUI, headless printer, tests).
        topology: services, regions, hosts and the dependency graph.
        settings: the pipeline's knobs.
        profile: the schema profile every telemetry query is rendered through (None: the
            queries as written, i.e. the `qs` shape).
    """

    store: Store
    clock: Clock
    sink: EventSink
    topology: Topology
    settings: PipelineSettings = field(default_factory=PipelineSettings)
    profile: Profile | None = None
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))
    """A short random name for this run: audit-trail ids are `<run_id>-<sequence>`."""
    _sequence: itertools.count[int] = field(default_factory=itertools.count, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    records: RecordWriter = field(init=False, repr=False)
    """Every audit write (decisions, incident records) goes through this writer."""
    actions: list[ActionRecord] = field(default_factory=list, repr=False)
    """Actions applied so far (the Surgeon appends; the policy's rate limits count them)."""
    _secrets: list[str] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.records = RecordWriter(
            self.store,
            say=self._say_about_records,
            retry_delays_s=self.settings.record_retry_delays_s,
            max_queued=self.settings.record_queue_max,
        )

    def _say_about_records(self, text: str, level: str) -> None:
        # The Guardian keeps the records, so it speaks about their state.
        self.speak(
            AgentSpoke(agent=AgentName.GUARDIAN, text=text, at=self.clock.now(), level=level)
        )

    def speak(self, line: AgentSpoke) -> None:
        """Emit a transcript line and record it in the audit trail.

        The configured credentials are masked before the line goes anywhere: the war room,
        the headless printer and `--json` show what the audit trail holds, never more.
        """
        masked = self._masked()
        if masked:
            line = replace(line, text=redact(line.text, masked), data=redact(line.data, masked))
        self.sink(line)
        self.record_line(line)

    def record_line(self, line: AgentSpoke) -> None:
        """Record one transcript line in the agent-decisions index, beside the decisions.

        A document of its own kind (`record: transcript`, no `decision`): when, which agent,
        the incident if any, the level and the text, with the configured credentials masked
        as in every audit record. Its id is fixed before the first try and written
        create-if-absent, so a retried write never duplicates it; it queues in order with
        the other records while the store is down, but quietly (see `RecordWriter`).
        """
        sequence = self.next_sequence()
        document: dict[str, Any] = {
            "@timestamp": line.at,
            "incident_id": line.incident_id,
            "agent": line.agent.value,
            "record": TRANSCRIPT_RECORD,
            "level": line.level,
            "message": redact(line.text, self._masked()),
            "sequence": sequence,
        }
        self.records.write(
            DECISIONS,
            document,
            doc_id=f"{self.run_id}-{sequence:06d}",
            create=True,
            what=f"a transcript line of {line.agent.value}",
            quiet=True,
        )

    def _masked(self) -> list[str]:
        if self._secrets is None:
            self._secrets = self.secrets_to_mask()
        return self._secrets

    def secrets_to_mask(self, extra: Iterable[str] = (), names: Sequence[str] = ()) -> list[str]:
        """Every credential an audit record must not show: the configured ones, the values
        of the usual credential variables (and of `names`) and `extra`; longest first, so
        masking a long one never leaves a part of it behind."""
        found = {*extra, *self.settings.secrets, *known_secrets(names)}
        return sorted(found, key=len, reverse=True)

    def next_sequence(self) -> int:
        """A number that orders audit-trail entries written in the same instant."""
        with self._lock:
            return next(self._sequence)


class Agent:
    """Base class: a name, a voice (transcript lines) and the audit trail."""

    name: AgentName

    def __init__(self, context: AgentContext) -> None:
        self.context = context

    @property
    def now(self) -> datetime:
        """The simulated now."""
        return self.context.clock.now()

    def say(
        self,
        text: str,
        *,
        incident_id: str | None = None,
        level: str = "info",
        data: dict[str, Any] | None = None,
    ) -> None:
        """Emit a transcript line (recorded in the audit trail too)."""
        self.context.speak(
            AgentSpoke(
                agent=self.name,
                text=text,
                at=self.now,
                incident_id=incident_id,
                level=level,
                data=data or {},
            )
        )

    def decide(
        self,
        decision: str,
        message: str,
        *,
        incident_id: str | None,
        confidence: float | None = None,
    ) -> None:
        """Record a decision in the agent-decisions index (the audit trail)."""
        document: dict[str, Any] = {
            "@timestamp": self.now,
            "incident_id": incident_id,
            "agent": self.name.value,
            "decision": decision,
            "message": message,
            "sequence": self.context.next_sequence(),
        }
        if confidence is not None:
            document["confidence"] = confidence
        # Retried, and queued in order while the store is down: never lost silently. The id
        # is fixed before the first try and written create-if-absent, so a try that landed
        # before its connection dropped is not written a second time by the retry.
        self.context.records.write(
            DECISIONS,
            document,
            doc_id=f"{self.context.run_id}-{document['sequence']:06d}",
            create=True,
            what=f"{self.name.value}'s {decision} decision"
            + (f" for {incident_id}" if incident_id else ""),
        )

    def query(self, name: str, **params: Any) -> EsqlResult:
        """Run `esql/<name>.esql`, rendered through the context's schema profile, with named
        parameters (datetimes go in as ISO strings)."""
        text = query_text(name, self.context.profile)
        return self.context.store.esql(text, params=bind_params(params))
