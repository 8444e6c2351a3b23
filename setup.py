"""Build configuration that pyproject.toml cannot express: the package list.

`[tool.setuptools.packages.find]` only finds folders that exist under their package names,
so the data folders that `[tool.setuptools.package-dir]` maps into the package (`esql/`,
`fixtures/scenarios/` and `kibana/`) are added to what is found here.
"""

from __future__ import annotations

from setuptools import find_packages, setup

DATA_PACKAGES = ["qs_tui._data.esql", "qs_tui._data.scenarios", "qs_tui._data.kibana"]

setup(packages=[*find_packages(include=["qs_tui", "qs_tui.*"]), *DATA_PACKAGES])
