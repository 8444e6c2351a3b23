"""The incident timeline: every state change of every incident, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable

from qs_tui.agents.events import IncidentChanged
from qs_tui.models import IncidentState
from qs_tui.ui.widgets.colours import theme_style

#: Changes the timeline keeps (the oldest drop off).
TIMELINE_ROWS = 500
#: Characters of the reason shown in the table (the incident screen has the whole story).
REASON_CHARS = 120

# Theme variable (without `$`) that colours each state; the rest keep the text colour.
_STATE_COLOUR: dict[IncidentState, str] = {
    IncidentState.RESOLVED: "success",
    IncidentState.REJECTED: "error",
    IncidentState.ROLLED_BACK: "error",
    IncidentState.ESCALATED: "error",
    IncidentState.AWAITING_APPROVAL: "warning",
    IncidentState.EXECUTING: "accent",
    IncidentState.VERIFYING: "accent",
}


def _crop(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass(frozen=True)
class _Entry:
    key: str
    time: str
    incident_id: str
    target: str
    state: IncidentState
    reason: str


class IncidentTimeline(DataTable[Text]):
    """State changes, newest on top; enter (or a click) asks to open that incident."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open incident", show=False)
    ]

    class IncidentSelected(Message):
        """The user asked to open an incident from the timeline."""

        def __init__(self, incident_id: str) -> None:
            super().__init__()
            self.incident_id = incident_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._entries: list[_Entry] = []
        self._count = 0

    def on_mount(self) -> None:
        """Set up the columns."""
        self._add_columns()

    def _what_width(self) -> int:
        # time column (8 + 2 padding), the what column's own padding and the scrollbar
        return max(20, self.size.width - 13) if self.size.width else 40

    def _add_columns(self) -> None:
        self.add_column("time", key="time", width=8)
        self.add_column("what happened", key="what", width=self._what_width())

    def on_resize(self) -> None:
        """Re-wrap the rows to the new width."""
        self.clear(columns=True)
        self._add_columns()
        self._rebuild()

    @property
    def entries(self) -> int:
        """How many changes the timeline holds."""
        return len(self._entries)

    def incident_ids(self) -> list[str]:
        """The incident of each row, top (newest) first."""
        return [entry.incident_id for entry in reversed(self._entries)]

    def clear_changes(self) -> None:
        """Forget every change (a replay going back starts the timeline over)."""
        self._entries.clear()
        self._rebuild()

    def add_change(self, event: IncidentChanged) -> None:
        """Put one change on top."""
        incident = event.incident
        self._count += 1
        reason = event.reason
        if len(reason) > REASON_CHARS:
            reason = reason[: REASON_CHARS - 1] + "…"
        entry = _Entry(
            key=str(self._count),
            time=event.at.strftime("%H:%M:%S"),
            incident_id=incident.id,
            target=f"{incident.service}/{incident.region}",
            state=incident.state,
            reason=reason,
        )
        self._entries.append(entry)
        if len(self._entries) > TIMELINE_ROWS:
            del self._entries[0]
        self._rebuild()

    def _rebuild(self) -> None:
        # DataTable only appends, so newest-first means laying the rows out again; the
        # timeline changes a few times per incident, which keeps this cheap.
        selected: str | None = None
        if self.row_count and self.cursor_row > 0:
            selected = self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0)).row_key.value
        self.clear()
        # DataTable cells are Rich text, so theme colours are looked up here rather than
        # written as `$variables` (and reasons are never parsed as markup).
        width = self._what_width()
        for entry in reversed(self._entries):
            colour = _STATE_COLOUR.get(entry.state)
            state_style = theme_style(self.app, colour, bold=True) if colour else Style()
            what = Text.assemble(
                (entry.incident_id, Style(bold=True)),
                " ",
                (entry.state.value.replace("_", " "), state_style),
                "\n",
                (_crop(entry.target, width), Style(dim=True)),
                "\n",
                _crop(entry.reason, width),
                no_wrap=True,
            )
            self.add_row(Text(entry.time, style=Style(dim=True)), what, key=entry.key, height=3)
        if selected is not None:
            try:
                self.move_cursor(row=self.get_row_index(selected), animate=False)
            except Exception:  # the row dropped off the end
                self.move_cursor(row=0, animate=False)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Ask the app to open the selected row's incident."""
        event.stop()
        key = event.row_key.value
        for entry in self._entries:
            if entry.key == key:
                self.post_message(self.IncidentSelected(entry.incident_id))
                return
