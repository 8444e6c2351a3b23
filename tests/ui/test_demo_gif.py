"""docs/demo.gif: made by `make demo` from demo.tape, at the tape's size, the same every time.

The GIF is the tape's `Width` x `Height` in pixels (read from the tape here, not repeated).
Determinism is checked on a short prefix of the tape rendered again, to keep the test cheap:
the replay, the SVG frames, their PNGs and the frames mapped to the GIF's palette must all
come out the same. The GIF stays small because every frame shares one palette and stores
only what changed since the frame before; that is checked on the committed GIF itself.
"""

from __future__ import annotations

import asyncio
import io
import re
import shutil
from pathlib import Path

import pytest

from qs_tui.ui.demo import (
    PALETTE_COLOURS,
    DemoError,
    Frames,
    TapeGeometry,
    assemble_gif,
    main,
    make_demo,
    record,
    shared_palette,
    shell_svg,
    steady_textual,
    tape_geometry,
)
from qs_tui.ui.tape import load_tape

Image = pytest.importorskip("PIL.Image", reason="Pillow (the demo extra) is not installed")
GifImagePlugin = pytest.importorskip("PIL.GifImagePlugin")

ROOT = Path(__file__).resolve().parents[2]
TAPE = ROOT / "demo.tape"
GIF = ROOT / "docs" / "demo.gif"

needs_rsvg = pytest.mark.skipif(
    shutil.which("rsvg-convert") is None, reason="rsvg-convert (librsvg2-bin) is not installed"
)


def _frames(data: bytes | Path) -> list[tuple[bytes, int]]:
    """Every frame of a GIF as RGB bytes with its duration in ms."""
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    frames = []
    with Image.open(source) as gif:
        for index in range(gif.n_frames):
            gif.seek(index)
            frames.append((gif.convert("RGB").tobytes(), int(gif.info["duration"])))
    return frames


def test_the_committed_gif_has_the_tapes_size_and_tells_the_whole_story() -> None:
    geometry = tape_geometry(load_tape(TAPE))
    assert (geometry.width, geometry.height) == (1400, 860)  # the tape's Set Width/Height
    assert GIF.is_file(), "docs/demo.gif is missing: run `make demo`"
    with Image.open(GIF) as gif:
        assert gif.format == "GIF"
        assert gif.size == (geometry.width, geometry.height)
        assert gif.n_frames > 36
        assert gif.info.get("loop") == 0  # plays on a loop in the README
    # A few MB at most; one shared palette and changed rectangles only keep it well under
    # 3 MB (it was 5.4 MB with a palette per frame).
    assert GIF.stat().st_size < 3_000_000
    # The GIF lasts as long as the tape shows (its sleeps and typing), not the time it took
    # to make: the sum of frame delays is tape time.
    commands = load_tape(TAPE)
    slept_s = sum(c.seconds for c in commands if c.name == "Sleep")
    shown_s = sum(duration for _, duration in _frames(GIF)) / 1000
    assert slept_s <= shown_s <= slept_s + 10


