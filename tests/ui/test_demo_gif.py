"""docs/demo.gif: made by `make demo` from demo.tape, at the tape's size, the same every time.

The GIF is the tape's `Width` x `Height` in pixels (read from the tape here, not repeated).
Determinism is checked on a short prefix of the tape rendered twice, to keep the test cheap:
the replay, the SVG frames, their PNGs and the GIF's bytes must all come out the same.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from qs_tui.ui.demo import DemoError, Frames, main, make_demo, tape_geometry
from qs_tui.ui.tape import load_tape

Image = pytest.importorskip("PIL.Image", reason="Pillow (the demo extra) is not installed")

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
    assert GIF.stat().st_size < 6_000_000  # a few MB at most
    # The GIF lasts as long as the tape shows (its sleeps and typing), not the time it took
    # to make: the sum of frame delays is tape time.
    commands = load_tape(TAPE)
    slept_s = sum(c.seconds for c in commands if c.name == "Sleep")
    shown_s = sum(duration for _, duration in _frames(GIF)) / 1000
    assert slept_s <= shown_s <= slept_s + 10


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
    # The shell part (typing `qs-tui …`, 2.1 s of tape) and the war room's first second,
    # rendered again in this process: `make demo` made the committed GIF in another one, so
    # equal frames mean the same input gives the same frames.
    rendered_bytes = make_demo(TAPE, limit_s=3.0)
    frames = _frames(rendered_bytes)
    assert len(frames) > 10  # one per typed key at least: the prefix really was replayed
    geometry = tape_geometry(load_tape(TAPE))
    with Image.open(io.BytesIO(rendered_bytes)) as rendered:
        assert rendered.size == (geometry.width, geometry.height)
    # The last frame of a cut render lasts only until the cut: compare the ones before it.
    assert _frames(GIF)[: len(frames) - 1] == frames[:-1]


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
