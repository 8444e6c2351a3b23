"""How a canonical library query becomes the query that runs on a team's data.

The live source and estate discovery never write `FROM <their indices>` themselves: they take a
query from `esql/` (written against canonical names) and pass it through a `Renderer`. The
default is the schema-profile renderer (`qs_tui.profiles.render.render_query`); without a
profile the query runs as written (the `qs` shape).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from qs_tui.queries import QueryFile

if TYPE_CHECKING:
    from qs_tui.profiles import Profile

#: A canonical library query and a profile -> the ES|QL that runs on the profile's data.
Renderer = Callable[[QueryFile, "Profile | None"], str]


def resolve_profile(profile: Profile | str | None) -> Profile | None:
    """`profile` itself, or the profile a name or TOML path names (`ecs`, `./mine.toml`).

    Raises:
        ProfileError: no such built-in profile, or a custom one that does not load.
    """
    if profile is None or not isinstance(profile, str):
        return profile
    from qs_tui.profiles import load_profile

    return load_profile(profile)


def render_canonical(query: QueryFile, profile: Profile | None) -> str:
    """`query` rendered for `profile`; its own text when there is no profile."""
    if profile is None:
        return query.text
    # Imported when first needed: reading the qs shape does not load the profile renderer.
    from qs_tui.profiles.render import render_query

    return render_query(query, profile)
