"""The scalar-function registry: one definition per function, registered beside its code.

Each function is defined once, in the module of its domain (`math`, `string`, `date`, `mv`,
`conversion`, `conditional`, `grouping`, `search`), by decorating the function that builds its
polars expression with `@scalar(...)`. The definition carries everything the compiler needs to
know before calling it: the names and aliases, the parameters with the types they accept (and
the type a string literal is implicitly cast to, as Elasticsearch does), whether a multi-valued
argument is taken as is, and what a `null` argument does. The registry `FUNCTIONS` is derived
from those definitions; adding a function is adding one decorated builder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qs_tui.esql import ast
from qs_tui.esql import types as t
from qs_tui.esql.functions.core import Typed, is_numeric, is_string

if TYPE_CHECKING:
    from qs_tui.esql.functions.compiler import ExprCompiler

# The most arguments a variadic function takes (CONCAT, COALESCE, CASE, GREATEST, LEAST).
MAX_ARGS = 1000

Build = Callable[["ExprCompiler", ast.FunctionCall, list[Typed]], Typed]


@dataclass(frozen=True)
class ArgType:
    """A family of argument types, as ES words it in a type error.

    Attributes:
        label: the expected type in ES's message (`must be [numeric]`).
        accepts: whether an argument of a given ES|QL type is accepted (null always is).
        cast: the ES|QL type a string literal is implicitly cast to before the call, as
            Elasticsearch does for scalar functions (`ABS("10.0")` is `ABS(10.0)`); None when
            a string is not converted (string parameters, or no implicit cast).
    """

    label: str
    accepts: Callable[[str], bool]
    cast: str | None = None


def _is_whole_number(esql_type: str) -> bool:
    return esql_type in (t.INTEGER, t.LONG)


# ES casts a string literal given to a numeric parameter to the highest-priority numeric type
# the parameter declares: double for a number of any type, integer for a count or a position.
NUMERIC = ArgType("numeric", is_numeric, cast=t.DOUBLE)
INTEGER = ArgType("integer", _is_whole_number, cast=t.INTEGER)
# Character counts and positions: ES declares them integer.
POSITION = ArgType("integer", lambda esql_type: esql_type == t.INTEGER, cast=t.INTEGER)
STRING = ArgType("string", is_string)
# A date: a string literal is read as an ISO-8601 date (`strict_date_optional_time`).
DATETIME = ArgType("datetime", lambda esql_type: esql_type in (t.DATE, t.DATE_NANOS), cast=t.DATE)


@dataclass(frozen=True)
class Param:
    """One parameter of a function.

    Attributes:
        name: the parameter's name in Elastic's reference.
        type: the accepted types; None when the builder checks the argument itself.
        optional: may be left out (from the first optional parameter on, see `FunctionDef`).
        variadic: repeats for every remaining argument.
        multi: a multi-valued argument is passed as is; otherwise it makes the result null
            with ES's "single-value function encountered multi-value" warning.
    """

    name: str
    type: ArgType | None = None
    optional: bool = False
    variadic: bool = False
    multi: bool = False


@dataclass(frozen=True)
class FunctionDef:
    """The single definition of one scalar function.

    Attributes:
        name: the canonical upper-case name.
        build: compiles a call from its checked arguments (see `raw`).
        params: the parameters, in order.
        domain: the module the function lives in (`math`, `string`, ...).
        aliases: other names the function answers to (`TO_INT` for `TO_INTEGER`).
        null_result: when set, a `null` argument makes the result null of this ES|QL type
            whatever the other arguments are (ES folds such calls to a typed null).
        raw: the builder compiles its own arguments (lazy evaluation in CASE and COALESCE,
            time spans in DATE_TRUNC and BUCKET); it is called with an empty argument list.
        summary: one line saying what the function does (its builder's docstring).
    """

    name: str
    build: Build
    params: tuple[Param, ...]
    domain: str
    aliases: tuple[str, ...] = ()
    null_result: str | None = None
    raw: bool = False
    summary: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        """The name and the aliases."""
        return (self.name, *self.aliases)

    @property
    def min_args(self) -> int:
        """The fewest arguments a call may have."""
        return sum(1 for param in self.params if not param.optional)

    @property
    def max_args(self) -> int:
        """The most arguments a call may have."""
        if any(param.variadic for param in self.params):
            return MAX_ARGS
        return len(self.params)

    def params_for(self, count: int) -> list[Param]:
        """The parameter each of `count` arguments binds to.

        Optional parameters are left out first to last, so that a leading optional parameter
        (`LOG([base,] number)`, `DATE_FORMAT([format,] date)`) binds only when given.
        """
        params = list(self.params)
        while len(params) > count:
            optional = next((p for p in params if p.optional and not p.variadic), None)
            if optional is None:
                variadic = next((p for p in params if p.variadic), None)
                if variadic is None:
                    break
                params.remove(variadic)
                continue
            params.remove(optional)
        if params and params[-1].variadic:
            params += [params[-1]] * (count - len(params))
        return params[:count]


class Registry:
    """Scalar function definitions by name and alias (upper-case)."""

    def __init__(self) -> None:
        self._by_name: dict[str, FunctionDef] = {}

    def add(self, definition: FunctionDef) -> None:
        """Register a definition under its name and aliases; a name may be taken once."""
        for name in definition.names:
            if name in self._by_name:
                raise ValueError(f"function [{name}] is defined twice")
        for name in definition.names:
            self._by_name[name] = definition

    def remove(self, name: str) -> None:
        """Forget a definition (all its names); used by tests that define a function."""
        definition = self._by_name[name.upper()]
        for alias in definition.names:
            del self._by_name[alias]

    def get(self, name: str) -> FunctionDef | None:
        """The definition answering to `name` (any case), or None."""
        return self._by_name.get(name.upper())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.upper() in self._by_name

    def __iter__(self) -> Iterator[FunctionDef]:
        """Each definition once, in registration order."""
        seen: set[str] = set()
        for definition in self._by_name.values():
            if definition.name not in seen:
                seen.add(definition.name)
                yield definition

    def names(self) -> set[str]:
        """Every name and alias."""
        return set(self._by_name)


FUNCTIONS = Registry()


def scalar(
    name: str,
    *params: Param,
    aliases: tuple[str, ...] = (),
    null_result: str | None = None,
    raw: bool = False,
) -> Callable[[Build], Build]:
    """Register the decorated builder as the definition of the function `name`.

    The domain is the builder's module; the summary is the first line of its docstring.
    """

    def register(build: Build) -> Build:
        FUNCTIONS.add(
            FunctionDef(
                name=name.upper(),
                build=build,
                params=params,
                domain=build.__module__.rsplit(".", 1)[-1],
                aliases=tuple(alias.upper() for alias in aliases),
                null_result=null_result,
                raw=raw,
                summary=(build.__doc__ or "").strip().splitlines()[0] if build.__doc__ else "",
            )
        )
        return build

    return register


def is_known_function(name: str) -> bool:
    """Whether `name` is an aggregate or a scalar function the engine implements."""
    from qs_tui.esql.aggregates import AGGREGATE_NAMES  # aggregates import this package

    return name.upper() in AGGREGATE_NAMES or name in FUNCTIONS
