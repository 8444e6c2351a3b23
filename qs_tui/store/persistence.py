"""Crash-safe files for the embedded store: Arrow IPC segments committed by an atomic manifest.

Layout of a data directory::

    LOCK                  held (flock) while a store has the directory open
    manifest.json         the commit point: every index, its mapping and its segment files
    segments/*.arrow      immutable Arrow IPC files, one per write batch or compaction

A write goes: segment to `*.tmp`, fsync, `os.replace` to its final name, fsync the folder;
then the manifest the same way. Until the new manifest is in place, the new segment is an
unreferenced file that the next open deletes, so a crash at any point leaves the previously
committed state intact. Segments are never modified once written; rewriting an index (when
documents are replaced by id, or to merge many small segments) writes a new segment, commits a
manifest that lists only it, and deletes the old files afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import polars as pl

from qs_tui.store.base import StoreError

try:  # POSIX only; elsewhere two processes could share a directory (documented limitation).
    import fcntl
except ImportError:  # pragma: no cover - not on Linux/macOS
    fcntl = None  # type: ignore[assignment]

MANIFEST = "manifest.json"
SEGMENTS = "segments"
LOCK = "LOCK"
FORMAT_VERSION = 1
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass
class IndexRecord:
    """What the manifest remembers about one index.

    Attributes:
        mapping: the mapping body (`{"dynamic": ..., "properties": ...}`).
        next_seq: the sequence number the next generated `_id` uses.
        segments: segment file names (inside `segments/`), oldest first.
        data_stream: whether documents must carry `@timestamp`.
    """

    mapping: dict[str, Any]
    next_seq: int = 0
    segments: list[str] = field(default_factory=list)
    data_stream: bool = False


@dataclass
class Manifest:
    """The committed state of a data directory."""

    indices: dict[str, IndexRecord] = field(default_factory=dict)
    next_segment: int = 1

    def to_json(self) -> dict[str, Any]:
        """The manifest as written to `manifest.json`."""
        return {
            "format": FORMAT_VERSION,
            "next_segment": self.next_segment,
            "indices": {
                name: {
                    "mapping": record.mapping,
                    "next_seq": record.next_seq,
                    "segments": record.segments,
                    "data_stream": record.data_stream,
                }
                for name, record in sorted(self.indices.items())
            },
        }

    @classmethod
    def from_json(cls, body: Any, *, path: Path) -> Manifest:
        """Read a manifest body, naming `path` if it is not one this version can read."""
        if not isinstance(body, dict) or body.get("format") != FORMAT_VERSION:
            raise StoreError(
                "unreadable data directory",
                f"{path} is not a format-{FORMAT_VERSION} manifest; move the directory aside "
                "or point QS_DATA_DIR elsewhere",
            )
        try:
            indices = {
                str(name): IndexRecord(
                    mapping=dict(entry["mapping"]),
                    next_seq=int(entry["next_seq"]),
                    segments=[str(s) for s in entry["segments"]],
                    data_stream=bool(entry.get("data_stream", False)),
                )
                for name, entry in body["indices"].items()
            }
            return cls(indices=indices, next_segment=int(body["next_segment"]))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise StoreError(
                "unreadable data directory", f"{path}: malformed manifest ({error!r})"
            ) from error


def _fsync_dir(path: Path) -> None:
    # A rename is durable only once the directory entry itself is flushed.
    with contextlib.suppress(OSError):  # some filesystems refuse fsync on directories
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_atomically(target: Path, write: Any) -> None:
    """Write through `write(file)` into `target.tmp`, fsync, rename over `target`, fsync dir."""
    temp = target.with_name(target.name + ".tmp")
    with open(temp, "wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, target)
    _fsync_dir(target.parent)


class DataDirectory:
    """One open data directory: the lock, the manifest and the segment files.

    Args:
        root: the directory (created if missing).

    Raises:
        StoreError: the directory cannot be created, is held by another process, or its
            manifest is unreadable.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.segment_dir = root / SEGMENTS
        try:
            self.segment_dir.mkdir(parents=True, exist_ok=True)
            self._lock_handle: IO[bytes] | None = open(root / LOCK, "ab")  # noqa: SIM115
        except OSError as error:
            raise StoreError(
                "cannot open data directory", f"{root}: {error.strerror or error}"
            ) from error
        if fcntl is not None:
            try:
                fcntl.flock(self._lock_handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                self._lock_handle.close()
                self._lock_handle = None
                raise StoreError(
                    "data directory in use",
                    f"another qs-tui process has {root} open; stop it or use another QS_DATA_DIR",
                ) from error
        try:
            self.manifest = self._read_manifest()
            self._remove_strays()
        except BaseException:
            self.close()
            raise

    def _read_manifest(self) -> Manifest:
        path = self.root / MANIFEST
        if not path.exists():
            return Manifest()
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise StoreError("unreadable data directory", f"{path}: {error}") from error
        manifest = Manifest.from_json(body, path=path)
        for name, record in manifest.indices.items():
            for segment in record.segments:
                if not (self.segment_dir / segment).is_file():
                    raise StoreError(
                        "damaged data directory",
                        f"index {name}: segment {SEGMENTS}/{segment} listed in {path} is missing",
                    )
        return manifest

    def _referenced(self) -> set[str]:
        return {s for record in self.manifest.indices.values() for s in record.segments}

    def _remove_strays(self) -> None:
        """Delete temp files and segments no manifest lists (left by a crash or a rewrite)."""
        referenced = self._referenced()
        for path in self.segment_dir.iterdir():
            if path.name not in referenced:
                with contextlib.suppress(OSError):
                    path.unlink()
        with contextlib.suppress(OSError):
            (self.root / (MANIFEST + ".tmp")).unlink()

    def load_segments(self, index: str) -> Iterator[pl.DataFrame]:
        """The committed segments of `index`, oldest first."""
        for segment in self.manifest.indices[index].segments:
            path = self.segment_dir / segment
            try:
                # Read the bytes fully (no memory map) so that a rewrite may delete the file.
                yield pl.read_ipc(path.read_bytes())
            except (OSError, pl.exceptions.PolarsError) as error:
                raise StoreError(
                    "damaged data directory", f"cannot read {path}: {error}"
                ) from error

    def write_segment(self, index: str, frame: pl.DataFrame) -> str:
        """Write one segment durably (not yet committed); returns its file name."""
        stem = _UNSAFE.sub("_", index)
        name = f"{stem}-{self.manifest.next_segment:08d}.arrow"
        self.manifest.next_segment += 1
        try:
            # lz4 roughly thirds the files and costs little to read back.
            _write_atomically(
                self.segment_dir / name, lambda handle: frame.write_ipc(handle, compression="lz4")
            )
        except OSError as error:
            raise StoreError(
                "cannot write data directory", f"{self.segment_dir / name}: {error}"
            ) from error
        return name

    def commit(self) -> None:
        """Make the in-memory manifest the committed one, then delete files it no longer lists."""
        text = json.dumps(self.manifest.to_json(), indent=1, sort_keys=True).encode("utf-8")
        try:
            _write_atomically(self.root / MANIFEST, lambda handle: handle.write(text))
        except OSError as error:
            raise StoreError(
                "cannot write data directory", f"{self.root / MANIFEST}: {error}"
            ) from error
        self._remove_strays()

    def close(self) -> None:
        """Release the directory lock."""
        if self._lock_handle is not None:
            self._lock_handle.close()
            self._lock_handle = None
