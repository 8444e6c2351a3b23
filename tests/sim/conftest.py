"""Fixtures for the simulator tests: a fixed start, a manual clock, a recording store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from qs_tui.clock import ManualClock
from tests.sim.fakes import RecordingStore

START = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def store() -> RecordingStore:
    return RecordingStore()
