"""Errors raised by the embedded ES|QL engine."""

from __future__ import annotations


class EsqlError(Exception):
    """Base class of every error the engine raises.

    Attributes:
        line: 1-based line in the query, when the error points at a place.
        column: 1-based column in the query, when the error points at a place.
        query: the query text, used to show the offending line with a caret.
    """

    kind = "error"

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        query: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.query = query

    def located(self, query: str) -> EsqlError:
        """Attach the query text so that `render()` can show the line and a caret."""
        if self.query is None:
            self.query = query
        return self

    def render(self) -> str:
        """A user-facing message: `line L:C: message`, the query line, and a caret under C."""
        if self.line is None or self.column is None:
            return self.message
        head = f"line {self.line}:{self.column}: {self.message}"
        if not self.query:
            return head
        lines = self.query.splitlines() or [""]
        if not 1 <= self.line <= len(lines):
            return head
        text = lines[self.line - 1]
        caret = " " * (self.column - 1) + "^"
        return f"{head}\n{text}\n{caret}"

    def __str__(self) -> str:
        return self.render()


class EsqlSyntaxError(EsqlError):
    """The query text is not valid ES|QL."""

    kind = "syntax error"


class EsqlUnsupportedError(EsqlError):
    """Valid (or plausible) ES|QL that the embedded engine does not implement; names the feature."""

    kind = "unsupported"


class EsqlExecutionError(EsqlError):
    """The query parsed but cannot run: unknown index or column, type mismatch, bad parameter."""

    kind = "verification error"
