"""Builds what the war room drives (store, simulation, pipeline) and starts `qs-tui`."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from qs_tui.agents.base import AgentContext, PipelineSettings
from qs_tui.agents.events import EventSink
from qs_tui.agents.pipeline import Crew, Pipeline, default_crew
from qs_tui.clock import AcceleratedClock, Clock, iso_instant
from qs_tui.config import Settings
from qs_tui.profiles import Profile, query_text
from qs_tui.queries import bind_params
from qs_tui.remediation import SimulatedExecutor
from qs_tui.sim.cluster import Simulation
from qs_tui.sim.scenario import Scenario
from qs_tui.sim.shapes import simulated_shape
from qs_tui.store.base import Health, Store

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

# esql/metrics_timeline.esql's columns -> the metric names `MetricsSampled` uses.
_TIMELINE_COLUMNS = {
    "cpu": "cpu_percent",
    "memory": "memory_percent",
    "errors": "error_rate",
    "latency": "latency_p95_ms",
    "rps": "requests_per_s",
    "disk": "disk_percent",
}

#: Per series, `(minute, metric -> value)` samples, oldest first.
SeriesHistory = dict[tuple[str, str], list[tuple[datetime, dict[str, float]]]]


@dataclass(frozen=True)
class RuntimePlan:
    """What to build for one war-room session (cheap to make; nothing runs yet).

    Attributes:
        scenario: the scenario the simulator plays.
        clock: simulated time (AcceleratedClock live, ManualClock in tests).
        store: where telemetry goes; None makes an in-memory embedded store.
        pipeline_settings: the pipeline's knobs.
        history: how much history to write before the live part (at most the scenario's).
        notifier: the Diplomat's Slack notifier (None: no notifications).
        approval_monotonic: the Diplomat's wall clock for approval deadlines (tests pass a
            hand-driven one so a timeout needs no waiting).
        profile: the schema profile the queries are rendered through (None: `qs`).
    """

    scenario: Scenario
    clock: Clock
    store: Store | None = None
    pipeline_settings: PipelineSettings | None = None
    history: timedelta = DEFAULT_HISTORY
    notifier: Any = None
    approval_monotonic: Callable[[], float] | None = None
    profile: Profile | None = None


@dataclass
class Runtime:
    """What the worker built: the live parts of one session.

    Attributes:
        plan: what it was built from.
        store: the store it writes to.
        simulation: the simulated production.
        pipeline: the six agents' pipeline.
        health: what the store reported after the history was written.
        history_s: simulated seconds of history written.
        setup_s: wall seconds the setup took.
        recent: per-minute samples of the last half hour (the sparklines' start).
    """

    plan: RuntimePlan
    store: Store
    simulation: Simulation
    pipeline: Pipeline
    health: Health
    history_s: float
    setup_s: float
    recent: SeriesHistory = field(default_factory=dict)
    _closed: bool = field(default=False, repr=False)

    @property
    def clock(self) -> Clock:
        """The session's simulated clock."""
        return self.plan.clock

    @property
    def interval_s(self) -> float:
        """Simulated seconds between metric samples."""
        return float(self.simulation.interval_s)

    def tick_wall_s(self) -> float:
        """Wall seconds between ticks: one sample interval at the clock's current speed."""
        clock = self.plan.clock
        speed = clock.speed if isinstance(clock, AcceleratedClock) else DEFAULT_SPEED
        return min(MAX_TICK_WALL_S, self.interval_s / speed)

    def close(self) -> None:
        """Close the store and the notifier (idempotent)."""
        if self._closed:
            return
        self._closed = True
        notifier = self.plan.notifier
        if notifier is not None:
            notifier.close()
        self.store.close()


def build_runtime(plan: RuntimePlan, sink: EventSink) -> Runtime:
    """Write the history and build simulation and pipeline; runs in the worker thread.

    Raises:
        StoreError: when the store cannot take the templates or the history.
    """
    started = time.monotonic()
    scenario = plan.scenario
    clock = plan.clock
    store = plan.store
    if store is None:
        from qs_tui.store.embedded import EmbeddedStore

        store = EmbeddedStore(now=clock.now)
    store.ensure_templates()
    simulation = Simulation.from_scenario(
        scenario, clock=clock, shape=simulated_shape(plan.profile)
    )
    history = min(plan.history, scenario.history_span)
    accelerated = clock if isinstance(clock, AcceleratedClock) else None
    was_paused = accelerated is not None and accelerated.paused
    if accelerated is not None:
        accelerated.pause()  # the history is written "as of" the start, however long it takes
    if _holds_history(store, end=clock.now(), span=history, profile=plan.profile):
        history = timedelta(0)  # a persisted store already has this scenario's past
    else:
        simulation.backfill(store, history)
    store.refresh()
    if accelerated is not None and not was_paused:
        accelerated.resume()
    pipeline = Pipeline(
        store=store,
        source=simulation,
        clock=clock,
        sink=sink,
        topology=simulation.topology,
        settings=plan.pipeline_settings,
        notifier=plan.notifier,
        crew=_crew_factory(plan, simulation),
        profile=plan.profile,
    )
    health = store.health()
    return Runtime(
        plan=plan,
        store=store,
        simulation=simulation,
        pipeline=pipeline,
        health=health,
        history_s=history.total_seconds(),
        setup_s=time.monotonic() - started,
        recent=recent_history(
            store, end=clock.now(), span=min(history, SPARK_HISTORY), profile=plan.profile
        ),
    )


def _holds_history(
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
            for column, metric in _TIMELINE_COLUMNS.items()
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


def _crew_factory(plan: RuntimePlan, simulation: Simulation) -> Callable[[AgentContext], Crew]:
    def build(context: AgentContext) -> Crew:
        crew = default_crew(context, executor=SimulatedExecutor(simulation), notifier=plan.notifier)
        if plan.approval_monotonic is not None:
            from qs_tui.agents.diplomat import Diplomat

            crew.diplomat = Diplomat(
                context, notifier=plan.notifier, monotonic=plan.approval_monotonic
            )
        return crew

    return build


def run_tui(
    settings: Settings,
    *,
    scenario: str | None,
    speed: float | None,
    data_dir: Path | None,
    err: TextIO | None = None,
) -> int:
    """`qs-tui` (and `qs-tui run` without `--headless`): open the war room.

    Args:
        settings: the loaded settings (store choice, Slack webhook, QS_SCENARIO, QS_SPEED).
        scenario: a scenario name or TOML file (default: QS_SCENARIO).
        speed: simulated seconds per wall second (default: QS_SPEED when set, else 10).
        data_dir: where the embedded store persists (default: QS_DATA_DIR, else memory).
        err: where startup errors go (default: stderr).

    Returns:
        0 after a normal quit, 1 when the scenario, settings or store could not be used.
    """
    from qs_tui.sim.scenario import ScenarioError, load_scenario
    from qs_tui.store.base import StoreError
    from qs_tui.ui.app import make_app

    errors = err or sys.stderr
    try:
        loaded = load_scenario(scenario or settings.scenario)
    except ScenarioError as error:
        errors.write(f"error: {error}\n")
        return EXIT_ERROR
    store: Store | None = None
    if settings.store_kind == "elastic" or data_dir is not None or settings.data_dir is not None:
        from qs_tui.store.factory import open_store

        try:
            store = open_store(settings, data_dir=data_dir)
        except StoreError as error:
            errors.write(f"error: {error}\n")
            return EXIT_ERROR
        unreachable = _unreachable(store)
        if unreachable is not None:
            # Fail as the CLI commands do, before the screen opens: empty panes behind a
            # "pipeline stopped" popup tell the operator less than this one line.
            store.close()
            errors.write(f"error: {unreachable}\n")
            return EXIT_ERROR
    chosen_speed = speed
    if chosen_speed is None:
        chosen_speed = settings.speed if "speed" in settings.model_fields_set else DEFAULT_SPEED
    seed = settings.seed if "seed" in settings.model_fields_set else None
    app = make_app(store=store, scenario=loaded, speed=chosen_speed, seed=seed, settings=settings)
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
