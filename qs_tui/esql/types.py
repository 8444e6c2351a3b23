"""ES|QL type names and how Elasticsearch field types map onto them and onto polars dtypes."""

from __future__ import annotations

import polars as pl

# The type names ES|QL reports in a response's `columns`.
INTEGER = "integer"
LONG = "long"
UNSIGNED_LONG = "unsigned_long"
DOUBLE = "double"
KEYWORD = "keyword"
TEXT = "text"
BOOLEAN = "boolean"
DATE = "date"
DATE_NANOS = "date_nanos"
IP = "ip"
VERSION = "version"
NULL = "null"
UNSUPPORTED = "unsupported"
TIME_DURATION = "time_duration"
DATE_PERIOD = "date_period"

NUMERIC = frozenset({INTEGER, LONG, UNSIGNED_LONG, DOUBLE})
STRING = frozenset({KEYWORD, TEXT})

# Elasticsearch mapping types -> the ES|QL type of the column (as ES|QL reports them).
MAPPING_TO_ESQL: dict[str, str] = {
    "keyword": KEYWORD,
    "constant_keyword": KEYWORD,
    "wildcard": KEYWORD,
    "text": TEXT,
    "match_only_text": TEXT,
    "long": LONG,
    "integer": INTEGER,
    "short": INTEGER,
    "byte": INTEGER,
    "unsigned_long": UNSIGNED_LONG,
    "double": DOUBLE,
    "float": DOUBLE,
    "half_float": DOUBLE,
    "scaled_float": DOUBLE,
    "boolean": BOOLEAN,
    "date": DATE,
    "date_nanos": DATE_NANOS,
    "ip": IP,
    "version": VERSION,
}

# ES|QL type -> polars dtype used for the column in the embedded store's tables.
# A multi-valued field is stored as `pl.List(<dtype>)`.
DATETIME = pl.Datetime("ms", "UTC")
ESQL_TO_POLARS: dict[str, pl.DataType] = {
    KEYWORD: pl.String(),
    TEXT: pl.String(),
    IP: pl.String(),
    VERSION: pl.String(),
    LONG: pl.Int64(),
    INTEGER: pl.Int32(),
    UNSIGNED_LONG: pl.UInt64(),
    DOUBLE: pl.Float64(),
    BOOLEAN: pl.Boolean(),
    DATE: DATETIME,
    DATE_NANOS: pl.Datetime("ns", "UTC"),
    NULL: pl.Null(),
}


def esql_type_for_mapping(mapping_type: str) -> str:
    """The ES|QL type of a field mapped as `mapping_type`; `unsupported` for anything else."""
    return MAPPING_TO_ESQL.get(mapping_type, UNSUPPORTED)


def polars_dtype(esql_type: str) -> pl.DataType:
    """The polars dtype the embedded store uses for an ES|QL type (strings for the unknown)."""
    return ESQL_TO_POLARS.get(esql_type, pl.String())
