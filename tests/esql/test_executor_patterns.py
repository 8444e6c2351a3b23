"""Executor: DISSECT and GROK."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from qs_tui.esql import EsqlExecutionError, EsqlResult, IndexData, run_query

NOW = datetime(2026, 11, 25, 16, 0, 0, tzinfo=UTC)


class EmptyCatalog:
    def resolve(self, pattern: str) -> list[IndexData]:
        return []


def run(query: str) -> EsqlResult:
    return run_query(query, EmptyCatalog(), now=NOW)


def columns(result: EsqlResult) -> list[tuple[str, str]]:
    return [(column.name, column.type) for column in result.columns]


def test_dissect_appends_keyword_columns() -> None:
    result = run(
        'ROW a = "2023-01-23T12:15:00.000Z - some text - 127.0.0.1" '
        '| DISSECT a "%{date} - %{msg} - %{ip}" | KEEP date, msg, ip | LIMIT 1'
    )
    assert columns(result) == [("date", "keyword"), ("msg", "keyword"), ("ip", "keyword")]
    assert result.values == [["2023-01-23T12:15:00.000Z", "some text", "127.0.0.1"]]


def test_dissect_right_padding_skips_repeated_delimiters() -> None:
    result = run('ROW a = "level   INFO" | DISSECT a "%{name->} %{value}" | DROP a | LIMIT 1')
    assert result.values == [["level", "INFO"]]


def test_dissect_append_with_separator_and_named_skip() -> None:
    result = run(
        'ROW a = "john jacob smith 42" '
        '| DISSECT a "%{+name} %{+name} %{+name} %{?age}" APPEND_SEPARATOR = "," '
        "| DROP a | LIMIT 1"
    )
    assert columns(result) == [("name", "keyword")]
    assert result.values == [["john,jacob,smith"]]


def test_dissect_no_match_gives_nulls() -> None:
    result = run('ROW a = "no dashes here" | DISSECT a "%{x} - %{y}" | DROP a | LIMIT 1')
    assert result.values == [[None, None]]


def test_dissect_replaces_an_existing_column() -> None:
    result = run('ROW a = "x y", b = 1 | DISSECT a "%{b} %{c}" | LIMIT 1')
    assert columns(result) == [("a", "keyword"), ("b", "keyword"), ("c", "keyword")]
    assert result.values == [["x y", "x", "y"]]


def test_grok_common_patterns_and_types() -> None:
    result = run(
        'ROW a = "2023-01-23T12:15:00.000Z 127.0.0.1 some.email@foo.com 42" '
        '| GROK a "%{TIMESTAMP_ISO8601:date} %{IP:ip} %{EMAILADDRESS:email} %{NUMBER:num:int}" '
        "| KEEP date, ip, email, num | LIMIT 1"
    )
    assert columns(result) == [
        ("date", "keyword"),
        ("ip", "keyword"),
        ("email", "keyword"),
        ("num", "integer"),
    ]
    assert result.values == [["2023-01-23T12:15:00.000Z", "127.0.0.1", "some.email@foo.com", 42]]


def test_grok_log_line() -> None:
    result = run(
        'ROW line = "ERROR payment-service 3f2b9c1e-8d7a-4b6f-9e0d-1a2b3c4d5e6f took 12.5 ms" '
        '| GROK line "%{LOGLEVEL:level} %{NOTSPACE:service} %{UUID:trace} took '
        '%{BASE10NUM:ms:float} ms" | DROP line | LIMIT 1'
    )
    assert columns(result) == [
        ("level", "keyword"),
        ("service", "keyword"),
        ("trace", "keyword"),
        ("ms", "double"),
    ]
    assert result.values == [
        ["ERROR", "payment-service", "3f2b9c1e-8d7a-4b6f-9e0d-1a2b3c4d5e6f", 12.5]
    ]


def test_grok_http_access_log() -> None:
    line = '"10.0.0.1 - - [25/Nov/2026:16:00:00 +0000] \\"GET /api/v1/items?id=3 HTTP/1.1\\" 200"'
    pattern = (
        '"%{IPORHOST:client} - - \\\\[%{HTTPDATE:ts}\\\\] \\"%{WORD:verb} '
        '%{URIPATHPARAM:path} HTTP/%{NUMBER:version}\\" %{POSINT:status:int}"'
    )
    result = run(f"ROW l = {line} | GROK l {pattern} | DROP l | LIMIT 1")
    assert result.values == [
        ["10.0.0.1", "25/Nov/2026:16:00:00 +0000", "GET", "/api/v1/items?id=3", "1.1", 200]
    ]


def test_grok_no_match_gives_nulls() -> None:
    result = run('ROW a = "nothing numeric" | GROK a "%{INT:n:int}" | DROP a | LIMIT 1')
    assert columns(result) == [("n", "integer")]
    assert result.values == [[None]]


def test_grok_unknown_pattern_is_an_error() -> None:
    with pytest.raises(EsqlExecutionError) as caught:
        run('ROW a = "x" | GROK a "%{NOPE:x}"')
    assert "Unable to find pattern [NOPE]" in caught.value.message


def test_dissect_on_number_is_an_error() -> None:
    with pytest.raises(EsqlExecutionError) as caught:
        run('ROW a = 1 | DISSECT a "%{x}"')
    assert "DISSECT" in caught.value.message
