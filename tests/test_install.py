"""The package built as an sdist and a wheel, installed outside the repository, run from elsewhere.

This is what `pipx install .` or `uv tool install .` gives a user: no checkout beside the
package, so the query library and the scenarios must come from inside it. Everything works
offline: the build uses the running interpreter's setuptools (no build isolation), and the
fresh virtualenv reaches the already-installed dependencies through a `.pth` file instead
of downloading them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.scenario_texts import LEAKING_SERVICE_ONLY, quick_leak

REPO = Path(__file__).resolve().parents[1]

#: A short leak scenario for the bench (45 min of history, 4 min played, one service).
LEAK = quick_leak("short-leak", topology=LEAKING_SERVICE_ONLY, duration="4m")

pytestmark = pytest.mark.slow


def _setuptools_major() -> int:
    try:
        return int(version("setuptools").split(".")[0])
    except Exception:  # not installed, or an odd version string
        return 0


if _setuptools_major() < 77:
    pytest.skip(
        "building the wheel offline needs setuptools>=77 in this environment "
        "(`make` installs it from requirements-dev.txt)",
        allow_module_level=True,
    )


@dataclass(frozen=True)
class Install:
    """A virtualenv holding the built wheel, and a working directory far from the repo."""

    venv: Path
    cwd: Path

    @property
    def site_packages(self) -> Path:
        """The venv's own site-packages."""
        return Path(
            sysconfig.get_path("purelib", vars={"base": str(self.venv), "platbase": str(self.venv)})
        )

    def run(self, *args: str, check_status: int | None = 0) -> subprocess.CompletedProcess[str]:
        """Run the venv's `qs-tui` with `args` in `cwd`, with no setting from this shell."""
        env = {
            name: value
            for name, value in os.environ.items()
            if name != "PYTHONPATH" and not name.startswith(("QS_", "ELASTIC_", "KIBANA_"))
        }
        env.pop("SLACK_WEBHOOK_URL", None)
        result = subprocess.run(
            [str(self.venv / "bin" / "qs-tui"), *args],
            cwd=self.cwd,
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if check_status is not None:
            assert result.returncode == check_status, (result.stdout, result.stderr)
        return result


def _python(*args: str, cwd: Path) -> None:
    subprocess.run([sys.executable, *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from the sdist built from a copy of the repository."""
    work = tmp_path_factory.mktemp("build")
    source = work / "source"
    # A copy, so the build's egg-info and build/ folders never land in the repository.
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"
        ),
    )
    backend = "from setuptools import build_meta as b; b.build_{}({!r})"
    _python("-c", backend.format("sdist", str(work / "dist")), cwd=source)
    (sdist,) = (work / "dist").glob("qs_tui-*.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(work / "unpacked", filter="data")
    (unpacked,) = (work / "unpacked").iterdir()
    _python("-c", backend.format("wheel", str(work / "wheels")), cwd=unpacked)
    (built,) = (work / "wheels").glob("qs_tui-*.whl")
    return built


def install(wheel: Path, where: Path) -> Install:
    """A fresh venv at `where` with `wheel` installed (no dependencies downloaded)."""
    venv = where / "venv"
    _python("-m", "venv", "--without-pip", str(venv), cwd=where)
    # pip from this environment installs into the new one; --no-index keeps it offline.
    _python(
        "-m",
        "pip",
        "--python",
        str(venv / "bin" / "python"),
        "install",
        "--quiet",
        "--no-deps",
        "--no-index",
        str(wheel),
        cwd=where,
    )
    result = Install(venv=venv, cwd=where / "elsewhere")
    result.cwd.mkdir()
    # The dependencies: the folders this interpreter imports from, less any that holds a
    # `qs_tui` (the checkout), after the venv's own site-packages, so the installed wheel is
    # what `import qs_tui` finds.
    paths = [
        entry
        for entry in dict.fromkeys(sys.path)
        if entry and Path(entry).is_dir() and not (Path(entry) / "qs_tui").exists()
    ]
    (result.site_packages / "_qs_test_dependencies.pth").write_text(
        "\n".join(paths) + "\n", encoding="utf-8"
    )
    return result


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Install:
    """The wheel in a fresh venv."""
    return install(wheel, tmp_path_factory.mktemp("installed"))


def test_the_wheel_carries_the_queries_and_the_scenarios(installed: Install) -> None:
    data = installed.site_packages / "qs_tui" / "_data"
    assert sorted(p.name for p in (data / "esql").iterdir()) == sorted(
        p.name for p in (REPO / "esql").glob("*.esql")
    )
    assert sorted(p.name for p in (data / "scenarios").iterdir()) == sorted(
        p.name for p in (REPO / "fixtures" / "scenarios").glob("*.toml")
    )
    assert sorted(p.name for p in (data / "kibana").glob("*.ndjson")) == sorted(
        p.name for p in (REPO / "kibana").glob("*.ndjson")
    )
    where = subprocess.run(
        [str(installed.venv / "bin" / "python"), "-c", "import qs_tui; print(qs_tui.__file__)"],
        cwd=installed.cwd,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(installed.site_packages)


def test_the_wheel_carries_the_builtin_schema_profiles(installed: Install) -> None:
    shipped = installed.site_packages / "qs_tui" / "profiles" / "builtin"
    assert sorted(p.name for p in shipped.glob("*.toml")) == sorted(
        p.name for p in (REPO / "qs_tui" / "profiles" / "builtin").glob("*.toml")
    )
    result = installed.run("queries", "--profile", "qs")
    assert "// ===== memory_leak.esql (profile qs) =====\n" in result.stdout
    assert (REPO / "esql" / "memory_leak.esql").read_text(encoding="utf-8") in result.stdout


def test_the_headless_pipeline_runs_the_default_scenario(installed: Install) -> None:
    result = installed.run("run", "--headless", "--approve", "auto")
    assert "expected memory_leak on payment-service/us-east-1: found as INC-" in result.stdout
    assert "exit status 0: every incident resolved" in result.stdout


def test_the_engine_answers_a_query(installed: Install) -> None:
    result = installed.run("esql", "ROW a = 1")
    assert result.stdout.split() == ["a", "-", "1"]


def test_the_scenario_bench_scores_a_folder(installed: Install) -> None:
    folder = installed.cwd / "scenarios"
    folder.mkdir()
    (folder / "short-leak.toml").write_text(LEAK, encoding="utf-8")
    result = installed.run("bench", "scenarios", "--dir", str(folder))
    assert f"1 scenarios from {folder}" in result.stdout
    row = next(line for line in result.stdout.splitlines() if line.startswith("short-leak"))
    assert row.split()[1:2] == ["yes"]  # detected
    assert "PASS  every fault detected and localised" in result.stdout


def test_doctor_finds_the_packaged_queries_and_scenarios(installed: Install) -> None:
    result = installed.run("doctor")
    data = installed.site_packages / "qs_tui" / "_data"
    queries = len(list((REPO / "esql").glob("*.esql")))
    assert f"ok    queries: {queries} queries parse (package: {data / 'esql'})" in result.stdout
    assert f"scenarios load (package: {data / 'scenarios'})" in result.stdout
    assert result.stdout.rstrip().endswith("all checks passed (embedded store)")


def test_doctor_fails_an_install_that_lost_its_data(wheel: Path, tmp_path: Path) -> None:
    broken = install(wheel, tmp_path)
    data = broken.site_packages / "qs_tui" / "_data"
    shutil.rmtree(data / "scenarios")
    (data / "esql" / "typo.esql").write_text("FROM qs-metrics | WHER cpu > 1\n", encoding="utf-8")

    result = broken.run("doctor", check_status=1)

    assert "FAIL  queries: 1 of " in result.stdout and "typo.esql" in result.stdout
    assert "FAIL  scenarios: no scenario files in" in result.stdout
    assert result.stdout.rstrip().endswith("problems found (embedded store)")
