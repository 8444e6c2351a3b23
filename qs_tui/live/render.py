"""How a canonical library query becomes the query that runs on a team's data.

The live source and estate discovery never write `FROM <their indices>` themselves: they take a
query from `esql/` (written against canonical names) and pass its text through a `Renderer`.
The default renderer is the schema-profile renderer (`qs_tui.profiles.render.render_query`);
without a profile (the `qs` shape) the text runs as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: Canonical query text and a profile -> the ES|QL that runs on the profile's data.
Renderer = Callable[[str, Any], str]


def render_canonical(text: str, profile: Any) -> str:
    """`text` rendered for `profile`; unchanged when there is no profile or it is `qs`.

    The profile renderer is imported here, when first needed, so that reading the `qs` shape
    does not load the profile package.
    """
    if profile is None or getattr(profile, "name", None) == "qs":
        return text
    from qs_tui.profiles.render import render_query  # type: ignore[import-not-found,unused-ignore]

    rendered: str = render_query(text, profile)
    return rendered
