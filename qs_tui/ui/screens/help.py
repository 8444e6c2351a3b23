"""The key reference: every key of the war room and its screens."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

#: (section, [(keys, what they do)]) — the README's key reference shows the same table.
KEY_REFERENCE: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "War room",
        (
            ("?", "this help"),
            ("/", "filter services (escape clears)"),
            ("space", "pause / resume the live view"),
            ("i", "inject a fault (kind, service, region, strength)"),
            ("t", "time travel: the services as they were"),
            ("+ / -", "faster / slower simulated time"),
            ("enter", "open the selected incident or chart the selected service"),
            ("tab / shift+tab", "move between panes"),
            ("ctrl+p", "command palette (the same actions, and themes)"),
            ("q / ctrl+q", "quit (ctrl+q works in the approval too)"),
        ),
    ),
    (
        "Approval",
        (
            ("y", "approve the plan (and undoing it if the fix does not verify)"),
            ("n", "reject it (nothing is executed)"),
            ("d", "dry run first; the plan comes back with its findings for y or n"),
            ("", "no answer before the countdown ends rejects"),
            ("", "quitting rejects a plan still waiting (by: operator left)"),
        ),
    ),
    (
        "Time travel",
        (
            ("← / h, → / l", "one minute back / forward"),
            ("[ / ]", "previous / next incident onset"),
            ("home / end", "oldest data / now"),
            ("escape", "back to the war room"),
        ),
    ),
    (
        "Incident, help",
        (
            ("escape", "back"),
            ("↑ ↓ pgup pgdn", "scroll"),
        ),
    ),
)


def key_reference_markdown() -> str:
    """The key reference as a Markdown table (for the README)."""
    lines = ["| Where | Key | Action |", "|---|---|---|"]
    for section, keys in KEY_REFERENCE:
        for key, action in keys:
            shown = f"`{key}`" if key else ""
            lines.append(f"| {section} | {shown} | {action} |")
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    """The key reference; `escape` or `?` closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close"),
    ]

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        background: $background 60%;
    }
    HelpScreen #help-keys {
        width: auto;
        min-width: 50;
        max-width: 90%;
        height: auto;
        max-height: 100%;
        border: round $accent;
        border-title-color: $accent;
        border-title-style: bold;
        border-subtitle-color: $text-muted;
        background: $surface;
        padding: 0 2;
    }
    HelpScreen #help-reference {
        width: auto;
    }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-keys") as keys:
            keys.border_title = "Keys"
            keys.border_subtitle = "escape or ? closes"
            yield Static(self._reference(), id="help-reference")

    def on_mount(self) -> None:
        self.query_one("#help-keys", VerticalScroll).focus()

    @staticmethod
    def _reference() -> str:
        width = max(len(key) for _, keys in KEY_REFERENCE for key, _ in keys)
        lines: list[str] = []
        for section, keys in KEY_REFERENCE:
            if lines:
                lines.append("")
            lines.append(f"[bold $text-accent]{section}[/]")
            for key, action in keys:
                shown = key.ljust(width).replace("[", r"\[")
                lines.append(f"  [bold $accent]{shown}[/]  {action}")
        return "\n".join(lines)

    def action_close(self) -> None:
        """Close the help."""
        self.dismiss(None)
