"""The ES|QL parser: query text and parameters in, a `Query` syntax tree out."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import numbers
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time
from typing import Any, TypeVar

from qs_tui.esql import types
from qs_tui.esql.ast import (
    Aggregate,
    Assignment,
    BinaryOp,
    Cast,
    Command,
    Dissect,
    Drop,
    Eval,
    Expr,
    Field,
    From,
    FunctionCall,
    Grok,
    InList,
    IsNull,
    Keep,
    Like,
    Limit,
    Literal,
    LookupJoin,
    MvExpand,
    Order,
    Query,
    Rename,
    Row,
    Sort,
    Star,
    Stats,
    TimeSpan,
    UnaryOp,
    Where,
)
from qs_tui.esql.errors import (
    EsqlError,
    EsqlExecutionError,
    EsqlSyntaxError,
    EsqlUnsupportedError,
)
from qs_tui.esql.lexer import Token, TokenKind, tokenize

__all__ = [
    "MAX_EXPRESSION_DEPTH",
    "MAX_EXPRESSION_NODES",
    "MAX_QUERY_LENGTH",
    "TIME_UNITS",
    "UNSUPPORTED_COMMANDS",
    "allow_deep_expressions",
    "parse",
]

# Elasticsearch refuses a statement longer than this many characters (`EsqlParser.MAX_LENGTH`).
MAX_QUERY_LENGTH = 1_000_000
# How deeply expressions may nest (parentheses, function arguments, NOT, signs, and chains of
# arithmetic or comparisons). Real queries stay within a few dozen levels; Elasticsearch
# accepts hundreds, so the bound is far beyond use and only stops runaway input.
MAX_EXPRESSION_DEPTH = 500
# How many expression nodes one query may hold: every field, literal, operator and call counts.
# Thousands of IN values or OR terms stay well below it; the bound caps the time and memory
# a query can take (the parser reads about 20,000 nodes a second on a slow core).
MAX_EXPRESSION_NODES = 100_000
# Token streams of texts up to this length are cached (see `_tokens`).
_CACHED_TEXT_LENGTH = 10_000
# AND/OR chains longer than this are built as balanced trees (see `logical_chain`).
_LEFT_DEEP_CHAIN = 64
# Python frames the parser and the compiler need per level of nesting, with room to spare.
_FRAMES_PER_LEVEL = 24

ParamValues = Sequence[Any] | Mapping[str, Any] | None

_E = TypeVar("_E", bound=Expr)

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
UNSIGNED_LONG_MAX = 2**64 - 1

# Every spelling ES|QL accepts for a time span unit, mapped to the singular unit name.
TIME_UNITS: dict[str, str] = {
    spelling: unit
    for unit, spellings in {
        "year": ("y", "yr", "year", "years"),
        "quarter": ("q", "quarter", "quarters"),
        "month": ("mo", "month", "months"),
        "week": ("w", "week", "weeks"),
        "day": ("d", "day", "days"),
        "hour": ("h", "hour", "hours"),
        "minute": ("m", "min", "minute", "minutes"),
        "second": ("s", "sec", "second", "seconds"),
        "millisecond": ("ms", "millisecond", "milliseconds"),
    }.items()
    for spelling in spellings
}

# ES|QL commands this engine does not implement, with what to say about them.
UNSUPPORTED_COMMANDS: dict[str, str] = {
    "ENRICH": "ENRICH (enrich policies) is not supported by the embedded engine",
    "INLINESTATS": "INLINESTATS is not supported by the embedded engine; use STATS ... BY",
    "INLINE": "INLINE STATS is not supported by the embedded engine; use STATS ... BY",
    "FORK": "FORK is not supported by the embedded engine",
    "CHANGE_POINT": "CHANGE_POINT is not supported by the embedded engine",
    "COMPLETION": "COMPLETION is not supported by the embedded engine",
    "SAMPLE": "SAMPLE is not supported by the embedded engine",
    "SHOW": "SHOW is not supported by the embedded engine",
    "METRICS": "METRICS (time series source) is not supported by the embedded engine; use FROM",
    "TS": "TS (time series source) is not supported by the embedded engine; use FROM",
    "RERANK": "RERANK is not supported by the embedded engine",
    "EXPLAIN": "EXPLAIN is not supported by the embedded engine",
    "FUSE": "FUSE is not supported by the embedded engine",
    "RRF": "RRF is not supported by the embedded engine",
}

_SOURCE_COMMANDS = ("FROM", "ROW")
_METADATA_FIELDS = frozenset(
    {"_index", "_id", "_score", "_version", "_source", "_ignored", "_index_mode", "_tsid"}
)
_COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
_INTEGER_TYPES = (types.INTEGER, types.LONG, types.UNSIGNED_LONG)
# Order in which numeric types widen when values of several types meet in one multi-value.
_NUMERIC_RANK = {types.INTEGER: 0, types.LONG: 1, types.UNSIGNED_LONG: 2, types.DOUBLE: 3}


@functools.lru_cache(maxsize=256)
def _token_tuple(text: str) -> tuple[Token, ...]:
    return tuple(tokenize(text))


def _tokens(text: str) -> Iterator[Token]:
    """The tokens of `text`. The agents run the same few queries over and over with new
    parameters, and lexing is most of parsing's cost, so token streams are cached by text.
    A text that does not lex is tokenized lazily, so errors surface in query order; so is a
    long text, which is not worth caching and may be refused before it is read to the end."""
    if len(text) > _CACHED_TEXT_LENGTH:
        return tokenize(text)
    try:
        return iter(_token_tuple(text))
    except EsqlError:
        return tokenize(text)


def parse(text: str, *, params: ParamValues = None) -> Query:
    """Parse one ES|QL query into its syntax tree, binding parameters as literals.

    Args:
        text: the query, e.g. `FROM qs-metrics | WHERE @timestamp >= ?start | LIMIT 10`.
        params: values for the query's parameters, never spliced into the text. A sequence
            binds `?` (in order) and `?1`, `?2`, ... (1-based); a mapping binds `?name`.
            Elasticsearch's wire form, a list of single-key dicts
            (`[{"start": "2026-11-25T16:00:00Z"}, {"service": "auth"}]`), binds `?name` too.

    Returns:
        The query: its source command (`From` or `Row`) and the processing commands.

    Raises:
        EsqlSyntaxError: the text is not valid ES|QL; it points at the offending token.
        EsqlUnsupportedError: valid ES|QL this engine does not implement (ENRICH, FORK, an
            `OVER` clause, remote clusters, ...); the message names the feature.
        EsqlExecutionError: a parameter the query uses is missing or has an unusable value.
    """
    if len(text) > MAX_QUERY_LENGTH:
        raise EsqlSyntaxError(
            f"ESQL statement is too large [{len(text)} characters > {MAX_QUERY_LENGTH}]"
        )
    allow_deep_expressions()  # before any recursion, for the parser and the compiler after it
    parser = _Parser(text, _ParamBinder(params))
    try:
        query = parser.parse_query()
        _check_size(query)
        return query
    except EsqlError as error:
        raise error.located(text) from None


def allow_deep_expressions() -> None:
    """Make room on the Python stack for expressions nested up to `MAX_EXPRESSION_DEPTH`.

    The parser and the expression compiler recurse once per level of nesting, several frames
    at a time; Python's default limit (1,000 frames) would stop them near 100 levels. The
    limit is only ever raised. Python 3.11 runs Python-to-Python calls without growing the
    C stack, so the higher limit is safe.
    """
    needed = MAX_EXPRESSION_DEPTH * _FRAMES_PER_LEVEL + 1_000
    if sys.getrecursionlimit() < needed:
        sys.setrecursionlimit(needed)


def _children(node: object) -> Iterator[object]:
    """The syntax-tree parts directly inside `node` (expressions, assignments, orders)."""
    for item in dataclasses.fields(node):  # type: ignore[arg-type]
        value = getattr(node, item.name)
        if isinstance(value, tuple):
            for element in value:
                if dataclasses.is_dataclass(element):
                    yield element
        elif dataclasses.is_dataclass(value):
            yield value


def _check_size(query: Query, *, max_nodes: int = MAX_EXPRESSION_NODES) -> None:
    """Refuse expressions nested deeper than `MAX_EXPRESSION_DEPTH` or a query holding more
    than `max_nodes` expression nodes, before anything recurses over them."""
    count = 0
    stack: list[tuple[object, int]] = [(query.source, 0)]
    stack.extend((command, 0) for command in query.commands)
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Expr):
            depth += 1
            count += 1
            if depth > MAX_EXPRESSION_DEPTH:
                line, column = node.pos
                raise EsqlSyntaxError(
                    f"expression nested too deeply: more than {MAX_EXPRESSION_DEPTH} levels",
                    line=line or None,
                    column=column or None,
                )
            if count > max_nodes:
                line, column = node.pos
                raise EsqlSyntaxError(
                    f"query too large: more than {max_nodes} expressions",
                    line=line or None,
                    column=column or None,
                )
        stack.extend((child, depth) for child in _children(node))


# ---------------------------------------------------------------------------------------------
# Literals and parameters
# ---------------------------------------------------------------------------------------------


def _integer_type(value: int) -> str:
    """The ES|QL type of an integer literal: the narrowest of integer, long, unsigned_long."""
    if INT_MIN <= value <= INT_MAX:
        return types.INTEGER
    if LONG_MIN <= value <= LONG_MAX:
        return types.LONG
    if 0 <= value <= UNSIGNED_LONG_MAX:
        return types.UNSIGNED_LONG
    return types.DOUBLE


def _integer_literal_value(value: int) -> tuple[Any, str]:
    """An integer literal's value and type; beyond unsigned_long it becomes a double."""
    kind = _integer_type(value)
    return (float(value), kind) if kind == types.DOUBLE else (value, kind)


