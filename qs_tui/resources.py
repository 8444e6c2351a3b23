"""Where the files the program reads at run time are: the query library, the scenarios and
the Kibana saved objects.

They live once, in the repository's top-level `esql/`, `fixtures/scenarios/` and `kibana/`
folders. A built wheel (or sdist) carries them inside the package as `qs_tui/_data/esql/`,
`qs_tui/_data/scenarios/` and `qs_tui/_data/kibana/` (setup.py maps the folders there at
build time), read through
`importlib.resources`. Running from a source checkout or an editable install, where the
package has no `_data/`, they are read from the checkout itself, so an edit to a query or a
scenario takes effect at once and there is no copy to drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Literal

#: The package that carries the data in a built distribution.
PACKAGE = "qs_tui"
#: The checkout's root, when the package runs from one (the folder above `qs_tui/`).
CHECKOUT_ROOT = Path(__file__).resolve().parent.parent

DataName = Literal["esql", "scenarios", "kibana"]

#: Each data folder: its place inside the package, and its place in a source checkout.
_FOLDERS: dict[DataName, tuple[str, Path]] = {
    "esql": ("_data/esql", CHECKOUT_ROOT / "esql"),
    "scenarios": ("_data/scenarios", CHECKOUT_ROOT / "fixtures" / "scenarios"),
    "kibana": ("_data/kibana", CHECKOUT_ROOT / "kibana"),
}


@dataclass(frozen=True)
class DataFolder:
    """One data folder as found.

    Attributes:
        name: which folder (`esql`, `scenarios`, `kibana`).
        path: where it is (it may be missing on a broken install: `exists` says).
        source: `package` (shipped inside the installed package) or `checkout` (a source tree).
    """

    name: DataName
    path: Path
    source: Literal["package", "checkout"]

    @property
    def exists(self) -> bool:
        """True when the folder is there."""
        return self.path.is_dir()


def data_folder(name: DataName) -> DataFolder:
    """Find a data folder: shipped in the package first, else the source checkout's.

    The packaged copy is looked up relative to the imported `qs_tui` package itself (not by
    importing `qs_tui._data…`), so a checkout on `PYTHONPATH` never picks up the data of
    another install that happens to be on the path.
    """
    inside, checkout = _FOLDERS[name]
    packaged = files(PACKAGE).joinpath(inside)
    # Installed from a wheel, the package is a folder on disk and `files()` hands back a
    # Path; a zipped install would give a Traversable the callers cannot glob, and is not
    # supported.
    if isinstance(packaged, Path) and packaged.is_dir():
        return DataFolder(name, packaged, "package")
    return DataFolder(name, checkout, "checkout")


def query_dir() -> Path:
    """The query library: one `*.esql` file per query."""
    return data_folder("esql").path


def scenario_dir() -> Path:
    """The shipped scenarios: one `*.toml` file per scenario."""
    return data_folder("scenarios").path


def kibana_dir() -> Path:
    """The Kibana saved objects `qs-tui kibana setup` imports (NDJSON)."""
    return data_folder("kibana").path


__all__ = [
    "CHECKOUT_ROOT",
    "DataFolder",
    "data_folder",
    "kibana_dir",
    "query_dir",
    "scenario_dir",
]
