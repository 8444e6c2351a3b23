"""The embedded ES|QL engine: lexer, parser, syntax tree and an executor over polars.

Public entry point: `run_query(text, catalog, params=..., now=...)` returns an `EsqlResult`
shaped exactly like the body of Elasticsearch's `POST /_query` response.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from qs_tui.esql.catalog import Catalog, Column, EsqlResult, IndexData
from qs_tui.esql.errors import (
    EsqlError,
    EsqlExecutionError,
    EsqlSyntaxError,
    EsqlUnsupportedError,
)

Params = Sequence[Any] | Mapping[str, Any] | None

__all__ = [
    "Catalog",
    "Column",
    "EsqlError",
    "EsqlExecutionError",
    "EsqlResult",
    "EsqlSyntaxError",
    "EsqlUnsupportedError",
    "IndexData",
    "Params",
    "run_query",
]


def run_query(
    text: str,
    catalog: Catalog,
    *,
    params: Params = None,
    now: datetime | None = None,
) -> EsqlResult:
    """Parse and run one ES|QL query.

    Args:
        text: the query.
        catalog: where `FROM` finds its indices.
        params: positional values (for `?` and `?1`) or named values (for `?name`), as
            Elasticsearch takes them in the request's `params`.
        now: the instant `NOW()` returns (aware, UTC); the current time when omitted.

    Raises:
        EsqlError: a syntax error, an unsupported feature or an execution error; its
            `render()` shows the query line and a caret where the error has a position.
            Nothing else escapes: an unexpected failure (a polars panic included) becomes an
            `EsqlExecutionError` whose `__cause__` is the original exception.
    """
    from qs_tui.esql import ast
    from qs_tui.esql.executor import INTERNAL_ERRORS, execute, internal_error
    from qs_tui.esql.parser import parse

    try:
        query = parse(text, params=params)
        return execute(query, catalog, now=now)
    except EsqlError as error:
        error.located(text)
        raise  # as it is: an internal failure keeps its original as `__cause__`
    except INTERNAL_ERRORS as error:
        # `execute` converts its own failures; this catches the parser's, which would be bugs.
        raise internal_error(error, ast.NO_POS).located(text) from error
