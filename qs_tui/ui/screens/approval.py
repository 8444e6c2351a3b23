"""The approval modal: the plan, its evidence, risk and a countdown; `y`, `n` or `d` answers.

A key answers the request at once (`answer_approval`, stamped on the Diplomat's clock), not
when the modal has closed: an answer is never lost to a quit that follows it, and one given
after the deadline is refused on the spot.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from qs_tui.agents.diplomat import UNDO_NOTICE, answer_approval, dry_run_findings
from qs_tui.agents.events import ApprovalRequested
from qs_tui.models import ApprovalDecision, Plan, RemediationOption
from qs_tui.ui.screens._format import (
    action_name,
    countdown,
    duration,
    percent,
    text,
    weight,
    words,
)

#: Seconds left below which the countdown turns to a warning, then to an error.
WARN_BELOW_S = 30.0
URGENT_BELOW_S = 10.0
#: Rows the dialog needs besides its scrolling details (borders, headline, keys).
CHROME_ROWS = 4
#: Cells of the countdown bar.
BAR_WIDTH = 20


def _target(option: RemediationOption) -> str:
    where = "every region" if option.region == "all" else option.region
    target = f"{option.service} in {where}"
    if option.target_version:
        target += f" (to {option.target_version})"
    return target


def plan_headline(plan: Plan) -> str:
    """`Restart payment-service in us-east-1` (markup-safe)."""
    chosen = plan.chosen
    return text(f"{action_name(chosen.action).capitalize()} {_target(chosen)}")


def options_lines(plan: Plan) -> list[str]:
    """One markup line per option weighed, best first, the chosen one marked."""
    ranked = sorted(plan.options, key=lambda option: option.score, reverse=True)
    width = max((len(action_name(o.action)) for o in ranked), default=8)
    lines = []
    for option in ranked:
        chosen = option == plan.chosen
        marker = "[bold $accent]▶[/]" if chosen else " "
        name = action_name(option.action).ljust(width)
        name = f"[bold]{text(name)}[/]" if chosen else text(name)
        lines.append(
            f"{marker} {name}  score {option.score:+.2f}  risk {option.risk:.2f}  "
            f"recovers in {duration(option.expected_recovery_s):>6}  "
            f"[$text-muted]{text(option.rationale)}[/]"
        )
    return lines


class ApprovalModal(ModalScreen[ApprovalDecision]):
    """Asks a human to approve a plan, with a visible countdown to the request's deadline.

    `y` answers APPROVED, `n` REJECTED, `d` DRY_RUN (not offered when the request already
    shows a dry run's findings), and the modal dismisses with that decision; when the
    countdown reaches zero it dismisses with TIMED_OUT (the pipeline rejects on its own). The
    modal never blocks the app: messages keep flowing to the screens underneath.

    Args:
        request: the pipeline's approval request (incident, plan, deadline).
        monotonic: the wall-clock source the deadline is measured on (`time.monotonic`);
            tests pass a frozen one so the countdown does not drift.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer('approved')", "Approve"),
        Binding("n", "answer('rejected')", "Reject"),
        Binding("d", "answer('dry_run')", "Dry run"),
    ]

    DEFAULT_CSS = """
    ApprovalModal {
        align: center middle;
        background: $background 60%;
    }
    ApprovalModal #approval-dialog {
        width: 96%;
        max-width: 110;
        height: auto;
        max-height: 100%;
        border: round $accent;
        border-title-color: $accent;
        border-title-style: bold;
        background: $surface;
        padding: 0 1;
    }
    ApprovalModal #approval-top {
        dock: top;
        height: auto;
    }
    ApprovalModal #approval-headline {
        width: 1fr;
        text-style: bold;
    }
    ApprovalModal #approval-countdown {
        width: auto;
        color: $success;
        text-style: bold;
    }
    ApprovalModal #approval-countdown.-warn {
        color: $warning;
    }
    ApprovalModal #approval-countdown.-urgent {
        color: $error;
    }
    ApprovalModal #approval-details {
        height: auto;
    }
    ApprovalModal .section {
        margin-top: 1;
        color: $text-accent;
        text-style: bold;
    }
    ApprovalModal #approval-forecast {
        color: $text-warning;
    }
    ApprovalModal #approval-policy {
        color: $text-error;
    }
    ApprovalModal #approval-keys {
        dock: bottom;
        height: 1;
        background: $surface;
        color: $text-muted;
    }
    """

    def __init__(
        self,
        request: ApprovalRequested,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.request = request
        self._monotonic = monotonic
        self._decision_sent = False
        self._deferred_decision: ApprovalDecision | None = None
        self.answered_elsewhere = False
        """True when the modal closed because the pipeline settled the request itself."""
        self.accepted: bool | None = None
        """None until a key answered; then whether the Diplomat took the answer (False: too
        late, the request had timed out or was settled)."""

    @property
    def incident_id(self) -> str:
        """The incident whose plan waits for approval."""
        return self.request.incident.id

    @property
    def seconds_left(self) -> float:
        """Seconds until the request times out (never negative)."""
        return max(0.0, self.request.deadline - self._monotonic())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """No second dry run: after one, only a real yes or no is asked for."""
        second_dry_run = parameters == ("dry_run",) and self.request.dry_run is not None
        return not (action == "answer" and second_dry_run)

    def compose(self) -> ComposeResult:
        request = self.request
        plan = request.plan
        incident = request.incident
        chosen = plan.chosen
        hypothesis = incident.hypothesis
        with Vertical(id="approval-dialog") as dialog:
            again = " after the dry run" if request.dry_run is not None else ""
            dialog.border_title = f"Approval needed{again} · {incident.id}"
            dialog.border_subtitle = "no answer rejects"
            with Horizontal(id="approval-top"):
                yield Static(plan_headline(plan), id="approval-headline")
                yield Static(self._countdown_markup(), id="approval-countdown")
            with VerticalScroll(id="approval-details"):
                yield Static(
                    f"{text(words(incident.kind.value))} on {text(incident.service)} in "
                    f"{text(incident.region)} · detected {incident.anomaly.detected_at:%H:%M:%S}"
                    f" · [bold]{percent(incident.anomaly.confidence)}[/] sure the anomaly is real",
                    id="approval-context",
                )
                if request.dry_run is not None:
                    yield Static("Dry run findings", classes="section")
                    yield Static(
                        "\n".join(text(line) for line in dry_run_findings(request.dry_run)),
                        id="approval-dry-run",
                    )
                yield Static("Why this plan", classes="section")
                yield Static(text(plan.reason), id="approval-reason")
                yield Static(
                    f"Risk [bold]{chosen.risk:.2f}[/] · expected recovery "
                    f"[bold]{duration(chosen.expected_recovery_s)}[/] · blast radius: "
                    f"{text(chosen.blast_radius)}\n"
                    f"[$text-warning]{text(UNDO_NOTICE.capitalize())}[/]",
                    id="approval-risk",
                )
                if chosen.forecast:
                    # What the action does to the rest of the estate (a failover's receivers).
                    yield Static("Load on the rest of the estate", classes="section")
                    lines = [
                        f"[$text-warning]{text(f.summary)}[/]"
                        if not f.within_capacity
                        else text(f.summary)
                        for f in chosen.forecast
                    ]
                    if chosen.prepare:
                        first = ", ".join(f"{p.action.value} {p.region}" for p in chosen.prepare)
                        lines.append(text(f"first: {first}"))
                    yield Static("\n".join(lines), id="approval-load-forecast")
                if request.policy is not None:
                    # The rule that decides whatever the answer (read-only, a rate limit,
                    # a change freeze): the human must see it before answering.
                    yield Static(f"[bold]Policy:[/] {text(request.policy)}", id="approval-policy")
                yield Static("If nothing is done", classes="section")
                yield Static(self._forecast_markup(), id="approval-forecast")
                confidence = (
                    f" · {percent(hypothesis.confidence)} sure the root cause is right"
                    if hypothesis
                    else ""
                )
                yield Static(f"Evidence{confidence}", classes="section")
                yield Static(self._evidence_markup(), id="approval-evidence")
                yield Static("Options weighed", classes="section")
                yield Static("\n".join(options_lines(plan)), id="approval-options")
            keys = (
                "[bold $background on $success] y [/] approve   "
                "[bold $background on $error] n [/] reject"
            )
            if request.dry_run is None:
                keys += "   [bold $background on $accent] d [/] dry run first"
            yield Static(keys, id="approval-keys")

    def _forecast_markup(self) -> str:
        plan = self.request.plan
        ttc = plan.time_to_critical_s
        if ttc is None:
            when = "no threshold in sight"
        elif ttc <= 0:
            when = "[bold $error]already critical[/]"
        else:
            when = f"critical in [bold]{duration(ttc)}[/]"
        return f"{text(plan.inaction_forecast)}\n{when}"

    def _evidence_markup(self) -> str:
        hypothesis = self.request.incident.hypothesis
        if hypothesis is None or not hypothesis.evidence:
            return "[$text-muted]no evidence recorded[/]"
        lines = [f"[bold]{text(hypothesis.summary)}[/]"]
        for evidence in hypothesis.evidence:
            kind = words(evidence.kind).ljust(14)
            lines.append(f"{weight(evidence)} {text(kind)} {text(evidence.summary)}")
        return "\n".join(lines)

    def _countdown_markup(self) -> str:
        left = self.seconds_left
        total = max(self.request.timeout_s, 1e-9)
        filled = round(BAR_WIDTH * min(1.0, left / total))
        bar = "█" * filled + "░" * (BAR_WIDTH - filled)
        return f"{bar} {countdown(left)} left"

    def on_mount(self) -> None:
        self._fit_details()
        self.query_one("#approval-details", VerticalScroll).focus()
        self.refresh_countdown()
        self.set_interval(1.0, self.refresh_countdown)

    def on_resize(self) -> None:
        self._fit_details()

    def _fit_details(self) -> None:
        # The headline, key line and borders take 6 rows; the details scroll in the rest, so
        # the keys stay visible on a small terminal.
        details = self.query_one("#approval-details", VerticalScroll)
        details.styles.max_height = max(3, self.size.height - CHROME_ROWS)

    def on_screen_resume(self) -> None:
        # A decision that arrived while another screen covered the modal is applied now,
        # because dismiss() always closes the topmost screen.
        if self._deferred_decision is not None:
            self._close(self._deferred_decision)

    def refresh_countdown(self) -> None:
        """Redraw the countdown (every second); at zero the request has timed out."""
        left = self.seconds_left
        widget = self.query_one("#approval-countdown", Static)
        widget.update(self._countdown_markup())
        widget.set_class(URGENT_BELOW_S <= left < WARN_BELOW_S, "-warn")
        widget.set_class(left < URGENT_BELOW_S, "-urgent")
        if left <= 0:
            self._close(ApprovalDecision.TIMED_OUT)

    def action_answer(self, decision: str) -> None:
        """Answer with `approved`, `rejected` or `dry_run`, at once, then close."""
        if self._decision_sent or self.answered_elsewhere or self.accepted is not None:
            return
        answer = ApprovalDecision(decision)
        self.accepted = answer_approval(self.request.future, answer, by="keyboard")
        self._close(answer)

    def settled(self, decision: ApprovalDecision) -> None:
        """Close the modal because the pipeline settled the request elsewhere.

        Args:
            decision: how it was settled (dismissed with it; `answered_elsewhere` is set so
                the caller knows not to answer again).
        """
        self.answered_elsewhere = True
        self._close(decision)

    def _close(self, decision: ApprovalDecision) -> None:
        if self._decision_sent:
            return
        if not self.is_active:
            self._deferred_decision = decision
            return
        self._decision_sent = True
        self.dismiss(decision)
