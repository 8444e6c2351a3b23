"""NDJSON read natively by polars gives the same table as line-by-line parsing, or steps aside.

Each case loads one file both ways: `load_index` (which reads natively when it can) and the
per-line path (`read_documents` + the same store call), and compares the tables, their types
and their mappings. `read_frame` says which path `load_index` took, so each case also checks
that the native path is used where it should be, and refused where it would be wrong.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from polars.testing import assert_frame_equal

from qs_tui.bench.engine import generate_metrics
from qs_tui.store.embedded import EmbeddedStore, IndexMapping
from qs_tui.store.loader import LoadError, _line_segments, load_index, read_documents, read_frame
from qs_tui.store.templates import METRICS, spec_for

#: More lines than the native reader samples, so that a shape change can hide after them.
PAST_SAMPLE = 1_200

RICH = {
    "properties": {
        "@timestamp": {"type": "date"},
        "epoch": {"type": "date"},
        "seconds": {"type": "date", "format": "epoch_second"},
        "name": {"type": "text", "fields": {"raw": {"type": "keyword"}}},
        "tags": {"type": "keyword"},
        "count": {"type": "long"},
        "small": {"type": "byte"},
        "ratio": {"type": "float"},
        "half": {"type": "half_float"},
        "price": {"type": "scaled_float", "scaling_factor": 100},
        "ok": {"type": "boolean"},
        "client": {"type": "ip"},
        "where": {"type": "geo_point"},
        "host": {
            "properties": {
                "name": {"type": "keyword"},
                "os": {"properties": {"family": {"type": "keyword"}}},
            }
        },
    }
}


def rich_document(number: int) -> dict[str, Any]:
    """A document using every field of `RICH`, with values that vary by line."""
    return {
        "_id": f"doc-{number}",
        "@timestamp": f"2026-11-25T16:{number % 60:02d}:00.{number % 1000:03d}Z",
        "epoch": 1_764_000_000_000 + number,
        "seconds": 1_764_000_000 + number,
        "name": f"Café line {number}\ttab",
        "tags": ["b", "a", "b"] if number % 2 else ["z"],
        "count": number * 7 - 3,
        "small": number % 100,
        "ratio": number / 3,
        "half": number / 7,
        "price": number * 1.005,
        "ok": number % 3 == 0,
        "client": f"10.0.{number % 256}.{number % 7}",
        "where": "41.12,-71.34",
        "host": {"name": f"h{number % 5}", "os": {"family": "linux"}},
    }


def write_ndjson(path: Path, documents: list[Any]) -> Path:
    """Documents as json.dumps writes them (non-ASCII escaped as \\uXXXX), one per line."""
    path.write_text("".join(json.dumps(document) + "\n" for document in documents))
    return path


def load_both(
    tmp_path: Path, mapping: dict[str, Any], data: Path, *, native: bool
) -> EmbeddedStore:
    """Load `data` both ways, check the tables are identical, and which path was taken."""
    mapping_path = tmp_path / "mapping.json"
    mapping_path.write_text(json.dumps(mapping))
    assert (read_frame(data, IndexMapping(mapping, index="t")) is not None) is native
    loaded = EmbeddedStore()
    written = load_index(loaded, index="t", mapping_path=mapping_path, data_path=data)
    per_line = EmbeddedStore()
    documents, _, _ = read_documents(data)
    assert per_line.create_index_with("t", mapping, documents) == (written, [])
    (got,), (expected,) = loaded.resolve("t"), per_line.resolve("t")
    assert got.types == expected.types
    assert_frame_equal(got.frame, expected.frame)
    # Same layout too, so that float aggregates add up in the same order.
    assert got.frame.n_chunks("all") == expected.frame.n_chunks("all")
    assert loaded.get_mapping("t") == per_line.get_mapping("t")
    return loaded


def test_metrics_are_read_natively_and_match(tmp_path: Path) -> None:
    data = write_ndjson(tmp_path / "metrics.ndjson", generate_metrics(3_000, seed=5))
    spec = spec_for(METRICS)
    assert spec is not None
    store = load_both(tmp_path, {"properties": spec.properties}, data, native=True)
    assert store.count("t") == 3_000


def test_every_supported_shape_is_read_natively_and_matches(tmp_path: Path) -> None:
    documents: list[Any] = [rich_document(number) for number in range(PAST_SAMPLE)]
    # Absent fields, explicit nulls, empty objects and lists, and escapes (not of quotes).
    documents[3] = {"name": "only a name", "host": {}, "tags": []}
    documents[4] = {"count": None, "host": None, "tags": ["x", None], "name": "a\nb\u00e9"}
    documents[PAST_SAMPLE - 1] = {"unknown": None, "name": "an unmapped key with a null"}
    documents[PAST_SAMPLE - 2] = {"name": 'quotes: "x": null, "y":null', "count": None}
    data = write_ndjson(tmp_path / "rich.ndjson", documents)
    with_blank_lines = data.read_text().replace("\n", "\n\n  \r\n", 3)
    data.write_text(with_blank_lines)
    store = load_both(tmp_path, RICH, data, native=True)
    (index,) = store.resolve("t")
    rows = index.frame.to_dicts()
    assert rows[0]["host.os.family"] == "linux" and rows[1]["tags"] == ["a", "b"]
    assert rows[3]["host.name"] is None and rows[4]["name"] == "a\nb\u00e9"
    assert rows[1]["name.raw"] == rows[1]["name"] == "Café line 1\ttab"
    assert index.types["where"] == "unsupported" and rows[0]["where"] is None
    assert rows[10]["_id"] == "doc-10"
    assert rows[PAST_SAMPLE - 2]["name"] == 'quotes: "x": null, "y":null'


@pytest.mark.parametrize(
    ("late_line", "why"),
    [
        ({"name": "n", "surprise": 1}, "a key the mapping does not know adds a field"),
        ({"name": "n", "extra": [None, 5]}, "a null hides among the unknown values"),
        ('{"name": "n", "name": "m"}', "a key given twice: the last one counts"),
        ({"host.name": "dotted"}, "a dotted key fills host.name"),
        ({"tags": "scalar"}, "a list field given one value"),
        ({"count": "12"}, "a number given as text"),
        ({"name": "C:\\temp"}, "an escaped backslash"),
        ({"name": 'say "x": null', "surprise": 1}, "an unknown key beside an escaped quote"),
        ({"name": 'say "x": null', "extra": [None, 1]}, "and with a null among its values"),
        ({"name": 5}, "a number for a text field"),
        ({"host": [{"name": "a"}, {"name": "b"}]}, "an array of objects"),
        ('{"index": {"_id": "x"}}', "a bulk action line"),
        ('{"name":\r"split"}', "a carriage return Python reads as a line break"),
    ],
)
def test_shapes_after_the_sample_fall_back_and_match(
    tmp_path: Path, late_line: Any, why: str
) -> None:
    lines = [json.dumps({"name": f"n{number}", "tags": ["t"]}) for number in range(PAST_SAMPLE)]
    lines.append(late_line if isinstance(late_line, str) else json.dumps(late_line))
    lines.append(json.dumps({"name": "last"}))
    data = tmp_path / "late.ndjson"
    data.write_text("\n".join(lines) + "\n")
    mapping: dict[str, Any] = {
        "properties": {key: RICH["properties"][key] for key in RICH["properties"]}
    }
    if "\r" in late_line:
        # Python reads the line as two: `{"name":` is invalid JSON, on the line it names.
        with pytest.raises(LoadError, match=rf"late\.ndjson:{PAST_SAMPLE + 1}:9: invalid JSON"):
            load_index(
                EmbeddedStore(),
                index="t",
                mapping_path=write_mapping(tmp_path, mapping),
                data_path=data,
            )
        assert read_frame(data, IndexMapping(mapping, index="t")) is None, why
        return
    load_both(tmp_path, mapping, data, native=False)


def write_mapping(tmp_path: Path, mapping: dict[str, Any]) -> Path:
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps(mapping))
    return path


def test_a_bad_document_after_the_sample_is_named_by_its_line(tmp_path: Path) -> None:
    documents: list[Any] = [rich_document(number) for number in range(PAST_SAMPLE)]
    documents.append({**rich_document(0), "@timestamp": "someday"})
    documents.append({**rich_document(1), "small": 300})
    data = write_ndjson(tmp_path / "bad.ndjson", documents)
    store = EmbeddedStore()
    with pytest.raises(LoadError) as caught:
        load_index(store, index="t", mapping_path=write_mapping(tmp_path, RICH), data_path=data)
    lines = str(caught.value).splitlines()
    assert lines[0] == f"2 document(s) in {data} do not fit the mapping of [t]:"
    assert lines[1].startswith(f"{data}:{PAST_SAMPLE + 1}: failed to parse field [@timestamp]")
    assert lines[2].startswith(f"{data}:{PAST_SAMPLE + 2}: failed to parse field [small]")
    assert store.indices() == []


def test_invalid_json_after_the_sample_is_named_by_line_and_column(tmp_path: Path) -> None:
    documents: list[Any] = [rich_document(number) for number in range(PAST_SAMPLE)]
    data = write_ndjson(tmp_path / "broken.ndjson", documents)
    with data.open("a") as handle:
        handle.write('{"name": "x", "count": 1,}\n')
    store = EmbeddedStore()
    with pytest.raises(LoadError, match=rf"broken\.ndjson:{PAST_SAMPLE + 1}:26: invalid JSON"):
        load_index(store, index="t", mapping_path=write_mapping(tmp_path, RICH), data_path=data)
    assert store.indices() == []


@pytest.mark.parametrize("block_bytes", [1, 2, 3, 7, 64, 10_000])
def test_the_byte_count_sees_whole_lines_whatever_the_block_size(block_bytes: int) -> None:
    text = b'{"a": "x"}\n\n{"b": 1}\r\n' + b'{"long": "' + b"y" * 100 + b'"}\n{"tail": 2}'
    segments = list(_line_segments(io.BytesIO(text), block_bytes))
    assert b"".join(buffer[start:end] for buffer, start, end in segments) == text
    for buffer, start, end in segments[:-1]:
        assert buffer[start:end].endswith(b"\n")  # no line is cut in two
