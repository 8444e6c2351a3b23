"""Mappings and documents within Elasticsearch's limits: linear, iterative, with ES's errors.

`index.mapping.total_fields.limit` (1,000) and `index.mapping.depth.limit` (20) are enforced
with the reasons Elasticsearch gives; mappings and documents of any depth fail with those
errors, never a RecursionError; and field handling is linear. Linearity is measured by
counting function calls (deterministic), never by timing.
"""

from __future__ import annotations

import json
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qs_tui.store.base import StoreError
from qs_tui.store.embedded import EmbeddedStore, IndexMapping
from qs_tui.store.loader import LoadError, load_index

DEPTH_ERROR = "Limit of mapping depth [20] has been exceeded due to object field [{path}]"
FIELDS_ERROR = "Limit of total fields [1000] has been exceeded"


def nested_mapping(levels: int) -> dict[str, Any]:
    """`levels` objects one inside another (l1.l2...), a keyword at the bottom."""
    node: dict[str, Any] = {"properties": {"leaf": {"type": "keyword"}}}
    for level in range(levels, 0, -1):
        node = {"properties": {f"l{level}": node}}
    return node


def nested_document(levels: int, key: str = "a") -> dict[str, Any]:
    node: dict[str, Any] = {"value": 1}
    for _ in range(levels):
        node = {key: node}
    return node


def wide_mapping(fields: int) -> dict[str, Any]:
    return {"properties": {f"f{number}": {"type": "keyword"} for number in range(fields)}}


def calls(action: Callable[[], object]) -> int:
    """How many Python and C functions `action` calls: a deterministic measure of work."""
    count = 0

    def profile(frame: object, event: str, arg: object) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return count


