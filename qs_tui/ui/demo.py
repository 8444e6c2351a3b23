"""`python -m qs_tui.ui.demo` (`make demo`): `docs/demo.gif`, the story `demo.tape` tells.

VHS records `demo.tape` by running it in a real terminal; this module makes the same GIF
without VHS. It replays the tape's keystrokes and sleeps against the war room headlessly, in
its deterministic mode (manual clock, the scenario's seed, a wall clock that moves only with
the tape's sleeps, no animations, no cursor blink), takes a frame from Textual's own SVG
export after every key and every pipeline tick, renders each distinct frame to PNG with
`rsvg-convert` and assembles the GIF with Pillow.

- Size: the GIF is the tape's `Width` x `Height` in pixels. The war room runs at 120x40 cells
  (the size it is judged at); its screenshot is scaled to fit inside the tape's `Padding` and
  centred on the background of the tape's `Theme`.
- Pace: every frame lasts as long as the tape time it stands for: `TypingSpeed` per typed
  key, and one sample interval of simulated time (`interval / speed` seconds) per tick
  during a `Sleep`. Consecutive identical frames are merged into one longer frame.
- The shell part (the typed `qs-tui …` line and the prompt after quitting) is drawn by Rich,
  the renderer Textual's screenshots use, so it looks like the rest.
- Bytes: every frame is mapped to one palette built from all the frames, so a frame stores
  only the rectangle that changed since the one before (`assemble_gif`): about 2 MB for
  the minute, where a palette per frame made every frame differ everywhere (5.4 MB).

`rsvg-convert` rather than cairosvg: it is already what `make screenshots` needs, it is one
system package (Debian/Ubuntu `librsvg2-bin`, Homebrew `librsvg`), whereas cairosvg needs the
Cairo C library installed anyway plus its own Python dependencies, and librsvg is the SVG
renderer GNOME ships, with the better text layout of the two.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import io
import math
import shlex
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qs_tui.ui.screenshots import printable_svg
from qs_tui.ui.tape import TapeCommand, TapeError, load_tape, parse_time

if TYPE_CHECKING:
    from PIL import Image
    from textual.pilot import Pilot

    from qs_tui.ui.app import WarRoomApp

#: The tape and the GIF (relative to the working directory: run it from the repository).
DEFAULT_TAPE = Path("demo.tape")
DEFAULT_OUT = Path("docs/demo.gif")
#: The war room's terminal size in cells (the size it is judged and snapshotted at).
SIZE = (120, 40)
#: History written before the live part: the detectors' 30 min baseline and 10 min window.
HISTORY = timedelta(minutes=40)
#: The approval countdown's wall clock starts here and moves only with the tape's sleeps.
WALL_START = 1000.0
#: Background colours of the VHS themes a tape may name (VHS's themes.json); others: black.
THEME_BACKGROUNDS: dict[str, str] = {
    "Dracula": "#282a36",
    "Catppuccin Mocha": "#1e1e2e",
    "Nord": "#2e3440",
    "OneDark": "#282c34",
    "Monokai Pro": "#2d2a2e",
    "TokyoNight": "#1a1b26",
}
#: The shell prompt drawn before the app starts and after it quits.
PROMPT = "$ "
#: GIF frame delays are counted in hundredths of a second.
GIF_TICK_MS = 10
#: Colours in the GIF's one palette: 255 of the 256 indices, the last left free for Pillow
#: to mark the pixels a frame leaves as they were (transparent).
PALETTE_COLOURS = 255

INSTALL_RSVG = (
    "rsvg-convert not found: install librsvg2-bin (Debian/Ubuntu), librsvg2-tools "
    "(Fedora) or librsvg (Homebrew)"
)
INSTALL_PILLOW = "Pillow not found: pip install 'qs-tui[demo]' (or pip install pillow)"


class DemoError(RuntimeError):
    """The demo could not be made; the message says what and where."""


@dataclass(frozen=True)
class TapeGeometry:
    """What the tape says about the picture.

    Attributes:
        width: GIF width in pixels (`Set Width`).
        height: GIF height in pixels (`Set Height`).
        padding: pixels between the edge and the terminal (`Set Padding`).
        background: the theme's background colour (`Set Theme`).
        typing_s: seconds per typed key (`Set TypingSpeed`).
    """

    width: int = 1200
    height: int = 600
    padding: int = 60
    background: str = "#000000"
    typing_s: float = 0.05


def tape_geometry(commands: Sequence[TapeCommand]) -> TapeGeometry:
    """The picture settings of a tape (VHS's defaults for those it leaves out)."""
    settings = {c.args[0]: c.args[1] for c in commands if c.name == "Set"}
    defaults = TapeGeometry()
    return TapeGeometry(
        width=int(float(settings.get("Width", defaults.width))),
        height=int(float(settings.get("Height", defaults.height))),
        padding=int(float(settings.get("Padding", defaults.padding))),
        background=THEME_BACKGROUNDS.get(settings.get("Theme", ""), defaults.background),
        typing_s=parse_time(settings["TypingSpeed"]) if "TypingSpeed" in settings else 0.05,
    )


@dataclass
class Frames:
    """SVG frames and how long each lasts, identical neighbours merged.

    Attributes:
        svgs: the distinct-from-their-predecessor frames, in order.
        seconds: tape seconds each frame stands for.
    """

    svgs: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def add(self, svg: str, seconds: float) -> None:
        """Append a frame, or lengthen the last one when `svg` is the same picture."""
        if self.svgs and self.svgs[-1] == svg:
            self.seconds[-1] += seconds
        else:
            self.svgs.append(svg)
            self.seconds.append(seconds)


@contextlib.contextmanager
def steady_textual() -> Iterator[None]:
    """No blinking cursor while the demo plays, so frames repeat exactly.

    An Input reads `cursor_blink` when it mounts; a blink follows the wall clock. The
    class setting is put back afterwards. (Animations are off per app: `build_app`.)
    """
    from textual.widgets import Input

    saved = Input.cursor_blink
    Input.cursor_blink = False  # type: ignore[assignment]
    try:
        yield
    finally:
        Input.cursor_blink = saved  # type: ignore[assignment]


class _Wall:
    """The approval countdown's wall clock: it moves only when the tape sleeps."""

    def __init__(self) -> None:
        self.now = WALL_START

    def __call__(self) -> float:
        return self.now


def shell_svg(lines: Sequence[str], *, size: tuple[int, int], title: str) -> str:
    """A terminal showing `lines` and a block cursor after the last, exported like Textual's.

    Rich renders it with the same console settings as `App.export_screenshot`, so the shell
    frames have the size and chrome of the app's.
    """
    from rich.console import Console
    from rich.text import Text

    width, height = size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    shown = list(lines[-height:])
    for index, line in enumerate(shown):
        text = Text(line)
        if index == len(shown) - 1:
            text.append(" ", style="reverse")  # the cursor
        console.print(text, end="\n", overflow="crop", no_wrap=True)
    for _ in range(height - len(shown)):
        console.print("")
    return console.export_svg(title=title)


def _launch(commands: Sequence[TapeCommand]) -> tuple[int, str]:
    """The index of the `Enter` that starts `qs-tui`, and the line typed before it.

    Raises:
        DemoError: when the tape never starts qs-tui.
    """
    line = ""
    for index, command in enumerate(commands):
        if command.name == "Type":
            line += command.text
        elif command.key == "enter":
            if line.startswith("qs-tui"):
                return index, line
            line = ""  # `clear` and the like run in the shell
    raise DemoError('the tape never starts qs-tui (no `Type "qs-tui …"` then `Enter`)')


def launch_options(command_line: str) -> tuple[str, float]:
    """The scenario and speed of the typed `qs-tui …` line, read by the real parser.

    Raises:
        DemoError: when the line is not a `qs-tui` war-room command.
    """
    from qs_tui.cli import build_parser

    words = shlex.split(command_line)
    try:
        args = build_parser().parse_args(words[1:])
    except SystemExit:
        raise DemoError(f"the tape's command line {command_line!r} does not parse") from None
    if args.command is not None:
        raise DemoError(f"the tape runs `qs-tui {args.command}`, not the war room")
    return args.top_scenario or "memory-leak", float(args.top_speed or 10.0)


def build_app(scenario: str, wall: _Wall) -> WarRoomApp:
    """The war room on `scenario` in deterministic mode, driven by the replay."""
    from qs_tui.agents.base import PipelineSettings
    from qs_tui.ui.app import make_app

    app = make_app(
        scenario=scenario,
        live=False,
        history=HISTORY,
        pipeline_settings=PipelineSettings(),
        approval_monotonic=wall,
    )
    app.animation_level = "none"  # animations run on the wall clock: keep them out
    return app


async def record(
    commands: Sequence[TapeCommand],
    *,
    size: tuple[int, int] = SIZE,
    limit_s: float | None = None,
) -> Frames:
    """Replay `commands` and return the frames a recording of them shows.

    Args:
        commands: the parsed tape.
        size: the terminal size in cells.
        limit_s: stop after this many seconds of tape time (a prefix, for tests).

    Raises:
        DemoError: when the tape does not start qs-tui or the war room fails to start.
    """
    geometry = tape_geometry(commands)
    launch_at, command_line = _launch(commands)
    scenario, speed = launch_options(command_line)
    frames = Frames()
    title = "QuantumState"
    shell: list[str] = []
    hidden = False
    elapsed = 0.0  # tape seconds so far

    def budget(seconds: float) -> float:
        """How much of `seconds` fits before the limit (0 once it is reached)."""
        if limit_s is None:
            return seconds
        return max(0.0, min(seconds, limit_s - elapsed))

    # The shell part: typed lines, echoed at a prompt (frames only while shown).
    line = ""
    for command in commands[: launch_at + 1]:
        if command.name in ("Hide", "Show"):
            hidden = command.name == "Hide"
        elif command.name == "Type":
            for char in command.text:
                line += char
                seconds = budget(geometry.typing_s)
                if not hidden and seconds:
                    frames.add(shell_svg([*shell, PROMPT + line], size=size, title=title), seconds)
                    elapsed += seconds
        elif command.name == "Sleep" and not hidden:
            seconds = budget(command.seconds)
            if seconds:
                frames.add(shell_svg([*shell, PROMPT + line], size=size, title=title), seconds)
                elapsed += seconds
        elif command.key == "enter":
            # `clear` empties the screen; anything else stays above the next prompt.
            shell = [] if line.strip() == "clear" else [*shell, PROMPT + line]
            line = ""
    wall = _Wall()
    app = build_app(scenario, wall)
    async with app.run_test(size=size) as pilot:
        try:
            await app.wait_ready()
        except RuntimeError as error:
            raise DemoError(str(error)) from None
        interval_s = app.runtime.interval_s if app.runtime else 10.0
        tick_s = interval_s / speed  # tape seconds per sample interval
        owed_s = 0.0  # tape seconds slept but not yet ticked

        async def capture(seconds: float) -> None:
            nonlocal elapsed
            if hidden or not seconds:
                return
            await _steady(app, pilot)
            if app.return_code is None and app.is_running:
                frames.add(app.export_screenshot(), seconds)
            else:  # the app quit: the terminal is back at the shell
                frames.add(shell_svg([*shell, PROMPT], size=size, title=title), seconds)
            elapsed += seconds

        for command in commands[launch_at + 1 :]:
            if limit_s is not None and elapsed >= limit_s:
                break
            if command.name in ("Hide", "Show"):
                hidden = command.name == "Hide"
            elif command.name == "Type" or command.key:
                keys = list(command.text) if command.name == "Type" else [command.key]
                for key in keys * (1 if command.name == "Type" else command.repeat):
                    if app.return_code is None and app.is_running:
                        await pilot.press(key)
                    await capture(budget(geometry.typing_s))
            elif command.name == "Sleep":
                left = command.seconds
                while left > 1e-9 and (limit_s is None or elapsed < limit_s):
                    step = min(left, tick_s - owed_s)
                    left -= step
                    owed_s += step
                    wall.now += step
                    if owed_s >= tick_s - 1e-9:
                        owed_s = 0.0  # the tick is due even once the app has quit
                        if app.return_code is None and app.is_running:
                            await app.advance(1)
                    await capture(budget(step))
    return frames


async def _steady(app: WarRoomApp, pilot: Pilot[Any]) -> None:
    """Let every message settle before a frame is taken.

    Toasts are cleared: they vanish on Textual's wall-clock timer, which would make the
    frames depend on the machine's speed. For the same reason the approval countdown is
    redrawn now: the modal redraws it on a one-second wall-clock timer, so how often that
    timer had fired decided which second a frame showed (1:59 on one run, 1:58 on the
    next); redrawn here, it shows the demo's wall clock as it is at this frame.
    """
    from qs_tui.ui.screens.approval import ApprovalModal

    if app.return_code is not None:
        return
    with contextlib.suppress(RuntimeError):  # the app may be quitting (the tape's `q`)
        await app.flush()
    await app.workers.wait_for_complete()
    app.clear_notifications()
    for screen in app.screen_stack:
        if isinstance(screen, ApprovalModal) and screen.is_mounted:
            screen.refresh_countdown()
    await pilot.pause()


def render_png(svg: str, *, width: int, height: int, converter: str) -> bytes:
    """One SVG frame as PNG bytes, scaled to fit `width` x `height` (aspect kept).

    Raises:
        DemoError: when `rsvg-convert` fails.
    """
    done = subprocess.run(
        [converter, "--width", str(width), "--height", str(height), "--keep-aspect-ratio"],
        input=printable_svg(svg).encode("utf-8"),
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        raise DemoError(f"rsvg-convert failed on a demo frame: {message}")
    return done.stdout


def _canvas(png: bytes, geometry: TapeGeometry) -> Image.Image:
    """A rendered terminal centred on the tape's background, as an RGB picture."""
    from PIL import Image

    terminal = Image.open(io.BytesIO(png)).convert("RGBA")
    canvas = Image.new("RGBA", (geometry.width, geometry.height), geometry.background)
    left = (geometry.width - terminal.width) // 2
    top = (geometry.height - terminal.height) // 2
    canvas.alpha_composite(terminal, (left, top))
    return canvas.convert("RGB")


def shared_palette(counts: Mapping[tuple[int, ...], int]) -> list[int]:
    """One palette for every frame: at most `PALETTE_COLOURS` colours, as flat RGB values.

    `counts` is how many pixels of each colour the frames have. It comes from the frames,
    not the theme: the sparklines alone are drawn in hundreds of gradient colours (the
    demo's SVGs name over 400), and anti-aliased text makes thousands of shades (over 8,000
    in the demo's pictures), so they are reduced by median cut. Each colour weighs the
    square root of its pixel count: by plain count the large flat backgrounds take the
    palette and the shades at letters' edges drift (mean error 1.38 per channel on the
    demo's frames, up to 71); square roots keep the edges closer (1.25, up to 56) and text
    reads as it does in the SVG.

    The colours are sorted before they are weighed, so the palette depends on the set of
    frames only, not on their order.
    """
    from PIL import Image

    colours = sorted(counts)
    if len(colours) <= PALETTE_COLOURS:
        return [channel for colour in colours for channel in colour]
    sample = b"".join(bytes(colour) * max(1, math.isqrt(counts[colour])) for colour in colours)
    weighed = Image.frombytes("RGB", (len(sample) // 3, 1), sample)
    reduced = weighed.quantize(
        colors=PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    flat = reduced.getpalette() or []
    # Distinct entries only: Pillow's GIF writer matches frames to the palette by colour.
    entries = dict.fromkeys(tuple(flat[i : i + 3]) for i in range(0, len(flat), 3))
    return [channel for colour in list(entries)[:PALETTE_COLOURS] for channel in colour]


def assemble_gif(
    frames: Frames,
    geometry: TapeGeometry,
    *,
    converter: str,
    palette: Sequence[int] | None = None,
) -> bytes:
    """The GIF of `frames` at the tape's size, every frame on one shared palette.

    Small because a terminal changes little from one frame to the next, and the GIF is
    written so that only the change is stored:

    - one palette (`shared_palette`, or `palette` when given) for every frame, each frame
      mapped to it without dithering: an unchanged pixel keeps its index from frame to
      frame, and no frame carries a colour table of its own;
    - Pillow then stores, for each frame, only the rectangle that differs from the one
      before, with the unchanged pixels inside it as the transparent index (its
      `optimize`; that is why the palette leaves one of the 256 indices free), and
      `disposal=1` ("do not dispose") draws each rectangle over the previous picture;
    - frames that come out identical once mapped to the palette are one frame whose delay
      is the sum of theirs.

    Frame delays are whole hundredths of a second (the GIF unit), rounded on the running
    total so the GIF lasts as long as the tape.

    Args:
        frames: the recorded SVG frames.
        geometry: the tape's picture settings.
        converter: the `rsvg-convert` executable.
        palette: flat RGB values of the palette to use instead of one built from the
            frames (the first `PALETTE_COLOURS` colours are used): to render a part of the
            tape again exactly as the whole GIF shows it.

    Raises:
        DemoError: when `rsvg-convert` fails or the tape shows nothing.
    """
    from PIL import Image

    inner_w = geometry.width - 2 * geometry.padding
    inner_h = geometry.height - 2 * geometry.padding
    # Rendered once per distinct SVG; kept as PNG (a few dozen kB each) while the palette is
    # built, rather than as pictures (3.6 MB each).
    pngs: dict[str, bytes] = {}
    keys: list[str] = []
    for svg in frames.svgs:
        key = hashlib.sha256(svg.encode("utf-8")).hexdigest()
        if key not in pngs:
            pngs[key] = render_png(svg, width=inner_w, height=inner_h, converter=converter)
        keys.append(key)
    if palette is None:
        counts: Counter[tuple[int, ...]] = Counter()
        for png in pngs.values():
            for count, colour in _canvas(png, geometry).getcolors(1 << 24) or ():
                assert isinstance(colour, tuple)  # an RGB picture's colours are triples
                counts[colour] += count
        palette = shared_palette(counts)
    reference = Image.new("P", (1, 1))
    reference.putpalette(list(palette[: 3 * PALETTE_COLOURS]))
    mapped: dict[str, Image.Image] = {
        key: _canvas(png, geometry).quantize(palette=reference, dither=Image.Dither.NONE)
        for key, png in pngs.items()
    }
    images: list[Image.Image] = []
    durations: list[int] = []
    total_s = 0.0
    shown_ms = 0
    for key, seconds in zip(keys, frames.seconds, strict=True):
        total_s += seconds
        end_ms = round(total_s * 1000 / GIF_TICK_MS) * GIF_TICK_MS
        if end_ms - shown_ms < GIF_TICK_MS:  # shorter than a GIF tick: fold into the next
            continue
        image = mapped[key]
        if images and image.tobytes() == images[-1].tobytes():
            durations[-1] += end_ms - shown_ms  # looks the same: the last frame lasts longer
        else:
            images.append(image)
            durations.append(end_ms - shown_ms)
        shown_ms = end_ms
    if not images:
        raise DemoError("the tape shows nothing (no frames while shown)")
    out = io.BytesIO()
    # Pillow's GIF writer (https://pillow.readthedocs.io/en/stable/handbook/image-file-formats.html#gif):
    # `palette` makes it the global colour table (no local ones); `optimize` crops each
    # frame to what changed and, since Pillow 10.2, fills its unchanged pixels with a free
    # palette index marked transparent; `disposal=1` leaves each frame in place under the
    # next.
    images[0].save(
        out,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=durations,
        loop=0,
        optimize=True,
        disposal=1,
        palette=bytes(images[0].getpalette() or ()),
    )
    return out.getvalue()


def make_demo(
    tape: Path, *, limit_s: float | None = None, palette: Sequence[int] | None = None
) -> bytes:
    """The demo GIF of `tape` (or of its first `limit_s` seconds).

    `palette` (flat RGB values) replaces the one built from the frames: a prefix rendered
    with the whole GIF's palette shows the same pictures as the whole GIF.

    Raises:
        DemoError: for a missing tool, a bad tape or a failed replay; the message says which.
    """
    converter = shutil.which("rsvg-convert")
    if converter is None:
        raise DemoError(INSTALL_RSVG)
    try:
        import PIL  # noqa: F401
    except ImportError:
        raise DemoError(INSTALL_PILLOW) from None
    try:
        commands = load_tape(tape)
    except OSError as error:
        raise DemoError(f"cannot read {tape}: {error.strerror}") from None
    except TapeError as error:
        raise DemoError(str(error)) from None
    with steady_textual():
        frames = asyncio.run(record(commands, limit_s=limit_s))
    return assemble_gif(frames, tape_geometry(commands), converter=converter, palette=palette)


def main(argv: Sequence[str] | None = None) -> int:
    """Write `docs/demo.gif` from `demo.tape`.

    Returns:
        0 on success, 1 when a tool is missing or the replay failed (one line on stderr).
    """
    parser = argparse.ArgumentParser(
        prog="python -m qs_tui.ui.demo",
        description="The README's demo GIF, replayed from demo.tape without VHS.",
    )
    parser.add_argument("--tape", type=Path, default=DEFAULT_TAPE, help="the VHS tape")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the GIF to write")
    args = parser.parse_args(argv)
    try:
        gif = make_demo(args.tape)
    except DemoError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(gif)
    print(f"{out}: {len(gif) / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
