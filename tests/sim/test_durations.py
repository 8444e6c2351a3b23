"""Durations and offsets as scenario files write them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from qs_tui.sim.durations import DurationError, format_duration, parse_offset
from qs_tui.sim.seed import parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("90m", timedelta(minutes=90)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(minutes=90)),
        ("1.5h", timedelta(minutes=90)),
        ("250ms", timedelta(milliseconds=250)),
        ("1w", timedelta(days=7)),
        ("0", timedelta(0)),
        (" 2H ", timedelta(hours=2)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "2", "h", "2 hours", "-5m", "2x", "1h-", "m5"])
def test_parse_duration_rejects_garbage_with_a_clear_message(text: str) -> None:
    with pytest.raises(DurationError, match=r"invalid duration .*e\.g\. 30s, 90m, 2h, 1d"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("+30m", timedelta(minutes=30)), ("-2h", timedelta(hours=-2)), ("45m", timedelta(minutes=45))],
)
def test_parse_offset(text: str, expected: timedelta) -> None:
    assert parse_offset(text) == expected


def test_parse_offset_error_names_the_value() -> None:
    with pytest.raises(DurationError, match=r"invalid offset '\+soon'"):
        parse_offset("+soon")


def test_format_duration_round_trips() -> None:
    for span in (timedelta(minutes=90), timedelta(days=2, seconds=5), timedelta(seconds=45)):
        assert parse_duration(format_duration(span)) == span
