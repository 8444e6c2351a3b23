"""The services pane: a row of live sparklines per service x region, a filter and a chart."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Click, Key
from textual.message import Message
from textual.widgets import Input, Label, Sparkline

from qs_tui.agents.events import MetricsSampled
from qs_tui.models import Incident
from qs_tui.topology import region_code
from qs_tui.ui.widgets.chart import METRIC_KEYS, MetricChart

#: Metrics drawn as sparklines in each row, in column order.
SPARK_METRICS: tuple[str, ...] = ("cpu_percent", "memory_percent", "error_rate", "latency_p95_ms")
#: Samples each sparkline shows (the newest).
SPARK_POINTS = 30
#: Samples each row keeps for the detailed chart.
HISTORY_POINTS = 180
#: Row states (from `MetricsSampled.states`) and the CSS class each one sets.
STATE_CLASSES: dict[str, str] = {"anomalous": "-anomalous", "remediating": "-remediating"}

_STATE_MARK = {"healthy": "●", "anomalous": "▲", "remediating": "◆"}


def short_regions(regions: Iterable[str]) -> dict[str, str]:
    """A short, unambiguous name per region for narrow terminals: `us-east-1` -> `use1`.

    Cutting `us-east-1` and `us-west-2` to `us-…` makes rows read the same; the codes the
    host names use stay distinct. Regions whose codes would collide keep their full names.
    """
    names = sorted(set(regions))
    codes = {region: region_code(region) for region in names}
    taken: dict[str, int] = {}
    for code in codes.values():
        taken[code] = taken.get(code, 0) + 1
    return {region: code if taken[code] == 1 else region for region, code in codes.items()}


def format_value(metric: str, value: float) -> str:
    """A metric's newest value in at most five cells: `43%`, `0.2%`, `120ms`, `1.2s`."""
    if metric == "error_rate":
        return f"{value * 100:.1f}%" if value < 0.1 else f"{value * 100:.0f}%"
    if metric == "latency_p95_ms":
        return f"{value:.0f}ms" if value < 1000 else f"{value / 1000:.1f}s"
    return f"{value:.0f}%"


class ServiceRow(Horizontal):
    """One service in one region: state mark, name, four sparklines and the newest values.

    Samples are recorded whenever they arrive; the sparklines are redrawn only by `sync()`,
    which the pane calls for rows on screen, so a large estate costs little per tick.
    """

    def __init__(self, service: str, region: str, *, short_region: str | None = None) -> None:
        super().__init__(classes="service-row")
        self.service = service
        self.region_name = region
        self.short_region = short_region or region
        self.search_text = f"{service} {region}".lower()
        self.state = "healthy"
        self.times: deque[datetime] = deque(maxlen=HISTORY_POINTS)
        self.history: dict[str, deque[float]] = {}
        self.latest: dict[str, float] = {}
        self.dirty = False
        self._name_label = Label(self._name_text(), classes="name -full")
        # Narrow terminals show this one instead (CSS): the short region first, so rows stay
        # distinguishable even when a long service name is cut.
        self._short_label = Label(self._short_text(), classes="name -short")
        self._sparks = {
            metric: Sparkline([], classes=f"spark {metric}") for metric in SPARK_METRICS
        }
        self._values = {metric: Label("", classes=f"value {metric}") for metric in SPARK_METRICS}

    @property
    def key(self) -> tuple[str, str]:
        """`(service, region)`."""
        return (self.service, self.region_name)

    def compose(self) -> ComposeResult:
        """Name, sparklines, values."""
        yield self._name_label
        yield self._short_label
        for metric in SPARK_METRICS:
            yield self._sparks[metric]
            yield self._values[metric]

    def _name_text(self) -> str:
        return f"{_STATE_MARK.get(self.state, '●')} {self.service} {self.region_name}"

    def _short_text(self) -> str:
        return f"{_STATE_MARK.get(self.state, '●')} {self.short_region} {self.service}"

    def record(self, at: datetime, values: dict[str, float]) -> None:
        """Keep a new sample (drawn at the next `sync`)."""
        self.times.append(at)
        for metric, value in values.items():
            series = self.history.get(metric)
            if series is None:
                series = self.history[metric] = deque(maxlen=HISTORY_POINTS)
            series.append(value)
        self.latest = values
        self.dirty = True

    def set_state(self, state: str) -> None:
        """Colour the row by state (`healthy`, `anomalous`, `remediating`)."""
        if state == self.state:
            return
        self.state = state
        for name, css_class in STATE_CLASSES.items():
            self.set_class(state == name, css_class)
        self._name_label.update(self._name_text(), layout=False)  # fixed width in CSS
        self._short_label.update(self._short_text(), layout=False)

    def sync(self) -> None:
        """Redraw sparklines and values from the recorded samples (if anything is new)."""
        if not self.dirty:
            return
        self.dirty = False
        for metric, spark in self._sparks.items():
            series = self.history.get(metric)
            if series:
                spark.data = list(series)[-SPARK_POINTS:]
                # Fixed-width cells: no layout pass, which would walk every row's widgets.
                self._values[metric].update(format_value(metric, series[-1]), layout=False)

    def on_click(self, event: Click) -> None:
        """A click selects the row."""
        event.stop()
        pane = self.query_ancestor(ServicesPane)
        pane.select_row(self, open_chart=True)


