"""Schema profiles: where a team's telemetry keeps the signals the queries read.

`load_profile("ecs")` or `load_profile("my-shape.toml")` gives a `Profile`;
`render_query(query, profile)` (in `qs_tui.profiles.render`) turns a canonical `esql/` query into
the one that runs on that data; `query_text(name, profile)` does both for a library query.
"""

from __future__ import annotations

from qs_tui.profiles.loader import (
    BUILTIN_PROFILES,
    DEFAULT_PROFILE,
    ProfileError,
    load_profile,
    parse_profile,
)
from qs_tui.profiles.model import SIGNAL_COLUMNS, SIGNAL_LABELS, Profile


def query_text(name: str, profile: Profile | None) -> str:
    """The text of library query `esql/<name>.esql` rendered for `profile` (None: as written).

    Raises:
        QueryNotFoundError: no such query file.
    """
    from qs_tui.profiles.render import render_query
    from qs_tui.queries import load_query

    query = load_query(name)
    if profile is None:
        return query.text
    return render_query(query, profile)


__all__ = [
    "BUILTIN_PROFILES",
    "DEFAULT_PROFILE",
    "SIGNAL_COLUMNS",
    "SIGNAL_LABELS",
    "Profile",
    "ProfileError",
    "load_profile",
    "parse_profile",
    "query_text",
]
