"""The detailed chart of one series (textual-plotext), with the prediction line of a trend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual.color import Color, ColorParseError
from textual_plotext import PlotextPlot

from qs_tui.models import Incident, IncidentState

#: Metric shown for each chart key, with its label and the value at which things fail.
METRIC_KEYS: dict[str, tuple[str, str, float | None]] = {
    "m": ("memory_percent", "memory %", 100.0),
    "c": ("cpu_percent", "CPU %", 100.0),
    "e": ("error_rate", "error rate", None),
    "l": ("latency_p95_ms", "p95 latency ms", None),
    "r": ("requests_per_s", "requests/s", None),
    "d": ("disk_percent", "disk %", 100.0),
}
#: Incident states in which nothing has been done yet, so the trend still holds.
FORECAST_STATES = frozenset(
    {
        IncidentState.DETECTED,
        IncidentState.INVESTIGATING,
        IncidentState.PLANNED,
        IncidentState.AWAITING_APPROVAL,
    }
)
_LABELS = {metric: (label, threshold) for metric, label, threshold in METRIC_KEYS.values()}


@dataclass(frozen=True)
class Projection:
    """Where a trend goes if nothing is done.

    Attributes:
        minutes: minutes from now of each point (0 = the newest sample).
        values: the projected values.
        threshold: the critical value.
        reach_minutes: minutes until the threshold is reached (None if it never is).
    """

    minutes: tuple[float, ...]
    values: tuple[float, ...]
    threshold: float
    reach_minutes: float | None


def projection(incident: Incident | None, metric: str, current: float | None) -> Projection | None:
    """The prediction line for `metric` from an open incident's anomaly slope, if any.

    Uses the anomaly's `slope_per_s` from the newest value up to its critical threshold
    (for a leak: memory reaching 100 %), capped at two hours ahead.
    """
    if incident is None or current is None or incident.state not in FORECAST_STATES:
        return None
    anomaly = incident.anomaly
    if anomaly.signal != metric or anomaly.slope_per_s is None or anomaly.slope_per_s <= 0:
        return None
    threshold = anomaly.critical_threshold
    if current >= threshold:
        return Projection((0.0,), (current,), threshold, 0.0)
    reach_s = (threshold - current) / anomaly.slope_per_s
    horizon_s = min(reach_s, 7200.0)
    end_value = current + anomaly.slope_per_s * horizon_s
    reach = reach_s / 60 if reach_s <= 7200.0 else None
    return Projection((0.0, horizon_s / 60), (current, end_value), threshold, reach)


class MetricChart(PlotextPlot):
    """One service/region's metric over the last minutes, with its projection."""

    DEFAULT_CSS = """
    MetricChart {
        height: 1fr;
        min-height: 6;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title_text = ""
        self.can_focus = False

    def draw(
        self,
        *,
        target: str,
        metric: str,
        minutes_ago: Sequence[float],
        values: Sequence[float],
        incident: Incident | None,
    ) -> None:
        """Plot `values` at `minutes_ago` (negative minutes) and the projection, if any."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        label, fixed_threshold = _LABELS.get(metric, (metric, None))
        theme = self.app.theme_variables
        line_colour = _rgb(theme.get("primary"))
        plt.xlabel("minutes from now")
        title = f"{target} · {label}"
        if values:
            plt.plot(list(minutes_ago), list(values), marker="braille", color=line_colour)
        predicted = projection(incident, metric, values[-1] if values else None)
        threshold = predicted.threshold if predicted is not None else fixed_threshold
        if predicted is not None:
            plt.plot(
                list(predicted.minutes),
                list(predicted.values),
                marker="braille",
                color=_rgb(theme.get("warning")),
            )
            if predicted.reach_minutes is not None:
                title += f" · critical in ~{predicted.reach_minutes:.0f} min if nothing is done"
        if threshold is not None and (predicted is not None or _near(values, threshold)):
            plt.hline(threshold, color=_rgb(theme.get("error")))
        plt.title(title)
        self.title_text = title
        self.refresh()


def _near(values: Sequence[float], threshold: float) -> bool:
    # Draw a fixed threshold only when the series is within reach of it, so a quiet series
    # keeps its own scale.
    return bool(values) and max(values) >= 0.6 * threshold


def _rgb(colour: str | None) -> tuple[int, int, int]:
    try:
        parsed = Color.parse(colour or "white")
    except ColorParseError:
        parsed = Color.parse("white")
    return (parsed.r, parsed.g, parsed.b)
