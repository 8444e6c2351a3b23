"""demo.tape: its syntax is what VHS accepts, and its keystrokes make the demo it promises.

VHS cannot run here, so the replay plays the tape against the war room headlessly: the
shell command line it types is parsed by the real `qs-tui` argument parser and starts the
app in deterministic mode with that scenario and speed; keys go to the app; each `Sleep`
advances simulated time by `seconds x speed` (whole sample intervals) and the approval
deadline's wall clock by `seconds`.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from textual.messages import ExitApp
from textual.pilot import Pilot

from qs_tui.cli import build_parser
from qs_tui.models import ApprovalDecision, IncidentState
from qs_tui.ui.app import WarRoomApp
from qs_tui.ui.screens import ApprovalModal, HelpScreen, IncidentScreen, TimeTravelScreen
from qs_tui.ui.tape import TapeCommand, TapeError, load_tape, parse_tape
from tests.ui.conftest import HandWall
from tests.waiting import within_guard

pytestmark = pytest.mark.anyio

TAPE = Path(__file__).resolve().parents[2] / "demo.tape"

#: The size of the terminal the tape records (1400x860 px at font size 14 is about 120x40).
SIZE = (120, 40)


# ---- syntax --------------------------------------------------------------------------------


def test_every_line_of_the_demo_tape_is_a_vhs_command() -> None:
    commands = load_tape(TAPE)
    names = [command.name for command in commands]
    assert names[0] == "Output" and commands[0].args == ("demo.gif",)
    settings = {c.args[0]: c.args[1] for c in commands if c.name == "Set"}
    assert {"FontSize", "Width", "Height", "Theme"} <= set(settings)
    # Settings come before anything that acts on the terminal, as VHS requires.
    first_action = next(
        i for i, c in enumerate(commands) if c.name not in ("Output", "Require", "Set")
    )
    assert all(c.name != "Set" for c in commands[first_action:])
    typed = [c.text for c in commands if c.name == "Type"]
    assert "qs-tui --scenario memory-leak --speed 30" in typed
    assert "y" in typed
    recorded_s = sum(c.seconds for c in commands if c.name == "Sleep")
    assert 45 <= recorded_s <= 75  # a demo of about a minute


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("Slep 2s", "unknown command 'Slep'"),
        ("Sleep two", "'two' is not a duration"),
        ("Type qs-tui", "Type takes one or more quoted strings"),
        ('Type "unterminated', 'unterminated " quote'),
        ("Set FontSize big", "Set FontSize takes a number"),
        ("Set Colour red", "unknown setting 'Colour'"),
        ("Output demo.png", "Output takes one path ending in .gif"),
        ("Enter twice", "Enter takes an optional repeat count"),
        ("Ctrl+Nope", "'Nope' is not a key"),
    ],
)
def test_a_bad_line_is_named_with_its_file_and_number(line: str, problem: str) -> None:
    with pytest.raises(TapeError) as caught:
        parse_tape(f"Output demo.gif\n\n{line}\n", source="demo.tape")
    assert str(caught.value).startswith("demo.tape:3: ")
    assert problem in str(caught.value)


def test_commands_carry_what_the_replay_needs() -> None:
    commands = parse_tape(
        'Type@80ms "qs-tui" " --speed 30"\nSleep 500ms\nSleep 2\nDown 3\nCtrl+C\n'
        'Set Theme "Dracula"\nSet TypingSpeed 40ms\nEscape\nHide\n'
    )
    typed, half, two, down, ctrl_c, theme, speed, escape, hide = commands
    assert typed.text == "qs-tui --speed 30"
    assert (half.seconds, two.seconds) == (0.5, 2.0)
    assert (down.key, down.repeat) == ("down", 3)
    assert ctrl_c.key == "ctrl+c"
    assert theme.args == ("Theme", "Dracula") and speed.args == ("TypingSpeed", "40ms")
    assert escape.key == "escape" and hide.name == "Hide"


# ---- replay --------------------------------------------------------------------------------


@dataclass
class Replay:
    """What happened while the tape played.

    Attributes:
        screens: the screen on top after each command (class names, consecutive repeats
            dropped).
        ticks: pipeline ticks the sleeps turned into.
        exit_code: the app's return code once it quit.
    """

    screens: list[str] = field(default_factory=list)
    ticks: int = 0
    exit_code: int | None = None

    def saw(self, screen: str) -> None:
        if not self.screens or self.screens[-1] != screen:
            self.screens.append(screen)


def launch_options(command_line: str) -> tuple[str, float]:
    """The scenario and speed of the typed `qs-tui …` command, read by the real parser."""
    words = shlex.split(command_line)
    assert words[0] == "qs-tui", f"the tape starts {words[0]!r}, not qs-tui"
    args = build_parser().parse_args(words[1:])
    assert args.command is None, "the demo opens the war room, not a subcommand"
    return args.top_scenario, args.top_speed


async def play(
    commands: list[TapeCommand],
    app: WarRoomApp,
    pilot: Pilot[Any],
    *,
    speed: float,
    hand_wall: HandWall,
    replay: Replay,
) -> None:
    """Press the tape's keys in the running app and turn its sleeps into ticks."""
    await app.wait_ready()
    interval_s = app.runtime.interval_s if app.runtime else 10.0
    owed_s = 0.0  # simulated seconds not yet ticked (sleeps shorter than one interval add up)
    for command in commands:
        if app.return_code is not None:
            break
        if command.name == "Type":
            for char in command.text:
                await pilot.press(char)
        elif command.key:
            for _ in range(command.repeat):
                await pilot.press(command.key)
        elif command.name == "Sleep":
            hand_wall.advance(command.seconds)
            owed_s += command.seconds * speed
            ticks = int(owed_s // interval_s)
            owed_s -= ticks * interval_s
            if ticks:
                await app.advance(ticks)
                replay.ticks += ticks
        await pilot.pause()
        if app.return_code is None:
            replay.saw(type(app.screen).__name__)


async def test_replaying_the_demo_ends_with_the_leak_resolved(
    war_room: Callable[..., WarRoomApp], hand_wall: HandWall
) -> None:
    commands = load_tape(TAPE)
    # The shell part: lines typed and entered before the war room starts.
    line = ""
    launch_at = -1
    for index, command in enumerate(commands):
        if command.name == "Type":
            line += command.text
        elif command.key == "enter":
            if line.startswith("qs-tui"):
                launch_at = index
                break
            line = ""  # `clear` and the like run in the shell
    assert launch_at >= 0, "the tape never starts qs-tui"
    scenario, speed = launch_options(line)
    assert (scenario, speed) == ("memory-leak", 30.0)

    app = war_room(scenario)
    replay = Replay()
    exited = asyncio.Event()

    def hook(message: Any) -> None:
        if isinstance(message, ExitApp):
            exited.set()

    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await play(
            commands[launch_at + 1 :], app, pilot, speed=speed, hand_wall=hand_wall, replay=replay
        )
        # The tape's last `q` may still be bubbling up to the app's binding.
        await within_guard(exited.wait())
        replay.exit_code = app.return_code
    incident = app.incidents["INC-0001"]
    assert incident.state is IncidentState.RESOLVED
    assert incident.approval is not None
    assert (incident.approval.decision, incident.approval.by) == (
        ApprovalDecision.APPROVED,
        "keyboard",
    )
    assert incident.verification is not None and incident.verification.recovered
    # The story the tape tells, screen by screen, and a clean exit at the end.
    names = [ApprovalModal, IncidentScreen, TimeTravelScreen, HelpScreen]
    shown = [s for s in replay.screens if s in {n.__name__ for n in names}]
    assert shown == [n.__name__ for n in names]
    assert replay.exit_code == 0
    assert replay.ticks >= 100  # the sleeps drove the simulation, not the wall clock
