"""Implicit casting of string literals, as Elasticsearch applies it before type checking.

ES|QL converts a string literal to the type of the other side of a comparison or of an `IN`
list when that type is one a string can spell: dates (already handled where dates are
compared) and booleans (`still_hired == "true"`). Numbers are not cast: `salary > "50000"` is
a type error in Elasticsearch too. The conversion is ES's `Boolean.parseBoolean`: `"true"` in
any case is true, every other string false.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from qs_tui.esql import ast
from qs_tui.esql import types as t
from qs_tui.esql.errors import EsqlError
from qs_tui.esql.functions import ColumnInfo, ExprCompiler

_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})


def implicit_casts(node: ast.Expr, columns: Mapping[str, ColumnInfo], *, now: datetime) -> ast.Expr:
    """`node` with string literals compared to booleans turned into boolean literals.

    Args:
        node: an expression of a command.
        columns: the columns the expression sees, to learn the type of the other side.
        now: the instant `NOW()` returns (types do not depend on it; the compiler needs it).
    """
    if not _has_string_literal(node):
        return node
    return _Caster(ExprCompiler(dict(columns), now=now)).rewrite(node)


def _is_string_literal(node: ast.Expr) -> bool:
    return isinstance(node, ast.Literal) and node.type in t.STRING and isinstance(node.value, str)


def _has_string_literal(node: ast.Expr) -> bool:
    stack: list[ast.Expr] = [node]
    while stack:
        current = stack.pop()
        if _is_string_literal(current):
            return True
        stack.extend(ast.children(current))
    return False


def _to_boolean(node: ast.Expr) -> ast.Expr:
    assert isinstance(node, ast.Literal)
    value = str(node.value).lower() == "true"
    return ast.Literal(value, t.BOOLEAN, pos=node.pos, text=node.text)


class _Caster:
    """Rebuilds an expression bottom-up, casting the string literals it can."""

    def __init__(self, compiler: ExprCompiler) -> None:
        self.compiler = compiler

    def type_of(self, node: ast.Expr) -> str | None:
        """The type `node` compiles to; None when it does not compile (reported later)."""
        try:
            return self.compiler.compile(node).type
        except EsqlError:
            return None

    def rewrite(self, node: ast.Expr) -> ast.Expr:
        if isinstance(node, ast.BinaryOp):
            left, right = self.rewrite(node.left), self.rewrite(node.right)
            if node.op in _COMPARISONS:
                if _is_string_literal(right) and self.type_of(left) == t.BOOLEAN:
                    right = _to_boolean(right)
                elif _is_string_literal(left) and self.type_of(right) == t.BOOLEAN:
                    left = _to_boolean(left)
            if left is node.left and right is node.right:
                return node
            return replace(node, left=left, right=right)
        if isinstance(node, ast.InList):
            value = self.rewrite(node.value)
            options = tuple(self.rewrite(option) for option in node.options)
            if any(_is_string_literal(o) for o in options) and self.type_of(value) == t.BOOLEAN:
                options = tuple(_to_boolean(o) if _is_string_literal(o) else o for o in options)
            return replace(node, value=value, options=options)
        if isinstance(node, ast.UnaryOp):
            return replace(node, operand=self.rewrite(node.operand))
        if isinstance(node, ast.FunctionCall):
            return replace(node, args=tuple(self.rewrite(arg) for arg in node.args))
        if isinstance(node, ast.Cast | ast.IsNull | ast.Like):
            return replace(node, value=self.rewrite(node.value))
        return node
