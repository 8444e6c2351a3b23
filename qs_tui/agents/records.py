"""The audit trail's writer: records of actions and outcomes are retried, queued while the
store is down, and written in order once it is back.

Every decision (`qs-agent-decisions`) and incident record (`qs-incidents`) goes through one
`RecordWriter`, so a store that fails for a moment loses nothing: a write is tried a few times
with a short, bounded backoff; if the store still fails, the record waits in a bounded queue
(and every later record queues behind it, so the trail keeps its order) until a later write or
`flush()` finds the store back. What could not be written is counted, and a headless run
whose audit trail is incomplete says so and does not exit 0.

The agents' transcript lines go through the same writer as *quiet* records: they queue and
retry like the rest, but the writer says nothing about them (a line about each queued line
would double the transcript during an outage). A line the writer itself says (about the
queue, a flush, a refusal) while it is busy writing is recorded right after that write, never
from inside it.

Nothing is written twice: a record written under a fixed id with create-if-absent
(`create=True`: decisions, incident claims, transcript lines) whose earlier try may have
landed before the connection dropped or timed out, and that later meets its own id taken
(409), is counted as written, not refused and not written again.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from qs_tui.agents.availability import CircuitOpen
from qs_tui.store.base import Document, DocumentExists, Store, StoreError, StoreUnavailable

#: Seconds to wait before each retry of a failed write (bounded: about a second in all).
DEFAULT_RETRY_DELAYS_S: tuple[float, ...] = (0.05, 0.2, 0.75)
#: Records kept while the store is down; beyond it the oldest are dropped (and counted lost).
DEFAULT_MAX_QUEUED = 10_000

#: Store errors a retry cannot fix: the document itself is refused.
_PERMANENT_TITLES = ("document rejected", "Elasticsearch error 400")

Say = Callable[[str, str], None]
_Outcome = Literal["written", "refused", "failed"]


@dataclass(frozen=True)
class PendingRecord:
    """One record waiting to be written.

    Attributes:
        index: where it goes.
        document: the document.
        doc_id: its id (None: the store picks one).
        create: write only if the id is free (`op_type=create`).
        what: a few words for messages (`decision executed for INC-0003`).
        may_have_landed: an earlier try got no answer after sending it (a dropped
            connection, a timeout): the store may hold it already.
        quiet: say nothing about this record (queued, refused): a transcript line.
    """

    index: str
    document: Document
    doc_id: str | None
    create: bool
    what: str
    may_have_landed: bool = False
    quiet: bool = False


def _permanent(error: StoreError) -> bool:
    return isinstance(error, DocumentExists) or error.title.startswith(_PERMANENT_TITLES)


class RecordWriter:
    """Writes audit records with bounded retries and an ordered, bounded queue.

    Thread safe. Args:
        store: where records go.
        say: called with (text, level) for transcript lines about queueing and flushing.
        retry_delays_s: seconds before each retry of a failing write.
        max_queued: how many records may wait; the oldest beyond that are lost (counted).
        sleep: how to wait between retries.
    """

    def __init__(
        self,
        store: Store,
        *,
        say: Say | None = None,
        retry_delays_s: Sequence[float] = DEFAULT_RETRY_DELAYS_S,
        max_queued: int = DEFAULT_MAX_QUEUED,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.say = say or (lambda text, level: None)
        self.retry_delays_s = tuple(retry_delays_s)
        self.max_queued = max_queued
        self.sleep = sleep
        self._queue: deque[PendingRecord] = deque()
        self._lock = threading.RLock()
        self.written = 0
        self.lost = 0
        self.rejected: list[str] = []
        self.last_error: str | None = None
        # Writes asked for while this thread is inside a write (from `say`), done after it.
        self._busy = False
        self._deferred: deque[PendingRecord] = deque()

    # ---- reading ------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Records waiting for the store."""
        with self._lock:
            return len(self._queue)

    @property
    def complete(self) -> bool:
        """Whether every record so far is in the store (none waiting, lost or refused)."""
        with self._lock:
            return not self._queue and not self.lost and not self.rejected

    def problem(self) -> str | None:
        """One sentence on what is missing from the audit trail, or None when it is whole."""
        with self._lock:
            parts = []
            if self._queue:
                parts.append(f"{len(self._queue)} records still queued")
            if self.lost:
                parts.append(f"{self.lost} records dropped from a full queue")
            if self.rejected:
                parts.append(f"{len(self.rejected)} refused ({self.rejected[0]})")
            if not parts:
                return None
            cause = f" (last error: {self.last_error})" if self.last_error else ""
            return "audit trail incomplete: " + ", ".join(parts) + cause

    # ---- writing ------------------------------------------------------------------------

    def write(
        self,
        index: str,
        document: Document,
        *,
        doc_id: str | None = None,
        create: bool = False,
        what: str = "record",
        may_have_landed: bool = False,
        quiet: bool = False,
    ) -> bool:
        """Write one record now (retrying), or queue it if the store stays unavailable.

        Records already queued go first, so the trail keeps its order; while some are
        queued, a new record is not retried on its own (one attempt to flush, then it
        queues), so a down store costs one failed request per record, not a backoff each.

        Args:
            may_have_landed: a try made elsewhere (an id claim) got no answer after sending
                it, so a 409 on `create` later means that try landed.
            quiet: say nothing about this record (a transcript line: the line itself is
                what would be said).

        Returns:
            True when the record (and everything queued before it) is in the store; False
            also for a record asked for from inside another write (it follows that write).
        """
        record = PendingRecord(index, dict(document), doc_id, create, what, may_have_landed, quiet)
        with self._lock:
            if self._busy:
                # Called back from `say` in the middle of a write: the queue is being walked,
                # so this record waits until that write is over (then goes the normal way).
                self._deferred.append(record)
                return False
            written = self._write_now(record)
            self._write_deferred()
            return written

    def _write_now(self, record: PendingRecord) -> bool:
        self._busy = True
        try:
            if self._queue and record.quiet:
                # The store is known to be down: a transcript line waits behind the others
                # without a request of its own (it must not probe the store, nor move the
                # backoff); the next decision or flush writes it.
                self._enqueue(record)
                return False
            if self._queue:
                self._drain(retry=False)
                if self._queue:
                    self._enqueue(record)
                    return False
            outcome, record = self._attempt(record, retry=True)
            if outcome == "failed":
                self._enqueue(record)
            return outcome == "written"
        finally:
            self._busy = False

    def _write_deferred(self) -> None:
        # Each deferred record is written like any other; what that says defers again and
        # is written in the next round (quiet records say nothing, so this ends).
        while self._deferred:
            self._write_now(self._deferred.popleft())

    def flush(self, *, retry: bool = False) -> int:
        """Write queued records in order until one fails; returns how many were written.

        Args:
            retry: back off and retry a failing record (use at the end of a run).
        """
        with self._lock:
            if self._busy:
                return 0
            self._busy = True
            try:
                done = self._drain(retry=retry)
            finally:
                self._busy = False
            self._write_deferred()
            return done

    # ---- internals ----------------------------------------------------------------------

    def _drain(self, *, retry: bool) -> int:
        done = 0
        while self._queue:
            outcome, self._queue[0] = self._attempt(self._queue[0], retry=retry)
            if outcome == "failed":
                break
            self._queue.popleft()  # written, or refused for good (counted in `rejected`)
            done += outcome == "written"
        if done:
            left = f"; {len(self._queue)} still queued" if self._queue else ""
            self.say(f"the store is back: wrote {done} queued audit records{left}", "info")
        return done

    def _attempt(self, record: PendingRecord, *, retry: bool) -> tuple[_Outcome, PendingRecord]:
        """Write `record`: `written`, `refused` (for good) or `failed` (try again later),
        and the record as it stands now (whether a try may have landed)."""
        delays = self.retry_delays_s if retry else ()
        for attempt in range(len(delays) + 1):
            if attempt:
                self.sleep(delays[attempt - 1])
            try:
                self.store.index(
                    record.index, record.document, doc_id=record.doc_id, create=record.create
                )
            except DocumentExists as error:
                if record.may_have_landed and record.create:
                    # Our own earlier try landed before its answer was lost: the id is
                    # this record's, so it is in the store, once.
                    self.written += 1
                    return "written", record
                self.last_error = str(error)
                self.rejected.append(f"{record.what}: {error}")
                self._say_about(record, f"the store refused {record.what}: {error}", "error")
                return "refused", record
            except StoreError as error:
                self.last_error = str(error)
                if isinstance(error, StoreUnavailable) and error.may_have_landed:
                    record = replace(record, may_have_landed=True)
                if _permanent(error):
                    self.rejected.append(f"{record.what}: {error}")
                    self._say_about(record, f"the store refused {record.what}: {error}", "error")
                    return "refused", record
                if isinstance(error, CircuitOpen):
                    break  # the store is down and not due for a try: retrying now is moot
                continue
            self.written += 1
            return "written", record
        return "failed", record

    def _say_about(self, record: PendingRecord, text: str, level: str) -> None:
        if not record.quiet:
            self.say(text, level)

    def _enqueue(self, record: PendingRecord) -> None:
        if len(self._queue) >= self.max_queued and record.quiet:
            # A transcript line never pushes a decision out of a full queue (nor says so:
            # what it would say is another line); it is counted lost itself.
            self.lost += 1
            return
        if len(self._queue) >= self.max_queued:
            dropped = self._queue.popleft()
            self.lost += 1
            self.say(
                f"audit queue full ({self.max_queued} records): dropped {dropped.what}", "error"
            )
        self._queue.append(record)
        self._say_about(
            record,
            f"could not write {record.what} ({self.last_error}); queued, "
            f"{len(self._queue)} audit records waiting for the store",
            "warn",
        )


__all__ = [
    "DEFAULT_MAX_QUEUED",
    "DEFAULT_RETRY_DELAYS_S",
    "PendingRecord",
    "RecordWriter",
]
