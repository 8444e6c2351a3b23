"""An incident recorded the way a user records one: a headless run into a persisted data dir.

The recording is made once per pytest run and shared (`recorded`): the flight recorder's
tests and the replay's only read it, and a recording is deterministic (the scenario's seed
and simulated clock), so one serves them all.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

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
    return record_scenario(data_dir, "memory-leak")


def record_scenario(data_dir: Path, scenario: str) -> Run:
    """Record a shipped scenario into `data_dir`, every plan approved automatically."""
    run = qs_tui(
        "run",
        "--headless",
        "--scenario",
        scenario,
        "--approve",
        "auto",
        "--data-dir",
        str(data_dir),
        cwd=data_dir.parent,
    )
    assert run.status == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return run


@dataclass(frozen=True)
class Recording:
    """A finished recording: the data dir that holds it and the run that wrote it."""

    data_dir: Path
    run: Run


#: Recordings made in this pytest run, by scenario.
_RECORDINGS: dict[str, Recording] = {}


def recorded(tmp_path_factory: pytest.TempPathFactory, scenario: str = "memory-leak") -> Recording:
    """INC-0001 of `scenario`, recorded by `qs-tui run --headless` the first time it is asked
    for in this pytest run and shared afterwards (readers only: nobody writes to it)."""
    if scenario not in _RECORDINGS:
        directory = tmp_path_factory.mktemp("recorded") / "data"
        _RECORDINGS[scenario] = Recording(directory, record_scenario(directory, scenario))
    return _RECORDINGS[scenario]
