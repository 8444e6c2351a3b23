"""The fault menu: pick a kind, a target and a strength; enter injects it now."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from pydantic import ValidationError
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from qs_tui.sim import faults
from qs_tui.sim.faults import ALL, FaultKind, FaultParams, FaultSpec
from qs_tui.topology import Topology


@dataclass(frozen=True)
class Strength:
    """How a fault kind's strength is asked for.

    Attributes:
        field: the `FaultParams` field it fills (`rate` or `magnitude`).
        label: what the input is called.
        default: the simulator's default for the kind.
        maximum: the largest value that makes sense (shares are at most 1), if any.
    """

    field: str
    label: str
    default: float
    maximum: float | None = None


#: The strength each kind takes, with the simulator's own defaults.
STRENGTHS: dict[FaultKind, Strength] = {
    FaultKind.MEMORY_LEAK: Strength("rate", "memory % per minute", faults.LEAK_RATE_PER_MIN),
    FaultKind.ERROR_SPIKE: Strength(
        "magnitude", "added error rate (0-1)", faults.ERROR_SPIKE_MAGNITUDE, 1.0
    ),
    FaultKind.LATENCY_REGRESSION: Strength(
        "magnitude", "latency multiplier", faults.LATENCY_MAGNITUDE
    ),
    FaultKind.CPU_SATURATION: Strength("magnitude", "CPU work multiplier", faults.CPU_MAGNITUDE),
    FaultKind.DISK_FILL: Strength("rate", "disk % per minute", faults.DISK_RATE_PER_MIN),
    FaultKind.TRAFFIC_DROP: Strength(
        "magnitude", "share of traffic lost (0-1)", faults.TRAFFIC_DROP_MAGNITUDE, 1.0
    ),
    FaultKind.CASCADE: Strength(
        "magnitude", "added error rate at the root (0-1)", faults.CASCADE_MAGNITUDE, 1.0
    ),
    # A bad deploy introduces a memory leak by default; its strength is the leak's rate.
    FaultKind.BAD_DEPLOY: Strength("rate", "leak: memory % per minute", faults.LEAK_RATE_PER_MIN),
}

#: What each kind does, shown under the form.
DESCRIPTIONS: dict[FaultKind, str] = {
    FaultKind.MEMORY_LEAK: "memory climbs until the process is OOM-killed",
    FaultKind.ERROR_SPIKE: "a share of requests fails with an upstream error",
    FaultKind.LATENCY_REGRESSION: "p95 latency grows; slow calls start timing out",
    FaultKind.CPU_SATURATION: "each request costs more CPU until the pool saturates",
    FaultKind.DISK_FILL: "the disk fills; writes fail when it is full",
    FaultKind.TRAFFIC_DROP: "health checks fail and traffic disappears",
    FaultKind.CASCADE: "errors and latency spread to every caller along the graph",
    FaultKind.BAD_DEPLOY: "a new version goes out that leaks memory (a rollback fixes it)",
}


def build_fault(kind: FaultKind, service: str, region: str, strength_text: str) -> FaultSpec:
    """The fault to inject now, from the form's values.

    Raises:
        ValueError: naming the field that is wrong and why.
    """
    strength = STRENGTHS[kind]
    try:
        value = float(strength_text.strip()) if strength_text.strip() else strength.default
    except ValueError:
        raise ValueError(f"{strength.label}: {strength_text.strip()!r} is not a number") from None
    if value <= 0:
        raise ValueError(f"{strength.label}: must be greater than 0, got {value:g}")
    if strength.maximum is not None and value > strength.maximum:
        raise ValueError(f"{strength.label}: must be at most {strength.maximum:g}, got {value:g}")
    try:
        params = FaultParams.model_validate({strength.field: value})
        # "0" starts it at the scenario's origin, which the simulator moves to the next
        # interval it writes: the fault begins now.
        return FaultSpec(kind=kind, service=service, region=region, start="0", params=params)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "fault"
        raise ValueError(f"{where}: {first['msg']}") from None


class InjectFaultScreen(ModalScreen[FaultSpec | None]):
    """Pick a fault and its target; enter injects it now, escape cancels.

    Args:
        topology: the estate (services and regions to choose from).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "inject", "Inject", priority=True),
    ]

    DEFAULT_CSS = """
    InjectFaultScreen {
        align: center middle;
        background: $background 60%;
    }
    InjectFaultScreen #inject-form {
        width: 72;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $warning;
        border-title-color: $warning;
        border-title-style: bold;
        border-subtitle-color: $text-muted;
        background: $surface;
        padding: 0 1;
    }
    InjectFaultScreen #inject-fields {
        grid-size: 2;
        grid-columns: 12 1fr;
        grid-rows: 3;
        height: auto;
    }
    InjectFaultScreen #inject-fields Label {
        height: 3;
        content-align: left middle;
    }
    InjectFaultScreen #inject-description {
        color: $text-muted;
        height: auto;
    }
    InjectFaultScreen #inject-problem {
        color: $text-error;
        height: auto;
    }
    InjectFaultScreen #inject-buttons {
        height: auto;
        align-horizontal: right;
    }
    InjectFaultScreen #inject-buttons Button {
        margin-left: 2;
    }
    """

    def __init__(self, topology: Topology) -> None:
        super().__init__()
        self.topology = topology

    def compose(self) -> ComposeResult:
        kind = FaultKind.MEMORY_LEAK
        with Vertical(id="inject-form") as form:
            form.border_title = "Inject a fault"
            form.border_subtitle = "enter injects now · escape cancels"
            with Grid(id="inject-fields"):
                yield Label("Kind")
                yield Select(
                    [(faults_label(k), k) for k in FaultKind],
                    value=kind,
                    allow_blank=False,
                    id="inject-kind",
                )
                yield Label("Service")
                yield Select(
                    [(s, s) for s in self.topology.services],
                    value=self.topology.services[0],
                    allow_blank=False,
                    id="inject-service",
                )
                yield Label("Region")
                yield Select(
                    [(r, r) for r in self.topology.regions] + [("every region", ALL)],
                    value=self.topology.regions[0],
                    allow_blank=False,
                    id="inject-region",
                )
                yield Label("Strength", id="inject-strength-label")
                yield Input(
                    value=f"{STRENGTHS[kind].default:g}",
                    placeholder=STRENGTHS[kind].label,
                    id="inject-strength",
                )
            yield Static(self._describe(kind), id="inject-description")
            yield Static("", id="inject-problem")
            with Horizontal(id="inject-buttons"):
                yield Button("Cancel", id="inject-cancel")
                yield Button("Inject", id="inject-inject", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#inject-kind", Select).focus()

    @staticmethod
    def _describe(kind: FaultKind) -> str:
        strength = STRENGTHS[kind]
        return f"{DESCRIPTIONS[kind]}. Strength: {strength.label} (default {strength.default:g})."

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id != "inject-kind" or not isinstance(event.value, FaultKind):
            return
        kind = event.value
        strength = self.query_one("#inject-strength", Input)
        strength.value = f"{STRENGTHS[kind].default:g}"
        strength.placeholder = STRENGTHS[kind].label
        self.query_one("#inject-description", Static).update(self._describe(kind))
        self.query_one("#inject-problem", Static).update("")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "inject-inject":
            self.action_inject()
        else:
            self.action_cancel()

    def fault(self) -> FaultSpec:
        """The fault the form describes.

        Raises:
            ValueError: naming the field that is wrong.
        """
        kind = self.query_one("#inject-kind", Select).value
        service = self.query_one("#inject-service", Select).value
        region = self.query_one("#inject-region", Select).value
        if not isinstance(kind, FaultKind) or not isinstance(service, str):
            raise ValueError("choose a kind and a service")
        if not isinstance(region, str):
            raise ValueError("choose a region")
        return build_fault(kind, service, region, self.query_one("#inject-strength", Input).value)

    def action_inject(self) -> None:
        """Inject the fault the form describes, or say what is wrong with it."""
        if any(select.expanded for select in self.query(Select)):
            raise SkipAction()  # enter picks the highlighted option in an open menu
        focused = self.focused
        if isinstance(focused, Button) and focused.id == "inject-cancel":
            self.action_cancel()
            return
        try:
            fault = self.fault()
        except ValueError as error:
            self.query_one("#inject-problem", Static).update(str(error))
            return
        self.dismiss(fault)

    def action_cancel(self) -> None:
        """Close without injecting anything."""
        self.dismiss(None)


def faults_label(kind: FaultKind) -> str:
    """`memory_leak` -> `memory leak`."""
    return kind.value.replace("_", " ")
