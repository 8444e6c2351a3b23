"""The `[topology.dependencies]` table: who calls whom, when the data has no service map.

Read from the TOML file `QS_TOPOLOGY` names, else `./qs.toml` when there is one:

    [topology.dependencies]
    api-gateway = ["auth-service", "payment-service"]
    payment-service = ["inventory-service"]
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

from qs_tui.config import ConfigError

#: The file read when `QS_TOPOLOGY` is unset, in the working directory.
DEFAULT_TOPOLOGY_FILE = Path("qs.toml")


class TopologyConfigError(ConfigError):
    """A topology file that cannot be used: `file:line: field: what is wrong` in one line.

    A `ConfigError`, so the commands print it as one `error:` line like a bad setting.
    """


def topology_file(configured: Path | None) -> Path | None:
    """The file to read dependencies from: `configured` (QS_TOPOLOGY), else `./qs.toml` if
    it exists, else None.

    Raises:
        TopologyConfigError: if `configured` is set but is not a file.
    """
    if configured is not None:
        if not configured.is_file():
            raise TopologyConfigError(f"{configured}: QS_TOPOLOGY: no such file")
        return configured
    return DEFAULT_TOPOLOGY_FILE if DEFAULT_TOPOLOGY_FILE.is_file() else None


def _line_of(text: str, key: str) -> int | None:
    """The 1-based line where `key` is assigned (bare or quoted), for the error message."""
    pattern = re.compile(rf"^\s*(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')\s*=")
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return None


def _table_line(text: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(r"^\s*\[\s*topology\s*\.\s*dependencies\s*\]", line):
            return number
    return None


def load_dependencies(path: Path) -> dict[str, tuple[str, ...]]:
    """The `[topology.dependencies]` table of `path`: service -> the services it calls.

    A file without the table gives `{}`.

    Raises:
        TopologyConfigError: `file:line: field: ...` for bad TOML or a value that is not a
            list of service names.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise TopologyConfigError(f"{path}: cannot read: {error.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"\(at line (\d+), column \d+\)", str(error))
        if match:
            where = f"{path}:{match.group(1)}"
        elif "(at end of document)" in str(error):
            where = f"{path}:{max(1, len(text.splitlines()))}"  # an unclosed value
        else:
            where = str(path)
        message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(error))
        raise TopologyConfigError(f"{where}: invalid TOML: {message}") from None
    topology = data.get("topology", {})
    if not isinstance(topology, Mapping):
        raise TopologyConfigError(f"{path}:{_line_of(text, 'topology')}: topology: not a table")
    table = topology.get("dependencies", {})
    if not isinstance(table, Mapping):
        line = _line_of(text, "dependencies") or _table_line(text)
        raise TopologyConfigError(f"{path}:{line}: topology.dependencies: not a table")
    dependencies: dict[str, tuple[str, ...]] = {}
    for service, callees in table.items():
        valid = isinstance(callees, list) and all(
            isinstance(name, str) and name.strip() for name in callees
        )
        if not valid:
            line = _line_of(text, service) or _table_line(text)
            raise TopologyConfigError(
                f"{path}:{line}: topology.dependencies.{service}: expected a list of service "
                f'names, e.g. {service} = ["db", "cache"]'
            )
        dependencies[service] = tuple(dict.fromkeys(name.strip() for name in callees))
    return dependencies


__all__ = ["DEFAULT_TOPOLOGY_FILE", "TopologyConfigError", "load_dependencies", "topology_file"]
