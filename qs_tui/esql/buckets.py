"""Time buckets a `STATS … BY BUCKET(@timestamp, span)` has aggregated, kept for the next query.

A schema profile reads its source as `FROM … | WHERE <window> | STATS … BY @timestamp =
BUCKET(@timestamp, 10 seconds), service, region, host` (see `qs_tui.profiles.render`), and
every query the agents run starts that way, each with its own window over much the same
minutes: a detection pass and the investigation after it aggregate the same raw documents
into the same buckets again and again. A bucket lying wholly inside the window only depends
on the rows of that bucket, not on the window, so while the indices hold the same data the
buckets aggregated for one query answer the next one; only the buckets no earlier query
covered are aggregated.

An entry is valid for exactly the frames it was built from (compared by identity: the store
hands out a new frame on every write) and is dropped as soon as a query sees other frames.
It holds the frames weakly, so it never keeps old data alive, and goes once they are gone.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

import polars as pl

__all__ = ["BUCKETS", "BucketCache", "BucketedStats"]


@dataclass(frozen=True)
class BucketedStats:
    """One aggregation whose buckets can be kept.

    Attributes:
        signature: everything but the window that decides a bucket's rows and values: the
            indices read, their field types, the rest of the `WHERE` and the `STATS` itself.
        frames: the frames read, in order (the data the buckets were aggregated from).
        names: the aggregated frame's columns as this query names them: the keys, then the
            aggregations.
        bucket: the position in `names` of the `BUCKET(@timestamp, span)` key.
        span_ms: the bucket span in milliseconds.
    """

    signature: Hashable
    frames: tuple[pl.DataFrame, ...]
    names: tuple[str, ...]
    bucket: int
    span_ms: int


@dataclass
class _Entry:
    frames: tuple[weakref.ReferenceType[pl.DataFrame], ...]
    lower_ms: int
    upper_ms: int
    # Columns named positionally (`c0`, `c1`, …): hidden names differ from query to query.
    data: pl.DataFrame

    def alive(self) -> bool:
        return all(ref() is not None for ref in self.frames)

    def holds(self, frames: Sequence[pl.DataFrame]) -> bool:
        return len(frames) == len(self.frames) and all(
            ref() is frame for ref, frame in zip(self.frames, frames, strict=True)
        )


@dataclass
class BucketCache:
    """Aggregated buckets by signature (least recently used dropped beyond `capacity`).

    Attributes:
        capacity: how many signatures are kept.
        computed: every `[lower, upper)` range (epoch ms) aggregated so far, oldest first
            (bounded; for tests and benchmarks to see what was reused).
    """

    capacity: int = 8
    computed: list[tuple[int, int]] = field(default_factory=list)
    _entries: OrderedDict[Hashable, _Entry] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __len__(self) -> int:
        """How many aggregations are kept."""
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        """Forget every entry and the `computed` log."""
        with self._lock:
            self._entries.clear()
            self.computed.clear()

    def aggregate(
        self,
        spec: BucketedStats,
        lower_ms: int,
        upper_ms: int,
        compute: Callable[[int, int], pl.DataFrame],
    ) -> pl.DataFrame:
        """The aggregated rows of every bucket in `[lower_ms, upper_ms)` (both multiples of
        the span), columns named as `spec.names`: the parts `compute` returned, each in its
        own order, one after the other in time order.

        Args:
            spec: what is aggregated.
            lower_ms: the window's start, epoch milliseconds.
            upper_ms: the window's end (excluded).
            compute: aggregates the buckets in `[a, b)` from the rows, columns as `spec.names`.
        """
        positional = [f"c{i}" for i in range(len(spec.names))]
        with self._lock:
            # Entries whose data the store has let go of can never answer again.
            for signature in [s for s, e in self._entries.items() if not e.alive()]:
                del self._entries[signature]
            entry = self._entries.get(spec.signature)
            if entry is not None and not entry.holds(spec.frames):
                entry = None
                del self._entries[spec.signature]
        if entry is None or upper_ms < entry.lower_ms or lower_ms > entry.upper_ms:
            # Nothing kept that touches this window: aggregate it and keep it alone.
            parts = [self._compute(compute, spec, positional, lower_ms, upper_ms)]
            covered = (lower_ms, upper_ms)
        else:
            parts = [entry.data]
            if lower_ms < entry.lower_ms:
                parts.insert(0, self._compute(compute, spec, positional, lower_ms, entry.lower_ms))
            if upper_ms > entry.upper_ms:
                parts.append(self._compute(compute, spec, positional, entry.upper_ms, upper_ms))
            covered = (min(lower_ms, entry.lower_ms), max(upper_ms, entry.upper_ms))
        data = parts[0] if len(parts) == 1 else pl.concat(parts, how="vertical")
        with self._lock:
            self._entries[spec.signature] = _Entry(
                tuple(weakref.ref(frame) for frame in spec.frames), *covered, data
            )
            self._entries.move_to_end(spec.signature)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        if covered != (lower_ms, upper_ms):
            bucket = pl.col(positional[spec.bucket]).dt.epoch("ms")
            data = data.filter((bucket >= lower_ms) & (bucket < upper_ms))
        return data.rename(dict(zip(positional, spec.names, strict=True)))

    def _compute(
        self,
        compute: Callable[[int, int], pl.DataFrame],
        spec: BucketedStats,
        positional: list[str],
        lower_ms: int,
        upper_ms: int,
    ) -> pl.DataFrame:
        with self._lock:
            self.computed.append((lower_ms, upper_ms))
            del self.computed[:-64]
        part = compute(lower_ms, upper_ms).select(list(spec.names))
        return part.rename(dict(zip(spec.names, positional, strict=True)))


#: The engine's one cache (entries are tied to frames, so stores never share answers).
BUCKETS = BucketCache()
