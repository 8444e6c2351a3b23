"""What the pipeline needs of a telemetry source: a step that brings the store up to now.

The agents never know which source runs. The simulator (`qs_tui.sim.cluster.Simulation`)
is one: each step writes the samples up to the clock's now and is also the production the
simulated executor acts on. A source that only reads a team's own telemetry is another.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from qs_tui.store.base import Store
from qs_tui.topology import EstateUpdate


class TelemetryStep(Protocol):
    """What one step of a source did."""

    @property
    def latest(self) -> Mapping[str, Mapping[str, Any]]:
        """The newest metric document per host (the series the war room draws)."""
        ...

    @property
    def failure(self) -> str | None:
        """Why the store could not be written this step (None: it was, or nothing to write)."""
        ...

    @property
    def pending(self) -> int:
        """Documents waiting for the store after this step."""
        ...

    @property
    def dropped(self) -> int:
        """Documents given up so far because too many were waiting."""
        ...

    @property
    def estate(self) -> EstateUpdate | None:
        """A changed estate found this step (None: the estate is as it was)."""
        ...


class TelemetrySource(Protocol):
    """Where the telemetry the agents read comes from."""

    @property
    def interval_s(self) -> int:
        """Seconds between two samples of one host."""
        ...

    def step(self, store: Store) -> TelemetryStep:
        """Bring `store` up to the clock's now."""
        ...


__all__ = ["EstateUpdate", "TelemetrySource", "TelemetryStep"]
