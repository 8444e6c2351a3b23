"""ES|QL expressions and scalar functions, compiled to typed, vectorised polars expressions.

`compiler.py` compiles leaves, operators, casts and calls; each scalar function is one
definition in the module of its domain, registered with `@scalar(...)` (see `registry.py`):
`math`, `string`, `date`, `mv` (multi-value), `conversion`, `conditional`, `grouping` (BUCKET)
and `search` (MATCH). Importing this package registers them all.
"""

from __future__ import annotations

from qs_tui.esql.functions import (  # noqa: F401  (importing a domain registers its functions)
    conditional,
    conversion,
    date,
    grouping,
    math,
    mv,
    search,
    string,
)
from qs_tui.esql.functions.compiler import ExprCompiler
from qs_tui.esql.functions.core import (
    MULTI_VALUE_MESSAGE,
    VALUE_PLACEHOLDER,
    Check,
    ColumnInfo,
    Typed,
    esql_dtype,
    execution_error,
    is_numeric,
    is_string,
    numeric_result_type,
    unsupported_error,
    value_text,
    where,
)
from qs_tui.esql.functions.registry import FUNCTIONS, FunctionDef, Param, is_known_function, scalar

__all__ = [
    "FUNCTIONS",
    "MULTI_VALUE_MESSAGE",
    "VALUE_PLACEHOLDER",
    "Check",
    "ColumnInfo",
    "ExprCompiler",
    "FunctionDef",
    "Param",
    "Typed",
    "esql_dtype",
    "execution_error",
    "is_known_function",
    "is_numeric",
    "is_string",
    "numeric_result_type",
    "scalar",
    "unsupported_error",
    "value_text",
    "where",
]
