"""DISSECT and GROK: patterns compiled to one regex and applied with `str.extract_groups`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import polars as pl

from qs_tui.esql import types as t
from qs_tui.esql.functions import execution_error

# The common grok patterns, rewritten for a regex engine without look-around or atomic groups.
# Library patterns never capture; only `%{NAME:field}` in a query's pattern does.
GROK_PATTERNS: dict[str, str] = {
    "USERNAME": r"[a-zA-Z0-9._-]+",
    "USER": r"%{USERNAME}",
    "EMAILLOCALPART": r"[a-zA-Z0-9!#$%&'*+\-/=?^_`{|}~]{1,64}"
    r"(?:\.[a-zA-Z0-9!#$%&'*+\-/=?^_`{|}~]{1,62}){0,63}",
    "EMAILADDRESS": r"%{EMAILLOCALPART}@%{HOSTNAME}",
    "INT": r"(?:[+-]?(?:[0-9]+))",
    "BASE10NUM": r"(?:[+-]?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+))",
    "NUMBER": r"(?:%{BASE10NUM})",
    "BASE16NUM": r"(?:[+-]?(?:0x)?(?:[0-9A-Fa-f]+))",
    "BASE16FLOAT": r"(?:[+-]?(?:0x)?(?:(?:[0-9A-Fa-f]+(?:\.[0-9A-Fa-f]*)?)|(?:\.[0-9A-Fa-f]+)))",
    "POSINT": r"\b(?:[1-9][0-9]*)\b",
    "NONNEGINT": r"\b(?:[0-9]+)\b",
    "WORD": r"\b\w+\b",
    "NOTSPACE": r"\S+",
    "SPACE": r"\s*",
    "DATA": r".*?",
    "GREEDYDATA": r".*",
    "QUOTEDSTRING": r"(?:\"(?:\\.|[^\\\"])*\"|'(?:\\.|[^\\'])*'|`(?:\\.|[^\\`])*`)",
    "QS": r"%{QUOTEDSTRING}",
    "UUID": r"[A-Fa-f0-9]{8}-(?:[A-Fa-f0-9]{4}-){3}[A-Fa-f0-9]{12}",
    "MAC": r"(?:%{CISCOMAC}|%{WINDOWSMAC}|%{COMMONMAC})",
    "CISCOMAC": r"(?:(?:[A-Fa-f0-9]{4}\.){2}[A-Fa-f0-9]{4})",
    "WINDOWSMAC": r"(?:(?:[A-Fa-f0-9]{2}-){5}[A-Fa-f0-9]{2})",
    "COMMONMAC": r"(?:(?:[A-Fa-f0-9]{2}:){5}[A-Fa-f0-9]{2})",
    "IPV4": r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}"
    r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])",
    "IPV6": r"(?:(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4}:){1,7}:|"
    r"(?:[0-9A-Fa-f]{1,4}:){1,6}:[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4}:){1,5}"
    r"(?::[0-9A-Fa-f]{1,4}){1,2}|(?:[0-9A-Fa-f]{1,4}:){1,4}(?::[0-9A-Fa-f]{1,4}){1,3}|"
    r"(?:[0-9A-Fa-f]{1,4}:){1,3}(?::[0-9A-Fa-f]{1,4}){1,4}|(?:[0-9A-Fa-f]{1,4}:){1,2}"
    r"(?::[0-9A-Fa-f]{1,4}){1,5}|[0-9A-Fa-f]{1,4}:(?::[0-9A-Fa-f]{1,4}){1,6}|"
    r":(?:(?::[0-9A-Fa-f]{1,4}){1,7}|:))",
    "IP": r"(?:%{IPV6}|%{IPV4})",
    "HOSTNAME": r"\b(?:[0-9A-Za-z][0-9A-Za-z-]{0,62})(?:\.(?:[0-9A-Za-z][0-9A-Za-z-]{0,62}))*\b",
    "HOST": r"%{HOSTNAME}",
    "IPORHOST": r"(?:%{IP}|%{HOSTNAME})",
    "HOSTPORT": r"%{IPORHOST}:%{POSINT}",
    "PATH": r"(?:%{UNIXPATH}|%{WINPATH})",
    "UNIXPATH": r"(?:/[\w_%!$@:.,+~-]*)+",
    "WINPATH": r"(?:[A-Za-z]+:|\\)(?:\\[^\\?*]*)+",
    "URIPROTO": r"[A-Za-z](?:[A-Za-z0-9+\-.]+)+",
    "URIHOST": r"%{IPORHOST}(?::%{POSINT})?",
    "URIPATH": r"(?:/[A-Za-z0-9$.+!*'(){},~:;=@#%&_\-]*)+",
    "URIPARAM": r"\?[A-Za-z0-9$.+!*'|(){},~@#%&/=:;_?\-\[\]<>]*",
    "URIPATHPARAM": r"%{URIPATH}(?:%{URIPARAM})?",
    "URI": r"%{URIPROTO}://(?:%{USER}(?::[^@]*)?@)?(?:%{URIHOST})?(?:%{URIPATHPARAM})?",
    "MONTH": r"\b(?:[Jj]an(?:uary|uar)?|[Ff]eb(?:ruary|ruar)?|[Mm](?:a|ä)?r(?:ch|z)?|"
    r"[Aa]pr(?:il)?|[Mm]a(?:y|i)?|[Jj]un(?:e|i)?|[Jj]ul(?:y|i)?|[Aa]ug(?:ust)?|"
    r"[Ss]ep(?:tember)?|[Oo](?:c|k)?t(?:ober)?|[Nn]ov(?:ember)?|[Dd]e(?:c|z)(?:ember)?)\b",
    "MONTHNUM": r"(?:0?[1-9]|1[0-2])",
    "MONTHNUM2": r"(?:0[1-9]|1[0-2])",
    "MONTHDAY": r"(?:(?:0[1-9])|(?:[12][0-9])|(?:3[01])|[1-9])",
    "DAY": r"(?:Mon(?:day)?|Tue(?:sday)?|Wed(?:nesday)?|Thu(?:rsday)?|Fri(?:day)?|"
    r"Sat(?:urday)?|Sun(?:day)?)",
    "YEAR": r"(?:\d\d){1,2}",
    "HOUR": r"(?:2[0123]|[01]?[0-9])",
    "MINUTE": r"(?:[0-5][0-9])",
    "SECOND": r"(?:(?:[0-5]?[0-9]|60)(?:[:.,][0-9]+)?)",
    "TIME": r"%{HOUR}:%{MINUTE}(?::%{SECOND})?",
    "DATE_US": r"%{MONTHNUM}[/-]%{MONTHDAY}[/-]%{YEAR}",
    "DATE_EU": r"%{MONTHDAY}[./-]%{MONTHNUM}[./-]%{YEAR}",
    "ISO8601_TIMEZONE": r"(?:Z|[+-]%{HOUR}(?::?%{MINUTE}))",
    "ISO8601_SECOND": r"%{SECOND}",
    "TIMESTAMP_ISO8601": r"%{YEAR}-%{MONTHNUM}-%{MONTHDAY}[T ]%{HOUR}:?%{MINUTE}"
    r"(?::?%{SECOND})?%{ISO8601_TIMEZONE}?",
    "DATE": r"(?:%{DATE_US}|%{DATE_EU})",
    "DATESTAMP": r"%{DATE}[- ]%{TIME}",
    "TZ": r"(?:[APMCE][SD]T|UTC)",
    "HTTPDATE": r"%{MONTHDAY}/%{MONTH}/%{YEAR}:%{TIME} %{INT}",
    "SYSLOGTIMESTAMP": r"%{MONTH} +%{MONTHDAY} %{TIME}",
    "LOGLEVEL": r"(?:[Aa]lert|ALERT|[Tt]race|TRACE|[Dd]ebug|DEBUG|[Nn]otice|NOTICE|"
    r"[Ii]nfo?(?:rmation)?|INFO?(?:RMATION)?|[Ww]arn?(?:ing)?|WARN?(?:ING)?|[Ee]rr?(?:or)?|"
    r"ERR?(?:OR)?|[Cc]rit?(?:ical)?|CRIT?(?:ICAL)?|[Ff]atal|FATAL|[Ss]evere|SEVERE|"
    r"EMERG(?:ENCY)?|[Ee]merg(?:ency)?)",
}

_GROK_REFERENCE = re.compile(r"%\{(\w+)(?::([^:}]+))?(?::(\w+))?\}")
_GROK_TYPES = {"int": t.INTEGER, "long": t.LONG, "float": t.DOUBLE, "double": t.DOUBLE}


@dataclass(frozen=True)
class _Capture:
    """One output of a pattern: the column name, its regex group and its ES|QL type."""

    name: str
    group: str
    type: str


def _check_regex(regex: str, pattern: str, command: str, node: Any) -> None:
    """Fail at plan time, with the pattern named, if polars' regex engine rejects it."""
    try:
        pl.Series([""], dtype=pl.String).str.extract_groups(regex)
    except pl.exceptions.PolarsError as error:
        first = str(error).splitlines()[0] if str(error) else "invalid regex"
        raise execution_error(f"Invalid {command} pattern [{pattern}]: {first}", node) from None


