"""Durations and offsets as scenario files write them: `30s`, `90m`, `2h`, `1d`, `+30m`."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS: dict[str, float] = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")

#: The longest duration any file may write: ten years. Far beyond a sane scenario, and far
#: below where `timedelta` overflows (about 2.7 million years), so a typo such as
#: `99999999999d` is a clear error instead of an `OverflowError` traceback.
MAX_DURATION = timedelta(days=3650)


class DurationError(ValueError):
    """A duration or offset that cannot be read; the message shows the accepted forms."""


def parse_duration(text: str) -> timedelta:
    """Read a duration such as `30s`, `90m`, `2h`, `1d`, `1h30m` or `1.5h`.

    Units: `ms`, `s`, `m` (minutes), `h`, `d`, `w`. A bare `0` means no time.

    Raises:
        DurationError: if `text` is not a duration (the message says what is accepted), or
            is longer than `MAX_DURATION`.
    """
    cleaned = text.strip().lower().replace(" ", "")
    if cleaned == "0":
        return timedelta(0)
    position = 0
    total = 0.0
    for match in _PART.finditer(cleaned):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if not cleaned or position != len(cleaned):
        raise DurationError(
            f"invalid duration {text!r}: use a number and a unit (ms, s, m, h, d, w), "
            "e.g. 30s, 90m, 2h, 1d or 1h30m"
        )
    if total > MAX_DURATION.total_seconds():
        raise DurationError(
            f"duration {text!r} is too long: at most {format_duration(MAX_DURATION)} "
            f"({MAX_DURATION.days} days)"
        )
    return timedelta(seconds=total)


def parse_offset(text: str) -> timedelta:
    """Read a signed offset from the scenario start: `+30m`, `-2h`, `45m` or `0`.

    Raises:
        DurationError: if `text` is not a (signed) duration.
    """
    cleaned = text.strip()
    sign = 1
    if cleaned[:1] in "+-" and cleaned:
        sign = -1 if cleaned[0] == "-" else 1
        cleaned = cleaned[1:]
    try:
        return sign * parse_duration(cleaned)
    except DurationError as error:
        if "too long" in str(error):
            raise
        raise DurationError(
            f"invalid offset {text!r}: use a signed duration from the scenario start, "
            "e.g. +30m, -2h or 0"
        ) from None


def format_duration(span: timedelta) -> str:
    """A compact form of `span` that `parse_duration` reads back: `1h30m`, `45s`, `2d`."""
    seconds = int(span.total_seconds())
    if seconds == 0:
        return "0"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return sign + "".join(parts)
