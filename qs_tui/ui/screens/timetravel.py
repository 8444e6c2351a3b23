"""Time travel: the services table as it was at any past minute, from the same query library."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from qs_tui.esql.errors import EsqlError
from qs_tui.profiles import Profile, query_text
from qs_tui.store.base import Store, StoreError
from qs_tui.ui.screens._format import text

#: The query time travel runs "as of" a moment (the war room's charts use it too).
QUERY = "metrics_timeline"
#: How far before the moment the query looks, to find each service's latest minute and trend.
WINDOW = timedelta(minutes=5)
#: One step of `left`/`right`.
STEP = timedelta(minutes=1)

#: Table columns: (key, heading).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("service", "service"),
    ("region", "region"),
    ("cpu", "cpu %"),
    ("memory", "memory %"),
    ("errors", "errors %"),
    ("latency", "p95 ms"),
    ("rps", "req/s"),
)

#: (warning, critical) levels per metric; a cell at or past them is coloured.
LEVELS: dict[str, tuple[float, float]] = {
    "cpu": (80.0, 92.0),
    "memory": (85.0, 95.0),
    "errors": (0.02, 0.08),
    "latency": (800.0, 2000.0),
}


def iso(instant: datetime) -> str:
    """`2026-11-25T13:36:00Z` (`…:20.142Z` with a fraction): how parameters carry instants."""
    timespec = "milliseconds" if instant.microsecond else "seconds"
    return instant.isoformat(timespec=timespec).replace("+00:00", "Z")


def parse_es_date(value: str) -> datetime:
    """An ES date string (`2026-11-25T13:36:00.000Z`) as an aware datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True)
class ServiceState:
    """One service in one region as it was at a moment (its latest minute before it).

    Attributes:
        service: the service.
        region: the region.
        minute: the minute bucket the values come from.
        cpu: average CPU %.
        memory: average memory %.
        errors: average error rate (0-1).
        latency: average p95 latency in ms.
        rps: average requests per second.
        memory_change: memory % points gained over the window (the leak's trend).
    """

    service: str
    region: str
    minute: datetime
    cpu: float | None
    memory: float | None
    errors: float | None
    latency: float | None
    rps: float | None
    memory_change: float | None = None


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def services_as_of(
    store: Store, moment: datetime, *, window: timedelta = WINDOW, profile: Profile | None = None
) -> list[ServiceState]:
    """Each service × region as it was at `moment`, from `esql/metrics_timeline.esql`.

    Runs the query for `[moment - window, moment)` and keeps each pair's latest minute.
    Blocking: call it from a worker thread, never on the UI thread.

    Raises:
        StoreError, EsqlError: when the store cannot answer.
    """
    params = {"start": iso(moment - window), "end": iso(moment)}
    result = store.esql(query_text(QUERY, profile), params=params)
    first: dict[tuple[str, str], dict[str, Any]] = {}
    last: dict[tuple[str, str], dict[str, Any]] = {}
    for record in result.records():
        key = (str(record["service"]), str(record["region"]))
        # Rows come sorted by service, region, minute: the first is the oldest.
        first.setdefault(key, record)
        last[key] = record
    states = []
    for key, record in last.items():
        memory = _number(record.get("memory"))
        earliest = _number(first[key].get("memory"))
        change = None if memory is None or earliest is None else memory - earliest
        states.append(
            ServiceState(
                service=key[0],
                region=key[1],
                minute=parse_es_date(str(record["minute"])),
                cpu=_number(record.get("cpu")),
                memory=memory,
                errors=_number(record.get("errors")),
                latency=_number(record.get("latency")),
                rps=_number(record.get("rps")),
                memory_change=change,
            )
        )
    return states


def earliest_metric(store: Store, *, profile: Profile | None = None) -> datetime | None:
    """The oldest metric sample's instant (how far back time travel can go)."""
    result = store.esql(
        query_text("metrics_span", profile),
        params={"start": "1970-01-01T00:00:00.000Z", "end": "9999-12-31T23:59:59.999Z"},
    )
    if not result.values or result.values[0][0] is None:
        return None
    return parse_es_date(str(result.values[0][0]))


