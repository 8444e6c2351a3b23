"""Rendering canonical queries through a profile: plain ES|QL a real cluster accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from qs_tui.esql import ast
from qs_tui.esql.parser import parse
from qs_tui.profiles import BUILTIN_PROFILES, Profile, load_profile
from qs_tui.profiles.render import dataset_of, literal, quote, render_query
from qs_tui.queries import QueryFile, all_queries
from qs_tui.store.embedded import EmbeddedStore

QUERIES = all_queries()
SHOP = Path(__file__).parent / "shop.toml"
PROFILES = [*BUILTIN_PROFILES, str(SHOP)]

# The Elasticsearch version whose ES|QL first has each command and function the rendered
# queries use, from Elastic's ES|QL reference (commands and functions pages; STD_DEV from
# elastic/elasticsearch#116531, in 8.18; `STATS … WHERE` from 8.16; BUCKET under that name
# from 8.14; MATCH from 8.17; METADATA _score from 8.18). A function the table does not list
# fails the check: an embedded-only extension would otherwise pass unnoticed.
COMMANDS: dict[type, tuple[int, int]] = {
    ast.From: (8, 11),
    ast.Row: (8, 11),
    ast.Where: (8, 11),
    ast.Eval: (8, 11),
    ast.Stats: (8, 11),
    ast.Sort: (8, 11),
    ast.Limit: (8, 11),
    ast.Keep: (8, 11),
    ast.Drop: (8, 11),
    ast.Rename: (8, 11),
}
FUNCTIONS: dict[str, tuple[int, int]] = {
    **dict.fromkeys(
        ["AVG", "MAX", "MIN", "SUM", "COUNT", "COUNT_DISTINCT", "PERCENTILE", "MEDIAN"], (8, 11)
    ),
    **dict.fromkeys(
        ["TO_DATETIME", "TO_DOUBLE", "TO_LONG", "TO_STRING", "TO_UPPER", "CONCAT", "SUBSTRING"],
        (8, 11),
    ),
    **dict.fromkeys(["COALESCE", "CASE", "GREATEST", "POW", "DATE_DIFF"], (8, 11)),
    "BUCKET": (8, 14),
    "MATCH": (8, 17),
    "STD_DEV": (8, 18),
}
STATS_WHERE = (8, 16)
SCORE_METADATA = (8, 18)

PARAMS = {
    "start": "2026-11-25T13:00:00Z",
    "end": "2026-11-25T14:00:00Z",
    "baseline_start": "2026-11-25T12:30:00Z",
    "baseline_end": "2026-11-25T13:00:00Z",
    "onset": "2026-11-25T13:40:00Z",
    "service": "checkout",
    "region": "eu-west-1",
    "threshold": 90,
    "text": "checkout memory leak",
}


def _expressions(node: ast.Expr) -> list[ast.Expr]:
    found = [node]
    for child in ast.children(node):
        found += _expressions(child)
    return found


def _uses(query: ast.Query) -> list[tuple[str, tuple[int, int] | None]]:
    """Every command and function of the query, with the version that introduced it."""
    uses: list[tuple[str, tuple[int, int] | None]] = []
    roots: list[ast.Expr] = []
    for command in (query.source, *query.commands):
        uses.append((type(command).__name__, COMMANDS.get(type(command))))
        if isinstance(command, ast.From) and "_score" in command.metadata:
            uses.append(("METADATA _score", SCORE_METADATA))
        if isinstance(command, ast.Row | ast.Eval):
            roots += [field.expr for field in command.fields]
        elif isinstance(command, ast.Where):
            roots.append(command.condition)
        elif isinstance(command, ast.Stats):
            roots += [group.expr for group in command.groups]
            for aggregate in command.aggregates:
                roots.append(aggregate.expr)
                if aggregate.where is not None:
                    uses.append(("STATS … WHERE", STATS_WHERE))
                    roots.append(aggregate.where)
        elif isinstance(command, ast.Sort):
            roots += [order.expr for order in command.orders]
    for root in roots:
        for node in _expressions(root):
            if isinstance(node, ast.FunctionCall):
                uses.append((node.name.upper(), FUNCTIONS.get(node.name.upper())))
            elif isinstance(node, ast.Cast):
                uses.append(("::", (8, 15)))
    return uses


@pytest.mark.parametrize("query", QUERIES, ids=[q.name for q in QUERIES])
def test_the_qs_profile_renders_every_query_byte_for_byte(query: QueryFile) -> None:
    assert render_query(query, load_profile("qs")) == query.text


@pytest.mark.parametrize("profile_name", PROFILES, ids=[Path(p).stem for p in PROFILES])
def test_every_rendered_query_is_plain_es_ql_of_the_profile_s_minimum_version(
    profile_name: str,
) -> None:
    profile = load_profile(profile_name)
    for query in QUERIES:
        text = render_query(query, profile)
        tree = parse(text, params={k: v for k, v in PARAMS.items() if k in query.params})
        for name, since in _uses(tree):
            assert since is not None, f"{query.name}: {name} is not in Elasticsearch's ES|QL"
            assert since <= profile.min_version, (
                f"{query.name}: {name} needs Elasticsearch {since}, "
                f"the profile says {profile.min_elasticsearch}"
            )


def test_the_check_rejects_what_a_cluster_of_that_version_lacks() -> None:
    old = parse("FROM x | STATS s = STD_DEV(v) WHERE v > 1 BY h | EVAL y = MADE_UP(s)")
    names = dict(_uses(old))
    assert names["STD_DEV"] == (8, 18)
    assert names["STATS … WHERE"] == (8, 16)
    assert names["Eval"] == (8, 11)
    assert "MADE_UP" in names and names["MADE_UP"] is None


def test_only_queries_reading_telemetry_change() -> None:
    shop = load_profile(str(SHOP))
    for query in QUERIES:
        rendered = render_query(query, shop)
        if dataset_of(query) is None:
            assert rendered == query.text, query.name
        else:
            assert rendered != query.text, query.name
            # The header comment and everything after the FROM line stay as written.
            header, _, rest = query.text.partition("\nFROM ")
            assert rendered.startswith(header + "\nFROM ")
            assert rendered.endswith(rest.partition("\n")[2])


def test_identifiers_are_quoted_and_strings_escaped() -> None:
    assert quote("host") == "host"
    assert quote("@timestamp") == "@timestamp"
    assert quote("host.name") == "`host.name`"
    assert quote("by") == "`by`"
    assert quote("my-field") == "`my-field`"
    assert literal('say "hi"\\n\n') == '"say \\"hi\\"\\\\n\\n"'
    assert literal(True) == "true"
    assert literal(3) == "3"


def _bucket_source(profile: Profile) -> str:
    query = next(q for q in QUERIES if q.name == "metrics_span")
    return render_query(query, profile)


def test_bucket_mode_copies_the_window_and_groups_per_host_and_bucket() -> None:
    text = _bucket_source(load_profile(str(SHOP)))
    lines = text.splitlines()
    start = lines.index("FROM metrics-system.cpu-shop, traces-apm-shop")
    assert lines[start + 1] == (
        "| WHERE @timestamp >= TO_DATETIME(?start) AND @timestamp < TO_DATETIME(?end)"
        " AND (NOT `labels.synthetic` == true OR `labels.synthetic` IS NULL)"
    )
    assert "cpu_percent = AVG(`system.cpu.total.norm.pct` * 100.0)" in text
    assert "memory_percent = MAX((1 - `system.memory.actual.free.pct`) * 100.0)" in text
    assert '_qs_error_rate_part = COUNT(*) WHERE `event.outcome` == "failure"' in text
    assert "BY @timestamp = BUCKET(@timestamp, 10 seconds)" in text
    assert "| DROP _qs_error_rate_part, _qs_error_rate_whole, _qs_requests_per_s_total" in text
    assert "disk_percent = TO_DOUBLE(null)" in text
    assert "| WHERE service IS NOT NULL AND host IS NOT NULL" in text


def _shop_store() -> EmbeddedStore:
    """Documents in the shop's shape: one host, two 10-second buckets."""
    store = EmbeddedStore()
    base = {"service.name": "checkout", "cloud.region": "eu-west-1", "host.name": "checkout-1"}
    cpu = [
        {**base, "@timestamp": "2026-11-25T13:10:01Z", "system.cpu.total.norm.pct": 0.5,
         "system.memory.actual.free.pct": 0.75},
        {**base, "@timestamp": "2026-11-25T13:10:06Z", "system.cpu.total.norm.pct": 0.7,
         "system.memory.actual.free.pct": 0.25},
        {**base, "@timestamp": "2026-11-25T13:10:12Z", "system.cpu.total.norm.pct": 0.9,
         "system.memory.actual.free.pct": 0.5},
        # A synthetic probe, left out by the profile's `where`.
        {**base, "@timestamp": "2026-11-25T13:10:02Z", "system.cpu.total.norm.pct": 0.0,
         "system.memory.actual.free.pct": 1.0, "labels.synthetic": True},
        # Outside the window: must not be scanned into any bucket.
        {**base, "@timestamp": "2026-11-25T15:00:00Z", "system.cpu.total.norm.pct": 0.1,
         "system.memory.actual.free.pct": 0.9},
    ]  # fmt: skip
    store.bulk("metrics-system.cpu-shop", cpu)
    outcomes = ["success", "success", "failure", "success"]
    traces = [
        {**base, "@timestamp": f"2026-11-25T13:10:0{i}Z", "processor.event": "transaction",
         "event.outcome": outcome, "transaction.duration.us": 1000.0 * (i + 1),
         "service.version": "1.0"}
        for i, outcome in enumerate(outcomes)
    ]  # fmt: skip
    traces.append(
        {**base, "@timestamp": "2026-11-25T13:30:00Z", "processor.event": "transaction",
         "event.outcome": "success", "transaction.duration.us": 2000.0,
         "service.version": "1.1"}
    )  # fmt: skip
    store.bulk("traces-apm-shop", traces)
    store.bulk(
        "logs-shop",
        [{**base, "@timestamp": "2026-11-25T13:41:00Z", "log.level": "error",
          "message": "connection pool exhausted", "error.code": "E_POOL"}],
    )  # fmt: skip
    return store


