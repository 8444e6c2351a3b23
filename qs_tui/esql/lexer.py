"""The ES|QL lexer: turns query text into tokens that carry their line and column."""

from __future__ import annotations

import bisect
import enum
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from qs_tui.esql.errors import EsqlSyntaxError

__all__ = [
    "EXPRESSION_KEYWORDS",
    "Token",
    "TokenKind",
    "tokenize",
]


class TokenKind(enum.Enum):
    """What a token is."""

    COMMAND = "command"
    """The first word after the start of the query or a `|`; `value` is upper-case."""
    IDENT = "identifier"
    """A field or function name; `value` is the name without backquotes, dotted parts joined."""
    KEYWORD = "keyword"
    """A reserved word (`AND`, `BY`, `NULL`, ...); `value` is upper-case."""
    STRING = "string"
    """A quoted string; `value` is the decoded text."""
    INTEGER = "integer"
    """An integer literal; `value` is a Python int."""
    DECIMAL = "decimal"
    """A decimal or exponent literal; `value` is a Python float."""
    PARAM = "parameter"
    """`?` (`value` None), `?1` (`value` 1) or `?name` (`value` "name")."""
    SOURCE = "source"
    """An unquoted index pattern after FROM or LOOKUP JOIN (`qs-metrics*`)."""
    PATTERN = "pattern"
    """A column name pattern after KEEP, DROP or RENAME (`cpu_*`, `host.*`)."""
    OP = "operator"
    """Punctuation and operators; `value` is the symbol (`==`, `(`, `,`, `|`, `::`)."""
    EOF = "end of input"
    """The end of the query."""


@dataclass(frozen=True)
class Token:
    """One token.

    Attributes:
        kind: what the token is.
        value: the decoded value (see `TokenKind`).
        text: the exact source text of the token.
        line: 1-based line of the first character.
        column: 1-based column of the first character.
        start: offset of the first character in the query.
        end: offset just past the last character.
    """

    kind: TokenKind
    value: Any
    text: str
    line: int
    column: int
    start: int
    end: int

    @property
    def pos(self) -> tuple[int, int]:
        """The (line, column) where the token starts."""
        return (self.line, self.column)

    def describe(self) -> str:
        """The token as ES quotes it in error messages: `'text'`, or `'<EOF>'` at the end."""
        if self.kind is TokenKind.EOF:
            return "'<EOF>'"
        return f"'{self.text}'"

    def is_op(self, *symbols: str) -> bool:
        """Whether this is one of the given operator symbols."""
        return self.kind is TokenKind.OP and self.value in symbols

    def is_keyword(self, *words: str) -> bool:
        """Whether this is one of the given reserved words (upper-case)."""
        return self.kind is TokenKind.KEYWORD and self.value in words


# Reserved words inside expressions; backquote them to use them as names (`` `first` ``).
EXPRESSION_KEYWORDS = frozenset(
    {
        "AND",
        "ASC",
        "BY",
        "DESC",
        "FALSE",
        "FIRST",
        "IN",
        "IS",
        "LAST",
        "LIKE",
        "NOT",
        "NULL",
        "NULLS",
        "OR",
        "RLIKE",
        "TRUE",
        "WHERE",
    }
)


class _Mode(enum.Enum):
    """What the lexer expects next; ES|QL lexes index patterns and column patterns differently."""

    COMMAND = "command"
    EXPRESSION = "expression"
    SOURCE = "source"
    PATTERN = "pattern"
    JOIN = "join"


# The mode each command switches to; any other command lexes its arguments as expressions.
_COMMAND_MODES: dict[str, _Mode] = {
    "FROM": _Mode.SOURCE,
    "TS": _Mode.SOURCE,
    "METRICS": _Mode.SOURCE,
    "KEEP": _Mode.PATTERN,
    "DROP": _Mode.PATTERN,
    "RENAME": _Mode.PATTERN,
    "LOOKUP": _Mode.JOIN,
}

