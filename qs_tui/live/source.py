"""`LiveSource`: the telemetry a team already has in its store, read and never written.

Each step reads the newest sample of every host (the rendered `metrics_newest_per_host` query,
then that window's samples through `live_latest_samples`) so the war room's sparklines and the
pipeline's `latest` work as they do on the simulator. Nothing is ever written: the team's
collectors (Elastic Agent, APM, an OpenTelemetry collector) write the telemetry, on the wall
clock; this source only reports what is there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from qs_tui.clock import Clock, iso_instant
from qs_tui.esql.errors import EsqlError
from qs_tui.live.render import Renderer, render_canonical, resolve_profile
from qs_tui.profiles import Profile
from qs_tui.queries import load_query
from qs_tui.store.base import Store, StoreError
from qs_tui.topology import EstateUpdate

if TYPE_CHECKING:  # the watcher's module reads this one's error wording
    from qs_tui.live.estate import EstateWatcher

#: How far back a host's newest sample may lie and still be drawn: a host silent for longer
#: has stopped reporting, and showing its old reading as "latest" would mislead.
DEFAULT_LOOKBACK_S = 300


@dataclass(frozen=True)
class LiveStep:
    """What one step of the live source read (the pipeline's `TelemetryStep`).

    Attributes:
        latest: host -> its newest sample in canonical columns (`service`, `region`,
            `cpu_percent`, ...).
        failure: why the store could not be read, in one line (None: it was).
        pending: always 0: a live source writes nothing, so nothing waits.
        dropped: always 0, for the same reason.
        estate: the estate found again when it changed (services, hosts or regions seen or
            gone, new dependencies), with one line per change; None otherwise.
    """

    latest: dict[str, dict[str, Any]] = field(default_factory=dict)
    failure: str | None = None
    pending: int = 0
    dropped: int = 0
    estate: EstateUpdate | None = None


def describe_error(error: Exception) -> str:
    """An error from the store or the engine in one line a user can act on (no traceback)."""
    if isinstance(error, StoreError):
        text = f"{error.title}: {error.message}" if error.message else error.title
    elif isinstance(error, EsqlError):
        text = f"{error.kind}: {getattr(error, 'message', str(error))}"
    else:
        text = str(error) or type(error).__name__
    # The store's messages may span lines (a query with a caret); the banner shows one.
    return " ".join(text.split())


class LiveSource:
    """A `TelemetrySource` over telemetry already in `store`, on the wall clock.

    Args:
        store: where the team's telemetry is (read only).
        clock: the wall clock (`qs_tui.clock.SystemClock`); tests give a frozen one.
        profile: the schema profile mapping the team's fields to canonical names (a `Profile`,
            or a built-in name or TOML path to load), or None for the `qs` shape.
        interval_s: seconds between two samples of one host in the team's data (Elastic
            Agent's System integration collects every 10 s by default); the store is read at
            most once per interval, and a step in between returns the last reading.
        lookback_s: how old a host's newest sample may be and still count as its latest.
        render: turns canonical query text into what runs for `profile` (the profile
            renderer by default).
        watcher: rediscovers the estate when its refresh is due (`QS_ESTATE_REFRESH`); a
            step that finds it changed hands the new estate to the pipeline.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        profile: Profile | str | None = None,
        *,
        interval_s: int = 10,
        lookback_s: int = DEFAULT_LOOKBACK_S,
        render: Renderer = render_canonical,
        watcher: EstateWatcher | None = None,
    ) -> None:
        if interval_s < 1:
            raise ValueError(f"interval_s must be at least 1 second, got {interval_s}")
        if lookback_s < interval_s:
            raise ValueError(f"lookback_s ({lookback_s}) must cover one interval ({interval_s})")
        self.store = store
        self.clock = clock
        self.profile = resolve_profile(profile)
        self._interval_s = interval_s
        self._lookback = timedelta(seconds=lookback_s)
        self._render = render
        self._newest_query = render(load_query("metrics_newest_per_host"), self.profile)
        self._samples_query = render(load_query("live_latest_samples"), self.profile)
        self._last_read: datetime | None = None
        self._last: LiveStep = LiveStep()
        self._watcher = watcher

    @property
    def interval_s(self) -> int:
        """Seconds between two samples of one host."""
        return self._interval_s

    @property
    def queries(self) -> Mapping[str, str]:
        """The rendered queries each read sends, by library name (for `doctor` and tests)."""
        return {
            "metrics_newest_per_host": self._newest_query,
            "live_latest_samples": self._samples_query,
        }

    def step(self, store: Store) -> LiveStep:
        """Read each host's newest sample from `store` (never write anything).

        A store that fails does not raise: `LiveStep.failure` says why in one line, and the
        next step tries again.
        """
        now = self.clock.now()
        if (
            self._last_read is not None
            and self._last.failure is None
            and timedelta(0) <= now - self._last_read < timedelta(seconds=self._interval_s)
        ):
            return self._last  # read once per sampling interval: nothing newer can be there yet
        try:
            latest = self._read(store, now)
        except (StoreError, EsqlError) as error:
            self._last = LiveStep(latest=self._last.latest, failure=describe_error(error))
        else:
            self._last = LiveStep(latest=latest, estate=self._rediscover())
        self._last_read = now
        step = self._last
        if step.estate is not None:  # handed over once, not again with the cached reading
            self._last = replace(step, estate=None)
        return step

    def _rediscover(self) -> EstateUpdate | None:
        """The estate found again when the watcher's refresh is due and something changed."""
        if self._watcher is None:
            return None
        changes = self._watcher.poll()
        topology = self._watcher.topology
        if not changes or topology is None:
            return None
        return EstateUpdate(topology=topology, changes=tuple(change.text for change in changes))

    def _read(self, store: Store, now: datetime) -> dict[str, dict[str, Any]]:
        window = {"start": iso_instant(now - self._lookback), "end": iso_instant(now)}
        newest: dict[str, Any] = {}
        for row in store.esql(self._newest_query, params=window).records():
            if row.get("host") is not None and row.get("newest") is not None:
                newest[str(row["host"])] = row["newest"]
        if not newest:
            return {}
        # Only the newest samples are needed: read from the oldest host's newest one onwards.
        since = {"start": min(str(value) for value in newest.values()), "end": window["end"]}
        latest: dict[str, dict[str, Any]] = {}
        for row in store.esql(self._samples_query, params=since).records():
            host = row.get("host")
            # Sorted newest first, so the first row of a host is its newest sample.
            if host is not None and str(host) in newest and str(host) not in latest:
                latest[str(host)] = row
        return latest


__all__ = ["DEFAULT_LOOKBACK_S", "LiveSource", "LiveStep", "describe_error"]