def _extract(source: pl.Expr, regex: str, captures: list[_Capture]) -> dict[str, list[pl.Expr]]:
    """Per output column, the expressions of its groups (several when a name repeats)."""
    groups = source.str.extract_groups(regex)
    by_name: dict[str, list[pl.Expr]] = {}
    for capture in captures:
        by_name.setdefault(capture.name, []).append(groups.struct.field(capture.group))
    return by_name


# ---------------------------------------------------------------------------------------------
# DISSECT
# ---------------------------------------------------------------------------------------------

_DISSECT_KEY = re.compile(r"%\{([^}]*)\}")


@dataclass(frozen=True)
class _DissectKey:
    name: str
    skip: bool
    append: bool
    order: int
    right_padding: bool


def _dissect_key(body: str, pattern: str, node: Any) -> _DissectKey:
    text = body
    right_padding = text.endswith("->")
    if right_padding:
        text = text[:-2]
    skip = append = False
    if text.startswith("?"):
        skip, text = True, text[1:]
    elif text.startswith("+"):
        append, text = True, text[1:]
    elif text.startswith(("*", "&")):
        raise execution_error(
            f"Invalid DISSECT pattern [{pattern}]: reference keys [{body}] are not supported",
            node,
        )
    order = 0
    if append and "/" in text:
        text, _, order_text = text.partition("/")
        if not order_text.isdigit():
            raise execution_error(f"Invalid DISSECT pattern [{pattern}]: bad key [{body}]", node)
        order = int(order_text)
    return _DissectKey(text, skip or text == "", append, order, right_padding)


