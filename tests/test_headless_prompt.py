"""`qs-tui run --headless` asking a person, as a real process on a pipe.

Simulated time waits while the question is open, so an answer given whenever the person is
ready (within the request's deadline) is the one acted on, and nothing prints over the
question. The tests answer only after the question has appeared, never on a timer.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.test_headless import LEAK

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "Approve restart of payment-service in us-east-1?"
#: A guard against a hung child only: the test never depends on how fast anything runs.
HANG_GUARD_S = 600


class Headless:
    """`python -m qs_tui run --headless` with its stdin on a pipe and stdout+stderr read
    as one stream on a thread (so a full pipe never blocks the child)."""

    def __init__(self, *args: str, cwd: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("ELASTIC_URL", None)
        env.pop("ELASTIC_CLOUD_ID", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "qs_tui", "run", "--headless", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
        )
        self._text = ""
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        while chunk := os.read(self.process.stdout.fileno(), 4096):
            with self._changed:
                self._text += chunk.decode()
                self._changed.notify_all()
        with self._changed:
            self._text += "\0"  # end of output
            self._changed.notify_all()

    def read_until(self, marker: str, *, count: int = 1) -> str:
        """Everything printed so far, once `marker` has appeared `count` times."""
        with self._changed:
            found = self._changed.wait_for(
                lambda: self._text.count(marker) >= count or self._text.endswith("\0"),
                timeout=HANG_GUARD_S,
            )
            assert found, f"the child printed nothing more after: {self._text[-400:]!r}"
            assert self._text.count(marker) >= count, f"no {marker!r} in: {self._text!r}"
            return self._text

    def answer(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode())
        self.process.stdin.flush()

    def finish(self) -> tuple[int, str]:
        assert self.process.stdin is not None
        self.process.stdin.close()
        status = self.process.wait(timeout=HANG_GUARD_S)
        return status, self.read_until("\0")


@pytest.fixture
def leak_file(tmp_path: Path) -> Path:
    path = tmp_path / "quick-leak.toml"
    path.write_text(LEAK, encoding="utf-8")
    return path


@pytest.fixture
def headless(leak_file: Path, tmp_path: Path) -> Iterator[Headless]:
    child = Headless("--scenario", str(leak_file), cwd=tmp_path)
    yield child
    if child.process.poll() is None:
        child.process.kill()
        child.process.wait()


def instants(text: str, pattern: str) -> list[str]:
    """The `HH:MM:SS` of every transcript line matching `pattern`."""
    return re.findall(rf"^(\d\d:\d\d:\d\d) {pattern}", text, flags=re.MULTILINE)


def test_the_default_prompt_waits_for_the_person_and_honours_the_answer(
    headless: Headless,
) -> None:
    before = headless.read_until(f"{QUESTION} [y/N/d] ")
    # The question is the last thing printed: no transcript line came after it.
    assert before.endswith(f"{QUESTION} [y/N/d] ")
    assert "it is undone automatically (approving covers both)" in before

    headless.answer("y\n")
    status, text = headless.finish()

    assert status == 0, text
    (asked,) = instants(text, r"Diplomat +\[INC-0001\] Approve restart")
    (approved,) = instants(text, r"Diplomat +\[INC-0001\] restart .* approved by prompt")
    # Simulated time stood still while the person read: the answer is acted on at the very
    # next tick (one 10 s sample later), however long they took.
    elapsed = datetime.strptime(approved, "%H:%M:%S") - datetime.strptime(asked, "%H:%M:%S")
    assert elapsed.total_seconds() == 10
    assert "memory_leak on payment-service/us-east-1: RESOLVED" in text
    assert "(approved by prompt)" in text


def test_d_shows_the_dry_run_and_asks_again(headless: Headless) -> None:
    headless.read_until(f"{QUESTION} [y/N/d] ")
    headless.answer("d\n")

    again = headless.read_until(f"{QUESTION} [y/N] ")
    findings = again.split(f"{QUESTION} [y/N/d] ", 1)[1]
    assert "  dry run findings:\n    dry run: would restart payment-service in us-east-1" in (
        findings
    )
    assert again.endswith(f"{QUESTION} [y/N] ")

    headless.answer("y\n")
    status, text = headless.finish()

    assert status == 0, text
    assert "executing -> awaiting_approval: dry run: would restart" in text
    assert "memory_leak on payment-service/us-east-1: RESOLVED" in text


def test_a_closed_stdin_is_refused_with_one_line(leak_file: Path, tmp_path: Path) -> None:
    # `<&-`: file descriptor 0 is closed in the child, so Python's sys.stdin is None.
    result = subprocess.run(
        [sys.executable, "-m", "qs_tui", "run", "--headless", "--scenario", str(leak_file)],
        stdin=None,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        preexec_fn=lambda: os.close(0),
        timeout=HANG_GUARD_S,
        check=False,
    )

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: --approve prompt reads answers from stdin, but stdin is closed; "
        "use --approve deny (or auto)"
    ]
