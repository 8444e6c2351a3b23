"""The agents do not know which telemetry source runs: loading them loads no simulator."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import qs_tui.agents

REPO = Path(__file__).resolve().parents[2]


def test_loading_every_agent_module_loads_nothing_of_the_simulator() -> None:
    modules = [
        info.name for info in pkgutil.walk_packages(qs_tui.agents.__path__, prefix="qs_tui.agents.")
    ]
    assert "qs_tui.agents.pipeline" in modules and "qs_tui.agents.detectors.memory_leak" in modules
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.startswith('qs_tui.sim')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[]", done.stdout