def dissect_columns(
    source: pl.Expr,
    pattern: str,
    *,
    append_separator: str,
    node: Any,
) -> list[tuple[str, pl.Expr, str, bool]]:
    """The columns DISSECT adds: (name, expression, type, multi), in order of appearance.

    Rows the pattern does not match get null in every new column.
    """
    pieces = _DISSECT_KEY.split(pattern)
    # split() alternates: delimiter, key, delimiter, key, ..., delimiter
    delimiters = pieces[0::2]
    keys = [_dissect_key(body, pattern, node) for body in pieces[1::2]]
    if not keys:
        raise execution_error(f"Invalid DISSECT pattern [{pattern}]: no keys found", node)
    regex_parts = ["(?s)^", re.escape(delimiters[0])]
    # Per output name, its parts as (append order, position, regex group).
    appended: dict[str, list[tuple[int, int, str]]] = {}
    for index, key in enumerate(keys):
        following = delimiters[index + 1]
        last = index == len(keys) - 1
        group = f"k{index}"
        body = ".*" if last and not following else ".*?"
        regex_parts.append(f"(?P<{group}>{body})")
        if following:
            escaped = re.escape(following)
            regex_parts.append(f"(?:{escaped})+" if key.right_padding else escaped)
        elif not last:
            raise execution_error(
                f"Invalid DISSECT pattern [{pattern}]: keys must be separated by a delimiter",
                node,
            )
        if key.skip:
            continue
        # Append keys (`%{+name}`, `%{+name/2}`) are joined in order with the separator.
        appended.setdefault(key.name, []).append((key.order, index, group))
    if keys and delimiters[-1]:
        # Text after the final delimiter is not part of any key; ES ignores it.
        regex_parts.append("")
    else:
        regex_parts.append("$")
    regex = "".join(regex_parts)
    _check_regex(regex, pattern, "DISSECT", node)
    groups = source.str.extract_groups(regex)
    columns: list[tuple[str, pl.Expr, str, bool]] = []
    for name, parts in appended.items():
        ordered = [groups.struct.field(group) for _, _, group in sorted(parts)]
        if len(ordered) == 1:
            expr = ordered[0]
        else:
            expr = pl.concat_str(ordered, separator=append_separator)
        columns.append((name, expr, t.KEYWORD, False))
    return columns


