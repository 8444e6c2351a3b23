"""`python -m qs_tui.ui.screenshots`: the README's screenshots, taken from the app itself.

The war room plays the memory-leak scenario in its deterministic mode (manual clock, the
scenario's seed, a frozen wall clock for the approval countdown) at 120x40, and each
moment worth showing is exported as SVG by Textual, then converted to PNG with
`rsvg-convert` (Debian/Ubuntu: `apt-get install librsvg2-bin`; macOS: `brew install librsvg`).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textual.pilot import Pilot

    from qs_tui.ui.app import WarRoomApp

#: Where the screenshots go (relative to the working directory: run it from the repository).
DEFAULT_OUT = Path("docs/screenshots")
#: The terminal size of every screenshot.
SIZE = (120, 40)
#: Simulated seconds of history before the live part (the detectors' baseline and window).
HISTORY_MINUTES = 40
#: The frozen wall clock of the approval countdown; the deadline is `FROZEN_WALL + timeout`.
FROZEN_WALL = 1000.0
#: Ticks to wait for the approval modal, then for the Guardian to verify the recovery.
MAX_TICKS = 20

#: Screenshot name -> what it shows (the README links these).
SHOTS: dict[str, str] = {
    "war-room": "the war room after the leak was fixed",
    "approval": "the approval modal",
    "incident": "an incident's detail",
    "time-travel": "time travel to the leak's onset",
}


def _frozen_wall() -> float:
    return FROZEN_WALL


def build_app() -> WarRoomApp:
    """The war room on the memory-leak scenario in deterministic mode."""
    from datetime import timedelta

    from qs_tui.ui.app import make_app

    app = make_app(
        scenario="memory-leak",
        live=False,
        history=timedelta(minutes=HISTORY_MINUTES),
        approval_monotonic=_frozen_wall,
    )
    app.animation_level = "none"  # every frame the same on every run
    return app


async def _steady(app: WarRoomApp, pilot: Pilot[Any]) -> None:
    await app.flush()
    await app.workers.wait_for_complete()
    app.clear_notifications()  # toasts vanish on a wall-clock timer: keep them out
    await pilot.pause()


async def _tick_until(app: WarRoomApp, pilot: Pilot[Any], done: Any) -> None:
    for _ in range(MAX_TICKS):
        if done():
            return
        await app.advance(1)
        await pilot.pause()
    if not done():
        raise RuntimeError("the memory-leak scenario did not reach the expected moment")


async def take(app: WarRoomApp) -> dict[str, str]:
    """Play the scenario and export the SVG of each shot in `SHOTS`."""
    from qs_tui.models import IncidentState
    from qs_tui.ui.screens import ApprovalModal, IncidentScreen, TimeTravelScreen

    shots: dict[str, str] = {}
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_ready()
        await _tick_until(app, pilot, lambda: isinstance(app.screen, ApprovalModal))
        await _steady(app, pilot)
        shots["approval"] = app.export_screenshot()
        await pilot.press("y")

        def resolved() -> bool:
            incident = app.incidents.get("INC-0001")
            return incident is not None and incident.state is IncidentState.RESOLVED

        await _tick_until(app, pilot, resolved)
        await _steady(app, pilot)
        shots["war-room"] = app.export_screenshot()
        await app.push_screen(IncidentScreen(app.incidents["INC-0001"]))
        await _steady(app, pilot)
        shots["incident"] = app.export_screenshot()
        app.pop_screen()
        await pilot.press("t")
        await _steady(app, pilot)
        if isinstance(app.screen, TimeTravelScreen):
            await pilot.press("left_square_bracket")
            await _steady(app, pilot)
            shots["time-travel"] = app.export_screenshot()
    return shots


def printable_svg(svg: str) -> str:
    """`svg` with its non-breaking spaces made plain and preserved.

    Textual writes spaces as `&#160;`; librsvg drops them at the start of a text run, which
    glues words to the styled word before them. Plain spaces with `xml:space="preserve"`
    render the same in browsers and in librsvg.
    """
    svg = re.sub(r"<svg ", '<svg xml:space="preserve" ', svg, count=1)
    return svg.replace("&#160;", " ")


def to_png(svg_path: Path, png_path: Path, *, converter: str) -> None:
    """Convert one SVG to PNG with `rsvg-convert`.

    Raises:
        RuntimeError: naming the file when the conversion fails.
    """
    with tempfile.TemporaryDirectory() as scratch:
        printable = Path(scratch) / svg_path.name
        printable.write_text(printable_svg(svg_path.read_text(encoding="utf-8")), encoding="utf-8")
        done = subprocess.run(
            [converter, str(printable), "-o", str(png_path)],
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"rsvg-convert failed on {svg_path}: {done.stderr.strip()}")


def main(argv: Sequence[str] | None = None) -> int:
    """Write `docs/screenshots/*.svg` and, when `rsvg-convert` is installed, `*.png`.

    Returns:
        0 on success, 1 when the screenshots or their conversion failed.
    """
    parser = argparse.ArgumentParser(
        prog="python -m qs_tui.ui.screenshots",
        description="Screenshots of the war room for the README (SVG, and PNG beside them).",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("--no-png", action="store_true", help="write only the SVG files")
    args = parser.parse_args(argv)
    out: Path = args.out
    converter = shutil.which("rsvg-convert")
    if not args.no_png and converter is None:
        print(
            "error: rsvg-convert not found; install librsvg2-bin (Debian/Ubuntu) or "
            "librsvg (Homebrew), or pass --no-png",
            file=sys.stderr,
        )
        return 1
    try:
        shots = asyncio.run(take(build_app()))
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    for name, svg in shots.items():
        svg_path = out / f"{name}.svg"
        svg_path.write_text(svg, encoding="utf-8")
        written = [svg_path]
        if converter is not None and not args.no_png:
            png_path = svg_path.with_suffix(".png")
            try:
                to_png(svg_path, png_path, converter=converter)
            except RuntimeError as error:
                print(f"error: {error}", file=sys.stderr)
                return 1
            written.append(png_path)
        print(f"{SHOTS[name]}: {', '.join(str(path) for path in written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
