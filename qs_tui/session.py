"""One builder of a session (store, source, clock, crew, executor, notifier) for every front.

The war room (`qs_tui.ui.runner`), the headless runner (`qs_tui.headless`) and the benches
(`qs_tui.bench.scenarios`, through `play_scenario`) all describe what they want as a
`SessionPlan` and get a `Session` from `build_session`. Which store, which telemetry source
and which remediation executor run is decided here and nowhere else:

- the store: `open_session_store` (a cluster, an embedded store persisted in a data
  directory, or an in-memory embedded store that lives as long as the session);
- the source: `choose_source` (`--source`, then `QS_SOURCE`, then `live` when a cluster is
  configured and `simulated` otherwise);
- the executor: `choose_executor` (the simulation itself for `simulated`; advisory unless
  `remediation.toml` maps the service for `live`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

from qs_tui.agents.base import AgentContext, PipelineSettings
from qs_tui.agents.events import EventSink
from qs_tui.agents.pipeline import Crew, Pipeline, default_crew
from qs_tui.agents.source import TelemetrySource
from qs_tui.clock import AcceleratedClock, Clock, ManualClock, SystemClock
from qs_tui.config import Settings
from qs_tui.notify import Notifier
from qs_tui.profiles import Profile, query_text
from qs_tui.queries import bind_params
from qs_tui.remediation.base import RemediationExecutor
from qs_tui.store.base import Store, StoreError
from qs_tui.topology import Topology

if TYPE_CHECKING:  # the simulator is loaded only by sessions that simulate
    from qs_tui.sim.cluster import Simulation
    from qs_tui.sim.scenario import Scenario

#: Where the telemetry the agents read comes from.
SourceKind = Literal["simulated", "live"]
#: The `--source` / `QS_SOURCE` values, in the order the help lists them.
SOURCE_KINDS: tuple[SourceKind, ...] = get_args(SourceKind)
#: Seconds between two reads of the live source (what `LiveSource` is built with).
LIVE_INTERVAL_S = 10
#: The indices QuantumState writes itself: they are no sign of telemetry in a store.
_OWN_INDICES = ("qs-incidents", "qs-agent-decisions")


#: Why a live source cannot run on an in-memory store (one line, saying what to do).
LIVE_NEEDS_DATA = (
    "--source live needs telemetry to read, and an in-memory embedded store is empty: "
    "configure a cluster (ELASTIC_URL), or fill a data directory with "
    "`qs-tui seed --data-dir DIR` and pass --data-dir DIR"
)


class SessionError(Exception):
    """A combination of choices that cannot make a session; the message says what to do."""


def choose_source(
    settings: Settings, flag: str | None = None, *, scenario_named: bool = False
) -> SourceKind:
    """Which telemetry source runs: `flag` (`--source`), else `QS_SOURCE`, else the default.

    The default is `live` when a cluster is configured (its own telemetry is what a team
    wants watched) and `simulated` otherwise (an embedded store has nothing of its own). A
    scenario named on the command line asks for the simulator, so it makes the default
    `simulated` even with a cluster (the simulator then writes to that cluster).

    Raises:
        SessionError: `flag` is not one of `SOURCE_KINDS`.
    """
    chosen = flag if flag is not None else settings.source
    if chosen == "auto":
        if scenario_named:
            return "simulated"
        return "live" if settings.cluster_configured else "simulated"
    if chosen not in SOURCE_KINDS:
        raise SessionError(
            f"--source {chosen!r}: choose one of {', '.join(SOURCE_KINDS)} (or set QS_SOURCE)"
        )
    return chosen


def open_session_store(
    settings: Settings, *, data_dir: Path | None = None, given: Store | None = None
) -> Store | None:
    """The store a session writes to, or None for an in-memory embedded store.

    A cluster or an embedded store persisted in `data_dir` / `QS_DATA_DIR` is opened here
    (so the audit trail lands where the user said); otherwise None, and `build_session`
    makes an in-memory store that follows the session's clock.

    Args:
        settings: the loaded settings (`store_kind`, `data_dir`).
        data_dir: overrides `QS_DATA_DIR`.
        given: a store the caller already opened (returned as is).

    Raises:
        StoreError: the store cannot be opened.
    """
    if given is not None:
        return given
    if settings.store_kind == "elastic" or data_dir is not None or settings.data_dir is not None:
        from qs_tui.store.factory import open_store

        return open_store(settings, data_dir=data_dir)
    return None


@dataclass(frozen=True)
class SessionPlan:
    """What to build (cheap to make; nothing runs until `build_session`).

    Attributes:
        source: `simulated` (the simulator writes telemetry and is the production the
            executor acts on) or `live` (only reads what is already in the store).
        scenario: what the simulator plays (required for `simulated`, refused for `live`).
        settings: the app settings (profile, remediation file); None uses the defaults.
        store: where telemetry is read (and, simulated, written); None makes an in-memory
            embedded store. The session owns it from then on and closes it.
        clock: the session's time. None: simulated runs get an `AcceleratedClock` at
            `speed` from the scenario's start, or a `ManualClock` when `speed` is None;
            live runs get the wall clock.
        speed: simulated seconds per wall second (see `clock`).
        pipeline_settings: the pipeline's knobs.
        history: simulated history to write before the run (None: the scenario's whole
            history span; capped at it either way).
        reuse_history: skip the history when the store already holds metrics for that span
            (a persisted store that played this scenario before; the war room's choice).
        notifier: the Diplomat's notifier (None: no notifications).
        approval_monotonic: the Diplomat's wall clock for approval deadlines (tests).
        progress: called while the history is written with (samples done, in total).
        profile: the schema profile the queries are rendered through (None: the `qs`
            shape the simulator writes).
    """

    source: SourceKind = "simulated"
    scenario: Scenario | None = None
    settings: Settings | None = None
    store: Store | None = None
    clock: Clock | None = None
    speed: float | None = None
    pipeline_settings: PipelineSettings | None = None
    history: timedelta | None = None
    reuse_history: bool = False
    notifier: Notifier | None = None
    approval_monotonic: Callable[[], float] | None = None
    progress: Callable[[int, int], None] | None = None
    profile: Profile | None = None


@dataclass
class Session:
    """What `build_session` made: the live parts the pipeline runs on.

    Attributes:
        plan: what it was built from.
        source_kind: `simulated` or `live`.
        store: the store (owned: `close` closes it).
        source: the telemetry source the pipeline steps each tick.
        clock: the session's time.
        topology: the estate (the scenario's, or discovered from the data).
        executor: what the Surgeon acts through.
        notifier: the Diplomat's notifier.
        profile: the schema profile the queries are rendered through (None: `qs`).
        simulation: the simulated production (None on a live session).
        history_s: simulated seconds of history written before the run.
        setup_s: wall seconds the build took.
    """

    plan: SessionPlan
    source_kind: SourceKind
    store: Store
    source: TelemetrySource
    clock: Clock
    topology: Topology
    executor: RemediationExecutor
    notifier: Notifier | None
    profile: Profile | None
    simulation: Simulation | None
    history_s: float = 0.0
    setup_s: float = 0.0
    _closed: bool = field(default=False, repr=False)

    @property
    def interval_s(self) -> float:
        """Seconds between two samples of one host."""
        return float(self.source.interval_s)

    def crew_factory(self) -> Callable[[AgentContext], Crew]:
        """The six agents, acting through this session's executor and notifier."""
        plan = self.plan

        def build(context: AgentContext) -> Crew:
            crew = default_crew(context, executor=self.executor, notifier=self.notifier)
            if plan.approval_monotonic is not None:
                from qs_tui.agents.diplomat import Diplomat

                crew.diplomat = Diplomat(
                    context, notifier=self.notifier, monotonic=plan.approval_monotonic
                )
            return crew

        return build

    def pipeline(self, sink: EventSink) -> Pipeline:
        """The six agents' pipeline over this session, posting its events to `sink`."""
        return Pipeline(
            store=self.store,
            source=self.source,
            clock=self.clock,
            sink=sink,
            topology=self.topology,
            settings=self.plan.pipeline_settings,
            notifier=self.notifier,
            crew=self.crew_factory(),
            profile=self.profile,
        )

    def close(self) -> None:
        """Close the store (idempotent). The notifier is closed by whoever made it: it may
        outlive the session to deliver its last messages."""
        if self._closed:
            return
        self._closed = True
        self.store.close()


def check_plan(plan: SessionPlan) -> None:
    """Refuse combinations that make no sense, in one line saying what to do instead.

    Raises:
        SessionError: a scenario on a live source, no scenario on a simulated one, or a
            live source on an in-memory store (which holds nothing to read).
    """
    if plan.source == "live":
        if plan.scenario is not None:
            raise SessionError(
                "--source live reads the telemetry already in the store and plays no "
                "scenario: drop --scenario, or use --source simulated"
            )
        if plan.store is None:
            raise SessionError(LIVE_NEEDS_DATA)
        return
    if plan.source != "simulated":
        raise SessionError(f"unknown source {plan.source!r}: choose one of simulated, live")
    if plan.scenario is None:
        raise SessionError("--source simulated needs a scenario (--scenario or QS_SCENARIO)")


def build_session(plan: SessionPlan) -> Session:
    """Build the session `plan` describes (may write the history: run it off the UI thread).

    Raises:
        SessionError: `plan` combines choices that make no sense (see `check_plan`).
        StoreError: the store cannot take the templates or the history, or (live) holds no
            telemetry.
    """
    check_plan(plan)
    if plan.source == "live":
        return _build_live(plan)
    return _build_simulated(plan)


def _simulated_clock(plan: SessionPlan, scenario: Scenario) -> Clock:
    if plan.clock is not None:
        return plan.clock
    if plan.speed is None:
        return ManualClock(scenario.start_time)
    return AcceleratedClock(scenario.start_time, speed=plan.speed)


def _build_simulated(plan: SessionPlan) -> Session:
    from qs_tui.sim.cluster import Simulation
    from qs_tui.sim.shapes import simulated_shape

    started = time.monotonic()
    scenario = plan.scenario
    assert scenario is not None  # check_plan refuses a simulated plan without one
    clock = _simulated_clock(plan, scenario)
    store = plan.store
    if store is None:
        from qs_tui.store.embedded import EmbeddedStore

        retention = plan.settings.retention if plan.settings is not None else None
        store = (
            EmbeddedStore(now=clock.now)
            if retention is None
            else EmbeddedStore(now=clock.now, retention=retention)
        )
    store.ensure_templates()
    simulation = Simulation.from_scenario(
        scenario, clock=clock, shape=simulated_shape(plan.profile)
    )
    history = scenario.history_span
    if plan.history is not None:
        history = min(plan.history, history)
    accelerated = clock if isinstance(clock, AcceleratedClock) else None
    was_paused = accelerated is not None and accelerated.paused
    if accelerated is not None:
        accelerated.pause()  # the history is written "as of" the start, however long it takes
    if plan.reuse_history and holds_history(
        store, end=clock.now(), span=history, profile=plan.profile
    ):
        history = timedelta(0)  # a persisted store already has this scenario's past
    else:
        simulation.backfill(store, history, progress=plan.progress)
    store.refresh()
    if accelerated is not None and not was_paused:
        accelerated.resume()
    return Session(
        plan=plan,
        source_kind="simulated",
        store=store,
        source=simulation,
        clock=clock,
        topology=simulation.topology,
        executor=choose_executor("simulated", plan.settings, simulation=simulation),
        notifier=plan.notifier,
        profile=plan.profile,
        simulation=simulation,
        history_s=history.total_seconds(),
        setup_s=time.monotonic() - started,
    )


def holds_history(
    store: Store, *, end: datetime, span: timedelta, profile: Profile | None = None
) -> bool:
    """Whether the store already holds metrics for `span` before `end` (a persisted store
    that played this scenario before), so its history is not written twice."""
    if span <= timedelta(0):
        return False
    result = store.esql(
        query_text("metrics_span", profile),
        params=bind_params({"start": end - span, "end": end}),
    )
    return bool(result.values) and bool(result.values[0][2])


def _require_telemetry(store: Store) -> None:
    """A live session on an embedded store that holds no telemetry says how to fill it."""
    from qs_tui.store.embedded import EmbeddedStore

    if not isinstance(store, EmbeddedStore):
        return  # a cluster's data is checked by `qs-tui doctor --profile`, not guessed here
    filled = [
        index
        for index in store.indices()
        if not index.startswith(_OWN_INDICES) and store.count(index) > 0
    ]
    if not filled:
        where = f" in {store.data_dir}" if store.data_dir is not None else ""
        raise StoreError(
            "no telemetry to watch",
            f"the embedded store{where} is empty: fill it with `qs-tui seed --data-dir DIR` "
            "(or load your own with `qs-tui esql --index/--data`), or configure a cluster "
            "(ELASTIC_URL) and run with --source live there",
        )


def _build_live(plan: SessionPlan) -> Session:
    started = time.monotonic()
    store = plan.store
    assert store is not None  # check_plan refuses a live plan without a store
    clock = plan.clock or SystemClock()
    # Incidents and the audit trail are still written; telemetry is the team's own, so no
    # telemetry template or data stream of ours is created on their cluster.
    store.ensure_templates(telemetry=False)
    _require_telemetry(store)
    # Loaded here: a simulated session never needs the live source's modules.
    from qs_tui.live import EstateWatcher, LiveSource, TopologyConfigError, topology_file

    profile = plan.profile
    settings = plan.settings or Settings()
    try:
        watcher = EstateWatcher(
            store,
            clock,
            profile,
            refresh_s=settings.estate_refresh_s,
            topology_file=topology_file(settings.topology_file),
        )
        watcher.poll()  # the first discovery; then again every QS_ESTATE_REFRESH seconds
    except TopologyConfigError as error:
        raise SessionError(str(error)) from None
    topology = watcher.topology
    if topology is None:
        raise SessionError(watcher.failure or "the estate could not be discovered")
    # Nothing here writes telemetry: the live source only reads what the team's agents and
    # collectors already put in the store.
    source = LiveSource(store, clock, profile, interval_s=LIVE_INTERVAL_S, watcher=watcher)
    return Session(
        plan=plan,
        source_kind="live",
        store=store,
        source=source,
        clock=clock,
        topology=topology,
        executor=choose_executor("live", settings),
        notifier=plan.notifier,
        profile=plan.profile,
        simulation=None,
        setup_s=time.monotonic() - started,
    )


def choose_executor(
    source: SourceKind, settings: Settings | None, *, simulation: Simulation | None = None
) -> RemediationExecutor:
    """What the Surgeon acts through.

    `simulated`: the simulation, which is the production in that case. `live`: advisory
    (the plan and the command a human would run; nothing executed) unless
    `remediation.toml` maps the service to a real executor.

    Raises:
        SessionError: a simulated source without its simulation, or a `remediation.toml`
            that cannot be used (its `file:line: field: …` message).
    """
    if source == "simulated":
        if simulation is None:
            raise SessionError("a simulated session needs its simulation as the executor")
        from qs_tui.remediation import SimulatedExecutor

        return SimulatedExecutor(simulation)
    # Loaded here: a simulated session never needs the real executors' modules.
    from qs_tui.remediation.advisory import RoutingExecutor
    from qs_tui.remediation.config import RemediationConfigError, load_remediation

    try:
        # QS_REMEDIATION, else ./remediation.toml when there is one, else nothing mapped.
        remediation = load_remediation(settings.remediation if settings is not None else None)
    except RemediationConfigError as error:
        raise SessionError(str(error)) from None
    # Unmapped services (all of them without a file) go to the advisory executor: the plan
    # and the command a human would run, nothing carried out.
    return RoutingExecutor(remediation)


__all__ = [
    "LIVE_INTERVAL_S",
    "LIVE_NEEDS_DATA",
    "SOURCE_KINDS",
    "Session",
    "SessionError",
    "SessionPlan",
    "SourceKind",
    "build_session",
    "check_plan",
    "choose_executor",
    "choose_source",
    "holds_history",
    "open_session_store",
]
