"""EmbeddedStore with a data directory: indices survive restarts and crashes never damage them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from qs_tui.store.base import StoreError
from qs_tui.store.embedded import MAX_SEGMENTS, EmbeddedStore
from qs_tui.store.persistence import MANIFEST, SEGMENTS
from qs_tui.store.templates import INCIDENTS, METRICS

T0 = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)


def metric(offset_s: int, cpu: float = 50.0) -> dict[str, Any]:
    return {
        "@timestamp": T0 + timedelta(seconds=offset_s),
        "service": "auth-service",
        "region": "eu-west-1",
        "host": "auth-euw1-1",
        "cpu_percent": cpu,
        "memory_percent": 70.0,
    }


def frame_of(store: EmbeddedStore, index: str) -> pl.DataFrame:
    (data,) = store.resolve(index)
    return data.frame


def segment_files(data_dir: Path) -> list[str]:
    return sorted(path.name for path in (data_dir / SEGMENTS).iterdir())


def test_indices_survive_a_restart(tmp_path: Path) -> None:
    store = EmbeddedStore(data_dir=tmp_path)
    store.bulk(METRICS, [metric(0), metric(10, cpu=91.0)])
    store.create_index(
        "notes", {"properties": {"text": {"type": "text"}, "tags": {"type": "keyword"}}}
    )
    store.bulk("notes", [{"text": "disk filled", "tags": ["disk", "ops"]}])
    store.bulk("free", [{"anything": 1}])  # dynamic mapping is persisted too
    before = {name: frame_of(store, name) for name in store.indices()}
    store.close()

    reopened = EmbeddedStore(data_dir=tmp_path)
    assert reopened.indices() == ["free", "notes", METRICS]
    for name, frame in before.items():
        assert frame_of(reopened, name).equals(frame)
    assert reopened.resolve("notes")[0].types == {"tags": "keyword", "text": "text"}
    assert reopened.get_mapping("free")["properties"] == {"anything": {"type": "long"}}
    assert reopened.health().name == f"embedded ({tmp_path})"
    reopened.close()


def test_empty_created_index_survives(tmp_path: Path) -> None:
    store = EmbeddedStore(data_dir=tmp_path)
    store.create_index("empty", {"properties": {"a": {"type": "long"}}})
    store.close()
    reopened = EmbeddedStore(data_dir=tmp_path)
    assert reopened.count("empty") == 0
    assert reopened.resolve("empty")[0].types == {"a": "long"}
    reopened.close()


def test_generated_ids_continue_after_restart(tmp_path: Path) -> None:
    store = EmbeddedStore(data_dir=tmp_path)
    store.bulk(METRICS, [metric(0), metric(10)])
    store.close()
    reopened = EmbeddedStore(data_dir=tmp_path)
    reopened.bulk(METRICS, [metric(20)])
    ids = frame_of(reopened, METRICS)["_id"]
    assert ids.n_unique() == 3
    reopened.close()


def test_replacing_by_id_rewrites_and_survives(tmp_path: Path) -> None:
    store = EmbeddedStore(data_dir=tmp_path)
    store.index(INCIDENTS, {"@timestamp": T0, "state": "open"}, doc_id="INC-1")
    store.index(INCIDENTS, {"@timestamp": T0, "state": "open"}, doc_id="INC-2")
    store.index(INCIDENTS, {"@timestamp": T0, "state": "resolved", "mttr_s": 240}, doc_id="INC-1")
    assert len(segment_files(tmp_path)) == 1  # the rewrite replaced the older segments
    store.close()
    reopened = EmbeddedStore(data_dir=tmp_path)
    got = {r["_id"]: (r["state"], r["mttr_s"]) for r in frame_of(reopened, INCIDENTS).to_dicts()}
    assert got == {"INC-1": ("resolved", 240.0), "INC-2": ("open", None)}
    reopened.close()


def test_many_small_writes_are_merged(tmp_path: Path) -> None:
    store = EmbeddedStore(data_dir=tmp_path)
    for i in range(MAX_SEGMENTS + 5):
        store.bulk(METRICS, [metric(i)])
    assert len(segment_files(tmp_path)) <= MAX_SEGMENTS
    store.close()
    reopened = EmbeddedStore(data_dir=tmp_path)
    assert reopened.count(METRICS) == MAX_SEGMENTS + 5
    reopened.close()


def test_a_crash_mid_write_leaves_committed_data_intact(tmp_path: Path) -> None:
    store = EmbeddedStore(data_dir=tmp_path)
    store.bulk(METRICS, [metric(0), metric(10)])
    committed = frame_of(store, METRICS)
    store.close()

    # What a crash can leave behind: a half-written temp segment, a complete but uncommitted
    # segment (written, then the process died before the manifest), a truncated segment
    # under a final name, and a half-written manifest temp file.
    segments = tmp_path / SEGMENTS
    (segments / "qs-metrics-00000099.arrow.tmp").write_bytes(b"ARROW1\x00\x00partial")
    uncommitted = pl.DataFrame({"cpu_percent": [1.0], "_id": ["zzz"]})
    uncommitted.write_ipc(segments / "qs-metrics-00000100.arrow")
    (segments / "qs-metrics-00000101.arrow").write_bytes(b"ARROW1\x00\x00trunc")
    (tmp_path / (MANIFEST + ".tmp")).write_text('{"format": 1, "indi')

    reopened = EmbeddedStore(data_dir=tmp_path)
    assert frame_of(reopened, METRICS).equals(committed)
    # The leftovers are gone, and writing goes on normally.
    assert not (tmp_path / (MANIFEST + ".tmp")).exists()
    assert all(not name.endswith(".tmp") for name in segment_files(tmp_path))
    reopened.bulk(METRICS, [metric(20)])
    assert reopened.count(METRICS) == 3
    reopened.close()


def test_a_second_process_cannot_open_the_same_directory(tmp_path: Path) -> None:
    store = EmbeddedStore(data_dir=tmp_path)
    with pytest.raises(StoreError, match="in use"):
        EmbeddedStore(data_dir=tmp_path)
    store.close()
    EmbeddedStore(data_dir=tmp_path).close()  # free again once closed


def test_damaged_directories_give_clear_errors(tmp_path: Path) -> None:
    store = EmbeddedStore(data_dir=tmp_path)
    store.bulk(METRICS, [metric(0)])
    store.close()
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    (segment,) = manifest["indices"][METRICS]["segments"]
    (tmp_path / SEGMENTS / segment).unlink()
    with pytest.raises(StoreError, match=f"{segment}.*missing"):
        EmbeddedStore(data_dir=tmp_path)

    (tmp_path / MANIFEST).write_text("not json")
    with pytest.raises(StoreError, match="unreadable data directory"):
        EmbeddedStore(data_dir=tmp_path)
