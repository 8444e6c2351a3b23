"""Full-text search: MATCH, which also scores rows for `_score`."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import polars as pl

from qs_tui.esql import ast
from qs_tui.esql import types as t
from qs_tui.esql.functions.core import Typed, execution_error
from qs_tui.esql.functions.registry import STRING, Param, scalar

if TYPE_CHECKING:
    from qs_tui.esql.functions.compiler import ExprCompiler


def full_text_match(field: Typed, query: str) -> tuple[pl.Expr, pl.Expr]:
    """MATCH: any query term in the field (OR), and a deterministic BM25 score per row."""
    terms = [term for term in re.split(r"\W+", query.lower()) if term]
    text = field.expr.cast(pl.String).str.to_lowercase()
    if not terms:
        return pl.lit(False), pl.lit(0.0)
    k1, b = 1.2, 0.75
    doc_length = text.str.count_matches(r"\w+").cast(pl.Float64)
    average_length = doc_length.mean()
    documents = pl.len().cast(pl.Float64)
    score = pl.lit(0.0)
    matched = pl.lit(False)
    for term in terms:
        frequency = text.str.count_matches(rf"\b{re.escape(term)}\b").cast(pl.Float64)
        frequency = frequency.fill_null(0.0)
        with_term = (frequency > 0).sum().cast(pl.Float64)
        idf = (1 + (documents - with_term + 0.5) / (with_term + 0.5)).log()
        norm = frequency + k1 * (1 - b + b * doc_length / average_length)
        score = score + pl.when(frequency > 0).then(idf * frequency * (k1 + 1) / norm).otherwise(
            0.0
        )
        matched = matched | (frequency > 0)
    return matched, score


@scalar("MATCH", Param("field", multi=True), Param("query", multi=True))
def match(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
    """Whether the text field holds any term of the query; scores rows for `_score`."""
    field_arg, query_arg = args
    if not isinstance(node.args[0], ast.Field):
        raise execution_error(f"first argument of [{node.text}] must be a field", node)
    c.require(node, field_arg, STRING, "first", node.args[0])
    query = c.const_arg(node, query_arg, "query")
    if query is None:
        return Typed(pl.lit(None, dtype=pl.Boolean), t.BOOLEAN)
    matched, score = full_text_match(field_arg, str(query))
    c.scores.append(score)
    return Typed(matched, t.BOOLEAN)