class TimeTravelScreen(Screen[None]):
    """Scrub back through time and see the services as they were.

    `left`/`right` (or `h`/`l`) step a minute, `[`/`]` jump to the previous/next incident
    onset, `home`/`end` go to the oldest data and to now, `escape` returns. Every move runs
    `esql/metrics_timeline.esql` "as of" the chosen moment in a thread worker.

    Args:
        store: where the metrics are.
        now: the live clock's instant (the latest moment one can see).
        onsets: `(label, onset)` of each incident, e.g. `("INC-0001 memory leak", …)`.
        services: `(service, region)` pairs in the order the war room lists them.
        profile: the schema profile the queries are rendered through (None: `qs`).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("left,h", "step(-1)", "−1 min", priority=True),
        Binding("right,l", "step(1)", "+1 min", priority=True),
        Binding("left_square_bracket", "onset(-1)", "Prev onset"),
        Binding("right_square_bracket", "onset(1)", "Next onset"),
        Binding("home", "oldest", "Oldest", priority=True),
        Binding("end", "latest", "Now", priority=True),
    ]

    DEFAULT_CSS = """
    TimeTravelScreen {
        background: $background;
    }
    TimeTravelScreen #travel-when {
        height: auto;
        padding: 0 1;
        background: $panel;
        text-style: bold;
    }
    TimeTravelScreen #travel-ruler {
        height: 1;
        padding: 0 1;
        color: $text-muted;
    }
    TimeTravelScreen #travel-onset {
        height: auto;
        padding: 0 1;
        color: $text-warning;
    }
    TimeTravelScreen #travel-states {
        height: 1fr;
    }
    TimeTravelScreen #travel-status {
        height: 1;
        padding: 0 1;
        color: $text-muted;
    }
    TimeTravelScreen #travel-status.-error {
        color: $text-error;
    }
    """

    class Loaded(Message):
        """The services as of a moment arrived from the worker."""

        def __init__(
            self, moment: datetime, states: list[ServiceState], earliest: datetime | None
        ) -> None:
            super().__init__()
            self.moment = moment
            self.states = states
            self.earliest = earliest

    class Failed(Message):
        """The worker could not load a moment; `text` says why."""

        def __init__(self, moment: datetime, text: str) -> None:
            super().__init__()
            self.moment = moment
            self.text = text

    def __init__(
        self,
        store: Store,
        *,
        now: datetime,
        onsets: Sequence[tuple[str, datetime]],
        services: Sequence[tuple[str, str]],
        profile: Profile | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.profile = profile
        self.now = now
        self.onsets = sorted(onsets, key=lambda pair: pair[1])
        self.services = list(services)
        self.moment = now.replace(second=0, microsecond=0)
        self.earliest: datetime | None = None
        self.shown_at: datetime | None = None
        """The moment the table shows (None until the first load arrives)."""
        self.states: list[ServiceState] = []
        """What the table shows."""

    def compose(self) -> ComposeResult:
        yield Static(id="travel-when")
        yield Static(id="travel-ruler")
        yield Static(id="travel-onset")
        yield DataTable(id="travel-states", cursor_type="row", zebra_stripes=True)
        yield Static("loading…", id="travel-status")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#travel-states", DataTable)
        for key, heading in COLUMNS:
            table.add_column(heading, key=key)
        table.focus()
        self._go(self.moment)

    # ---- moving ---------------------------------------------------------------------------

    def _clamp(self, moment: datetime) -> datetime:
        if moment > self.now:
            return self.now
        oldest = self._oldest()
        if oldest is not None and moment < oldest:
            return oldest
        return moment

    def _oldest(self) -> datetime | None:
        # The first moment with a full window of data behind it.
        if self.earliest is None:
            return None
        return min(self.now, self.earliest + STEP)

    def _go(self, moment: datetime) -> None:
        self.moment = self._clamp(moment)
        self._show_position()
        self.query_one("#travel-status", Static).update("loading…")
        self._load(self.moment, need_bounds=self.earliest is None)

    def action_step(self, minutes: int) -> None:
        """Move `minutes` minutes (negative: back in time)."""
        self._go(self.moment + minutes * STEP)

    def action_onset(self, direction: int) -> None:
        """Jump to the previous (`-1`) or next (`1`) incident onset."""
        if direction < 0:
            earlier = [at for _, at in self.onsets if at < self.moment]
            if earlier:
                self._go(earlier[-1])
        else:
            later = [at for _, at in self.onsets if at > self.moment and at <= self.now]
            if later:
                self._go(later[0])

    def action_oldest(self) -> None:
        """Go to the oldest moment with data."""
        oldest = self._oldest()
        if oldest is not None:
            self._go(oldest)

    def action_latest(self) -> None:
        """Go back to the live clock's instant."""
        self._go(self.now)

    # ---- loading (worker thread) ----------------------------------------------------------

    @work(thread=True, exclusive=True, group="time-travel", exit_on_error=False)
    def _load(self, moment: datetime, *, need_bounds: bool) -> None:
        try:
            earliest = (
                earliest_metric(self.store, profile=self.profile) if need_bounds else self.earliest
            )
            states = services_as_of(self.store, moment, profile=self.profile)
        except (StoreError, EsqlError) as error:
            # Shown in the status line; the screen stays usable.
            self.post_message(self.Failed(moment, str(error).splitlines()[0]))
            return
        except Exception as error:
            self.post_message(self.Failed(moment, f"{type(error).__name__}: {error}"))
            return
        self.post_message(self.Loaded(moment, states, earliest))

    def on_time_travel_screen_loaded(self, message: Loaded) -> None:
        if message.earliest is not None:
            self.earliest = message.earliest
        if message.moment != self.moment:
            return  # the user moved on; a newer load is on its way
        self.states = self._ordered(message.states)
        self.shown_at = message.moment
        self._fill(self.states)
        self._show_position()
        status = self.query_one("#travel-status", Static)
        status.remove_class("-error")
        minute = max((s.minute for s in self.states), default=None)
        if minute is None:
            status.update(f"no metrics in the {WINDOW.seconds // 60} min before this moment")
        else:
            status.update(
                f"{len(self.states)} service/regions · latest minute {minute:%H:%M} · "
                f"esql/{QUERY}.esql with ?end = {iso(message.moment)}"
            )

    def on_time_travel_screen_failed(self, message: Failed) -> None:
        if message.moment != self.moment:
            return
        status = self.query_one("#travel-status", Static)
        status.add_class("-error")
        status.update(text(message.text))

    # ---- drawing --------------------------------------------------------------------------

    def _ordered(self, states: list[ServiceState]) -> list[ServiceState]:
        rank = {pair: index for index, pair in enumerate(self.services)}
        return sorted(
            states, key=lambda s: (rank.get((s.service, s.region), len(rank)), s.service, s.region)
        )

    def _show_position(self) -> None:
        ago = (self.now - self.moment).total_seconds()
        when = "now" if ago < 1 else f"{_ago(ago)} before now"
        self.query_one("#travel-when", Static).update(
            f"Time travel · as of [$accent]{self.moment:%Y-%m-%d %H:%M:%S} UTC[/] ({when})"
        )
        self.query_one("#travel-ruler", Static).update(self._ruler())
        self.query_one("#travel-onset", Static).update(self._nearest_onset())

    def _ruler(self) -> str:
        oldest = self._oldest()
        if oldest is None or oldest >= self.now:
            return ""
        width = max(10, self.size.width - 20)
        span = (self.now - oldest).total_seconds()

        def column(at: datetime) -> int:
            share = (at - oldest).total_seconds() / span
            return min(width - 1, max(0, round(share * (width - 1))))

        cells = ["─"] * width
        for _, onset in self.onsets:
            if oldest <= onset <= self.now:
                cells[column(onset)] = "▼"
        cursor = column(self.moment)
        line = "".join(cells)
        return (
            f"{oldest:%H:%M} {text(line[:cursor])}[bold $accent]●[/]"
            f"{text(line[cursor + 1 :])} {self.now:%H:%M}"
        )

    def _nearest_onset(self) -> str:
        if not self.onsets:
            return "no incidents yet"
        label, onset = min(
            self.onsets, key=lambda pair: abs((pair[1] - self.moment).total_seconds())
        )
        delta = (self.moment - onset).total_seconds()
        if abs(delta) < 1:
            relation = "at the onset of"
        elif delta < 0:
            relation = f"{_ago(-delta)} before the onset of"
        else:
            relation = f"{_ago(delta)} after the onset of"
        return f"▼ {relation} {text(label)} ({onset:%H:%M:%S})"

    def _fill(self, states: list[ServiceState]) -> None:
        table = self.query_one("#travel-states", DataTable)
        variables = self.app.get_css_variables()
        styles = {
            "warning": Style(color=variables.get("warning"), bold=True),
            "error": Style(color=variables.get("error"), bold=True),
        }
        table.clear()
        for state in states:
            table.add_row(
                state.service,
                state.region,
                _cell(state.cpu, "cpu", "{:.1f}", styles),
                _memory_cell(state, styles),
                _cell(state.errors, "errors", "{:.2%}", styles),
                _cell(state.latency, "latency", "{:.0f}", styles),
                _cell(state.rps, "rps", "{:.1f}", styles),
                key=f"{state.service}/{state.region}",
            )


def _ago(seconds: float) -> str:
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min" if rest == 0 else f"{minutes} min {rest}s"
    hours, rest = divmod(whole, 3600)
    return f"{hours} h {rest // 60} min"


def _level(value: float, metric: str) -> str | None:
    levels = LEVELS.get(metric)
    if levels is None:
        return None
    if value >= levels[1]:
        return "error"
    if value >= levels[0]:
        return "warning"
    return None


def _cell(value: float | None, metric: str, fmt: str, styles: dict[str, Style]) -> Text:
    if value is None:
        return Text("—", justify="right")
    level = _level(value, metric)
    style = styles[level] if level else Style()
    return Text(fmt.format(value), style=style, justify="right")


def _memory_cell(state: ServiceState, styles: dict[str, Style]) -> Text:
    cell = _cell(state.memory, "memory", "{:.1f}", styles)
    change = state.memory_change
    if change is not None and abs(change) >= 1.0:
        cell.append(" ↑" if change > 0 else " ↓")
    else:
        cell.append("  ")
    return cell
