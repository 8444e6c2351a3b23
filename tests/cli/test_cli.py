"""`qs-tui` as a user runs it: ES|QL from the command line, formats, errors and exit codes."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest

from qs_tui.cli import format_table, main
from qs_tui.esql.catalog import Column, EsqlResult

EXAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "examples"
LOAD = [
    "--index",
    "services",
    "--mapping",
    str(EXAMPLES / "services-mapping.json"),
    "--data",
    str(EXAMPLES / "services.ndjson"),
]


def run(*argv: str, env_file: Path | None = None) -> tuple[int, str, str]:
    """Run `qs-tui ARGV` in-process without a .env file; return (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    prefix = ["--env-file", str(env_file or os.devnull)]
    status = main([*prefix, *argv], out=out, err=err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _embedded_only(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ELASTIC_URL", "ELASTIC_CLOUD_ID", "QS_STORE", "QS_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)


def test_json_output_is_the_body_of_es_query_response() -> None:
    status, out, err = run(
        "esql",
        "FROM services | WHERE requests > 100 | STATS total = SUM(requests) BY region"
        " | SORT region",
        "--format",
        "json",
        *LOAD,
    )
    assert status == 0, err
    body = json.loads(out)
    assert body == {
        "columns": [{"name": "total", "type": "long"}, {"name": "region", "type": "keyword"}],
        "values": [[1250, "eu-west-1"], [1500, "us-east-1"]],
    }
    assert err == "warning: No limit defined, adding default limit of [1000]\n"


def test_nested_objects_and_multi_values_load_from_ndjson() -> None:
    status, out, err = run(
        "esql",
        "FROM services | WHERE owner.team == ?team | KEEP service, region, tags, owner.pager"
        " | SORT region",
        "--param",
        "team=payments",
        "--format",
        "json",
        *LOAD,
    )
    assert status == 0, err
    body = json.loads(out)
    assert [c["name"] for c in body["columns"]] == ["service", "region", "tags", "owner.pager"]
    # Keyword multi-values come back sorted and deduplicated, as ES reads them from doc values.
    assert body["values"] == [
        ["payment-service", "eu-west-1", ["pci", "tier-1"], "pay-oncall"],
        ["payment-service", "us-east-1", "tier-1", "pay-oncall"],
    ]


def test_params_are_typed_from_json_and_dates_print_as_elasticsearch_does() -> None:
    status, out, err = run(
        "esql",
        "FROM services | WHERE requests >= ?min AND @timestamp >= ?since"
        " | KEEP @timestamp, service | SORT @timestamp",
        "--param",
        "min=800",
        "--param",
        "since=2026-11-25T16:00:00Z",
        "--format",
        "json",
        *LOAD,
    )
    assert status == 0, err
    assert json.loads(out)["values"] == [
        ["2026-11-25T16:00:00.000Z", "api-gateway"],
        ["2026-11-25T16:00:20.000Z", "auth-service"],
    ]


def test_now_fixes_now_on_the_embedded_store() -> None:
    status, out, err = run(
        "esql", "ROW t = NOW()", "--now", "2026-11-25T16:00:00Z", "--format", "json"
    )
    assert status == 0, err
    assert json.loads(out)["values"] == [["2026-11-25T16:00:00.000Z"]]


def test_table_output_aligns_columns_and_shows_nulls() -> None:
    status, out, _ = run(
        "esql",
        "FROM services | KEEP service, latency_ms | SORT latency_ms NULLS FIRST | LIMIT 2",
        *LOAD,
    )
    assert status == 0
    lines = out.splitlines()
    assert [part.strip() for part in lines[0].split(" | ")] == ["service", "latency_ms"]
    assert set(lines[1]) <= {"-", "+"}
    assert lines[2].startswith("inventory-service") and lines[2].endswith("null")
    assert lines[3].startswith("auth-service") and lines[3].endswith("22.0")


def test_csv_output_has_a_header_and_empty_cells_for_null() -> None:
    status, out, _ = run(
        "esql",
        'FROM services | WHERE service == "inventory-service" | KEEP service, latency_ms',
        "--format",
        "csv",
        *LOAD,
    )
    assert status == 0
    assert list(csv.reader(io.StringIO(out))) == [
        ["service", "latency_ms"],
        ["inventory-service", ""],
    ]


def test_warnings_go_to_stderr_and_the_result_to_stdout() -> None:
    status, out, err = run("esql", "FROM services | KEEP service", "--format", "json", *LOAD)
    assert status == 0
    assert "No limit defined, adding default limit of [1000]" in err
    assert len(json.loads(out)["values"]) == 5


def test_syntax_error_shows_line_column_and_caret_with_status_1() -> None:
    status, out, err = run("esql", "FROM services\n| WHERE requests >> 3", *LOAD)
    assert status == 1
    assert out == ""
    assert "line 2:" in err
    assert "| WHERE requests >> 3" in err
    assert "^" in err
    assert "Traceback" not in err


def test_unsupported_window_clause_is_named() -> None:
    status, _, err = run(
        "esql", "FROM services | EVAL s = AVG(requests) OVER (PARTITION BY service)", *LOAD
    )
    assert status == 1
    assert "OVER" in err
    assert "Traceback" not in err


def test_unknown_index_is_a_clear_error() -> None:
    status, _, err = run("esql", "FROM nowhere | LIMIT 1")
    assert status == 1
    assert "nowhere" in err


def test_bad_ndjson_names_the_file_and_line(tmp_path: Path) -> None:
    data = tmp_path / "docs.ndjson"
    data.write_text('{"service": "a"}\n{"service": "b",\n', encoding="utf-8")
    status, _, err = run(
        "esql",
        "FROM services | LIMIT 1",
        "--index",
        "services",
        "--mapping",
        str(EXAMPLES / "services-mapping.json"),
        "--data",
        str(data),
    )
    assert status == 1
    assert "docs.ndjson:2" in err
    assert "Traceback" not in err


def test_option_groups_must_match() -> None:
    status, _, err = run("esql", "ROW a = 1", "--index", "services")
    assert status == 1
    assert "--index, --mapping and --data go together" in err


def test_bad_settings_name_the_variable(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("ELASTIC_URL=localhost:9200\n", encoding="utf-8")
    status, _, err = run("esql", "ROW a = 1", env_file=env)
    assert status == 1
    assert "ELASTIC_URL" in err
    assert "http://" in err


def test_query_from_a_file(tmp_path: Path) -> None:
    query = tmp_path / "q.esql"
    query.write_text("// a header comment\nROW a = 1 + 1\n", encoding="utf-8")
    status, out, err = run("esql", f"@{query}", "--format", "json")
    assert status == 0, err
    assert json.loads(out) == {"columns": [{"name": "a", "type": "integer"}], "values": [[2]]}


def test_format_table_of_an_empty_result_says_so() -> None:
    text = format_table(EsqlResult([Column("a", "long")], []))
    assert text.splitlines()[-1] == "(no rows)"
