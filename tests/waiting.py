"""Waiting in tests: on events and messages, with a guard that only turns a hang into a failure."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")

#: Far longer than any wait should take on a loaded one-core machine. It bounds waits for a
#: condition (an event set, a message handled, a thread done); it is never the condition a
#: test checks, so a slow machine only takes longer, it does not fail.
HANG_GUARD_S = 300.0


async def within_guard(awaitable: Awaitable[T]) -> T:
    """Await `awaitable` (an event or message the test waits for), failing only if it hangs."""
    return await asyncio.wait_for(awaitable, timeout=HANG_GUARD_S)
