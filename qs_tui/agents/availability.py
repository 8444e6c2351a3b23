"""Whether the store answers: the pipeline's view of an outage, with backoff between tries.

The pipeline talks to the store through a `WatchedStore`. Every call that gets an answer is
the "last good answer"; a call that fails with `StoreUnavailable` (no answer, a timeout, 429,
502-504) starts an outage. During an outage, calls made inside a pipeline tick fail at once
(`CircuitOpen`, nothing is sent) until the backoff delay has passed on the pipeline's clock;
then the next call goes out as a probe: an answer ends the outage, another failure doubles
the delay (capped). So a cluster that hangs costs one request timeout per probe, not one per
query, and a cluster that says "not now" is not hammered. Outside a tick (the last flush of
the audit trail when the war room closes) every call goes out.

Time is the pipeline's clock, so tests drive an outage with a manual clock and no sleeping.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from qs_tui.clock import Clock
from qs_tui.esql.catalog import EsqlResult
from qs_tui.store.base import (
    BulkResult,
    Document,
    EsqlParams,
    Health,
    Store,
    StoreUnavailable,
)

T = TypeVar("T")


class CircuitOpen(StoreUnavailable):
    """A call not sent because the store is down and the next try is not due yet."""

    def __init__(self, cause: StoreUnavailable, retry_at: datetime) -> None:
        super().__init__(cause.title, cause.message, retry_after_s=None, may_have_landed=False)
        self.retry_at = retry_at


@dataclass(frozen=True)
class Backoff:
    """Delays between tries while the store is down: `first_s`, then doubling, capped.

    Attributes:
        first_s: seconds before the first retry.
        max_s: the longest delay.
        jitter: up to this fraction is added to each delay, so several runs against one
            cluster do not retry in step (0: exact delays, as tests use).
        seed: the jitter generator's seed (None: a fresh one per run; set it to replay).
    """

    first_s: float = 10.0
    max_s: float = 120.0
    jitter: float = 0.1
    seed: int | None = None

    def delays(self) -> Iterator[float]:
        """The delay before each retry, in order (endless)."""
        rng = random.Random(self.seed)
        delay = self.first_s
        while True:
            yield delay * (1.0 + self.jitter * rng.random())
            delay = min(self.max_s, delay * 2)


@dataclass(frozen=True)
class Outage:
    """The store is not answering.

    Attributes:
        error: one line on the last failure (names the cluster, never credentials).
        since: pipeline-clock instant of the first failure.
        last_ok_at: pipeline-clock instant of the last answer (None: never answered).
        failures: tries that failed in a row (the first failure and each probe).
        retry_at: when the next try goes out.
    """

    error: str
    since: datetime
    last_ok_at: datetime | None
    failures: int
    retry_at: datetime


def one_line(error: BaseException) -> str:
    """`error` as one line (store errors never carry credentials)."""
    return " ".join(str(error).split())


class WatchedStore:
    """A `Store` that notes every answer and failure, and backs off while the store is down.

    Thread safe. Args:
        store: the real store.
        clock: the pipeline's clock (backoff and "last good answer" are on it).
        backoff: delays between tries.
    """

    def __init__(self, store: Store, clock: Clock, *, backoff: Backoff | None = None) -> None:
        self.inner = store
        self.supports_fixed_now = bool(store.supports_fixed_now)
        self.clock = clock
        self.backoff = backoff or Backoff()
        self._lock = threading.RLock()
        self._delays: Iterator[float] = self.backoff.delays()
        self._armed = 0
        self.last_ok_at: datetime | None = None
        self._outage: Outage | None = None

    # ---- reading ------------------------------------------------------------------------

    @property
    def outage(self) -> Outage | None:
        """The outage going on, or None while the store answers."""
        with self._lock:
            return self._outage

    def __getattr__(self, name: str) -> Any:
        # Extras of a particular store (`name`, `document_count`, …) pass straight through.
        return getattr(self.inner, name)

    # ---- the tick window ----------------------------------------------------------------

    @contextmanager
    def tick(self) -> Iterator[None]:
        """Within this block, calls during an outage fail at once until a try is due."""
        with self._lock:
            self._armed += 1
        try:
            yield
        finally:
            with self._lock:
                self._armed -= 1

    # ---- the Store protocol -------------------------------------------------------------

    def esql(
        self, query: str, *, params: EsqlParams = None, now: datetime | None = None
    ) -> EsqlResult:
        """`Store.esql`, watched."""
        return self._call(lambda: self.inner.esql(query, params=params, now=now))

    def bulk(self, index: str, documents: Iterable[Document]) -> BulkResult:
        """`Store.bulk`, watched."""
        return self._call(lambda: self.inner.bulk(index, documents))

    def index(
        self, index: str, document: Document, *, doc_id: str | None = None, create: bool = False
    ) -> str:
        """`Store.index`, watched."""
        return self._call(lambda: self.inner.index(index, document, doc_id=doc_id, create=create))

    def ensure_templates(self, *, telemetry: bool = True) -> list[str]:
        """`Store.ensure_templates`, watched."""
        return self._call(lambda: self.inner.ensure_templates(telemetry=telemetry))

    def refresh(self, index: str | None = None) -> None:
        """`Store.refresh`, watched."""
        self._call(lambda: self.inner.refresh(index))

    def health(self) -> Health:
        """`Store.health` (it reports rather than raises, so it is not watched)."""
        return self.inner.health()

    def close(self) -> None:
        """Close the real store."""
        self.inner.close()

    # ---- internals ----------------------------------------------------------------------

    def _call(self, call: Callable[[], T]) -> T:
        with self._lock:
            outage = self._outage
            if outage is not None and self._armed and self.clock.now() < outage.retry_at:
                raise CircuitOpen(_cause(outage), outage.retry_at)
        try:
            result = call()
        except StoreUnavailable as error:
            self._failed(error)
            raise
        # Any answer, even a refusal of the request (a 400, a 409), shows the store is there:
        # only `StoreUnavailable` counts as not answering.
        self._answered()
        return result

    def _answered(self) -> None:
        with self._lock:
            self.last_ok_at = self.clock.now()
            if self._outage is not None:
                self._outage = None
                self._delays = self.backoff.delays()

    def _failed(self, error: StoreUnavailable) -> None:
        now = self.clock.now()
        with self._lock:
            delay = next(self._delays)
            if error.retry_after_s is not None:
                delay = max(delay, error.retry_after_s)  # the server said how long
            previous = self._outage
            self._outage = Outage(
                error=one_line(error),
                since=previous.since if previous is not None else now,
                last_ok_at=self.last_ok_at,
                failures=(previous.failures if previous is not None else 0) + 1,
                retry_at=now + timedelta(seconds=delay),
            )


def _cause(outage: Outage) -> StoreUnavailable:
    return StoreUnavailable("the store is not answering", f"{outage.error} (waiting to retry)")


__all__ = ["Backoff", "CircuitOpen", "Outage", "WatchedStore", "one_line"]
