"""Clocks the simulator runs on: frozen, manual, accelerated (and the system clock)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Anything that can tell the (possibly simulated) time."""

    def now(self) -> datetime:
        """The current instant, timezone-aware in UTC."""
        ...


def iso_instant(instant: datetime) -> str:
    """`instant` in ISO 8601 with `Z` for UTC (`2026-11-25T14:00:00Z`): how instants travel as
    ES|QL parameters, in transcripts and in JSON output."""
    return instant.isoformat().replace("+00:00", "Z")


def as_utc(instant: datetime) -> datetime:
    """`instant` converted to UTC.

    Raises:
        ValueError: if `instant` is naive, because a naive time is ambiguous.
    """
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"time {instant.isoformat()} has no timezone; use e.g. ...+00:00 or Z")
    return instant.astimezone(UTC)


class SystemClock:
    """The real wall clock: the only place the simulator reads the machine's time."""

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)


class FrozenClock:
    """A clock that always says the same instant (tests and snapshots)."""

    def __init__(self, at: datetime) -> None:
        self._at = as_utc(at)

    def now(self) -> datetime:
        """The frozen instant."""
        return self._at


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self._at = as_utc(start)

    def now(self) -> datetime:
        """The current manual instant."""
        return self._at

    def advance(self, seconds: float) -> datetime:
        """Move forward by `seconds` (never backwards) and return the new instant.

        Raises:
            ValueError: if `seconds` is negative.
        """
        if seconds < 0:
            raise ValueError(f"a clock cannot go back in time (advance({seconds}))")
        self._at += timedelta(seconds=seconds)
        return self._at

    def set(self, at: datetime) -> None:
        """Jump to `at`, which must not be earlier than now.

        Raises:
            ValueError: if `at` is earlier than the current instant.
        """
        target = as_utc(at)
        if target < self._at:
            raise ValueError(f"a clock cannot go back in time (to {target.isoformat()})")
        self._at = target


class AcceleratedClock:
    """Simulated time running at `speed` times the wall clock from a `start` instant.

    `speed=1` is real time, `speed=60` is a simulated minute per wall second. The wall source
    is injectable (seconds as a float, monotonic) so tests can drive it without sleeping.
    """

    def __init__(
        self,
        start: datetime,
        *,
        speed: float = 1.0,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self._wall = wall
        self._anchor_sim = as_utc(start)
        self._anchor_wall = wall()
        self._speed = speed
        self._paused = False

    @property
    def speed(self) -> float:
        """Simulated seconds per wall second."""
        return self._speed

    @property
    def paused(self) -> bool:
        """Whether simulated time is standing still."""
        return self._paused

    def now(self) -> datetime:
        """The simulated instant."""
        if self._paused:
            return self._anchor_sim
        elapsed = (self._wall() - self._anchor_wall) * self._speed
        return self._anchor_sim + timedelta(seconds=elapsed)

    def _rebase(self) -> None:
        # Re-anchor at the current instant so a change of speed or a pause never makes time jump.
        self._anchor_sim = self.now()
        self._anchor_wall = self._wall()

    def pause(self) -> None:
        """Stop simulated time (idempotent)."""
        if not self._paused:
            self._rebase()
            self._paused = True

    def resume(self) -> None:
        """Let simulated time run again from where it was paused (idempotent)."""
        if self._paused:
            self._anchor_wall = self._wall()
            self._paused = False

    def set_speed(self, speed: float) -> None:
        """Change the speed from now on, without a jump in simulated time.

        Raises:
            ValueError: if `speed` is not positive.
        """
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        if not self._paused:
            self._rebase()
        self._speed = speed
