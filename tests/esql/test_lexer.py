"""Tests of the ES|QL lexer: token kinds, values, positions, modes and lexical errors."""

from __future__ import annotations

from typing import Any

import pytest

from qs_tui.esql.errors import EsqlSyntaxError
from qs_tui.esql.lexer import Token, TokenKind, tokenize

K = TokenKind


def lex(text: str) -> list[Token]:
    return list(tokenize(text))


def kinds_values(text: str) -> list[tuple[TokenKind, Any]]:
    return [(t.kind, t.value) for t in lex(text) if t.kind is not K.EOF]


def lex_error(text: str) -> EsqlSyntaxError:
    with pytest.raises(EsqlSyntaxError) as caught:
        lex(text)
    return caught.value


# -- positions ----------------------------------------------------------------------------------


def test_tokens_carry_one_based_line_and_column_after_a_header_comment() -> None:
    text = "// header comment\nFROM qs-metrics\n| WHERE  x >= 10"
    tokens = lex(text)
    assert [(t.text, t.line, t.column) for t in tokens] == [
        ("FROM", 2, 1),
        ("qs-metrics", 2, 6),
        ("|", 3, 1),
        ("WHERE", 3, 3),
        ("x", 3, 10),
        (">=", 3, 12),
        ("10", 3, 15),
        ("", 3, 17),
    ]
    assert tokens[-1].kind is K.EOF


def test_token_offsets_slice_the_source_text() -> None:
    text = 'ROW greeting = "hi\\n"'
    for token in lex(text):
        assert text[token.start : token.end] == token.text


def test_crlf_line_endings_count_as_one_line_break() -> None:
    tokens = lex("ROW a = 1\r\n| EVAL b = 2")
    pipe = next(t for t in tokens if t.is_op("|"))
    assert (pipe.line, pipe.column) == (2, 1)


# -- commands and keywords ----------------------------------------------------------------------


def test_command_words_are_case_insensitive_and_upper_cased() -> None:
    tokens = lex("from idx | where a | Eval b = 1 | sTaTs count(*)")
    commands = [t.value for t in tokens if t.kind is K.COMMAND]
    assert commands == ["FROM", "WHERE", "EVAL", "STATS"]


def test_expression_keywords_are_case_insensitive() -> None:
    assert kinds_values("ROW x = a and not b Or c is NULL") == [
        (K.COMMAND, "ROW"),
        (K.IDENT, "x"),
        (K.OP, "="),
        (K.IDENT, "a"),
        (K.KEYWORD, "AND"),
        (K.KEYWORD, "NOT"),
        (K.IDENT, "b"),
        (K.KEYWORD, "OR"),
        (K.IDENT, "c"),
        (K.KEYWORD, "IS"),
        (K.KEYWORD, "NULL"),
    ]


def test_a_word_after_a_pipe_is_a_command_even_if_it_is_a_keyword_elsewhere() -> None:
    values = kinds_values("ROW a = 1 | where a > 0")
    assert (K.COMMAND, "WHERE") in values


# -- identifiers --------------------------------------------------------------------------------


def test_identifiers_with_at_sign_underscore_digits_and_dots() -> None:
    assert kinds_values("ROW @timestamp, _index, host.name, cpu_percent2") == [
        (K.COMMAND, "ROW"),
        (K.IDENT, "@timestamp"),
        (K.OP, ","),
        (K.IDENT, "_index"),
        (K.OP, ","),
        (K.IDENT, "host.name"),
        (K.OP, ","),
        (K.IDENT, "cpu_percent2"),
    ]


def test_backquoted_identifiers_unescape_doubled_backquotes() -> None:
    tokens = lex("ROW `a b`, `x``y`, `first`, host.`my field`")
    idents = [t for t in tokens if t.kind is K.IDENT]
    assert [t.value for t in idents] == ["a b", "x`y", "first", "host.my field"]
    assert idents[0].text == "`a b`"


def test_unterminated_backquote_is_an_error_at_its_start() -> None:
    error = lex_error("ROW `abc")
    assert (error.line, error.column) == (1, 5)
    assert "quoted identifier" in error.message


def test_a_lone_underscore_is_not_an_identifier() -> None:
    error = lex_error("ROW _ = 1")
    assert (error.line, error.column) == (1, 5)
    assert "token recognition error at: '_'" in error.message


# -- strings ------------------------------------------------------------------------------------


def test_string_escapes_are_decoded() -> None:
    tokens = lex(r'ROW s = "a\"b\\c\nd\te\rf"')
    string = next(t for t in tokens if t.kind is K.STRING)
    assert string.value == 'a"b\\c\nd\te\rf'


def test_triple_quoted_strings_keep_backslashes_and_quotes() -> None:
    tokens = lex('ROW s = """%{a} "quoted" \\d+"""')
    string = next(t for t in tokens if t.kind is K.STRING)
    assert string.value == '%{a} "quoted" \\d+'


def test_triple_quoted_string_may_end_with_extra_quotes() -> None:
    tokens = lex('ROW s = """say "hi""""')
    string = next(t for t in tokens if t.kind is K.STRING)
    assert string.value == 'say "hi"'


def test_invalid_escape_is_an_error_at_the_backslash() -> None:
    error = lex_error('ROW s = "a\\qb"')
    assert (error.line, error.column) == (1, 11)
    assert "\\q" in error.message


def test_unterminated_string_is_an_error_at_the_opening_quote() -> None:
    error = lex_error('ROW a = 1\n| EVAL s = "open')
    assert (error.line, error.column) == (2, 12)
    assert "unterminated string" in error.message


def test_a_string_cannot_span_lines() -> None:
    error = lex_error('ROW s = "one\ntwo"')
    assert (error.line, error.column) == (1, 9)


