"""Builds what the war room drives (store, simulation, pipeline) and starts `qs-tui`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from qs_tui.agents.base import PipelineSettings
from qs_tui.agents.events import EventSink
from qs_tui.agents.pipeline import Pipeline
from qs_tui.clock import AcceleratedClock, Clock, iso_instant
from qs_tui.config import Settings
from qs_tui.profiles import Profile, query_text
from qs_tui.queries import TIMELINE_COLUMNS
from qs_tui.session import (
    LIVE_NEEDS_DATA,
    Session,
    SessionError,
    SessionPlan,
    SourceKind,
    build_session,
    choose_source,
    open_session_store,
)
from qs_tui.sim.cluster import Simulation
from qs_tui.sim.scenario import Scenario
from qs_tui.store.base import Health, Store
from qs_tui.topology import Topology

#: History written before the live part: enough for the detectors' baseline and window
#: (30 + 10 min by default) while keeping startup short.
DEFAULT_HISTORY = timedelta(minutes=40)
#: Simulated seconds per wall second when neither `--speed` nor QS_SPEED is given: with the
#: usual 10 s sample interval this streams one new sample per second.
DEFAULT_SPEED = 10.0
#: Longest wall wait between ticks, so keyboard answers are picked up promptly at low speeds.
MAX_TICK_WALL_S = 1.0
#: Exit status when the war room could not start (bad scenario, settings or store).
EXIT_ERROR = 1
#: How far back the sparklines start (per-minute averages from the store).
SPARK_HISTORY = timedelta(minutes=30)


#: Per series, `(minute, metric -> value)` samples, oldest first.
SeriesHistory = dict[tuple[str, str], list[tuple[datetime, dict[str, float]]]]


@dataclass(frozen=True)
class RuntimePlan:
    """What to build for one war-room session (cheap to make; nothing runs yet).

    Attributes:
        scenario: the scenario the simulator plays (None on a live source).
        clock: the session's time (AcceleratedClock simulated, the wall clock live,
            ManualClock in tests).
        store: where telemetry is; None makes an in-memory embedded store.
        pipeline_settings: the pipeline's knobs.
        history: how much history to write before the live part (at most the scenario's).
        notifier: the Diplomat's Slack notifier (None: no notifications).
        approval_monotonic: the Diplomat's wall clock for approval deadlines (tests pass a
            hand-driven one so a timeout needs no waiting).
        source: `simulated` or `live` (see `qs_tui.session.choose_source`).
        settings: the app settings (the live executor's remediation choice).
        profile: the schema profile the queries are rendered through (None: `qs`).
    """

    scenario: Scenario | None
    clock: Clock
    store: Store | None = None
    pipeline_settings: PipelineSettings | None = None
    history: timedelta = DEFAULT_HISTORY
    notifier: Any = None
    approval_monotonic: Callable[[], float] | None = None
    source: SourceKind = "simulated"
    settings: Settings | None = None
    profile: Profile | None = None

    def session_plan(self) -> SessionPlan:
        """The session this war room runs on: the history it writes is capped and written
        only once into a store that persists."""
        return SessionPlan(
            source=self.source,
            scenario=self.scenario,
            settings=self.settings,
            store=self.store,
            clock=self.clock,
            pipeline_settings=self.pipeline_settings,
            history=self.history,
            reuse_history=True,
            notifier=self.notifier,
            approval_monotonic=self.approval_monotonic,
            profile=self.profile,
        )


@dataclass
class Runtime:
    """What the worker built: the live parts of one session.

    Attributes:
        plan: what it was built from.
        session: the session (store, source, clock, executor, notifier).
        pipeline: the six agents' pipeline.
        health: what the store reported after the history was written.
        recent: per-minute samples of the last half hour (the sparklines' start).
    """

    plan: RuntimePlan
    session: Session
    pipeline: Pipeline
    health: Health
    recent: SeriesHistory = field(default_factory=dict)
    _closed: bool = field(default=False, repr=False)

    @property
    def store(self) -> Store:
        """The store the session reads (and, simulated, writes)."""
        return self.session.store

    @property
    def simulation(self) -> Simulation | None:
        """The simulated production (None on a live source)."""
        return self.session.simulation

    @property
    def topology(self) -> Topology:
        """The estate the war room shows."""
        return self.session.topology

    @property
    def history_s(self) -> float:
        """Simulated seconds of history written."""
        return self.session.history_s

    @property
    def setup_s(self) -> float:
        """Wall seconds the setup took."""
        return self.session.setup_s

    @property
    def clock(self) -> Clock:
        """The session's clock."""
        return self.session.clock

    @property
    def interval_s(self) -> float:
        """Seconds between metric samples."""
        return self.session.interval_s

    def tick_wall_s(self) -> float:
        """Wall seconds between ticks: one sample interval at the clock's current speed."""
        clock = self.session.clock
        if self.session.source_kind == "live":
            # The wall clock: a tick per live read, capped so answers are picked up promptly.
            return MAX_TICK_WALL_S
        speed = clock.speed if isinstance(clock, AcceleratedClock) else DEFAULT_SPEED
        return min(MAX_TICK_WALL_S, self.interval_s / speed)

    def close(self) -> None:
        """Close the notifier and the store (idempotent)."""
        if self._closed:
            return
        self._closed = True
        notifier = self.plan.notifier
        if notifier is not None:
            notifier.close()
        self.session.close()


def build_runtime(plan: RuntimePlan, sink: EventSink) -> Runtime:
    """Build the session (writing the history) and the pipeline; runs in the worker thread.

    Raises:
        SessionError: the plan combines choices that make no sense.
        StoreError: when the store cannot take the templates or the history.
    """
    session = build_session(plan.session_plan())
    pipeline = session.pipeline(sink)
    clock = session.clock
    span = min(timedelta(seconds=session.history_s), SPARK_HISTORY)
    if session.source_kind == "live":
        span = SPARK_HISTORY  # the team's own history is there to draw from
    return Runtime(
        plan=plan,
        session=session,
        pipeline=pipeline,
        health=session.store.health(),
        recent=recent_history(session.store, end=clock.now(), span=span, profile=plan.profile),
    )


def recent_history(
    store: Store, *, end: datetime, span: timedelta, profile: Profile | None = None
) -> SeriesHistory:
    """Per-minute averages per service and region over `span` before `end`.

    Runs `esql/metrics_timeline.esql`; a store that cannot answer yields no history (the
    sparklines then start with the live samples).
    """
    from qs_tui.store.base import StoreError

    if span <= timedelta(0):
        return {}
    text = query_text("metrics_timeline", profile)
    params = {
        "start": iso_instant(end - span),
        "end": iso_instant(end),
    }
    try:
        result = store.esql(text, params=params)
    except StoreError:
        return {}
    history: SeriesHistory = {}
    for record in result.records():
        minute = record.get("minute")
        if not isinstance(minute, str):
            continue
        values = {
            metric: float(record[column])
            for column, metric in TIMELINE_COLUMNS.items()
            if isinstance(record.get(column), int | float)
        }
        key = (str(record.get("service")), str(record.get("region")))
        at = datetime.fromisoformat(minute.replace("Z", "+00:00"))
        history.setdefault(key, []).append((at, values))
    for samples in history.values():
        samples.sort(key=lambda sample: sample[0])
    return history


def _unreachable(store: Store) -> str | None:
    """Why `store` cannot be used at all (its cluster does not answer), or None."""
    health = store.health()
    if health.ok or health.status != "unreachable":
        return None  # a yellow or red cluster still answers: the status bar shows it
    return str(health.detail.get("error") or f"cannot reach {health.name}")


def run_tui(
    settings: Settings,
    *,
    scenario: str | None,
    speed: float | None,
    data_dir: Path | None,
    err: TextIO | None = None,
    source: str | None = None,
) -> int:
    """`qs-tui` (and `qs-tui run` without `--headless`): open the war room.

    Args:
        settings: the loaded settings (store choice, Slack webhook, QS_SCENARIO, QS_SPEED,
            QS_SOURCE).
        scenario: a scenario name or TOML file given on the command line (default:
            QS_SCENARIO on a simulated source; refused on a live one).
        speed: simulated seconds per wall second (default: QS_SPEED when set, else 10).
        data_dir: where the embedded store persists (default: QS_DATA_DIR, else memory).
        err: where startup errors go (default: stderr).
        source: `--source` (default: QS_SOURCE, else live with a cluster, else simulated).

    Returns:
        0 after a normal quit, 1 when the scenario, settings or store could not be used.
    """
    from qs_tui.clock import SystemClock
    from qs_tui.sim.scenario import ScenarioError, load_scenario
    from qs_tui.store.base import StoreError
    from qs_tui.ui.app import make_app

    errors = err or sys.stderr
    try:
        kind = choose_source(settings, source, scenario_named=scenario is not None)
        loaded = None
        if kind == "simulated":
            loaded = load_scenario(scenario or settings.scenario)
        elif scenario is not None:
            raise SessionError(
                f"--scenario {scenario}: --source live reads the telemetry already in the "
                "store and plays no scenario; drop --scenario, or use --source simulated"
            )
        store = open_session_store(settings, data_dir=data_dir)
    except (ScenarioError, SessionError, StoreError) as error:
        errors.write(f"error: {error}\n")
        return EXIT_ERROR
    if store is not None:
        unreachable = _unreachable(store)
        if unreachable is not None:
            # Fail as the CLI commands do, before the screen opens: empty panes behind a
            # "pipeline stopped" popup tell the operator less than this one line.
            store.close()
            errors.write(f"error: {unreachable}\n")
            return EXIT_ERROR
    elif kind == "live":
        errors.write(f"error: {LIVE_NEEDS_DATA}\n")
        return EXIT_ERROR
    chosen_speed = speed
    if chosen_speed is None:
        chosen_speed = settings.speed if "speed" in settings.model_fields_set else DEFAULT_SPEED
    seed = settings.seed if "seed" in settings.model_fields_set else None
    from qs_tui.remediation.config import RemediationConfigError
    from qs_tui.remediation.policy import policy_settings

    try:  # `[policy]` of remediation.toml and --read-only, enforced by the agents
        policed = PipelineSettings().model_copy(update=policy_settings(settings))
    except RemediationConfigError as error:
        errors.write(f"error: {error}\n")
        return EXIT_ERROR
    app = make_app(
        store=store,
        scenario=loaded,
        speed=chosen_speed,
        seed=seed,
        settings=settings,
        source=kind,
        clock=SystemClock() if kind == "live" else None,
        pipeline_settings=policed,
    )
    app.run()
    for incident in app.left_behind:
        # The screen is gone: say in the terminal what leaving did to what waited.
        reason = incident.history[-1].reason if incident.history else ""
        errors.write(f"{incident.id} {incident.state.value.replace('_', ' ')}: {reason}\n")
    if app.unwritten_records:
        errors.write(
            f"error: {app.unwritten_records} audit record(s) could not be written: the store "
            "did not answer before the war room closed\n"
        )
        return EXIT_ERROR
    if app.failure is not None:
        errors.write(f"error: {app.failure}\n")
        return EXIT_ERROR
    return 0


__all__ = [
    "DEFAULT_HISTORY",
    "DEFAULT_SPEED",
    "EXIT_ERROR",
    "Runtime",
    "RuntimePlan",
    "build_runtime",
    "run_tui",
]
