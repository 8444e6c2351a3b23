"""Loading an index from a mapping file and NDJSON data, with errors that name file:line."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from qs_tui.store.embedded import EmbeddedStore
from qs_tui.store.loader import LoadError, load_index, read_mapping

MAPPING = {
    "properties": {
        "name": {"type": "keyword"},
        "count": {"type": "long"},
        "at": {"type": "date"},
        "where": {"type": "geo_point"},
        "host": {"properties": {"name": {"type": "keyword"}}},
    }
}


@pytest.fixture
def store() -> EmbeddedStore:
    return EmbeddedStore()


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def ndjson(path: Path, *lines: Any) -> Path:
    return write(path, "".join(json.dumps(line) + "\n" for line in lines))


@pytest.fixture
def mapping_file(tmp_path: Path) -> Path:
    return write(tmp_path / "mapping.json", json.dumps(MAPPING))


def test_loads_documents_with_the_mapping(
    store: EmbeddedStore, mapping_file: Path, tmp_path: Path
) -> None:
    data = ndjson(
        tmp_path / "data.ndjson",
        {"name": "a", "count": 1, "at": "2026-11-25T16:00:00Z", "host": {"name": "h1"}},
        {"name": ["c", "b"], "count": "2", "where": {"lat": 1.0, "lon": 2.0}},
    )
    assert load_index(store, index="things", mapping_path=mapping_file, data_path=data) == 2
    (found,) = store.resolve("things")
    assert found.types == {
        "at": "date",
        "count": "long",
        "host.name": "keyword",
        "name": "keyword",
        "where": "unsupported",
    }
    got = found.frame.drop("_id").to_dicts()
    assert got[0]["at"] == datetime(2026, 11, 25, 16, tzinfo=UTC)
    assert got[0]["host.name"] == "h1"
    assert got[1]["name"] == ["b", "c"] and got[1]["count"] == 2
    assert got[1]["where"] is None


def test_accepts_mappings_wrappers(tmp_path: Path) -> None:
    inner = {"properties": {"a": {"type": "long"}}}
    for body in (inner, {"mappings": inner}, {"my-index": {"mappings": inner}}):
        path = write(tmp_path / "m.json", json.dumps(body))
        assert read_mapping(path)["properties"] == inner["properties"]


def test_skips_blank_lines_and_bulk_action_lines(
    store: EmbeddedStore, mapping_file: Path, tmp_path: Path
) -> None:
    data = write(
        tmp_path / "bulk.ndjson",
        '{"index": {"_index": "things", "_id": "first"}}\n'
        '{"name": "a"}\n'
        "\n"
        '{"create": {}}\n'
        '{"name": "b"}\n'
        "   \n"
        '{"name": "c"}\n',
    )
    assert load_index(store, index="things", mapping_path=mapping_file, data_path=data) == 3
    (found,) = store.resolve("things")
    assert found.frame["name"].to_list() == ["a", "b", "c"]
    assert found.frame["_id"][0] == "first"


def test_json_syntax_errors_name_file_line_and_column(
    store: EmbeddedStore, mapping_file: Path, tmp_path: Path
) -> None:
    data = write(tmp_path / "data.ndjson", '{"name": "a"}\n\n{"name": "b", "count": }\n')
    with pytest.raises(LoadError) as caught:
        load_index(store, index="things", mapping_path=mapping_file, data_path=data)
    assert str(caught.value).startswith(f"{data}:3:24: invalid JSON")
    assert store.indices() == []


def test_non_object_lines_are_named(
    store: EmbeddedStore, mapping_file: Path, tmp_path: Path
) -> None:
    data = write(tmp_path / "data.ndjson", '{"name": "a"}\n[1, 2]\n')
    with pytest.raises(LoadError, match=r"data\.ndjson:2: expected one JSON object per line"):
        load_index(store, index="things", mapping_path=mapping_file, data_path=data)


def test_documents_that_do_not_fit_name_their_lines_and_nothing_is_written(
    store: EmbeddedStore, mapping_file: Path, tmp_path: Path
) -> None:
    data = write(
        tmp_path / "data.ndjson",
        '{"name": "ok", "count": 1}\n\n{"name": "bad", "count": "many"}\n{"at": "someday"}\n',
    )
    with pytest.raises(LoadError) as caught:
        load_index(store, index="things", mapping_path=mapping_file, data_path=data)
    message = str(caught.value)
    assert message.startswith("2 document(s)")
    assert f"{data}:3: failed to parse field [count] of type [long]" in message
    assert f"{data}:4: failed to parse field [at] of type [date]" in message
    assert store.indices() == []


def test_unsupported_bulk_actions_are_refused(
    store: EmbeddedStore, mapping_file: Path, tmp_path: Path
) -> None:
    data = write(tmp_path / "data.ndjson", '{"delete": {"_id": "1"}}\n')
    with pytest.raises(LoadError, match=r"data\.ndjson:1: bulk action `delete`"):
        load_index(store, index="things", mapping_path=mapping_file, data_path=data)


def test_bad_mapping_files(store: EmbeddedStore, tmp_path: Path) -> None:
    data = ndjson(tmp_path / "data.ndjson", {"a": 1})
    broken = write(tmp_path / "broken.json", '{\n  "properties": {\n    "a": }\n}')
    with pytest.raises(LoadError, match=r"broken\.json:3:10: invalid JSON in mapping file"):
        load_index(store, index="x", mapping_path=broken, data_path=data)
    shapeless = write(tmp_path / "shapeless.json", '{"fields": {}}')
    with pytest.raises(LoadError, match=r"shapeless\.json: a mapping file holds an object"):
        load_index(store, index="x", mapping_path=shapeless, data_path=data)
    wrong = write(tmp_path / "wrong.json", '{"properties": {"a": "long"}}')
    with pytest.raises(LoadError, match=r"wrong\.json: index x: field \[a\] is not an object"):
        load_index(store, index="x", mapping_path=wrong, data_path=data)
    with pytest.raises(LoadError, match=r"missing\.json: cannot read mapping file"):
        load_index(store, index="x", mapping_path=tmp_path / "missing.json", data_path=data)


def test_missing_data_file(store: EmbeddedStore, mapping_file: Path, tmp_path: Path) -> None:
    with pytest.raises(LoadError, match=r"nope\.ndjson: cannot read data file"):
        load_index(
            store, index="things", mapping_path=mapping_file, data_path=tmp_path / "nope.ndjson"
        )


def test_loading_an_existing_index_is_refused(
    store: EmbeddedStore, mapping_file: Path, tmp_path: Path
) -> None:
    data = ndjson(tmp_path / "data.ndjson", {"name": "a"})
    load_index(store, index="things", mapping_path=mapping_file, data_path=data)
    with pytest.raises(LoadError, match="already exists"):
        load_index(store, index="things", mapping_path=mapping_file, data_path=data)
    assert store.count("things") == 1


def test_only_the_embedded_store_can_load(mapping_file: Path, tmp_path: Path) -> None:
    data = ndjson(tmp_path / "data.ndjson", {"name": "a"})
    with pytest.raises(LoadError, match="embedded store only"):
        load_index(object(), index="things", mapping_path=mapping_file, data_path=data)  # type: ignore[arg-type]