def test_the_embedded_engine_runs_the_bucketed_source_with_canonical_values() -> None:
    shop = load_profile(str(SHOP))
    store = _shop_store()
    timeline = next(q for q in QUERIES if q.name == "cpu_saturation")
    query = render_query(timeline, shop).replace(
        "| STATS avg_cpu", "| SORT @timestamp | LIMIT 10\n| STATS avg_cpu", 1
    )
    source = query.split("| SORT @timestamp | LIMIT 10")[0] + "| SORT @timestamp | LIMIT 10"
    result = store.esql(source, params={k: PARAMS[k] for k in ("start", "end", "threshold")})
    rows = [dict(zip([c.name for c in result.columns], row, strict=True)) for row in result.values]
    assert [row["@timestamp"] for row in rows] == [
        "2026-11-25T13:10:00.000Z",
        "2026-11-25T13:10:10.000Z",
    ]
    first, second = rows
    assert first["cpu_percent"] == pytest.approx(60.0)  # avg(0.5, 0.7) x 100
    assert first["memory_percent"] == pytest.approx(75.0)  # max(1 - 0.75, 1 - 0.25) x 100
    assert first["error_rate"] == pytest.approx(0.25)  # 1 failure of 4 transactions
    assert first["requests_per_s"] == pytest.approx(0.4)  # 4 transactions / 10 s
    assert first["latency_p95_ms"] == pytest.approx(3.85, abs=0.2)  # p95 of 1..4 ms
    assert first["disk_percent"] is None  # the profile has no disk signal
    assert second["cpu_percent"] == pytest.approx(90.0)
    assert second["error_rate"] is None  # no transactions in that bucket
    assert second["requests_per_s"] == 0.0
    assert (first["service"], first["region"], first["host"]) == (
        "checkout",
        "eu-west-1",
        "checkout-1",
    )