def peak_bytes(action: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# -- total fields -------------------------------------------------------------------------------


def test_a_mapping_at_the_field_limit_is_accepted_and_one_more_is_refused() -> None:
    # 998 keywords + a text field with one multi-field = 1,000 fields.
    body = wide_mapping(998)
    body["properties"]["title"] = {"type": "text", "fields": {"raw": {"type": "keyword"}}}
    assert IndexMapping(body, index="t").total_fields == 1_000
    body["properties"]["one_more"] = {"type": "long"}
    with pytest.raises(StoreError) as caught:
        IndexMapping(body, index="t")
    assert caught.value.title == "illegal_argument_exception"
    assert caught.value.message == FIELDS_ERROR


def test_objects_count_towards_the_field_limit() -> None:
    body = wide_mapping(998)
    body["properties"]["host"] = {"properties": {"name": {"type": "keyword"}}}
    assert IndexMapping(body, index="t").total_fields == 1_000  # host and host.name
    body["properties"]["host"]["properties"]["ip"] = {"type": "ip"}
    with pytest.raises(StoreError, match=r"Limit of total fields \[1000\]"):
        IndexMapping(body, index="t")


def test_a_huge_mapping_file_fails_fast_with_one_line_naming_the_file(tmp_path: Path) -> None:
    mapping = tmp_path / "wide.json"
    mapping.write_text(json.dumps(wide_mapping(100_000)))
    data = tmp_path / "data.ndjson"
    data.write_text('{"f1": "x"}\n')
    store = EmbeddedStore()

    def load() -> None:
        with pytest.raises(LoadError) as caught:
            load_index(store, index="t", mapping_path=mapping, data_path=data)
        assert str(caught.value) == f"{mapping}: {FIELDS_ERROR}"

    # Refused before any field is built: a few MB for the parsed JSON file, no more.
    assert peak_bytes(load) < 64 * 2**20
    assert store.indices() == []


def test_documents_that_would_add_fields_past_the_limit_are_rejected_one_by_one() -> None:
    store = EmbeddedStore()
    store.create_index("t", wide_mapping(999))
    result = store.bulk(
        "t",
        [
            {"f1": "fits"},
            {"f2": "fits", "new_text": "a text field and its keyword multi-field: two more"},
            {"new_number": 5},
            {"f3": "fits too"},
        ],
    )
    assert result.written == 3
    assert result.errors == [
        "document 1: failed to parse: Limit of total fields [1000] has been exceeded while "
        "adding new fields [2]"
    ]
    mapping = IndexMapping(store.get_mapping("t"), index="t")
    assert mapping.total_fields == 1_000 and "new_number" in mapping.fields


# -- depth --------------------------------------------------------------------------------------


def test_a_mapping_at_the_depth_limit_is_accepted_and_one_level_more_is_refused() -> None:
    # 19 objects: the deepest (l1...l19) is at depth 20; a field inside it is fine.
    assert "l1.l2.l3.l4.l5.l6.l7.l8.l9.l10.l11.l12.l13.l14.l15.l16.l17.l18.l19.leaf" in (
        IndexMapping(nested_mapping(19), index="t").fields
    )
    with pytest.raises(StoreError) as caught:
        IndexMapping(nested_mapping(20), index="t")
    path = ".".join(f"l{level}" for level in range(1, 21))
    assert caught.value.title == "illegal_argument_exception"
    assert caught.value.message == DEPTH_ERROR.format(path=path)


@pytest.mark.parametrize("levels", [400, 5_000])
def test_very_deep_mapping_files_fail_with_a_clear_error(tmp_path: Path, levels: int) -> None:
    mapping = tmp_path / "deep.json"
    # Written by hand: json.dumps itself would recurse too deeply.
    mapping.write_text('{"properties": {"l": ' * levels + '{"type": "keyword"}' + "}}" * levels)
    data = tmp_path / "data.ndjson"
    data.write_text("{}\n")
    with pytest.raises(LoadError) as caught:
        load_index(EmbeddedStore(), index="t", mapping_path=mapping, data_path=data)
    message = str(caught.value)
    assert message.startswith(f"{mapping}: ") and "\n" not in message
    if message.endswith(DEPTH_ERROR.format(path=".".join(["l"] * 20))):
        return  # read whole, then refused at ES's limit
    # Deeper than Python's json module goes under the interpreter's recursion limit (which the
    # ES|QL parser may have raised earlier in the process): refused before it is read.
    assert levels > 400
    assert "nests too deeply" in message and "index.mapping.depth.limit" in message


def test_documents_with_dynamic_objects_past_the_depth_limit_are_rejected_one_by_one() -> None:
    store = EmbeddedStore()
    store.create_index("t", {"properties": {"name": {"type": "keyword"}}})
    result = store.bulk("t", [nested_document(19), nested_document(20), {"name": "flat"}])
    assert result.written == 2
    path = ".".join(["a"] * 20)
    assert result.errors == [f"document 1: failed to parse: {DEPTH_ERROR.format(path=path)}"]
    (index,) = store.resolve("t")
    assert index.types[".".join(["a"] * 19) + ".value"] == "long"


@pytest.mark.parametrize("dynamic", ["true", "strict", "false"])
def test_a_document_thousands_of_levels_deep_is_rejected_or_ignored_without_recursion(
    dynamic: str,
) -> None:
    store = EmbeddedStore()
    store.create_index("t", {"dynamic": dynamic, "properties": {"name": {"type": "keyword"}}})
    deep = {"name": "deep", **nested_document(3_000)}

    def write() -> None:
        result = store.bulk("t", [deep, {"name": "flat"}])
        if dynamic == "false":  # ES keeps unmapped objects in _source only: nothing to reject
            assert result.written == 2 and result.errors == []
        else:
            assert result.written == 1 and len(result.errors) == 1
            reason = "Limit of mapping depth" if dynamic == "true" else "mapping set to strict"
            assert result.errors[0].startswith("document 0: ") and reason in result.errors[0]

    assert peak_bytes(write) < 32 * 2**20


def test_deeply_nested_arrays_in_a_field_are_flattened_without_recursion() -> None:
    store = EmbeddedStore()
    store.create_index("t", {"properties": {"n": {"type": "long"}}})
    value: Any = [3, 1]
    for _ in range(5_000):
        value = [value, 2]
    assert store.bulk("t", [{"n": value}, {"n": 4}]).written == 2
    (index,) = store.resolve("t")
    # Numbers come back sorted, as ES|QL reads them from doc values.
    assert index.frame["n"].to_list() == [[1, *[2] * 5_000, 3], [4]]


def test_a_line_too_deep_for_json_is_a_rejected_document_named_by_its_line(
    tmp_path: Path,
) -> None:
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"properties": {"name": {"type": "keyword"}}}))
    data = tmp_path / "data.ndjson"
    deep_line = '{"name": "deep", "a": ' + '{"a": ' * 3_000 + "1" + "}" * 3_000 + "}"
    data.write_text('{"name": "ok"}\n' + deep_line + '\n{"name": "ok too"}\n{"name": 5}\n')
    store = EmbeddedStore()
    with pytest.raises(LoadError) as caught:
        load_index(store, index="t", mapping_path=mapping, data_path=data)
    lines = str(caught.value).splitlines()
    assert lines[0] == f"1 document(s) in {data} do not fit the mapping of [t]:"
    # Whether the line was too deep for the json module under the current recursion limit or
    # was read whole and refused at the depth limit, it is refused as ES refuses it.
    depth = f"{data}:2: failed to parse: Limit of mapping depth [20] has been exceeded"
    assert len(lines) == 2 and lines[1] in (
        depth,
        depth + " due to object field [" + ".".join(["a"] * 20) + "]",
    )
    assert store.indices() == []


# -- linear work --------------------------------------------------------------------------------


def test_mapping_work_grows_linearly_with_the_number_of_fields() -> None:
    def parse(fields: int) -> Callable[[], object]:
        body = wide_mapping(fields)
        return lambda: IndexMapping(body, index="t", total_fields_limit=10**6)

    def add_dynamically(fields: int) -> Callable[[], object]:
        def run() -> None:
            mapping = IndexMapping({}, index="t", total_fields_limit=10**6)
            for number in range(fields):
                mapping.add_dynamic(f"f{number}", {"type": "long"})

        return run

    for work in (parse, add_dynamically):
        small, large = calls(work(2_000)), calls(work(8_000))
        assert large < 4.5 * small, (work.__name__, small, large)  # quadratic would be 16x


def test_loading_and_querying_many_fields_is_linear(tmp_path: Path) -> None:
    data = tmp_path / "data.ndjson"

    def load_and_query(fields: int) -> Callable[[], object]:
        mapping = tmp_path / f"mapping-{fields}.json"
        mapping.write_text(json.dumps(wide_mapping(fields)))
        data.write_text(json.dumps({f"f{number}": "x" for number in range(fields)}) + "\n")

        def run() -> None:
            store = EmbeddedStore()
            load_index(store, index="t", mapping_path=mapping, data_path=data)
            assert len(store.esql("FROM t | LIMIT 1").columns) == fields

        return run

    small, large = calls(load_and_query(250)), calls(load_and_query(1_000))
    assert large < 5 * small, (small, large)  # quadratic would be 16x
