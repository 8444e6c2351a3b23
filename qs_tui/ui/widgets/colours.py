"""Theme colours for Rich text (RichLog lines, DataTable cells), which cannot use `$variables`."""

from __future__ import annotations

from rich.color import Color as RichColor
from rich.style import Style
from textual.app import App
from textual.color import Color, ColorParseError


def theme_colour(app: App[object], name: str) -> RichColor | None:
    """The current theme's `name` colour (`accent`, `warning`, …) for Rich, if it is one."""
    value = app.theme_variables.get(name)
    if value is None:
        return None
    try:
        return Color.parse(value).rich_color
    except ColorParseError:
        return None  # e.g. `auto 60%`: meaningful only to Textual's CSS


def theme_style(app: App[object], name: str, *, bold: bool = False) -> Style:
    """A Rich style in the theme's `name` colour (plain text colour when it has none)."""
    return Style(color=theme_colour(app, name), bold=bold or None)
