"""Shared fixtures for the agent tests: a scenario's world on the embedded store.

`make_world("memory-leak")` builds everything an agent needs: an `EmbeddedStore` with the
scenario's history backfilled, the `Simulation` behind it, a `ManualClock` at the scenario's
start, an `AgentContext` whose sink records every event, and `advance(seconds)` to move time
and write the telemetry that follows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import pytest

from qs_tui.agents.base import AgentContext, PipelineSettings
from qs_tui.agents.events import Event
from qs_tui.clock import ManualClock
from qs_tui.sim.cluster import Simulation, StepResult
from qs_tui.sim.durations import parse_duration
from qs_tui.sim.scenario import Scenario, load_scenario
from qs_tui.store.embedded import EmbeddedStore
from qs_tui.topology import Topology


@dataclass
class World:
    """One scenario's running world, driven by hand.

    Attributes:
        scenario: the loaded scenario.
        store: the embedded store holding the telemetry (in memory).
        simulation: the simulated cluster writing into `store`.
        clock: the manual clock everything reads.
        context: the agents' context (store, clock, recording sink, topology, settings).
        events: every event emitted through `context.sink`, in order.
    """

    scenario: Scenario
    store: EmbeddedStore
    simulation: Simulation
    clock: ManualClock
    context: AgentContext
    events: list[Event] = field(default_factory=list)

    @property
    def topology(self) -> Topology:
        """The scenario's topology."""
        return self.context.topology

    @property
    def now(self) -> datetime:
        """The simulated now."""
        return self.clock.now()

    def advance(self, seconds: float) -> StepResult:
        """Move the clock `seconds` forward and write the telemetry generated meanwhile."""
        self.clock.advance(seconds)
        return self.simulation.step(self.store)

    def advance_to(self, at: datetime) -> StepResult:
        """Move the clock to `at` (not earlier than now) and write the telemetry meanwhile."""
        self.clock.set(at)
        return self.simulation.step(self.store)


def make_world(
    scenario_name: str,
    *,
    history: str | None = None,
    settings: PipelineSettings | None = None,
) -> World:
    """Build the world of a shipped scenario (or a scenario file's path).

    Args:
        scenario_name: a name in `fixtures/scenarios/` (`memory-leak`) or a `.toml` path.
        history: backfill this much telemetry before the start instead of the scenario's
            own `history` (shorter keeps tests fast); a duration such as `45m`.
        settings: pipeline settings for the context (defaults otherwise).

    Returns:
        The world, with the clock at the scenario's start and the history in the store.
    """
    scenario = load_scenario(scenario_name)
    clock = ManualClock(scenario.start_time)
    store = EmbeddedStore(now=clock.now)
    store.ensure_templates()
    simulation = Simulation.from_scenario(scenario, clock=clock)
    span = parse_duration(history) if history is not None else scenario.history_span
    simulation.backfill(store, span)
    events: list[Event] = []
    context = AgentContext(
        store=store,
        clock=clock,
        sink=events.append,
        topology=simulation.topology,
        settings=settings or PipelineSettings(),
    )
    return World(
        scenario=scenario,
        store=store,
        simulation=simulation,
        clock=clock,
        context=context,
        events=events,
    )


@pytest.fixture
def scenario_world() -> Callable[..., World]:
    """The `make_world` factory: `scenario_world("memory-leak", history="45m")`."""
    return make_world