def _common_type(kinds: Sequence[str]) -> str | None:
    """The one type that holds all of `kinds` (numbers widen), or None if they do not mix."""
    distinct = set(kinds)
    if len(distinct) == 1:
        return kinds[0]
    if distinct <= set(_NUMERIC_RANK):
        return max(distinct, key=_NUMERIC_RANK.__getitem__)
    return None


def _widen(values: list[Any], kind: str) -> list[Any]:
    return [float(v) for v in values] if kind == types.DOUBLE else values


class _ParamBinder:
    """Resolves `?`, `?1` and `?name` to literal values, the way Elasticsearch does."""

    def __init__(self, params: ParamValues) -> None:
        self.positional: list[Any] | None = None
        self.named: dict[str, Any] | None = None
        self.anonymous_seen = 0
        self.style: str | None = None
        if params is None:
            return
        if isinstance(params, Mapping):
            self.named = dict(params)
        elif isinstance(params, str | bytes):
            raise EsqlExecutionError(
                "query parameters must be a list (for ? and ?1) or a mapping (for ?name), "
                "not a string"
            )
        else:
            values = list(params)
            wire_named = [isinstance(v, Mapping) and len(v) == 1 for v in values]
            if values and all(wire_named):
                self.named = {}
                for entry in values:
                    self.named.update(entry)
            elif any(isinstance(v, Mapping) for v in values):
                raise EsqlExecutionError(
                    "query parameters mix named ({name: value}) and positional values; "
                    "use one style"
                )
            else:
                self.positional = values

    def bind(self, token: Token, text: str) -> Literal:
        """The literal a parameter token stands for."""
        ref = token.value
        if ref is None:
            style = "anonymous"
        elif isinstance(ref, int):
            style = "positional"
        else:
            style = "named"
        if self.style is None:
            self.style = style
        elif self.style != style:
            raise EsqlSyntaxError(
                "Inconsistent parameter declaration, use one of positional, named or anonymous "
                f"params but not a combination of {self.style} and {style}",
                line=token.line,
                column=token.column,
            )
        if style == "named":
            value = self._named(token)
        else:
            if style == "anonymous":
                self.anonymous_seen += 1
                index = self.anonymous_seen
            else:
                index = int(ref)
            value = self._positional(token, index)
        literal_value, kind = self._convert(token, value)
        return Literal(literal_value, kind, pos=token.pos, text=text)

    def _named(self, token: Token) -> Any:
        name = str(token.value)
        if self.named is None or name not in self.named:
            known = sorted(self.named or ())
            hint = difflib.get_close_matches(name, known, n=1)
            message = f"Unknown query parameter [{name}]"
            if hint:
                message += f", did you mean [{hint[0]}]?"
            elif not known:
                message += ": the query was given no named parameters"
            raise EsqlExecutionError(message, line=token.line, column=token.column)
        return self.named[name]

    def _positional(self, token: Token, index: int) -> Any:
        given = len(self.positional or ())
        if self.positional is None or not 1 <= index <= given:
            raise EsqlExecutionError(
                f"No parameter is defined for position {index} ({token.text}), "
                f"did you specify {given} parameters?",
                line=token.line,
                column=token.column,
            )
        return self.positional[index - 1]

    def _convert(self, token: Token, value: Any) -> tuple[Any, str]:
        if isinstance(value, list | tuple):
            converted = [self._scalar(token, item) for item in value if item is not None]
            if not converted:
                return None, types.NULL
            kind = _common_type([k for _, k in converted])
            if kind is None:
                raise EsqlExecutionError(
                    f"parameter {token.text} mixes values of types "
                    f"{sorted({k for _, k in converted})}; a multi-value needs one type",
                    line=token.line,
                    column=token.column,
                )
            return _widen([v for v, _ in converted], kind), kind
        return self._scalar(token, value)

    def _scalar(self, token: Token, value: Any) -> tuple[Any, str]:
        # bool before int: bool is a subclass of int in Python.
        if value is None:
            return None, types.NULL
        if isinstance(value, bool):
            return value, types.BOOLEAN
        # numbers.Integral/Real also admit numpy scalars and fractions, not just int/float.
        if isinstance(value, numbers.Integral):
            return _integer_literal_value(int(value))
        if isinstance(value, numbers.Real):
            return float(value), types.DOUBLE
        if isinstance(value, str):
            return value, types.KEYWORD
        if isinstance(value, datetime):
            # A naive datetime is taken as UTC, the zone ES|QL dates live in.
            return (value if value.tzinfo else value.replace(tzinfo=UTC)), types.DATE
        if isinstance(value, date):
            return datetime.combine(value, time(), tzinfo=UTC), types.DATE
        raise EsqlExecutionError(
            f"parameter {token.text} has a value of unsupported type {type(value).__name__}; "
            "use a number, string, boolean, datetime, None or a list of those",
            line=token.line,
            column=token.column,
        )