# -- numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("42", K.INTEGER, 42),
        ("1.5", K.DECIMAL, 1.5),
        ("1.", K.DECIMAL, 1.0),
        (".25", K.DECIMAL, 0.25),
        ("1e3", K.DECIMAL, 1000.0),
        ("2.5E-2", K.DECIMAL, 0.025),
        ("9223372036854775808", K.INTEGER, 9223372036854775808),
    ],
)
def test_number_literals(text: str, kind: TokenKind, value: object) -> None:
    token = lex(f"ROW n = {text}")[3]
    assert (token.kind, token.value, token.text) == (kind, value, text)


def test_a_number_followed_by_a_unit_lexes_as_two_tokens() -> None:
    assert kinds_values("ROW d = 15m")[3:] == [(K.INTEGER, 15), (K.IDENT, "m")]


# -- parameters, operators, comments ------------------------------------------------------------


def test_parameters_anonymous_positional_and_named() -> None:
    params = [t for t in lex("ROW a = ?, b = ?2, c = ?start_time") if t.kind is K.PARAM]
    assert [(t.value, t.text) for t in params] == [
        (None, "?"),
        (2, "?2"),
        ("start_time", "?start_time"),
    ]


def test_operators_prefer_the_longest_symbol() -> None:
    ops = [t.value for t in lex("ROW a == b != c <= d >= e < f > g :: h : i % j") if t.kind is K.OP]
    assert ops == ["==", "!=", "<=", ">=", "<", ">", "::", ":", "%"]


def test_comments_are_skipped_including_nested_block_comments() -> None:
    text = "ROW a = 1 // trailing\n/* block /* nested */ still comment */ | EVAL b = 2"
    assert [t.text for t in lex(text)] == ["ROW", "a", "=", "1", "|", "EVAL", "b", "=", "2", ""]


def test_unterminated_block_comment_is_an_error_where_it_starts() -> None:
    error = lex_error("ROW a = 1 /* never closed")
    assert (error.line, error.column) == (1, 11)
    assert "comment" in error.message


def test_unknown_character_is_a_token_recognition_error_with_its_position() -> None:
    error = lex_error("ROW a = 1\n| EVAL b = a # 2")
    assert (error.line, error.column) == (2, 14)
    assert error.message == "token recognition error at: '#'"


def test_tokens_before_a_lexical_error_are_produced_first() -> None:
    tokens = tokenize("ROW a = 1 $")
    assert [next(tokens).text for _ in range(4)] == ["ROW", "a", "=", "1"]
    with pytest.raises(EsqlSyntaxError):
        next(tokens)


# -- modes: index patterns and column patterns --------------------------------------------------


def test_from_reads_index_patterns_and_metadata() -> None:
    values = kinds_values('FROM qs-metrics*, logs-*, .hidden, "quoted-idx" METADATA _index, _id')
    assert values == [
        (K.COMMAND, "FROM"),
        (K.SOURCE, "qs-metrics*"),
        (K.OP, ","),
        (K.SOURCE, "logs-*"),
        (K.OP, ","),
        (K.SOURCE, ".hidden"),
        (K.OP, ","),
        (K.STRING, "quoted-idx"),
        (K.KEYWORD, "METADATA"),
        (K.SOURCE, "_index"),
        (K.OP, ","),
        (K.SOURCE, "_id"),
    ]


def test_index_pattern_stops_at_a_pipe_and_at_comments() -> None:
    values = kinds_values("FROM idx-a// comment\n|KEEP a")
    assert values == [
        (K.COMMAND, "FROM"),
        (K.SOURCE, "idx-a"),
        (K.OP, "|"),
        (K.COMMAND, "KEEP"),
        (K.PATTERN, "a"),
    ]


def test_keep_and_drop_read_column_patterns_with_wildcards() -> None:
    values = kinds_values("ROW a = 1 | KEEP cpu_*, host.*, *_ms, `a b` | DROP *")
    patterns = [v for k, v in values if k is K.PATTERN]
    assert patterns == ["cpu_*", "host.*", "*_ms", "a b", "*"]


def test_rename_reads_as_as_a_keyword() -> None:
    values = kinds_values("ROW a = 1 | RENAME a AS b, c = d")[5:]
    assert values == [
        (K.COMMAND, "RENAME"),
        (K.PATTERN, "a"),
        (K.KEYWORD, "AS"),
        (K.PATTERN, "b"),
        (K.OP, ","),
        (K.PATTERN, "c"),
        (K.OP, "="),
        (K.PATTERN, "d"),
    ]


def test_lookup_join_reads_the_index_then_expression_names() -> None:
    values = kinds_values("ROW a = 1 | LOOKUP JOIN svc-lookup ON service, host.name")[5:]
    assert values == [
        (K.COMMAND, "LOOKUP"),
        (K.KEYWORD, "JOIN"),
        (K.SOURCE, "svc-lookup"),
        (K.KEYWORD, "ON"),
        (K.IDENT, "service"),
        (K.OP, ","),
        (K.IDENT, "host.name"),
    ]


def test_eof_token_describes_itself_like_es() -> None:
    eof = lex("ROW a = 1")[-1]
    assert eof.describe() == "'<EOF>'"
    assert lex("ROW a = 1")[1].describe() == "'a'"


def test_lookup_index_starting_with_a_keyword_stays_one_index_name() -> None:
    values = kinds_values("ROW a = 1 | LOOKUP JOIN on-call ON team")[5:]
    assert values == [
        (K.COMMAND, "LOOKUP"),
        (K.KEYWORD, "JOIN"),
        (K.SOURCE, "on-call"),
        (K.KEYWORD, "ON"),
        (K.IDENT, "team"),
    ]
