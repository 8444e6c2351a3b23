"""A cluster that goes away mid-run: the fake Elasticsearch switches fault modes while the
pipeline plays a memory leak, driven by the pipeline's own events and clock (no sleeping).

Whatever the fault (dropped connections, 429, 503, a hang), the run goes on, says so once,
backs off, and when the cluster is back writes what waited: every audit record once, in
order, none lost, and every incident record once.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from qs_tui.agents.base import PipelineSettings
from qs_tui.agents.events import (
    AgentSpoke,
    ApprovalRequested,
    Event,
    IncidentChanged,
    MetricsSampled,
    StoreDegraded,
    StoreRecovered,
)
from qs_tui.headless import EXIT_OK, ScenarioRun, play_scenario, run_headless
from qs_tui.models import ApprovalDecision
from qs_tui.sim.scenario import load_scenario
from qs_tui.store.elastic import ElasticStore
from qs_tui.store.templates import DECISIONS, INCIDENTS
from tests.scenario_texts import LEAKING_SERVICE_ONLY, quick_leak
from tests.store.conftest import API_KEY, settings_for
from tests.store.fake_es import FakeElasticsearch, Fault

#: No wall-clock waits between a record's retries, and exact (unjittered) backoff on the
#: pipeline's clock: 10 s, then 20 s, 40 s, … of simulated time.
SETTINGS = PipelineSettings(
    record_retry_delays_s=(0.0, 0.0),
    store_retry_first_s=10.0,
    store_retry_max_s=60.0,
    store_retry_jitter=0.0,
)
#: Ticks (10 s of simulated time each) the cluster stays away.
OUTAGE_TICKS = 6
#: The client's request timeout in the hang case: the hang is ended by the client, once per
#: try. Far above what any answer of the fake takes on a loaded machine, so only the hang
#: times out; each try while it hangs costs this long, hence a shorter outage in that case.
HANG_TIMEOUT = "5"
HANG_TICKS = 2
#: How long the leak plays: the incident is resolved within about three minutes even with
#: the cluster away for `OUTAGE_TICKS` and the backoff after it; the five quiet minutes a
#: run would otherwise add prove nothing here.
PLAYED = "4m"


@pytest.fixture
def leak_file(tmp_path: Path) -> Path:
    path = tmp_path / "quick-leak.toml"
    # Only the leaking service: every tick's queries and writes cross real HTTP, so the
    # estate's size is what each run costs; the outage needs only the one incident.
    text = quick_leak("quick-leak", topology=LEAKING_SERVICE_ONLY, duration=PLAYED)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def server() -> Iterator[FakeElasticsearch]:
    with FakeElasticsearch(engine=True) as fake:
        yield fake


class Outage:
    """Switches `fault` on when `starts(event)` first holds, and off `ticks` ticks later
    (a tick ends with `MetricsSampled`); records every event meanwhile."""

    def __init__(
        self,
        server: FakeElasticsearch,
        fault: Fault,
        *,
        starts: Callable[[Event], bool],
        ticks: int = OUTAGE_TICKS,
        **options: Any,
    ) -> None:
        self.server, self.fault, self.starts, self.ticks = server, fault, starts, ticks
        self.options = options
        self.events: list[Event] = []
        self.left: int | None = None  # ticks left while the fault is on

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, ApprovalRequested):
            event.future.set_result(ApprovalDecision.APPROVED)  # an operator who says yes
        if self.left is None and self.server.fault is None and self.starts(event):
            self.server.fail(self.fault, **self.options)
            self.left = self.ticks
        elif self.left is not None and isinstance(event, MetricsSampled):
            self.left -= 1
            if self.left == 0:
                self.server.recover()

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def planned(event: Event) -> bool:
    """The Tactician chose a remediation: the approval, the action and its decisions follow
    (none of them needs the store), then verification (which does)."""
    return isinstance(event, IncidentChanged) and event.state.value == "planned"


def investigating(event: Event) -> bool:
    return isinstance(event, IncidentChanged) and event.state.value == "investigating"


def play(leak_file: Path, server: FakeElasticsearch, sink: Outage, **env: str) -> ScenarioRun:
    store = ElasticStore(settings_for(server.url, ELASTIC_API_KEY=API_KEY, **env))
    return play_scenario(
        load_scenario(str(leak_file)), sink=sink, pipeline_settings=SETTINGS, store=store
    )


def assert_nothing_lost_or_duplicated(run: ScenarioRun, server: FakeElasticsearch) -> None:
    """Every decision of the run is held once, in the order it was made, with no gap; every
    incident is held once with its final state."""
    records = run.pipeline.records
    assert records.complete, records.problem()
    ids = server.ids_in(DECISIONS)
    run_id = run.pipeline.context.run_id
    sequences = [int(doc_id.removeprefix(f"{run_id}-")) for doc_id in ids]
    made = run.pipeline.context.next_sequence()  # one past the last decision's number
    # Held once each (ids are unique keys), none missing, and written in the order made.
    assert sequences == list(range(made)), sequences
    # The engine behind the fake (what ES|QL sees) holds each once too.
    count = server._engine.esql(f"FROM {DECISIONS} | STATS n = COUNT(*)").values[0][0]
    assert count == made
    incidents = {i.id: i for i in run.pipeline.incidents()}
    held = server.documents_by_id[INCIDENTS]
    assert set(held) == set(incidents)
    for incident_id, document in held.items():
        assert document["state"] == incidents[incident_id].state.value
    rows = server._engine.esql(f"FROM {INCIDENTS} | STATS n = COUNT(*)").values[0][0]
    assert rows == len(incidents)


@pytest.mark.parametrize(
    ("fault", "options", "env"),
    [
        pytest.param(Fault.DROP, {}, {}, id="drop"),
        pytest.param(Fault.TOO_MANY_REQUESTS, {"retry_after_s": 30}, {}, id="429"),
        pytest.param(Fault.UNAVAILABLE, {}, {}, id="503"),
        pytest.param(
            Fault.HANG,
            {"ticks": HANG_TICKS},
            {"ELASTIC_REQUEST_TIMEOUT": HANG_TIMEOUT},
            id="hang",
        ),
    ],
)
def test_an_outage_mid_incident_loses_and_duplicates_nothing(
    leak_file: Path,
    server: FakeElasticsearch,
    fault: Fault,
    options: dict[str, Any],
    env: dict[str, str],
) -> None:
    sink = Outage(server, fault, starts=planned, **options)
    run = play(leak_file, server, sink, **env)

    assert server.faulted >= 1  # the cluster really went away mid-run
    degraded, recovered = sink.of(StoreDegraded), sink.of(StoreRecovered)
    assert degraded and len(recovered) == 1
    first = degraded[0]
    assert first.last_ok_at is not None and first.last_ok_at <= first.at
    assert "\n" not in first.error and API_KEY not in first.error
    assert max(e.queued for e in degraded) >= 1  # audit records waited for the cluster
    # Backoff on the pipeline's clock: each try waits longer than the one before (the wait
    # a failed try set, as the first event after it shows; later ones may say more queued).
    tries = {e.failures: e for e in reversed(degraded)}
    waits = [(e.retry_at - e.at).total_seconds() for _, e in sorted(tries.items())]
    assert waits == sorted(waits)
    if "retry_after_s" in options:
        assert waits[0] >= options["retry_after_s"]  # the server said how long to wait
    assert recovered[0].written >= max(e.queued for e in degraded)
    assert recovered[0].queued == 0
    # One line when it went away and one when it came back, not one per tick.
    lines = [e.text for e in sink.of(AgentSpoke)]
    assert sum("the store stopped answering" in line for line in lines) == 1
    assert sum("the store answers again" in line for line in lines) == 1
    assert not any("Traceback" in line for line in lines)
    # The incident rode it out: it was not escalated for the outage, and it was fixed.
    (incident,) = run.pipeline.incidents()
    assert incident.state.value == "resolved", incident.history[-1].reason
    assert_nothing_lost_or_duplicated(run, server)


def test_a_decision_that_landed_before_its_connection_dropped_is_held_once(
    leak_file: Path, server: FakeElasticsearch
) -> None:
    # Writes land, but no answer comes back: the client cannot tell them from lost ones.
    sink = Outage(
        server, Fault.DROP_AFTER_WRITE, starts=investigating, paths=rf"/{DECISIONS}/_doc/.*"
    )
    run = play(leak_file, server, sink)

    paths = [r.path for r in server.requests_to("PUT", rf"/{DECISIONS}/_doc/.*")]
    retried = {path for path in paths if paths.count(path) > 1}
    assert retried  # at least one decision landed, lost its answer and was sent again
    assert sink.of(StoreRecovered)
    assert_nothing_lost_or_duplicated(run, server)


class Transcript(io.StringIO):
    """The headless transcript, which also takes the cluster away: from the line that opens
    the incident until the line that says the store stopped answering (the next try finds
    it back)."""

    def __init__(self, server: FakeElasticsearch) -> None:
        super().__init__()
        self.server = server

    def write(self, text: str) -> int:
        opened = "opened memory_leak" in text or '"event": "incident_changed"' in text
        if opened and self.server.faulted == 0:
            self.server.fail(Fault.UNAVAILABLE)
        elif "the store stopped answering" in text:
            self.server.recover()
        return super().write(text)


def _headless(
    leak_file: Path, server: FakeElasticsearch, *, json_lines: bool
) -> tuple[int, Transcript, io.StringIO]:
    """`run --headless --approve auto` on the leak, the cluster failing while it runs."""
    out, err = Transcript(server), io.StringIO()
    status = run_headless(
        scenario=str(leak_file),
        speed=None,
        approve="auto",
        json_lines=json_lines,
        out=out,
        err=err,
        stdin=io.StringIO(""),
        settings=settings_for(server.url, ELASTIC_API_KEY=API_KEY),
        pipeline_settings=SETTINGS,
    )
    return status, out, err


def test_headless_says_it_in_one_clear_line_and_exits_0(
    leak_file: Path, server: FakeElasticsearch
) -> None:
    status, out, err = _headless(leak_file, server, json_lines=False)
    text = out.getvalue() + err.getvalue()
    assert status == EXIT_OK, text
    assert server.faulted >= 1
    assert "Traceback" not in text and API_KEY not in text
    (went,) = [line for line in text.splitlines() if "the store stopped answering" in line]
    assert "Elasticsearch error 503" in went and "cluster_block_exception" in went
    assert "last good answer at" in went
    assert any("the store answers again" in line for line in text.splitlines())


def test_headless_json_has_the_outage_and_the_recovery_as_events(
    leak_file: Path, server: FakeElasticsearch
) -> None:
    status, out, err = _headless(leak_file, server, json_lines=True)
    assert status == EXIT_OK, err.getvalue()
    assert server.faulted >= 1
    events = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
    kinds = [e["event"] for e in events if e["event"].startswith("store_")]
    assert kinds[0] == "store_degraded" and kinds[-1] == "store_recovered", kinds
    degraded = next(e for e in events if e["event"] == "store_degraded")
    assert "503" in degraded["error"] and degraded["failures"] >= 1
    assert degraded["retry_at"] > degraded["since"]
    assert API_KEY not in out.getvalue()
