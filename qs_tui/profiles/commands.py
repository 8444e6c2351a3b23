"""`qs-tui queries`: the exact ES|QL each library query becomes for a profile."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from qs_tui.profiles.model import Profile
from qs_tui.profiles.render import render_query
from qs_tui.queries import all_queries


def rendered_queries(profile: Profile) -> list[tuple[str, str]]:
    """`(name, text)` of every library query rendered for `profile`, by name."""
    return [(query.name, render_query(query, profile)) for query in all_queries()]


def print_queries(profile: Profile, *, out: TextIO) -> None:
    """Print every rendered query, header comment included, a marker line before each.

    The marker is an ES|QL comment too, so a block pasted with it still runs in Kibana.
    """
    for number, (name, text) in enumerate(rendered_queries(profile)):
        if number:
            out.write("\n")
        out.write(f"// ===== {name}.esql (profile {profile.name}) =====\n")
        out.write(text if text.endswith("\n") else text + "\n")


def write_queries(profile: Profile, directory: Path) -> list[Path]:
    """Write one `<name>.esql` per query into `directory` (created if needed).

    Raises:
        OSError: the directory or a file cannot be written (the caller names it).
    """
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered_queries(profile):
        path = directory / f"{name}.esql"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
