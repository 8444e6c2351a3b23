"""Where a problem sits in a TOML file a user edits: its line and its field path.

Scenario files, schema profiles and `remediation.toml` report errors as
`file:line: field: what is wrong` (`TomlFileError`); all find the line with these helpers.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path


class TomlFileError(Exception):
    """A TOML file a user edits that cannot be used: `file:line: field: what is wrong`.

    Subclasses name what the file is (`unnamed`) for errors of text that came from no file.

    Attributes:
        path: the file, when the text came from one.
        line: the 1-based line of the problem when known.
        field: the field path (`faults[2].kind`) when the problem is a value.
    """

    unnamed = ""

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        where = str(path) if path is not None else self.unnamed
        if line is not None:
            where += f":{line}"
        prefix = (f"{where}: " if where else "") + (f"{field}: " if field else "")
        super().__init__(prefix + message)
        self.path = path
        self.line = line
        self.field = field


def decode_error(error: tomllib.TOMLDecodeError) -> tuple[str, int | None]:
    """A TOML syntax error's message (column kept, line removed) and its 1-based line."""
    match = re.search(r"\(at line (\d+), column (\d+)\)", str(error))
    line = int(match.group(1)) if match else None
    message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
    if match:
        message += f" (column {match.group(2)})"
    return message, line


def field_path(loc: tuple[str | int, ...]) -> str:
    """`('faults', 2, 'kind')` -> `faults[2].kind`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "scenario"


_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\-\" ]+?)\s*\]\]?\s*(?:#.*)?$")


def line_of(text: str, loc: tuple[str | int, ...]) -> int | None:
    """Best-effort line of a field in scenario TOML (for `[[faults]]` style tables).

    Walks the path: a name selects a `key =` line or a `[table]` header within the current
    block; an index selects the n-th `[[array]]` header. Returns the deepest line found.
    """
    lines = text.splitlines()
    headers = [
        (i, m.group(1).replace(" ", ""))
        for i, line in enumerate(lines)
        if (m := _HEADER.match(line))
    ]
    lo, hi = 0, len(lines)
    table = ""
    found: int | None = None
    parts = list(loc)
    index = 0
    while index < len(parts):
        part = parts[index]
        following = parts[index + 1] if index + 1 < len(parts) else None
        if isinstance(part, int):
            index += 1
            continue
        name = f"{table}.{part}" if table else str(part)
        if isinstance(following, int):
            matches = [i for i, h in headers if h == name and lo <= i < hi]
            if following < len(matches):
                start = matches[following]
                end = next(
                    (i for i, h in headers if i > start and not h.startswith(name + ".")),
                    len(lines),
                )
                lo, hi, table, found = start + 1, end, name, start + 1
                index += 2
                continue
        header = next((i for i, h in headers if h == name and lo <= i < hi), None)
        if header is None:
            header = next((i for i, h in headers if h == name), None)
        if header is not None:
            end = next(
                (i for i, h in headers if i > header and not h.startswith(name + ".")), len(lines)
            )
            lo, hi, table, found = header + 1, end, name, header + 1
            index += 1
            continue
        key = re.compile(rf"^\s*{re.escape(str(part))}\s*=")
        for number in range(lo, hi):
            if key.match(lines[number]) and not _inside_other_table(headers, number, table):
                return number + 1
        if any(h.startswith(name + ".") for _, h in headers):
            table = name  # a dotted prefix such as `expected` in `[[expected.incidents]]`
            index += 1
            continue
        return found
    return found


def _inside_other_table(headers: list[tuple[int, str]], line: int, table: str) -> bool:
    owner = ""
    for i, header in headers:
        if i < line:
            owner = header
    return owner != table