_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r"}
_TWO_CHAR_OPS = ("==", "=~", "!=", "<=", ">=", "::")
_ONE_CHAR_OPS = "=<>+-*/%(),[]{}:|."
# Characters that end an unquoted index pattern (besides whitespace and comments).
_SOURCE_STOP = set(':"=|,[]() \t\r\n')


def _is_letter(char: str) -> bool:
    return ("a" <= char <= "z") or ("A" <= char <= "Z")


def _is_digit(char: str) -> bool:
    return "0" <= char <= "9"


def _is_id_body(char: str) -> bool:
    return _is_letter(char) or _is_digit(char) or char == "_"


class _Lexer:
    """A single pass over the query text, switching modes the way ES|QL's lexer does."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.offset = 0
        self.mode = _Mode.COMMAND
        self._line_starts = [0]
        index = 0
        length = len(text)
        while index < length:
            char = text[index]
            if char == "\r" and index + 1 < length and text[index + 1] == "\n":
                index += 1
                self._line_starts.append(index + 1)
            elif char in "\r\n":
                self._line_starts.append(index + 1)
            index += 1

    # -- helpers -----------------------------------------------------------------------------

    def position(self, offset: int) -> tuple[int, int]:
        """The 1-based (line, column) of an offset."""
        line_index = bisect.bisect_right(self._line_starts, offset) - 1
        return line_index + 1, offset - self._line_starts[line_index] + 1

    def error(self, message: str, offset: int) -> EsqlSyntaxError:
        line, column = self.position(offset)
        return EsqlSyntaxError(message, line=line, column=column, query=self.text)

    def char(self, ahead: int = 0) -> str:
        index = self.offset + ahead
        return self.text[index] if index < len(self.text) else ""

    def make(self, kind: TokenKind, value: Any, start: int) -> Token:
        line, column = self.position(start)
        return Token(kind, value, self.text[start : self.offset], line, column, start, self.offset)

    def skip_blank(self) -> None:
        """Skip whitespace, `// line` comments and (nestable) `/* block */` comments."""
        text = self.text
        while self.offset < len(text):
            char = text[self.offset]
            if char in " \t\r\n\f":
                self.offset += 1
            elif text.startswith("//", self.offset):
                while self.offset < len(text) and text[self.offset] not in "\r\n":
                    self.offset += 1
            elif text.startswith("/*", self.offset):
                self.skip_block_comment()
            else:
                return

    def skip_block_comment(self) -> None:
        start = self.offset
        depth = 0
        text = self.text
        while self.offset < len(text):
            if text.startswith("/*", self.offset):
                depth += 1
                self.offset += 2
            elif text.startswith("*/", self.offset):
                depth -= 1
                self.offset += 2
                if depth == 0:
                    return
            else:
                self.offset += 1
        raise self.error("unterminated comment: '/*' is never closed", start)

    # -- the token stream --------------------------------------------------------------------

    def tokens(self) -> Iterator[Token]:
        while True:
            self.skip_blank()
            if self.offset >= len(self.text):
                yield self.make(TokenKind.EOF, None, self.offset)
                return
            token = self.next_token()
            if token.is_op("|"):
                self.mode = _Mode.COMMAND
            yield token

    def next_token(self) -> Token:
        mode = self.mode
        if mode is _Mode.COMMAND:
            return self.command()
        if mode is _Mode.SOURCE:
            return self.source_mode_token()
        if mode is _Mode.JOIN:
            return self.join_mode_token()
        return self.expression_token(patterns=mode is _Mode.PATTERN)

    def command(self) -> Token:
        start = self.offset
        if not (_is_letter(self.char()) or self.char() == "_"):
            # Not a word: lex it as usual and let the parser report what it expected.
            return self.expression_token(patterns=False)
        while _is_id_body(self.char()):
            self.offset += 1
        word = self.text[start : self.offset].upper()
        self.mode = _COMMAND_MODES.get(word, _Mode.EXPRESSION)
        return self.make(TokenKind.COMMAND, word, start)

    def source_mode_token(self) -> Token:
        char = self.char()
        start = self.offset
        if char == '"':
            return self.string()
        if self.text.startswith("::", self.offset):
            self.offset += 2
            return self.make(TokenKind.OP, "::", start)
        if char in ":=,[]()|":
            self.offset += 1
            return self.make(TokenKind.OP, char, start)
        word = self.unquoted_source()
        if word.lower() == "metadata":
            return self.make(TokenKind.KEYWORD, "METADATA", start)
        return self.make(TokenKind.SOURCE, word, start)

    def unquoted_source(self) -> str:
        """Read an index pattern such as `qs-metrics*`, `.hidden` or `<logs-{now/d}>`."""
        text = self.text
        start = self.offset
        while self.offset < len(text):
            char = text[self.offset]
            if char in _SOURCE_STOP:
                break
            if char == "/" and self.char(1) in ("/", "*"):
                break  # the start of a comment
            self.offset += 1
        return text[start : self.offset]

    def join_mode_token(self) -> Token:
        """After LOOKUP: the JOIN keyword, the lookup index, then ON and the join fields."""
        start = self.offset
        if not _is_letter(self.char()):
            return self.source_mode_token()
        # Read a whole index name first, so that an index called `on-call` is not `ON`.
        word = self.unquoted_source()
        upper = word.upper()
        if upper in ("JOIN", "AS", "ON"):
            if upper == "ON":
                self.mode = _Mode.EXPRESSION
            return self.make(TokenKind.KEYWORD, upper, start)
        return self.make(TokenKind.SOURCE, word, start)

    def expression_token(self, *, patterns: bool) -> Token:
        char = self.char()
        start = self.offset
        if char == '"':
            return self.string()
        if _is_digit(char) or (char == "." and _is_digit(self.char(1))):
            return self.number()
        if char == "?":
            return self.parameter()
        if _is_letter(char) or char in "_@`" or (patterns and char == "*"):
            return self.name(patterns=patterns)
        for symbol in _TWO_CHAR_OPS:
            if self.text.startswith(symbol, start):
                self.offset += 2
                return self.make(TokenKind.OP, symbol, start)
        if char in _ONE_CHAR_OPS:
            self.offset += 1
            return self.make(TokenKind.OP, char, start)
        raise self.error(f"token recognition error at: '{char}'", start)

    def string(self) -> Token:
        start = self.offset
        text = self.text
        if text.startswith('"""', start):
            end = text.find('"""', start + 3)
            line_break = min(
                (i for i in (text.find("\n", start), text.find("\r", start)) if i >= 0), default=-1
            )
            if end < 0 or 0 <= line_break < end:
                # ES|QL does not let a string span lines, triple-quoted or not.
                raise self.error('unterminated string: \'"""\' is never closed on its line', start)
            # Like ES, up to two extra quotes right before the closing ones belong to the text.
            for _ in range(2):
                if text.startswith('"', end + 3):
                    end += 1
            self.offset = end + 3
            return self.make(TokenKind.STRING, text[start + 3 : end], start)
        self.offset += 1
        parts: list[str] = []
        while True:
            char = self.char()
            if char == "" or char in "\r\n":
                raise self.error("unterminated string: missing the closing '\"'", start)
            if char == '"':
                self.offset += 1
                return self.make(TokenKind.STRING, "".join(parts), start)
            if char == "\\":
                escaped = self.char(1)
                if escaped not in _ESCAPES or escaped == "":
                    raise self.error(
                        f"invalid escape sequence '\\{escaped}' in string "
                        '(use \\\\, \\", \\n, \\t or \\r, or a """triple-quoted""" string)',
                        self.offset,
                    )
                parts.append(_ESCAPES[escaped])
                self.offset += 2
            else:
                parts.append(char)
                self.offset += 1

    def number(self) -> Token:
        start = self.offset
        is_decimal = False
        while _is_digit(self.char()):
            self.offset += 1
        if self.char() == ".":
            is_decimal = True
            self.offset += 1
            while _is_digit(self.char()):
                self.offset += 1
        if self.char() in ("e", "E"):
            sign = 1 if self.char(1) in ("+", "-") else 0
            if _is_digit(self.char(1 + sign)):
                is_decimal = True
                self.offset += 1 + sign
                while _is_digit(self.char()):
                    self.offset += 1
        literal = self.text[start : self.offset]
        if is_decimal:
            return self.make(TokenKind.DECIMAL, float(literal), start)
        return self.make(TokenKind.INTEGER, int(literal), start)

    def parameter(self) -> Token:
        start = self.offset
        self.offset += 1
        char = self.char()
        if _is_letter(char) or char == "_":
            while _is_id_body(self.char()):
                self.offset += 1
            return self.make(TokenKind.PARAM, self.text[start + 1 : self.offset], start)
        if _is_digit(char):
            while _is_digit(self.char()):
                self.offset += 1
            return self.make(TokenKind.PARAM, int(self.text[start + 1 : self.offset]), start)
        return self.make(TokenKind.PARAM, None, start)

    def name(self, *, patterns: bool) -> Token:
        """An identifier (or, after KEEP/DROP/RENAME, a pattern): parts joined by dots."""
        start = self.offset
        parts: list[str] = []
        quoted = False
        while True:
            if self.char() == "`":
                parts.append(self.quoted_part())
                quoted = True
            else:
                parts.append(self.unquoted_part(patterns=patterns))
            after = self.char(1)
            if self.char() == "." and (
                _is_letter(after) or after in "_@`" or (patterns and after == "*")
            ):
                self.offset += 1
                continue
            break
        value = ".".join(parts)
        if patterns:
            if not quoted and value.upper() == "AS":
                return self.make(TokenKind.KEYWORD, "AS", start)
            return self.make(TokenKind.PATTERN, value, start)
        if not quoted and len(parts) == 1 and value.upper() in EXPRESSION_KEYWORDS:
            return self.make(TokenKind.KEYWORD, value.upper(), start)
        return self.make(TokenKind.IDENT, value, start)

    def unquoted_part(self, *, patterns: bool) -> str:
        start = self.offset
        first = self.char()

        def body(char: str) -> bool:
            return _is_id_body(char) or (patterns and char == "*")

        if first in "_@":
            self.offset += 1
            if not body(self.char()):
                # ES reserves a lone `_` or `@`; `@timestamp` and `_index` are fine.
                raise self.error(f"token recognition error at: '{first}'", start)
        elif not (_is_letter(first) or (patterns and first == "*")):
            raise self.error(f"token recognition error at: '{first}'", start)
        while body(self.char()):
            self.offset += 1
        return self.text[start : self.offset]

    def quoted_part(self) -> str:
        start = self.offset
        self.offset += 1
        parts: list[str] = []
        while True:
            char = self.char()
            if char == "":
                raise self.error("unterminated quoted identifier: missing the closing '`'", start)
            if char == "`":
                if self.char(1) == "`":
                    parts.append("`")
                    self.offset += 2
                    continue
                self.offset += 1
                break
            parts.append(char)
            self.offset += 1
        if not parts:
            raise self.error("empty quoted identifier ``", start)
        return "".join(parts)


def tokenize(text: str) -> Iterator[Token]:
    """Lex an ES|QL query lazily, ending with one EOF token.

    The lexer follows ES|QL's modes: the first word of the query and the word after each `|`
    is a COMMAND token; after FROM come index patterns (SOURCE tokens), after KEEP, DROP and
    RENAME column patterns (PATTERN tokens), and elsewhere expression tokens. Whitespace and
    `//` or `/* */` comments are skipped.

    Raises:
        EsqlSyntaxError: at the line and column of a character that starts no token, or of an
            unterminated string, quoted identifier or comment. Tokens before it are yielded
            first, so a parser reports earlier errors first.
    """
    return _Lexer(text).tokens()