class RowList(VerticalScroll):
    """The scrolling list of rows, with a cursor moved by the arrow keys."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "cursor(-10)", "Page up", show=False),
        Binding("pagedown", "cursor(10)", "Page down", show=False),
        Binding("enter", "choose", "Chart", show=True),
    ]

    def action_cursor(self, step: int) -> None:
        """Move the cursor `step` rows among the rows shown."""
        self.query_ancestor(ServicesPane).move_cursor(step)

    def action_choose(self) -> None:
        """Open the chart of the row under the cursor."""
        pane = self.query_ancestor(ServicesPane)
        row = pane.cursor_row
        if row is not None:
            pane.select_row(row, open_chart=True)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Rows scrolled into view get their newest samples drawn."""
        super().watch_scroll_y(old_value, new_value)
        if round(old_value) != round(new_value):
            self.call_after_refresh(self.query_ancestor(ServicesPane).sync_visible)


class ServicesPane(Vertical):
    """Every service x region with sparklines, `/` to filter, enter for a detailed chart."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close_chart", "Close chart", show=False),
        *(
            Binding(key, f"chart_metric('{metric}')", label, show=False)
            for key, (metric, label, _) in METRIC_KEYS.items()
        ),
    ]

    class SeriesSelected(Message):
        """A row was chosen: its chart is shown."""

        def __init__(self, service: str, region: str) -> None:
            super().__init__()
            self.service = service
            self.region = region

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: dict[tuple[str, str], ServiceRow] = {}
        self.shown: list[ServiceRow] = []
        self.cursor_index = 0
        self.selected: tuple[str, str] | None = None
        self.chart_metric = "memory_percent"
        self.incidents: dict[tuple[str, str], Incident] = {}
        self.filter_text = ""
        self.last_sample: datetime | None = None
        self.border_title = "Services"

    def compose(self) -> ComposeResult:
        """Filter, header, rows and the (hidden) chart."""
        yield Input(placeholder="filter services (esc clears)", id="filter")
        with Horizontal(id="services-header"):
            yield Label(self._header(), classes="name -full")
            yield Label("  region · service", classes="name -short")
            for title, short in (
                ("cpu", "cpu"),
                ("memory", "mem"),
                ("errors", "err"),
                ("p95", "p95"),
            ):
                yield Label(title, classes="column -full")
                yield Label(short, classes="column -short")
        yield RowList(id="rows")
        with Vertical(id="chart-panel"):
            yield MetricChart(id="chart")

    @staticmethod
    def _header() -> str:
        return "  service · region"

    # ---- rows ---------------------------------------------------------------------------

    async def set_services(
        self,
        keys: Iterable[tuple[str, str]],
        *,
        history: Mapping[tuple[str, str], Sequence[tuple[datetime, dict[str, float]]]]
        | None = None,
    ) -> None:
        """Create a row for each `(service, region)` (rows already there stay).

        Args:
            keys: the series, in display order.
            history: earlier samples per series to start the sparklines with.
        """
        wanted = list(keys)
        short = short_regions([r for _, r in wanted] + [r for _, r in self.rows])
        new = [
            ServiceRow(s, r, short_region=short[r]) for s, r in wanted if (s, r) not in self.rows
        ]
        if not new:
            return
        for row in new:
            self.rows[row.key] = row
            for at, values in (history or {}).get(row.key, ()):
                row.record(at, values)
        await self.query_one(RowList).mount_all(new)
        self._apply_filter()

    @property
    def cursor_row(self) -> ServiceRow | None:
        """The row under the cursor, if any row is shown."""
        if not self.shown:
            return None
        return self.shown[min(self.cursor_index, len(self.shown) - 1)]

    def move_cursor(self, step: int) -> None:
        """Move the cursor among the rows shown, scrolling it into view."""
        if not self.shown:
            return
        previous = self.cursor_row
        self.cursor_index = max(0, min(len(self.shown) - 1, self.cursor_index + step))
        row = self.cursor_row
        if previous is not None and previous is not row:
            previous.remove_class("-cursor")
        if row is not None:
            row.add_class("-cursor")
            self.query_one(RowList).scroll_to_widget(row, animate=False)

    def select_row(self, row: ServiceRow, *, open_chart: bool) -> None:
        """Put the cursor on `row` and (optionally) show its chart."""
        if row in self.shown:
            previous = self.cursor_row
            if previous is not None:
                previous.remove_class("-cursor")
            self.cursor_index = self.shown.index(row)
            row.add_class("-cursor")
        if open_chart:
            self.selected = row.key
            self.add_class("-charting")
            self.redraw_chart()
            self.post_message(self.SeriesSelected(row.service, row.region_name))

    # ---- live data ----------------------------------------------------------------------

    def apply(self, event: MetricsSampled) -> int:
        """Record a sample for every series, recolour rows, redraw the ones on screen.

        Returns:
            How many rows were redrawn.
        """
        fresh = self.last_sample is None or event.at > self.last_sample
        if fresh:
            self.last_sample = event.at
            for key, values in event.series.items():
                row = self.rows.get(key)
                if row is not None:
                    row.record(event.at, values)
        for key, row in self.rows.items():
            row.set_state(event.states.get(key, "healthy"))
        drawn = self.sync_visible()
        if fresh and self.selected is not None:
            self.redraw_chart()
        return drawn

    def visible_rows(self) -> list[ServiceRow]:
        """The rows currently inside the viewport (rows are one line each)."""
        rows = self.query_one(RowList)
        top = int(rows.scroll_y)
        height = max(rows.size.height, 1)
        return self.shown[top : top + height]

    def sync_visible(self) -> int:
        """Redraw the rows on screen that have new samples; returns how many."""
        drawn = 0
        for row in self.visible_rows():
            if row.dirty:
                row.sync()
                drawn += 1
        return drawn

    def note_incident(self, incident: Incident) -> None:
        """Remember the newest incident per series (for the chart's prediction line)."""
        key = (incident.service, incident.region)
        current = self.incidents.get(key)
        if current is None or current.id <= incident.id or current.state.terminal:
            self.incidents[key] = incident
        if self.selected == key:
            self.redraw_chart()

    # ---- filter -------------------------------------------------------------------------

    def open_filter(self) -> None:
        """Show the filter input and focus it."""
        self.add_class("-filtering")
        self.query_one("#filter", Input).focus()

    def close_filter(self) -> None:
        """Clear and hide the filter; the row list gets the focus."""
        self.query_one("#filter", Input).value = ""
        self.remove_class("-filtering")
        self.query_one(RowList).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        """Narrow the rows as the filter is typed."""
        event.stop()
        self.filter_text = event.value
        self._apply_filter()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter keeps the filter and moves to the rows."""
        event.stop()
        self.query_one(RowList).focus()

    def on_key(self, event: Key) -> None:
        """Escape in the filter clears it."""
        if event.key == "escape" and self.has_class("-filtering"):
            focused = self.app.focused
            if isinstance(focused, Input):
                event.stop()
                self.close_filter()

    def _apply_filter(self) -> None:
        terms = self.filter_text.lower().split()
        shown: list[ServiceRow] = []
        for row in self.rows.values():
            text = f"{row.search_text} {row.state}"
            match = all(term in text for term in terms)
            row.display = match
            if match:
                shown.append(row)
        previous = self.cursor_row
        self.shown = shown
        if previous is not None and previous in shown:
            self.cursor_index = shown.index(previous)
        else:
            if previous is not None:
                previous.remove_class("-cursor")
            self.cursor_index = 0
            if shown:
                shown[0].add_class("-cursor")
        self.border_subtitle = f"{len(shown)} of {len(self.rows)}" if terms else f"{len(shown)}"
        self.call_after_refresh(self.sync_visible)

    # ---- chart --------------------------------------------------------------------------

    def action_close_chart(self) -> None:
        """Hide the chart."""
        self.selected = None
        self.remove_class("-charting")

    def action_chart_metric(self, metric: str) -> None:
        """Switch the chart to `metric`."""
        self.chart_metric = metric
        if self.selected is None and self.cursor_row is not None:
            self.select_row(self.cursor_row, open_chart=True)
            return
        self.redraw_chart()

    def redraw_chart(self) -> None:
        """Draw the selected series' chart from its recorded samples."""
        if self.selected is None:
            return
        row = self.rows.get(self.selected)
        if row is None:
            return
        metric = self.chart_metric
        series = list(row.history.get(metric, ()))
        times = list(row.times)[-len(series) :] if series else []
        newest = times[-1] if times else None
        minutes = [(t - newest).total_seconds() / 60 for t in times] if newest else []
        self.query_one(MetricChart).draw(
            target=f"{row.service}/{row.region_name}",
            metric=metric,
            minutes_ago=minutes,
            values=series,
            incident=self.incidents.get(row.key),
        )
