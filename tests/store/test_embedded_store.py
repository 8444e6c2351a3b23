"""EmbeddedStore: typing by mapping, multi-values, dates, ids, rejected documents, catalog."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import polars as pl
import pytest

from qs_tui.esql.catalog import IndexData
from qs_tui.store.base import DocumentExists, Store, StoreError
from qs_tui.store.embedded import EmbeddedStore
from qs_tui.store.templates import INDICES, METRICS

T0 = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)


@pytest.fixture
def store() -> EmbeddedStore:
    return EmbeddedStore(now=lambda: T0)


def metric(offset_s: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "@timestamp": (T0 + timedelta(seconds=offset_s)).isoformat(),
        "service": "api-gateway",
        "region": "us-east-1",
        "host": "api-gateway-use1-1",
        "cpu_percent": 41.5,
        "memory_percent": 62.0,
        "error_rate": 0.01,
        "latency_p95_ms": 120.0,
        "requests_per_s": 850.0,
        "disk_percent": 40.0,
        **extra,
    }


def only(store: EmbeddedStore, index: str) -> IndexData:
    found = store.resolve(index)
    assert [data.name for data in found] == [index]
    return found[0]


def rows(store: EmbeddedStore, index: str, *columns: str) -> list[dict[str, Any]]:
    frame = only(store, index).frame
    return frame.select(columns).to_dicts() if columns else frame.to_dicts()


# -- protocol and identity --------------------------------------------------------------------


def test_is_a_store_with_fixed_now(store: EmbeddedStore) -> None:
    assert isinstance(store, Store)
    assert store.supports_fixed_now is True


def test_health_names_memory_and_counts_documents(store: EmbeddedStore) -> None:
    store.bulk(METRICS, [metric(0), metric(10)])
    health = store.health()
    assert health.ok and health.status == "embedded"
    assert health.name == "embedded (memory)"
    assert health.detail["documents"] == {METRICS: 2}


def test_ensure_templates_lists_every_template(store: EmbeddedStore) -> None:
    assert store.ensure_templates() == [spec.template for spec in INDICES]


# -- types from mappings ----------------------------------------------------------------------


def test_template_index_is_typed_from_its_mapping(store: EmbeddedStore) -> None:
    result = store.bulk(METRICS, [metric(0, unmapped_field="ignored")])
    assert result.written == 1 and result.errors == []
    data = only(store, METRICS)
    assert data.types["@timestamp"] == "date"
    assert data.types["service"] == "keyword"
    assert data.types["cpu_percent"] == "double"
    assert "unmapped_field" not in data.types  # templates say dynamic: false
    assert data.frame.schema["@timestamp"] == pl.Datetime("ms", "UTC")
    assert data.frame.schema["cpu_percent"] == pl.Float64
    assert data.frame["_id"].dtype == pl.String
    assert list(data.types) == sorted(data.types)


def test_created_index_types_every_mapping_kind(store: EmbeddedStore) -> None:
    store.create_index(
        "kinds",
        {
            "properties": {
                "k": {"type": "keyword"},
                "t": {"type": "text", "fields": {"raw": {"type": "keyword"}}},
                "l": {"type": "long"},
                "i": {"type": "integer"},
                "s": {"type": "short"},
                "d": {"type": "double"},
                "f": {"type": "float"},
                "sf": {"type": "scaled_float", "scaling_factor": 100},
                "b": {"type": "boolean"},
                "ts": {"type": "date"},
                "ip": {"type": "ip"},
                "v": {"type": "version"},
                "geo": {"type": "geo_point"},
                "host": {"properties": {"name": {"type": "keyword"}}},
            }
        },
    )
    data = only(store, "kinds")
    assert data.types == {
        "b": "boolean",
        "d": "double",
        "f": "double",
        "geo": "unsupported",
        "host.name": "keyword",
        "i": "integer",
        "ip": "ip",
        "k": "keyword",
        "l": "long",
        "s": "integer",
        "sf": "double",
        "t": "text",
        "t.raw": "keyword",
        "ts": "date",
        "v": "version",
    }
    assert data.frame.height == 0
    assert data.frame.schema["i"] == pl.Int32

    result = store.bulk(
        "kinds",
        [
            {
                "k": 7,
                "t": "Hello",
                "l": "42",
                "i": 3.9,
                "s": 12,
                "d": "2.5",
                "f": 0.1,
                "sf": 1.2345,
                "b": "true",
                "ts": "2026-11-25",
                "ip": "10.0.0.1",
                "v": "1.2.3",
                "geo": {"lat": 1, "lon": 2},
                "host": {"name": "h1"},
            }
        ],
    )
    assert result.errors == []
    (row,) = rows(store, "kinds")
    assert row["k"] == "7"  # keywords take numbers as their text
    assert row["t"] == "Hello" and row["t.raw"] == "Hello"
    assert row["l"] == 42 and row["i"] == 3  # numeric strings parse; fractions truncate
    assert row["d"] == 2.5
    assert row["f"] == pytest.approx(0.1) and row["f"] != 0.1  # float keeps float32 precision
    assert row["sf"] == 1.23
    assert row["b"] is True
    assert row["ts"] == datetime(2026, 11, 25, tzinfo=UTC)
    assert row["ip"] == "10.0.0.1" and row["v"] == "1.2.3"
    assert row["geo"] is None  # unsupported fields read as null
    assert row["host.name"] == "h1"


def test_objects_and_dotted_keys_fill_the_same_column(store: EmbeddedStore) -> None:
    store.create_index(
        "objs", {"properties": {"host": {"properties": {"name": {"type": "keyword"}}}}}
    )
    store.bulk("objs", [{"host": {"name": "a"}}, {"host.name": "b"}, {"host": None}])
    assert [r["host.name"] for r in rows(store, "objs")] == ["a", "b", None]


def test_strict_mapping_rejects_unknown_fields(store: EmbeddedStore) -> None:
    store.create_index("strict", {"dynamic": "strict", "properties": {"a": {"type": "long"}}})
    result = store.bulk("strict", [{"a": 1}, {"a": 2, "b": 3}])
    assert result.written == 1
    assert len(result.errors) == 1
    assert result.errors[0].startswith("document 1:")
    assert "[b]" in result.errors[0] and "strict" in result.errors[0]


def test_dynamic_mapping_infers_like_elasticsearch(store: EmbeddedStore) -> None:
    store.bulk(
        "free",
        [
            {
                "name": "alpha",
                "count": 3,
                "ratio": 0.5,
                "ok": False,
                "seen": "2026-11-25T16:00:00Z",
                "nested": {"deep": "x"},
                "nothing": None,
            }
        ],
    )
    data = only(store, "free")
    assert data.types == {
        "count": "long",
        "name": "text",
        "name.keyword": "keyword",
        "nested.deep": "text",
        "nested.deep.keyword": "keyword",
        "ok": "boolean",
        "ratio": "double",
        "seen": "date",
    }
    properties = store.get_mapping("free")["properties"]
    assert properties["ratio"] == {"type": "float"}
    assert "nothing" not in properties  # null-only fields are not mapped

    # A field that shows up later is added; earlier documents read null there.
    store.bulk("free", [{"name": "beta", "extra": 1}])
    assert [r["extra"] for r in rows(store, "free")] == [None, 1]


def test_invalid_mappings_and_names_raise_store_errors(store: EmbeddedStore) -> None:
    with pytest.raises(StoreError, match="not an object"):
        store.create_index("bad", {"properties": {"a": "keyword"}})
    with pytest.raises(StoreError, match="scaling_factor"):
        store.create_index("bad", {"properties": {"a": {"type": "scaled_float"}}})
    with pytest.raises(StoreError, match="invalid index name"):
        store.create_index("Upper", {"properties": {}})
    store.create_index("once", {"properties": {}})
    with pytest.raises(StoreError, match="already exists"):
        store.create_index("once", {"properties": {}})


# -- multi-valued fields ----------------------------------------------------------------------


def test_arrays_become_list_columns_ordered_as_doc_values(store: EmbeddedStore) -> None:
    store.create_index(
        "mv",
        {
            "properties": {
                "tags": {"type": "keyword"},
                "n": {"type": "long"},
                "words": {"type": "text"},
            }
        },
    )
    store.bulk("mv", [{"tags": "solo", "n": 1, "words": "one"}])
    store.bulk(
        "mv",
        [
            {"tags": ["b", "a", "b"], "n": [3, 1, 3], "words": ["z", "y"]},
            {"tags": ["only"], "n": [], "words": None},
        ],
    )
    data = only(store, "mv")
    assert data.frame.schema["tags"] == pl.List(pl.String)
    assert data.frame.schema["n"] == pl.List(pl.Int64)
    got = data.frame.select("tags", "n", "words").to_dicts()
    assert got[0] == {"tags": ["solo"], "n": [1], "words": ["one"]}  # earlier scalars widened
    assert got[1] == {"tags": ["a", "b"], "n": [1, 3, 3], "words": ["z", "y"]}
    assert got[2] == {"tags": ["only"], "n": None, "words": None}  # empty array is null


def test_arrays_of_objects_flatten_to_multi_values(store: EmbeddedStore) -> None:
    store.create_index("arr", {"properties": {"hits": {"properties": {"code": {"type": "long"}}}}})
    store.bulk("arr", [{"hits": [{"code": 5}, {"code": 2}]}, {"hits": {"code": 7}}])
    assert [r["hits.code"] for r in rows(store, "arr")] == [[2, 5], [7]]


# -- dates -------------------------------------------------------------------------------------


def test_dates_in_every_accepted_form(store: EmbeddedStore) -> None:
    store.create_index("dates", {"properties": {"at": {"type": "date"}}})
    plus_two = timezone(timedelta(hours=2))
    forms: list[Any] = [
        "2026-11-25T16:00:00Z",
        "2026-11-25T16:00:00.123Z",
        "2026-11-25T18:00:00+02:00",
        "2026-11-25T16:00:00",
        "2026-11-25",
        1795622400000,
        "1795622400000",
        datetime(2026, 11, 25, 18, 0, tzinfo=plus_two),
        datetime(2026, 11, 25, 16, 0),
        "2026-11-25T16:00:00.123456Z",
    ]
    result = store.bulk("dates", [{"at": value} for value in forms])
    assert result.errors == []
    got = [r["at"] for r in rows(store, "dates")]
    assert got == [
        T0,
        T0 + timedelta(milliseconds=123),
        T0,
        T0,
        datetime(2026, 11, 25, tzinfo=UTC),
        T0,
        T0,
        T0,
        T0,
        T0 + timedelta(milliseconds=123),  # stored with millisecond precision
    ]


def test_datetime_objects_take_the_vectorised_path(store: EmbeddedStore) -> None:
    store.bulk(METRICS, [{**metric(), "@timestamp": T0 + timedelta(seconds=i)} for i in range(3)])
    assert [r["@timestamp"] for r in rows(store, METRICS)] == [
        T0,
        T0 + timedelta(seconds=1),
        T0 + timedelta(seconds=2),
    ]


# -- documents that do not fit ----------------------------------------------------------------


def test_bad_documents_are_reported_with_position_and_field(store: EmbeddedStore) -> None:
    docs = [
        metric(0),
        metric(10, cpu_percent="abc"),
        metric(20),
        metric(30, **{"@timestamp": "yesterday"}),
        metric(40, memory_percent=True),
        metric(50, service={"name": "x"}),
        "not a document",
    ]
    result = store.bulk(METRICS, docs)  # type: ignore[arg-type]
    assert result.written == 2
    errors = result.errors
    assert len(errors) == 5
    assert errors[0].startswith("document 1:") and "[cpu_percent]" in errors[0]
    assert "'abc'" in errors[0]
    assert errors[1].startswith("document 3:") and "[@timestamp]" in errors[1]
    assert errors[2].startswith("document 4:") and "[memory_percent]" in errors[2]
    assert errors[3].startswith("document 5:") and "[service]" in errors[3]
    assert errors[4].startswith("document 6:") and "JSON object" in errors[4]
    assert store.count(METRICS) == 2


def test_numbers_out_of_range_or_not_finite_are_rejected(store: EmbeddedStore) -> None:
    store.create_index("nums", {"properties": {"b": {"type": "byte"}, "d": {"type": "double"}}})
    result = store.bulk("nums", [{"b": 127}, {"b": 128}, {"d": float("nan")}, {"d": 1e308}])
    assert result.written == 2
    assert [e.split(":")[0] for e in result.errors] == ["document 1", "document 2"]
    assert "out of range" in result.errors[0]
    assert "finite" in result.errors[1]


def test_data_streams_require_a_timestamp(store: EmbeddedStore) -> None:
    result = store.bulk(METRICS, [{"service": "api"}])
    assert result.written == 0
    assert "@timestamp" in result.errors[0]


def test_index_raises_on_a_rejected_document(store: EmbeddedStore) -> None:
    with pytest.raises(StoreError, match=r"cpu_percent"):
        store.index(METRICS, metric(0, cpu_percent="hot"))
    assert store.count(METRICS) == 0


# -- ids ---------------------------------------------------------------------------------------


def test_generated_ids_are_unique_and_explicit_ids_replace(store: EmbeddedStore) -> None:
    store.create_index(
        "incidents", {"properties": {"state": {"type": "keyword"}, "n": {"type": "long"}}}
    )
    first = store.index("incidents", {"state": "open"}, doc_id="INC-1")
    generated = store.index("incidents", {"state": "noise"})
    assert first == "INC-1" and generated != "INC-1"
    store.index("incidents", {"state": "resolved"}, doc_id="INC-1")
    got = {r["_id"]: r["state"] for r in rows(store, "incidents")}
    assert got == {"INC-1": "resolved", generated: "noise"}


def test_bulk_ids_last_one_wins_and_numeric_ids_never_collide(store: EmbeddedStore) -> None:
    store.create_index("ids", {"properties": {"v": {"type": "long"}}})
    store.bulk("ids", [{"_id": "7", "v": 1}, {"_id": "7", "v": 2}, {"v": 3}])
    store.bulk("ids", [{"v": 4}, {"v": 5}])
    frame = only(store, "ids").frame
    assert frame["_id"].n_unique() == frame.height == 4
    assert rows(store, "ids", "_id", "v")[0] == {"_id": "7", "v": 2}


def test_replace_by_id_keeps_the_other_documents(store: EmbeddedStore) -> None:
    store.bulk("notes", [{"n": i} for i in range(5)])
    ids = only(store, "notes").frame["_id"].to_list()
    store.index("notes", {"n": 99}, doc_id=ids[2])
    frame = only(store, "notes").frame
    assert frame.height == 5
    assert frame.filter(pl.col("_id") == ids[2])["n"].to_list() == [99]


def test_a_data_stream_never_replaces_a_document_as_in_elasticsearch(
    store: EmbeddedStore,
) -> None:
    # Data streams take `create` operations: a taken id is a 409 per item, kept as it was.
    store.bulk(METRICS, [metric(i) | {"_id": f"h/{i}"} for i in range(5)])
    again = store.bulk(METRICS, [metric(i, cpu_percent=99.0) | {"_id": f"h/{i}"} for i in (2, 5)])
    assert (again.written, again.duplicates, again.errors) == (1, 1, [])
    with pytest.raises(DocumentExists, match=r"\[h/2\] in qs-metrics"):
        store.index(METRICS, metric(2, cpu_percent=99.0), doc_id="h/2")
    frame = only(store, METRICS).frame
    assert frame.height == 6
    assert frame.filter(pl.col("_id") == "h/2")["cpu_percent"].to_list() != [99.0]


def test_create_refuses_a_taken_id_in_a_plain_index(store: EmbeddedStore) -> None:
    store.index("notes", {"n": 1}, doc_id="INC-0001", create=True)
    with pytest.raises(DocumentExists):
        store.index("notes", {"n": 2}, doc_id="INC-0001", create=True)
    assert only(store, "notes").frame["n"].to_list() == [1]


# -- frames ------------------------------------------------------------------------------------


def test_bulk_frame_converts_columns_and_reports_bad_rows(store: EmbeddedStore) -> None:
    frame = pl.DataFrame(
        {
            "@timestamp": ["2026-11-25T16:00:00Z", "2026-11-25", "soon"],
            "service": ["a", "b", "c"],
            "cpu_percent": [1, 2, 3],
            "not_mapped": [1, 2, 3],
        }
    )
    result = store.bulk_frame(METRICS, frame)
    assert result.written == 2
    assert len(result.errors) == 1 and result.errors[0].startswith("document 2:")
    got = rows(store, METRICS, "@timestamp", "service", "cpu_percent")
    # A data stream is kept in time order (so time windows are read by binary search).
    assert got == [
        {"@timestamp": datetime(2026, 11, 25, tzinfo=UTC), "service": "b", "cpu_percent": 2.0},
        {"@timestamp": T0, "service": "a", "cpu_percent": 1.0},
    ]


# -- catalog -----------------------------------------------------------------------------------


def test_resolve_patterns(store: EmbeddedStore) -> None:
    for name in ["qs-metrics", "qs-logs", "other", ".hidden"]:
        store.create_index(name, {"properties": {"a": {"type": "long"}}})
    names = lambda pattern: [d.name for d in store.resolve(pattern)]  # noqa: E731
    assert names("qs-*") == ["qs-logs", "qs-metrics"]
    assert names("*") == ["other", "qs-logs", "qs-metrics"]
    assert names(".*") == [".hidden"]
    assert names("other") == ["other"]
    assert names("q*s") == ["qs-logs", "qs-metrics"]
    assert names("missing") == []
    assert names("*metrics") == ["qs-metrics"]


def test_a_resolved_frame_is_a_snapshot(store: EmbeddedStore) -> None:
    store.bulk(METRICS, [metric(0)])
    before = only(store, METRICS).frame
    store.bulk(METRICS, [metric(10)])
    assert before.height == 1
    assert only(store, METRICS).frame.height == 2


def test_concurrent_writer_and_reader_see_whole_batches(store: EmbeddedStore) -> None:
    batches, batch_size = 40, 25
    seen: list[int] = []
    failures: list[BaseException] = []

    def write() -> None:
        try:
            for b in range(batches):
                store.bulk(METRICS, [metric(b * batch_size + i) for i in range(batch_size)])
        except BaseException as error:  # pragma: no cover - reported below
            failures.append(error)

    writer = threading.Thread(target=write)
    writer.start()
    while writer.is_alive():
        for data in store.resolve("qs-*"):
            seen.append(data.frame.height)
            assert data.frame["_id"].n_unique() == data.frame.height
    writer.join()
    assert failures == []
    assert all(height % batch_size == 0 for height in seen)
    assert seen == sorted(seen)
    assert store.count(METRICS) == batches * batch_size


def test_closed_store_refuses_work(store: EmbeddedStore) -> None:
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.bulk(METRICS, [metric()])


# -- ES|QL through the store -------------------------------------------------------------------


def test_esql_reads_the_store_with_params_and_the_store_clock(store: EmbeddedStore) -> None:
    store.bulk(METRICS, [metric(0, cpu_percent=10.0), metric(10, cpu_percent=30.0)])
    result = store.esql(
        "FROM qs-metrics | WHERE cpu_percent > ?floor "
        "| STATS top = MAX(cpu_percent), n = COUNT(*) | EVAL at = NOW()",
        params={"floor": 5},
    )
    assert result.to_body() == {
        "columns": [
            {"name": "top", "type": "double"},
            {"name": "n", "type": "long"},
            {"name": "at", "type": "date"},
        ],
        "values": [[30.0, 2, "2026-11-25T16:00:00.000Z"]],
    }
    later = store.esql("ROW at = NOW()", now=T0 + timedelta(hours=1))
    assert later.values == [["2026-11-25T17:00:00.000Z"]]


def test_esql_shows_multi_values_and_ids(store: EmbeddedStore) -> None:
    store.create_index("tags", {"properties": {"tag": {"type": "keyword"}}})
    store.index("tags", {"tag": ["b", "a"]}, doc_id="one")
    result = store.esql("FROM tags METADATA _id | KEEP _id, tag")
    assert result.values == [["one", ["a", "b"]]]


def test_esql_errors_propagate_as_esql_errors(store: EmbeddedStore) -> None:
    from qs_tui.esql.errors import EsqlError

    store.bulk(METRICS, [metric(0)])
    with pytest.raises(EsqlError) as caught:
        store.esql("FROM qs-metrics | WHERE nope > 1")
    assert "nope" in caught.value.render()


def test_a_field_mapped_by_a_rejected_document_is_still_listed(store: EmbeddedStore) -> None:
    store.create_index("dyn", {"properties": {"n": {"type": "long"}}})
    store.bulk("dyn", [{"n": 1}])
    result = store.bulk("dyn", [{"n": "not a number", "label": "new"}])
    assert result.written == 0
    data = only(store, "dyn")
    assert data.types == {"label": "text", "label.keyword": "keyword", "n": "long"}
    assert data.frame.select("label", "n").to_dicts() == [{"label": None, "n": 1}]


def test_date_formats_epoch_second_and_space_separated(store: EmbeddedStore) -> None:
    store.create_index(
        "fmt",
        {
            "properties": {
                "s": {"type": "date", "format": "epoch_second"},
                "w": {"type": "date", "format": "yyyy-MM-dd HH:mm:ss||strict_date_optional_time"},
            }
        },
    )
    result = store.bulk(
        "fmt",
        [
            {"s": 1795622400, "w": "2026-11-25 16:00:00"},
            {"s": "1795622400", "w": "2026-11-25T16:00:00Z"},
        ],
    )
    assert result.errors == []
    assert rows(store, "fmt", "s", "w") == [{"s": T0, "w": T0}, {"s": T0, "w": T0}]


def test_disabled_objects_are_not_mapped(store: EmbeddedStore) -> None:
    store.create_index("off", {"properties": {"raw": {"type": "object", "enabled": False}}})
    store.bulk("off", [{"raw": {"anything": 1}}])
    assert only(store, "off").types == {}
    assert store.count("off") == 1


def test_bulk_frame_follows_the_dynamic_setting(store: EmbeddedStore) -> None:
    store.create_index("sf", {"dynamic": "strict", "properties": {"a": {"type": "long"}}})
    result = store.bulk_frame("sf", pl.DataFrame({"a": [1, 2, 3], "b": [None, "x", None]}))
    assert result.written == 2
    assert result.errors[0].startswith("document 1:") and "strict" in result.errors[0]
    store.bulk_frame("df", pl.DataFrame({"a": [1, 2], "ok": [True, False]}))
    assert only(store, "df").types == {"a": "long", "ok": "boolean"}


def test_flat_documents_with_text_dates_keep_every_rule(store: EmbeddedStore) -> None:
    docs = [
        metric(0),
        {**metric(0), "@timestamp": 1795622400000},  # epoch millis after a text date
        {**metric(0), "@timestamp": True},
        {**metric(0), "cpu_percent": False},
        {**metric(0), "cpu_percent": "12.5"},  # numeric text is coerced, as ES does
    ]
    result = store.bulk(METRICS, docs)
    assert [e.split(":")[0] for e in result.errors] == ["document 2", "document 3"]
    assert "[@timestamp]" in result.errors[0] and "[cpu_percent]" in result.errors[1]
    assert rows(store, METRICS, "@timestamp", "cpu_percent") == [
        {"@timestamp": T0, "cpu_percent": 41.5},
        {"@timestamp": T0, "cpu_percent": 41.5},
        {"@timestamp": T0, "cpu_percent": 12.5},
    ]
