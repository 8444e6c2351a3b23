"""The scalar-function registry: complete, documented, tested, and open to one more definition.

Every function the README lists is registered; every registered name is in the README and
used by an engine test; a function is added by one `@scalar` definition and is then found,
type-checked, implicitly cast and null-folded by the compiler like the built-in ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl
import pytest

from qs_tui.esql import EsqlError, EsqlResult, ast
from qs_tui.esql import types as t
from qs_tui.esql.aggregates import AGGREGATE_NAMES
from qs_tui.esql.functions import FUNCTIONS, ExprCompiler, Typed
from qs_tui.esql.functions.registry import NUMERIC, Param, scalar

QueryRunner = Callable[..., EsqlResult]

ROOT = Path(__file__).resolve().parents[2]
TESTS = Path(__file__).resolve().parent
DOMAINS = {"math", "string", "date", "mv", "conversion", "conditional", "grouping", "search"}


def _readme_functions() -> set[str]:
    """The upper-case names in backquotes on the README's `Functions` line (and BUCKET)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("- **Functions:**")
    end = readme.index("\n- **", start + 1)
    names = set(re.findall(r"`([A-Z][A-Z0-9_]*)`", readme[start:end]))
    if "`BUCKET(…)`" in readme:
        names.add("BUCKET")
    return names


def _test_text() -> str:
    return "\n".join(
        path.read_text(encoding="utf-8").upper()
        for path in TESTS.glob("test_*.py")
        if path.name != Path(__file__).name
    )


def test_every_function_the_readme_lists_is_registered() -> None:
    listed = _readme_functions()
    assert len(listed) > 50
    assert sorted(name for name in listed if name not in FUNCTIONS) == []


def test_every_registered_function_is_documented_and_tested() -> None:
    listed = _readme_functions()
    tests = _test_text()
    undocumented = [d.name for d in FUNCTIONS if d.name not in listed]
    untested = [name for d in FUNCTIONS for name in d.names if not re.search(rf"\b{name}\(", tests)]
    assert undocumented == []
    assert untested == []


def test_each_definition_is_complete_and_lives_in_its_domain() -> None:
    definitions = list(FUNCTIONS)
    assert len(definitions) == len({d.name for d in definitions})
    for definition in definitions:
        assert definition.domain in DOMAINS, definition.name
        assert definition.summary, f"{definition.name} has no summary"
        assert definition.name == definition.name.upper()
        assert definition.min_args <= definition.max_args
        assert definition.build.__module__ == f"qs_tui.esql.functions.{definition.domain}"
    assert not FUNCTIONS.names() & AGGREGATE_NAMES


def test_names_and_aliases_resolve_to_one_definition() -> None:
    to_integer = FUNCTIONS.get("to_int")
    assert to_integer is not None
    assert to_integer is FUNCTIONS.get("TO_INTEGER")
    assert to_integer.names == ("TO_INTEGER", "TO_INT")
    assert FUNCTIONS.get("NO_SUCH_FUNCTION") is None


def test_a_name_cannot_be_defined_twice() -> None:
    with pytest.raises(ValueError, match=r"function \[ABS\] is defined twice"):

        @scalar("ABS", Param("number", NUMERIC))
        def second_abs(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
            """Never registered."""
            return args[0]


@pytest.fixture
def triple() -> Iterator[None]:
    """TRIPLE(number): a function defined the way every built-in one is, for one test."""

    @scalar("TRIPLE", Param("number", NUMERIC), aliases=("THRICE",), null_result=t.DOUBLE)
    def build(c: ExprCompiler, node: ast.FunctionCall, args: list[Typed]) -> Typed:
        """Three times the number, a double."""
        return Typed(args[0].expr.cast(pl.Float64) * 3, t.DOUBLE)

    try:
        yield
    finally:
        FUNCTIONS.remove("TRIPLE")


@pytest.mark.usefixtures("triple")
def test_a_new_function_is_one_registered_definition(q: QueryRunner) -> None:
    result = q('ROW a = TRIPLE(2), b = thrice("1.5"), c = TRIPLE(null), d = TRIPLE([1, 2])')
    assert [(c.name, c.type) for c in result.columns] == [
        ("a", "double"),
        ("b", "double"),
        ("c", "double"),
        ("d", "double"),
    ]
    assert result.values == [[6.0, 4.5, None, None]]
    assert "single-value function encountered multi-value" in result.warnings[1]
    with pytest.raises(EsqlError, match=r"argument of \[TRIPLE\(\"x\"\)\]|Cannot convert"):
        q('ROW a = TRIPLE("x")')
    with pytest.raises(EsqlError, match=r"function \[TRIPLE\] takes 1 argument\(s\), found 2"):
        q("ROW a = TRIPLE(1, 2)")


def test_removed_and_unknown_functions_fail_by_name(q: QueryRunner) -> None:
    assert "TRIPLE" not in FUNCTIONS
    with pytest.raises(EsqlError, match=r"Unknown function \[TRIPLE\]"):
        q("ROW a = TRIPLE(2)")