# ---------------------------------------------------------------------------------------------
# The parser
# ---------------------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over the token stream, one method per command and precedence level."""

    def __init__(self, text: str, binder: _ParamBinder) -> None:
        self.text = text
        self.binder = binder
        self._tokens: Iterator[Token] = _tokens(text)
        self._buffer: list[Token] = []
        self._previous: Token | None = None
        self._nesting = 0  # how many expressions the parser is inside (see `enter`)
        self._nodes = 0  # expression nodes built so far (see `spanned`)

    # -- token plumbing ----------------------------------------------------------------------

    def peek(self, ahead: int = 0) -> Token:
        """The token `ahead` positions from the current one (EOF repeats at the end)."""
        while len(self._buffer) <= ahead:
            if self._buffer and self._buffer[-1].kind is TokenKind.EOF:
                return self._buffer[-1]
            self._buffer.append(next(self._tokens))
        return self._buffer[ahead]

    def advance(self) -> Token:
        """Consume and return the current token."""
        token = self.peek()
        if token.kind is not TokenKind.EOF:
            self._buffer.pop(0)
        self._previous = token
        return token

    def error(self, token: Token, message: str) -> EsqlSyntaxError:
        return EsqlSyntaxError(message, line=token.line, column=token.column, query=self.text)

    def unsupported(self, token: Token, message: str) -> EsqlUnsupportedError:
        return EsqlUnsupportedError(message, line=token.line, column=token.column, query=self.text)

    def mismatched(self, token: Token, expecting: str) -> EsqlSyntaxError:
        return self.error(token, f"mismatched input {token.describe()} expecting {expecting}")

    def expect_op(self, symbol: str) -> Token:
        if not self.peek().is_op(symbol):
            raise self.mismatched(self.peek(), f"'{symbol}'")
        return self.advance()

    def expect_keyword(self, word: str) -> Token:
        if not self.peek().is_keyword(word):
            raise self.mismatched(self.peek(), word)
        return self.advance()

    def at_command_end(self) -> bool:
        token = self.peek()
        return token.kind is TokenKind.EOF or token.is_op("|")

    def spanned(self, node: _E, start: Token) -> _E:
        """`node` with the position of `start` and the verbatim text up to the last token."""
        # Nearly every expression node passes here: counting them stops an oversized query
        # while it is being read, before it takes the time and memory to finish.
        self._nodes += 1
        if self._nodes > MAX_EXPRESSION_NODES:
            raise self.error(
                start, f"query too large: more than {MAX_EXPRESSION_NODES} expressions"
            )
        end = self._previous.end if self._previous is not None else start.end
        return replace(node, pos=start.pos, text=self.text[start.start : end])

    # -- query and commands ------------------------------------------------------------------

    def parse_query(self) -> Query:
        first = self.peek()
        if first.kind is not TokenKind.COMMAND:
            raise self.mismatched(first, "{FROM, ROW}")
        self.check_supported(first)
        if first.value not in _SOURCE_COMMANDS:
            if first.value in _COMMANDS:
                raise self.error(
                    first,
                    f"mismatched input '{first.text}' expecting {{FROM, ROW}}: "
                    "a query starts with a source command",
                )
            raise self.unknown_command(first, _SOURCE_COMMANDS)
        source = _COMMANDS[first.value](self, self.advance())
        if not isinstance(source, From | Row):  # pragma: no cover - the table maps FROM and ROW
            raise self.error(first, f"{first.value} is not a source command")
        commands: list[Command] = []
        while True:
            token = self.peek()
            if token.kind is TokenKind.EOF:
                break
            if not token.is_op("|"):
                # The most common slip from SQL is `=` for equality: say so.
                hint = " (use == to compare values)" if token.is_op("=") else ""
                raise self.mismatched(token, "{<EOF>, '|'}" + hint)
            self.advance()
            word = self.peek()
            if word.kind is not TokenKind.COMMAND:
                raise self.mismatched(word, "a processing command after '|'")
            self.check_supported(word)
            if word.value in _SOURCE_COMMANDS:
                raise self.error(
                    word,
                    f"mismatched input '{word.text}': {word.value} is a source command "
                    "and can only start a query",
                )
            if word.value not in _COMMANDS:
                raise self.unknown_command(
                    word, [name for name in _COMMANDS if name not in _SOURCE_COMMANDS]
                )
            commands.append(_COMMANDS[word.value](self, self.advance()))
        return Query(source, tuple(commands))

    def check_supported(self, token: Token) -> None:
        message = UNSUPPORTED_COMMANDS.get(token.value)
        if message is not None:
            raise self.unsupported(token, message)

    def unknown_command(self, token: Token, expected: Sequence[str]) -> EsqlSyntaxError:
        known = ", ".join(sorted(expected))
        message = f"unknown command '{token.text}': expecting one of {known}"
        close = difflib.get_close_matches(str(token.value), expected, n=1)
        if close:
            message += f" (did you mean {close[0]}?)"
        return self.error(token, message)

    def _parse_from(self, command: Token) -> From:
        indices = [self.index_pattern()]
        while self.peek().is_op(","):
            self.advance()
            indices.append(self.index_pattern())
        metadata: list[str] = []
        if self.peek().is_keyword("METADATA"):
            self.advance()
            while True:
                token = self.peek()
                if token.kind is not TokenKind.SOURCE:
                    raise self.mismatched(token, "a metadata field (_index, _id, _score)")
                if token.value not in _METADATA_FIELDS:
                    raise self.error(token, f"unsupported metadata field [{token.value}]")
                if token.value in metadata:
                    raise self.error(token, f"metadata field [{token.value}] already declared")
                metadata.append(self.advance().value)
                if not self.peek().is_op(","):
                    break
                self.advance()
        return From(tuple(indices), tuple(metadata), pos=command.pos)

    def index_pattern(self) -> str:
        token = self.peek()
        if token.kind not in (TokenKind.SOURCE, TokenKind.STRING):
            raise self.mismatched(token, "an index pattern")
        self.advance()
        pattern = str(token.value)
        following = self.peek()
        if following.is_op(":") or (token.kind is TokenKind.STRING and ":" in pattern):
            raise self.unsupported(
                token,
                "remote cluster index patterns (cluster:index) are not supported: "
                "the embedded engine only has local indices",
            )
        if following.is_op("::"):
            raise self.unsupported(
                token, "index selectors (index::data, index::failures) are not supported"
            )
        if not pattern.strip():
            raise self.error(token, "invalid index pattern: it is empty")
        return pattern

    def _parse_row(self, command: Token) -> Row:
        return Row(self.fields(), pos=command.pos)

    def _parse_where(self, command: Token) -> Where:
        return Where(self.boolean(), pos=command.pos)

    def _parse_eval(self, command: Token) -> Eval:
        return Eval(self.fields(), pos=command.pos)

    def _parse_stats(self, command: Token) -> Stats:
        aggregates: list[Aggregate] = []
        if not self.peek().is_keyword("BY") and not self.at_command_end():
            while True:
                field = self.field()
                where = None
                if self.peek().is_keyword("WHERE"):
                    self.advance()
                    where = self.boolean()
                aggregates.append(Aggregate(field.name, field.expr, where, pos=field.pos))
                if not self.peek().is_op(","):
                    break
                self.advance()
        groups: tuple[Assignment, ...] = ()
        if self.peek().is_keyword("BY"):
            self.advance()
            groups = self.fields()
        if not aggregates and not groups:
            raise self.error(
                command, "STATS needs at least one aggregate or a BY grouping, e.g. STATS COUNT(*)"
            )
        return Stats(tuple(aggregates), groups, pos=command.pos)

    def _parse_sort(self, command: Token) -> Sort:
        orders: list[Order] = []
        while True:
            expr = self.boolean()
            ascending = True
            nulls_first: bool | None = None
            if self.peek().is_keyword("ASC", "DESC"):
                ascending = self.advance().value == "ASC"
            if self.peek().is_keyword("NULLS"):
                self.advance()
                token = self.peek()
                if not token.is_keyword("FIRST", "LAST"):
                    raise self.mismatched(token, "{FIRST, LAST}")
                nulls_first = self.advance().value == "FIRST"
            orders.append(Order(expr, ascending, nulls_first))
            if not self.peek().is_op(","):
                break
            self.advance()
        return Sort(tuple(orders), pos=command.pos)

    def _parse_limit(self, command: Token) -> Limit:
        start = self.peek()
        negative = False
        if start.is_op("-", "+"):
            negative = self.advance().value == "-"
        token = self.peek()
        if token.kind is TokenKind.PARAM:
            self.advance()
            value: Any = self.binder.bind(token, token.text).value
        elif token.kind in (TokenKind.INTEGER, TokenKind.DECIMAL):
            value = self.advance().value
        else:
            raise self.mismatched(token, "an integer")
        if negative and isinstance(value, int | float) and not isinstance(value, bool):
            value = -value
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.error(
                start, f"Invalid value for LIMIT [{value}], expecting a non negative integer"
            )
        return Limit(value, pos=command.pos)

    def _parse_keep(self, command: Token) -> Keep:
        return Keep(self.name_patterns(), pos=command.pos)

    def _parse_drop(self, command: Token) -> Drop:
        first = self.peek()
        patterns = self.name_patterns()
        if "*" in patterns:
            raise self.error(first, "Removing all fields is not allowed [*]")
        return Drop(patterns, pos=command.pos)

    def name_patterns(self) -> tuple[str, ...]:
        patterns = [self.name_pattern()]
        while self.peek().is_op(","):
            self.advance()
            patterns.append(self.name_pattern())
        return tuple(patterns)

    def name_pattern(self) -> str:
        token = self.peek()
        if token.kind is not TokenKind.PATTERN:
            raise self.mismatched(token, "a column name or pattern")
        return str(self.advance().value)

    def _parse_rename(self, command: Token) -> Rename:
        pairs: list[tuple[str, str]] = []
        while True:
            first = self.peek()
            name = self.name_pattern()
            if self.peek().is_keyword("AS"):
                self.advance()
                pair = (name, self.name_pattern())
            elif self.peek().is_op("="):
                self.advance()
                pair = (self.name_pattern(), name)
            else:
                raise self.mismatched(self.peek(), "{AS, '='}")
            for part in pair:
                if "*" in part:
                    raise self.error(
                        first, f"Using wildcards [*] in RENAME is not allowed [{part}]"
                    )
            pairs.append(pair)
            if not self.peek().is_op(","):
                break
            self.advance()
        return Rename(tuple(pairs), pos=command.pos)

    def _parse_dissect(self, command: Token) -> Dissect:
        source = self.cast_level()
        pattern = self.pattern_string("a dissect pattern string")
        separator: str | None = None
        while self.peek().kind is TokenKind.IDENT:
            option = self.advance()
            self.expect_op("=")
            value = self.constant()
            if option.value.upper() != "APPEND_SEPARATOR":
                raise self.error(option, f"Invalid option for dissect: [{option.text}]")
            if not isinstance(value.value, str):
                raise self.error(
                    option,
                    "Invalid value for dissect append_separator: expected a string, "
                    f"but was [{value.text}]",
                )
            separator = value.value
            if not self.peek().is_op(","):
                break
            self.advance()
        return Dissect(source, pattern, separator, pos=command.pos)

    def _parse_grok(self, command: Token) -> Grok:
        source = self.cast_level()
        return Grok(source, self.pattern_string("a grok pattern string"), pos=command.pos)

    def pattern_string(self, what: str) -> str:
        token = self.peek()
        if token.kind is not TokenKind.STRING:
            raise self.mismatched(token, what)
        return str(self.advance().value)

    def _parse_mv_expand(self, command: Token) -> MvExpand:
        token = self.peek()
        if token.kind is not TokenKind.IDENT:
            raise self.mismatched(token, "a column name")
        return MvExpand(str(self.advance().value), pos=command.pos)

    def _parse_lookup(self, command: Token) -> LookupJoin:
        self.expect_keyword("JOIN")
        index = self.index_pattern()
        if self.peek().is_keyword("AS"):
            raise self.unsupported(
                self.peek(), "LOOKUP JOIN with a qualifier (AS) is not supported"
            )
        self.expect_keyword("ON")
        names: list[str] = []
        while True:
            token = self.peek()
            if token.kind is not TokenKind.IDENT:
                raise self.mismatched(token, "a join field name")
            names.append(str(self.advance().value))
            following = self.peek()
            if following.is_op(*_COMPARISONS):
                raise self.unsupported(
                    following,
                    "LOOKUP JOIN ON with an expression is not supported: join on field names "
                    "that both sides share (ON a, b)",
                )
            if not following.is_op(","):
                break
            self.advance()
        return LookupJoin(index, tuple(names), pos=command.pos)

    def fields(self) -> tuple[Assignment, ...]:
        fields = [self.field()]
        while self.peek().is_op(","):
            self.advance()
            fields.append(self.field())
        return tuple(fields)

    def field(self) -> Assignment:
        """`name = expr`, or a bare `expr` named after its text (a bare column keeps its name)."""
        start = self.peek()
        if start.kind is TokenKind.IDENT and self.peek(1).is_op("="):
            self.advance()
            self.advance()
            return Assignment(str(start.value), self.boolean(), pos=start.pos)
        expr = self.boolean()
        if isinstance(expr, Field) and start.kind is TokenKind.IDENT:
            return Assignment(expr.name, expr, pos=start.pos)
        return Assignment(expr.text, expr, pos=start.pos)

    # -- expressions, lowest precedence first ------------------------------------------------

    def enter(self, token: Token) -> None:
        """One level deeper into a nested expression; refuse runaway nesting by name."""
        self._nesting += 1
        if self._nesting > MAX_EXPRESSION_DEPTH:
            raise self.error(
                token, f"expression nested too deeply: more than {MAX_EXPRESSION_DEPTH} levels"
            )

    def boolean(self) -> Expr:
        """A full expression: OR < AND < NOT < predicates < + - < * / % < unary - < `::`."""
        self.enter(self.peek())
        try:
            return self.logical_chain("OR", self.conjunction)
        finally:
            self._nesting -= 1

    def conjunction(self) -> Expr:
        return self.logical_chain("AND", self.negation)

    def logical_chain(self, keyword: str, operand: Callable[[], Expr]) -> Expr:
        """`a OR b OR c ...` (or AND) as a balanced tree.

        Both operators are associative, also with nulls, so the shape does not change the
        answer; a balanced tree keeps a chain of thousands of terms a few levels deep for
        everything that walks it, where a left-deep one would be as deep as the chain is long.
        """
        parts: list[tuple[Expr, Token, int]] = []
        while True:
            start = self.peek()
            node = operand()
            end = self._previous.end if self._previous is not None else start.end
            parts.append((node, start, end))
            if not self.peek().is_keyword(keyword):
                break
            self.advance()
        if len(parts) <= _LEFT_DEEP_CHAIN:
            # Short chains keep ES's left-deep shape, so messages name the same sub-terms.
            node, start, _ = parts[0]
            for right, _, end in parts[1:]:
                text = self.text[start.start : end]
                node = BinaryOp(keyword, node, right, pos=start.pos, text=text)
            return node
        return self.balanced(keyword, parts)[0]

    def balanced(
        self, keyword: str, parts: list[tuple[Expr, Token, int]]
    ) -> tuple[Expr, Token, int]:
        """`parts` (node, first token, end offset) joined by `keyword`, halves first."""
        if len(parts) == 1:
            return parts[0]
        middle = len(parts) // 2
        left, start, _ = self.balanced(keyword, parts[:middle])
        right, _, end = self.balanced(keyword, parts[middle:])
        node = BinaryOp(keyword, left, right, pos=start.pos, text=self.text[start.start : end])
        return node, start, end

    def negation(self) -> Expr:
        start = self.peek()
        if start.is_keyword("NOT"):
            self.advance()
            self.enter(start)
            try:
                return self.spanned(UnaryOp("NOT", self.negation()), start)
            finally:
                self._nesting -= 1
        return self.predicate()

    def predicate(self) -> Expr:
        """A comparison, optionally followed by IN, LIKE, RLIKE, IS NULL or the match `:`."""
        start = self.peek()
        value = self.comparison()
        token = self.peek()
        negated = False
        if token.is_keyword("NOT") and self.peek(1).is_keyword("IN", "LIKE", "RLIKE"):
            self.advance()
            negated = True
            token = self.peek()
        if token.is_keyword("IN"):
            self.advance()
            self.expect_op("(")
            options = [self.comparison()]
            while self.peek().is_op(","):
                self.advance()
                options.append(self.comparison())
            self.expect_op(")")
            return self.spanned(InList(value, tuple(options), negated), start)
        if token.is_keyword("LIKE", "RLIKE"):
            self.advance()
            return self.like(value, start, negated=negated, regex=token.value == "RLIKE")
        if token.is_keyword("IS"):
            self.advance()
            is_not = False
            if self.peek().is_keyword("NOT"):
                self.advance()
                is_not = True
            self.expect_keyword("NULL")
            return self.spanned(IsNull(value, is_not), start)
        if token.is_op(":"):
            field = value.value if isinstance(value, Cast) else value
            if not isinstance(field, Field):
                raise self.error(
                    token, "the match operator ':' needs a field name on its left (field : query)"
                )
            self.advance()
            query = self.constant()
            return self.spanned(FunctionCall("MATCH", (value, query)), start)
        return value

    def like(self, value: Expr, start: Token, *, negated: bool, regex: bool) -> Expr:
        if not self.peek().is_op("("):
            pattern = self.pattern_string("a pattern string")
            return self.spanned(Like(value, pattern, negated, regex), start)
        # `x LIKE ("a*", "b*")` is any of the patterns; NOT LIKE (...) is none of them.
        self.advance()
        patterns = [self.pattern_string("a pattern string")]
        while self.peek().is_op(","):
            self.advance()
            patterns.append(self.pattern_string("a pattern string"))
        self.expect_op(")")
        combined: Expr = self.spanned(Like(value, patterns[0], negated, regex), start)
        for pattern in patterns[1:]:
            part = self.spanned(Like(value, pattern, negated, regex), start)
            combined = self.spanned(BinaryOp("AND" if negated else "OR", combined, part), start)
        return combined

    def comparison(self) -> Expr:
        start = self.peek()
        left = self.additive()
        token = self.peek()
        if token.is_op(*_COMPARISONS):
            self.advance()
            right = self.additive()
            return self.spanned(BinaryOp(str(token.value), left, right), start)
        if token.is_op("=~"):
            raise self.unsupported(
                token, "the =~ operator (case-insensitive equality) is not supported"
            )
        return left

    def additive(self) -> Expr:
        start = self.peek()
        left = self.multiplicative()
        while self.peek().is_op("+", "-"):
            op = str(self.advance().value)
            right = self.multiplicative()
            left = self.spanned(BinaryOp(op, left, right), start)
        return left

    def multiplicative(self) -> Expr:
        start = self.peek()
        left = self.unary()
        while self.peek().is_op("*", "/", "%"):
            op = str(self.advance().value)
            right = self.unary()
            left = self.spanned(BinaryOp(op, left, right), start)
        return left

    def unary(self) -> Expr:
        start = self.peek()
        if not start.is_op("-", "+"):
            return self.cast_level()
        self.advance()
        number = self.peek()
        self.enter(start)
        try:
            operand = self.unary()
        finally:
            self._nesting -= 1
        if start.value == "+":
            return self.spanned(operand, start)
        # A sign on a number is part of the literal in ES|QL (`-1` is the integer -1).
        is_number = number.kind in (TokenKind.INTEGER, TokenKind.DECIMAL)
        if is_number and operand.pos == number.pos:
            if isinstance(operand, Literal):
                value, kind = (
                    _integer_literal_value(-operand.value)
                    if operand.type in _INTEGER_TYPES
                    else (-operand.value, operand.type)
                )
                return self.spanned(Literal(value, kind), start)
            if isinstance(operand, TimeSpan):
                return self.spanned(TimeSpan(-operand.amount, operand.unit), start)
        return self.spanned(UnaryOp("-", operand), start)

    def cast_level(self) -> Expr:
        start = self.peek()
        expr = self.primary()
        while self.peek().is_op("::"):
            self.advance()
            type_token = self.peek()
            if type_token.kind is not TokenKind.IDENT:
                raise self.mismatched(type_token, "a data type")
            self.advance()
            expr = self.spanned(Cast(expr, str(type_token.value).lower()), start)
        return expr

    def primary(self) -> Expr:
        token = self.peek()
        if token.kind is TokenKind.IDENT:
            if self.peek(1).is_op("("):
                return self.function_call()
            self.advance()
            return self.spanned(Field(str(token.value)), token)
        if token.is_op("("):
            self.advance()
            inner = self.boolean()
            self.expect_op(")")
            # Keep the parentheses in the text: ES|QL names `EVAL (a + 1)` "(a + 1)".
            return self.spanned(inner, token)
        if token.kind is TokenKind.INTEGER and self.is_time_unit_next():
            return self.time_span()
        if token.kind is TokenKind.DECIMAL and self.is_time_unit_next():
            following = self.peek(1)
            if following.text.lower() in TIME_UNITS:
                raise self.error(
                    token,
                    f"a time span needs an integer amount: '{token.text} {following.text}' "
                    "(use a smaller unit, e.g. 90 minutes)",
                )
        if (
            token.kind in (TokenKind.INTEGER, TokenKind.DECIMAL, TokenKind.STRING, TokenKind.PARAM)
            or token.is_keyword("NULL", "TRUE", "FALSE")
            or token.is_op("[")
        ):
            return self.constant()
        raise self.mismatched(token, "an expression")

    def is_time_unit_next(self) -> bool:
        following = self.peek(1)
        # A quoted identifier after a number is never a unit (ES wants an unquoted word).
        return following.kind is TokenKind.IDENT and not following.text.startswith("`")

    def time_span(self) -> TimeSpan:
        amount = self.advance()
        unit_token = self.advance()
        unit = TIME_UNITS.get(unit_token.text.lower())
        if unit is None:
            raise self.error(
                unit_token,
                f"unexpected time span unit '{unit_token.text}': expecting one of "
                "millisecond, second, minute, hour, day, week, month, quarter, year "
                "(or ms, s, m, h, d, w, mo, q, y)",
            )
        return self.spanned(TimeSpan(int(amount.value), unit), amount)

    def function_call(self) -> Expr:
        name = self.advance()
        if "." in str(name.value) and not name.text.startswith("`"):
            raise self.error(name, f"'{name.text}' is not a function name")
        self.expect_op("(")
        args: list[Expr] = []
        if self.peek().is_op("*"):
            star = self.advance()
            args.append(Star(pos=star.pos, text=star.text))
        elif not self.peek().is_op(")"):
            while True:
                if self.peek().is_op("{"):
                    raise self.unsupported(
                        self.peek(), 'function options ({"name": value}) are not supported'
                    )
                args.append(self.boolean())
                if not self.peek().is_op(","):
                    break
                self.advance()
        self.expect_op(")")
        call = self.spanned(FunctionCall(str(name.value).upper(), tuple(args)), name)
        following = self.peek()
        if following.kind is TokenKind.IDENT and following.text.upper() == "OVER":
            raise self.unsupported(
                following,
                "ES|QL has no window functions: an OVER (...) clause is not supported. "
                "Compute trends with STATS ... BY, e.g. a least-squares fit from "
                "SUM and COUNT aggregates",
            )
        return call

    def constant(self) -> Literal:
        """A literal: number (optionally signed), string, boolean, null, parameter or array."""
        start = self.peek()
        if start.is_op("-", "+"):
            self.advance()
            token = self.peek()
            if token.kind not in (TokenKind.INTEGER, TokenKind.DECIMAL):
                raise self.mismatched(token, "a number")
            literal = self.constant()
            if start.value == "-":
                value, kind = (
                    _integer_literal_value(-literal.value)
                    if literal.type in _INTEGER_TYPES
                    else (-literal.value, literal.type)
                )
                literal = Literal(value, kind)
            return self.spanned(literal, start)
        token = self.advance()
        if token.kind is TokenKind.INTEGER:
            value, kind = _integer_literal_value(int(token.value))
            return self.spanned(Literal(value, kind), token)
        if token.kind is TokenKind.DECIMAL:
            return self.spanned(Literal(float(token.value), types.DOUBLE), token)
        if token.kind is TokenKind.STRING:
            return self.spanned(Literal(str(token.value), types.KEYWORD), token)
        if token.kind is TokenKind.PARAM:
            return self.binder.bind(token, token.text)
        if token.is_keyword("NULL"):
            return self.spanned(Literal(None, types.NULL), token)
        if token.is_keyword("TRUE", "FALSE"):
            return self.spanned(Literal(token.value == "TRUE", types.BOOLEAN), token)
        if token.is_op("["):
            return self.array(token)
        raise self.mismatched(token, "a constant")

    def array(self, opening: Token) -> Literal:
        """`[1, 2]`, `["a", "b"]` or `[true, false]`: one multi-value literal."""
        elements = [self.constant()]
        while self.peek().is_op(","):
            self.advance()
            elements.append(self.constant())
        self.expect_op("]")
        kinds = [element.type for element in elements]
        kind = _common_type(kinds)
        if kind is None or kind in (types.NULL, types.DATE):
            raise self.error(
                opening,
                "an array literal holds numbers, strings or booleans of one kind, "
                f"not {', '.join(sorted(set(kinds)))}",
            )
        values = _widen([element.value for element in elements], kind)
        if kind in _INTEGER_TYPES:
            kind = max((_integer_type(v) for v in values), key=_NUMERIC_RANK.__getitem__)
        return self.spanned(Literal(values, kind), opening)


# The command table: keyword -> the method that parses the rest of the command.
_COMMANDS: dict[str, Callable[[_Parser, Token], Command]] = {
    "FROM": _Parser._parse_from,
    "ROW": _Parser._parse_row,
    "WHERE": _Parser._parse_where,
    "EVAL": _Parser._parse_eval,
    "STATS": _Parser._parse_stats,
    "SORT": _Parser._parse_sort,
    "LIMIT": _Parser._parse_limit,
    "KEEP": _Parser._parse_keep,
    "DROP": _Parser._parse_drop,
    "RENAME": _Parser._parse_rename,
    "DISSECT": _Parser._parse_dissect,
    "GROK": _Parser._parse_grok,
    "MV_EXPAND": _Parser._parse_mv_expand,
    "LOOKUP": _Parser._parse_lookup,
}