# ---------------------------------------------------------------------------------------------
# GROK
# ---------------------------------------------------------------------------------------------


def _expand(pattern: str, captures: list[_Capture], node: Any, top: bool, depth: int = 0) -> str:
    if depth > 20:
        raise execution_error(f"Invalid GROK pattern [{pattern}]: patterns nest too deep", node)

    def replace(match: re.Match[str]) -> str:
        name, field, kind = match.group(1), match.group(2), match.group(3)
        definition = GROK_PATTERNS.get(name)
        if definition is None:
            raise execution_error(
                f"Invalid GROK pattern [{pattern}]: Unable to find pattern [{name}] in Grok's "
                "pattern dictionary",
                node,
            )
        inner = _expand(definition, captures, node, False, depth + 1)
        if top and field:
            esql_type = t.KEYWORD
            if kind:
                if kind not in _GROK_TYPES:
                    raise execution_error(
                        f"Invalid GROK pattern [{pattern}]: unsupported type [{kind}]", node
                    )
                esql_type = _GROK_TYPES[kind]
            group = f"g{len(captures)}"
            captures.append(_Capture(field, group, esql_type))
            return f"(?P<{group}>{inner})"
        return f"(?:{inner})"

    return _GROK_REFERENCE.sub(replace, pattern)


def grok_columns(
    source: pl.Expr, pattern: str, *, node: Any
) -> list[tuple[str, pl.Expr, str, bool]]:
    """The columns GROK adds: (name, expression, type, multi-valued), in pattern order.

    A field captured more than once is multi-valued (its non-null captures, in order), as in
    ES; rows that do not match get null in every new column.
    """
    captures: list[_Capture] = []
    regex = _expand(pattern, captures, node, True)
    if not captures:
        raise execution_error(f"Invalid GROK pattern [{pattern}]: no named captures", node)
    regex = "(?s)" + regex
    _check_regex(regex, pattern, "GROK", node)
    by_name = _extract(source, regex, captures)
    kinds: dict[str, str] = {}
    for capture in captures:
        kinds.setdefault(capture.name, capture.type)
    columns: list[tuple[str, pl.Expr, str, bool]] = []
    for name, exprs in by_name.items():
        kind = kinds[name]
        typed = [_grok_convert(expr, kind) for expr in exprs]
        if len(typed) == 1:
            columns.append((name, typed[0], kind, False))
            continue
        values = pl.concat_list(typed).list.drop_nulls()
        columns.append((name, pl.when(values.list.len() > 0).then(values), kind, True))
    return columns


def _grok_convert(expr: pl.Expr, kind: str) -> pl.Expr:
    """A captured string as the type its `:int` / `:float` suffix asks for."""
    if kind in (t.INTEGER, t.LONG):
        # Grok's int conversion parses whole numbers only.
        whole = expr.cast(pl.Int64, strict=False)
        return whole.cast(pl.Int32, strict=False) if kind == t.INTEGER else whole
    if kind == t.DOUBLE:
        return expr.cast(pl.Float64, strict=False)
    return expr
