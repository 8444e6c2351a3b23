"""Clocks: frozen, manual and accelerated time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from qs_tui.clock import AcceleratedClock, Clock, FrozenClock, ManualClock, SystemClock

START = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


class FakeWall:
    """A wall clock (monotonic seconds) that moves only when told."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


def test_frozen_clock_never_moves() -> None:
    clock = FrozenClock(START)
    assert clock.now() == START
    assert clock.now() == START
    assert isinstance(clock, Clock)


def test_clocks_convert_to_utc_and_reject_naive_times() -> None:
    paris = datetime(2026, 11, 25, 15, 0, tzinfo=timezone(timedelta(hours=1)))
    assert FrozenClock(paris).now() == START
    assert FrozenClock(paris).now().utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match="no timezone"):
        ManualClock(datetime(2026, 11, 25, 14, 0))


def test_manual_clock_advances_and_never_goes_back() -> None:
    clock = ManualClock(START)
    assert clock.advance(90) == START + timedelta(seconds=90)
    clock.set(START + timedelta(hours=1))
    assert clock.now() == START + timedelta(hours=1)
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        clock.set(START)


def test_accelerated_clock_runs_at_speed() -> None:
    wall = FakeWall()
    clock = AcceleratedClock(START, speed=60, wall=wall)
    assert clock.now() == START
    wall.seconds += 2
    assert clock.now() == START + timedelta(minutes=2)


def test_accelerated_clock_pause_and_resume_do_not_jump() -> None:
    wall = FakeWall()
    clock = AcceleratedClock(START, speed=10, wall=wall)
    wall.seconds += 1
    clock.pause()
    assert clock.paused
    wall.seconds += 100
    assert clock.now() == START + timedelta(seconds=10)
    clock.resume()
    clock.resume()  # idempotent
    wall.seconds += 1
    assert clock.now() == START + timedelta(seconds=20)


def test_accelerated_clock_speed_change_keeps_the_present() -> None:
    wall = FakeWall()
    clock = AcceleratedClock(START, speed=1, wall=wall)
    wall.seconds += 30
    clock.set_speed(100)
    assert clock.now() == START + timedelta(seconds=30)
    wall.seconds += 1
    assert clock.now() == START + timedelta(seconds=130)
    assert clock.speed == 100
    with pytest.raises(ValueError):
        clock.set_speed(0)


def test_system_clock_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.utcoffset() == timedelta(0)