def test_every_rendered_query_runs_on_the_embedded_engine() -> None:
    shop = load_profile(str(SHOP))
    store = _shop_store()
    ran = {}
    for query in QUERIES:
        if dataset_of(query) is None:
            continue
        params = {k: v for k, v in PARAMS.items() if k in query.params}
        result = store.esql(render_query(query, shop), params=params)
        ran[query.name] = result.values
    assert len(ran["cpu_saturation"]) == 1
    # The lower-case "error" line after the onset counts once the level is upper-cased.
    assert [row[:2] for row in ran["investigate_error_logs"]] == [[0, 1]]
    # Each version's first appearance is its deployment, newest first.
    assert [(row[0], row[3]) for row in ran["investigate_deploys"]] == [
        ("2026-11-25T13:30:00.000Z", "1.1"),
        ("2026-11-25T13:10:00.000Z", "1.0"),
    ]


def test_a_profile_without_a_data_set_renders_a_source_with_no_rows() -> None:
    metrics_only = load_profile(str(SHOP)).model_copy(update={"logs": None})
    query = next(q for q in QUERIES if q.name == "investigate_error_logs")
    text = render_query(query, metrics_only)
    assert "ROW @timestamp = TO_DATETIME(null)" in text
    params = {k: v for k, v in PARAMS.items() if k in query.params}
    result = _shop_store().esql(text, params=params)
    assert result.values == []
    assert [c.name for c in result.columns][:3] == ["before", "after", "hosts"]
