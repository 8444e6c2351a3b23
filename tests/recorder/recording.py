"""An incident recorded the way a user records one: a headless run into a persisted data dir."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: A guard against a hung child only: no assertion depends on how fast anything runs.
HANG_GUARD_S = 900


@dataclass(frozen=True)
class Run:
    """One finished `qs-tui` process."""

    status: int
    stdout: str
    stderr: str


def clean_env() -> dict[str, str]:
    """The environment without the developer's own settings, this checkout first on the path."""
    prefixes = ("ELASTIC_", "KIBANA_", "QS_", "SLACK_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env["PYTHONPATH"] = str(ROOT)
    env["NO_COLOR"] = "1"
    return env


def qs_tui(*argv: str, cwd: Path) -> Run:
    """Run `qs-tui ARGV` in a fresh process (no .env file)."""
    done = subprocess.run(
        [sys.executable, "-m", "qs_tui", "--env-file", os.devnull, *argv],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=HANG_GUARD_S,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def record_memory_leak(data_dir: Path) -> Run:
    """Record INC-0001: the memory-leak scenario, approved automatically, persisted."""
    run = qs_tui(
        "run",
        "--headless",
        "--scenario",
        "memory-leak",
        "--approve",
        "auto",
        "--data-dir",
        str(data_dir),
        cwd=data_dir.parent,
    )
    assert run.status == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return run
