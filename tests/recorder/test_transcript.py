"""The agents' transcript in the audit trail: every line an agent says is a document of its own
beside the decisions, masked like every audit record, never written twice, and queued in order
(quietly) while the store is down."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from qs_tui.agents.base import TRANSCRIPT_RECORD, Agent, AgentContext, PipelineSettings
from qs_tui.agents.events import AgentSpoke, Event
from qs_tui.clock import ManualClock
from qs_tui.models import AgentName
from qs_tui.store.base import Document, StoreUnavailable
from qs_tui.store.embedded import EmbeddedStore
from qs_tui.topology import Topology

START = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
TOKEN = "tok-s3cr3t-9f2a"
#: No waiting between retries: the tests count attempts, not seconds.
QUICK = PipelineSettings(record_retry_delays_s=(0.0,), secrets=(TOKEN,))
LINES = 'FROM qs-agent-decisions | WHERE record == "transcript" | SORT sequence | LIMIT 100'


class Surgeon(Agent):
    """An agent that only speaks."""

    name = AgentName.SURGEON


class Outages(EmbeddedStore):
    """An embedded store that refuses writes while `down`, or lands the next `landing`
    writes and then drops their answers (the client cannot tell them from lost ones)."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.landing = 0
        self.attempts = 0

    def index(
        self, index: str, document: Document, *, doc_id: str | None = None, create: bool = False
    ) -> str:
        self.attempts += 1
        if self.down:
            raise StoreUnavailable("cannot reach the store", "connection refused")
        written = super().index(index, document, doc_id=doc_id, create=create)
        if self.landing:
            self.landing -= 1
            raise StoreUnavailable("connection dropped", "no answer", may_have_landed=True)
        return written


def crew(store: EmbeddedStore) -> tuple[Surgeon, list[Event]]:
    """A context on `store` with one speaking agent, and the events it emits."""
    store.ensure_templates()
    events: list[Event] = []
    context = AgentContext(
        store=store,
        clock=ManualClock(START),
        sink=events.append,
        topology=Topology(services=("payment-service",), regions=("us-east-1",)),
        settings=QUICK,
    )
    return Surgeon(context), events


def stored(store: EmbeddedStore) -> list[dict[str, Any]]:
    return store.esql(LINES).records()


def test_a_spoken_line_is_a_transcript_document_beside_the_decisions() -> None:
    store = EmbeddedStore()
    surgeon, events = crew(store)
    surgeon.say("restarting payment-service", incident_id="INC-0001")
    surgeon.decide("executed", "restart done", incident_id="INC-0001")
    surgeon.say("rollback may be needed", incident_id="INC-0001", level="warn")

    assert [e.text for e in events if isinstance(e, AgentSpoke)] == [
        "restarting payment-service",
        "rollback may be needed",
    ]
    lines = stored(store)
    assert [(r["agent"], r["incident_id"], r["level"], r["message"]) for r in lines] == [
        ("Surgeon", "INC-0001", "info", "restarting payment-service"),
        ("Surgeon", "INC-0001", "warn", "rollback may be needed"),
    ]
    assert all(r["record"] == TRANSCRIPT_RECORD and r["decision"] is None for r in lines)
    assert lines[0]["@timestamp"] in (START, "2026-11-25T14:00:00.000Z")
    # One order for the whole trail: lines and decisions share the sequence.
    decision = store.esql(
        'FROM qs-agent-decisions | WHERE decision == "executed" | KEEP sequence'
    ).values[0][0]
    assert lines[0]["sequence"] < decision < lines[1]["sequence"]


def test_credentials_are_masked_in_the_recorded_line() -> None:
    store = EmbeddedStore()
    surgeon, _ = crew(store)
    surgeon.say(f"calling the webhook with token {TOKEN}")
    [line] = stored(store)
    assert TOKEN not in line["message"]
    assert line["message"].startswith("calling the webhook with token ")
    assert "s3cr3t" not in str(store.esql("FROM qs-agent-decisions | LIMIT 100").values)


def test_a_line_whose_answer_was_lost_is_held_once() -> None:
    store = Outages()
    surgeon, _ = crew(store)
    store.landing = 1  # lands, then the connection drops: the retry meets its own id
    surgeon.say("restarting payment-service", incident_id="INC-0001")
    assert [r["message"] for r in stored(store)] == ["restarting payment-service"]
    assert surgeon.context.records.complete
    assert store.attempts == 2


def test_lines_wait_quietly_in_order_while_the_store_is_down() -> None:
    store = Outages()
    surgeon, events = crew(store)
    store.down = True
    surgeon.say("first", incident_id="INC-0001")
    surgeon.decide("executed", "restart done", incident_id="INC-0001")
    for number in range(5):
        surgeon.say(f"line {number}", incident_id="INC-0001")
    attempts_while_down = store.attempts
    records = surgeon.context.records
    # first, the decision, the writer's line about the decision, then the five lines
    assert records.pending == 8 and stored(store) == []
    spoken = [e.text for e in events if isinstance(e, AgentSpoke)]
    # What the writer says is about the decision only; the lines themselves are not
    # announced one by one, and once something waits they send no request of their own.
    assert [t for t in spoken if t.startswith("could not write")] == [
        "could not write Surgeon's executed decision for INC-0001 (cannot reach the store: "
        "connection refused); queued, 2 audit records waiting for the store"
    ]
    assert attempts_while_down == 2 + 1  # the first line (tried twice), then the decision
    store.down = False
    assert records.flush() == 8
    messages = [r["message"] for r in stored(store)]
    # The writer's own words are recorded too, in their place in the trail.
    assert messages[0] == "first"
    assert messages[1].startswith("could not write Surgeon's executed decision")
    assert messages[2:7] == [f"line {n}" for n in range(5)]
    assert messages[7] == "the store is back: wrote 8 queued audit records"
    assert len(messages) == 8
    assert records.complete and records.pending == 0


def test_credentials_are_masked_in_what_the_war_room_and_printer_show() -> None:
    store = EmbeddedStore()
    surgeon, events = crew(store)
    surgeon.say(f"webhook refused token {TOKEN}", data={"url": f"https://hooks.example/{TOKEN}/x"})
    [line] = [e for e in events if isinstance(e, AgentSpoke)]
    assert TOKEN not in line.text and TOKEN not in str(line.data)
    assert line.text.startswith("webhook refused token ")
    assert line.data["url"].startswith("https://hooks.example/")
    # The sink shows exactly what the audit trail holds.
    assert [r["message"] for r in stored(store)] == [line.text]
