"""The aggregate registry: each aggregate is one registered builder, and every list of
aggregate names is derived from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qs_tui.esql import EsqlExecutionError, functions, run_query
from qs_tui.esql.aggregates import AGGREGATE_NAMES
from tests.esql.conftest import FIXED_NOW
from tests.esql.tables import MemoryCatalog

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_lists_exactly_the_registered_aggregates() -> None:
    text = README.read_text(encoding="utf-8")
    line = re.search(r"\*\*Aggregates:\*\*(.*?)\n- \*\*", text, re.S)
    assert line is not None
    listed = set(re.findall(r"`([A-Z_]+)`", line.group(1)))
    assert listed == AGGREGATE_NAMES


def test_the_scalar_side_keeps_no_list_of_aggregates_of_its_own() -> None:
    # One source: the registry beside the builders. The function compiler still knows an
    # aggregate when it meets one outside STATS.
    assert not hasattr(functions, "AGGREGATE_NAMES")
    assert all(functions.is_known_function(name) for name in AGGREGATE_NAMES)


@pytest.mark.parametrize("name", sorted(AGGREGATE_NAMES))
def test_every_registered_aggregate_is_refused_inside_another(name: str) -> None:
    # Nesting is detected from the registry: an aggregate inside MAX(...) is named.
    with pytest.raises(EsqlExecutionError, match="cannot be aggregates"):
        run_query(f"ROW n = 1 | STATS MAX({name}(n))", MemoryCatalog(), now=FIXED_NOW)