def test_the_committed_gif_shares_one_palette_and_stores_only_what_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Pillow's documented loading option: a frame stays "P" unless it brings a colour table
    # of its own (then it is read as RGB).
    monkeypatch.setattr(
        GifImagePlugin,
        "LOADING_STRATEGY",
        GifImagePlugin.LoadingStrategy.RGB_AFTER_DIFFERENT_PALETTE_ONLY,
    )
    with Image.open(GIF) as gif:
        full = gif.width * gif.height
        assert len(gif.getpalette() or ()) // 3 <= PALETTE_COLOURS + 1  # one index: "unchanged"
        areas = []
        for index in range(gif.n_frames):
            gif.seek(index)
            assert gif.mode == "P", f"frame {index} has a colour table of its own"
            assert gif.dispose_extent is not None
            left, top, right, bottom = gif.dispose_extent
            areas.append((right - left) * (bottom - top))
    assert areas[0] == full  # the first frame is the whole picture
    # Typing `qs-tui …` changes one character cell a frame: that cell is all that is stored.
    assert areas[1] < full / 1000
    # In the war room the sparklines move every tick; most frames store far less than the
    # whole picture (the rest are screen changes: the modal, the summary, time travel).
    assert sorted(areas)[len(areas) // 2] < full / 4


def test_the_shared_palette_keeps_the_flat_colours_and_ignores_frame_order() -> None:
    background, text, accent = (40, 42, 54), (197, 200, 198), (254, 166, 43)
    counts: dict[tuple[int, ...], int] = {background: 900_000, text: 40_000, accent: 9_000}
    # A sparkline-like gradient and the shades of anti-aliased text: more than fit.
    for step in range(600):
        counts[(step % 256, 100 + step // 8, 200)] = 1 + step % 7
    palette = shared_palette(counts)
    colours = [tuple(palette[i : i + 3]) for i in range(0, len(palette), 3)]
    assert len(colours) <= PALETTE_COLOURS
    assert len(set(colours)) == len(colours)  # the GIF writer matches frames by colour
    for flat in (background, text, accent):
        assert flat in colours  # drawn exactly, not approximated
    assert shared_palette(dict(reversed(list(counts.items())))) == palette
    # Few enough colours are kept as they are.
    assert shared_palette({text: 5, background: 10}) == [*background, *text]


@needs_rsvg
def test_frames_that_look_the_same_are_one_longer_frame_and_a_keystroke_is_a_small_one() -> None:
    geometry = TapeGeometry(width=360, height=140, padding=10, background="#282a36")
    typed = shell_svg(["$ l"], size=(30, 4), title="t")
    frames = Frames()
    frames.add(typed, 0.5)
    # A different SVG that draws the same picture: only the pixels can tell.
    frames.add(typed.replace("</svg>", "<!-- same picture -->\n</svg>"), 0.25)
    frames.add(shell_svg(["$ ls"], size=(30, 4), title="t"), 1.0)
    converter = shutil.which("rsvg-convert")
    assert converter is not None
    gif_bytes = assemble_gif(frames, geometry, converter=converter)
    shown = _frames(gif_bytes)
    assert [duration for _, duration in shown] == [750, 1000]
    assert shown[0][0] != shown[1][0]
    with Image.open(io.BytesIO(gif_bytes)) as gif:
        gif.seek(1)
        assert gif.dispose_extent is not None
        left, top, right, bottom = gif.dispose_extent
        # The typed `s` and the cursor after it, not the whole terminal.
        assert (right - left) * (bottom - top) < gif.width * gif.height / 20


def test_identical_frames_are_merged_into_a_longer_one() -> None:
    frames = Frames()
    frames.add("<svg>a</svg>", 0.5)
    frames.add("<svg>a</svg>", 0.25)
    frames.add("<svg>b</svg>", 1.0)
    frames.add("<svg>a</svg>", 0.5)
    assert frames.svgs == ["<svg>a</svg>", "<svg>b</svg>", "<svg>a</svg>"]
    assert frames.seconds == [0.75, 1.0, 0.5]


@needs_rsvg
def test_rendering_the_tape_again_gives_the_committed_gifs_frames() -> None:
    # The shell part (typing `qs-tui …`, 2.1 s of tape), the war room's first second and
    # the approval modal's first second (the countdown's pace has its own test below),
    # rendered again in this
    # process: `make demo` made the committed GIF in another one, so equal frames mean the
    # same input gives the same frames. The palette is the committed
    # GIF's: the whole tape's frames make it, and this prefix has only some of them.
    with Image.open(GIF) as committed:
        palette = committed.getpalette()
    assert palette is not None
    rendered_bytes = make_demo(TAPE, limit_s=4.0, palette=palette)
    frames = _frames(rendered_bytes)
    assert len(frames) > 10  # one per typed key at least: the prefix really was replayed
    geometry = tape_geometry(load_tape(TAPE))
    with Image.open(io.BytesIO(rendered_bytes)) as rendered:
        assert rendered.size == (geometry.width, geometry.height)
    # The last frame of a cut render lasts only until the cut: compare the ones before it.
    assert _frames(GIF)[: len(frames) - 1] == frames[:-1]


def test_the_approval_countdown_follows_the_tapes_clock_not_the_machines(tmp_path: Path) -> None:
    # The modal redraws its countdown on a one-second wall-clock timer; a frame must show
    # the demo's clock (tape time) whatever that timer did, or two runs differ. At speed 10
    # one tape second is one tick, which replays in much less than a second: a countdown
    # left to that timer would lag behind the tape here.
    tape = tmp_path / "countdown.tape"
    tape.write_text(
        'Output countdown.gif\nType "qs-tui --scenario memory-leak --speed 10"\nEnter\nSleep 12s\n',
        encoding="utf-8",
    )
    with steady_textual():
        frames = asyncio.run(record(load_tape(tape)))
    shown: list[tuple[float, int]] = []  # (tape second the frame starts, seconds left)
    start = 0.0
    for svg, seconds in zip(frames.svgs, frames.seconds, strict=True):
        label = re.search(r"(\d+):(\d\d)&#160;left", svg)
        if label is not None:
            shown.append((start, int(label[1]) * 60 + int(label[2])))
        start += seconds
    assert len(shown) >= 5  # the modal is up after a few ticks: one label per tape second
    lefts = [left for _, left in shown]
    assert lefts == sorted(lefts, reverse=True) and len(set(lefts)) == len(lefts)
    # Seconds left plus tape time is the deadline: the same for every frame, to the second.
    deadlines = [at + left for at, left in shown]
    assert max(deadlines) - min(deadlines) < 1.0


@needs_rsvg
def test_a_tape_that_never_starts_the_app_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tape = tmp_path / "other.tape"
    tape.write_text('Output other.gif\nType "ls"\nEnter\nSleep 1s\n', encoding="utf-8")
    with pytest.raises(DemoError, match="never starts qs-tui"):
        make_demo(tape)
    tape.write_text("Output other.gif\nSlep 1s\n", encoding="utf-8")
    assert main(["--tape", str(tape), "--out", str(tmp_path / "x.gif")]) == 1
    err = capsys.readouterr().err
    assert err == "error: other.tape:2: unknown command 'Slep'\n"
    assert not (tmp_path / "x.gif").exists()
