"""Compiles ES|QL expressions to typed, vectorised polars expressions.

The compiler handles the leaves, the operators, casts and conversions, and calls; each scalar
function is a definition in the registry (see `registry.py`), found by name and called with its
arguments compiled, implicitly cast and type-checked as the definition says.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

import polars as pl

from qs_tui.esql import ast
from qs_tui.esql import types as t
from qs_tui.esql.functions.conversion import converter
from qs_tui.esql.functions.core import (
    BINDING_IDS,
    CAST_NAMES,
    DATE_RANGE_MESSAGE,
    DATETIME_MAX_MS,
    DATETIME_MIN_MS,
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    MULTI_VALUE_MESSAGE,
    SPAN_UNITS,
    VALUE_PLACEHOLDER,
    Check,
    ColumnInfo,
    Typed,
    esql_dtype,
    execution_error,
    first_type,
    is_numeric,
    is_string,
    java_remainder_float,
    like_to_regex,
    literal_item,
    numeric_result_type,
    span_every,
    span_millis,
    truncating_division,
    unsupported_error,
    value_text,
    where,
)
from qs_tui.esql.functions.core import (
    ordinal as argument_ordinal,
)
from qs_tui.esql.functions.registry import FUNCTIONS, MAX_ARGS, ArgType, FunctionDef
from qs_tui.esql.values import parse_iso_date


class ExprCompiler:
    """Compiles expression nodes against the columns of one frame.

    Args:
        columns: name -> ColumnInfo for every visible column.
        now: the instant `NOW()` returns.
        aggregate: in STATS, compiles an aggregate call (returns a column of the aggregated
            frame); None elsewhere, where aggregates are an error.
    """

    def __init__(
        self,
        columns: Mapping[str, ColumnInfo],
        *,
        now: datetime,
        aggregate: Callable[[ast.FunctionCall], Typed] | None = None,
    ) -> None:
        self.columns = columns
        self.now = now
        self.aggregate = aggregate
        self.checks: list[Check] = []
        # `_score` contributions of full-text functions, added by WHERE.
        self.scores: list[pl.Expr] = []
        # Intermediate results as hidden columns, in dependency order (see `bind`).
        self.bindings: list[tuple[str, pl.Expr]] = []

    # -----------------------------------------------------------------------------------------
    # Entry points and bookkeeping
    # -----------------------------------------------------------------------------------------

    def compile(self, node: ast.Expr) -> Typed:
        """Compile one expression node."""
        if isinstance(node, ast.Literal):
            return self._literal(node)
        if isinstance(node, ast.Field):
            return self._field(node)
        if isinstance(node, ast.BinaryOp):
            return self._binary(node)
        if isinstance(node, ast.UnaryOp):
            return self._unary(node)
        if isinstance(node, ast.FunctionCall):
            return self._call(node)
        if isinstance(node, ast.InList):
            return self._in(node)
        if isinstance(node, ast.Like):
            return self._like(node)
        if isinstance(node, ast.IsNull):
            return self._is_null(node)
        if isinstance(node, ast.Cast):
            return self._cast(node)
        if isinstance(node, ast.TimeSpan):
            return self._time_span(node)
        if isinstance(node, ast.Star):
            raise execution_error("[*] is only allowed in COUNT(*)", node)
        raise unsupported_error(f"unsupported expression [{type(node).__name__}]", node)

    def condition(self, node: ast.Expr) -> pl.Expr:
        """Compile a boolean condition (WHERE, per-aggregate WHERE); null means false."""
        compiled = self.single(self.compile(node), node)
        if compiled.type not in (t.BOOLEAN, t.NULL):
            raise execution_error(
                f"Condition expression needs to be boolean, found [{compiled.type}]", node
            )
        return compiled.expr.cast(pl.Boolean).fill_null(False)

    def fail(
        self,
        node: ast.Expr,
        failed: pl.Expr,
        exception: str,
        *,
        value: pl.Expr | None = None,
    ) -> None:
        """Record that `node` evaluates to null with a warning on the rows where `failed`."""
        place = where(node.pos)
        header = (
            f"{place}: evaluation of [{node.text}] failed, treating result as null. "
            "Only first 20 failures recorded."
        )
        self.checks.append(Check(failed.fill_null(False), header, f"{place}: {exception}", value))

    def bind(self, value: Typed) -> Typed:
        """Bind a computed value to a hidden column and refer to it by name.

        Null handling and failure checks mention an operand several times; without binding,
        nested expressions would grow exponentially and polars would re-plan and re-evaluate
        the copies. The executor adds `bindings` to the frame before the command's own
        expressions.
        """
        expr = value.expr
        if value.is_const or expr.meta.is_column() or expr.meta.is_literal():
            return value
        name = f"\x00b{next(BINDING_IDS)}"
        self.bindings.append((name, expr))
        return Typed(pl.col(name), value.type, value.multi, value.const)

    def single(self, value: Typed, node: ast.Expr) -> Typed:
        """A multi-valued input to a single-value function: null with ES's warning."""
        if not value.multi:
            return value
        value = self.bind(value)
        length = value.expr.list.len()
        self.fail(node, length > 1, MULTI_VALUE_MESSAGE)
        single = pl.when(length == 1).then(value.expr.list.first()).otherwise(None)
        return Typed(single, value.type)

    # -----------------------------------------------------------------------------------------
    # Leaves
    # -----------------------------------------------------------------------------------------

    def _literal(self, node: ast.Literal) -> Typed:
        value = node.value
        esql_type = node.type if isinstance(node.type, str) else first_type(node.type)
        if isinstance(value, list | tuple):
            items = [literal_item(item, esql_type) for item in value]
            non_null = [item for item in items if item is not None]
            if not non_null:
                return Typed(pl.lit(None), t.NULL, const=None)
            if len(non_null) == 1:
                return Typed(
                    pl.lit(non_null[0], dtype=esql_dtype(esql_type)), esql_type, const=non_null[0]
                )
            literal = pl.lit(pl.Series([non_null], dtype=pl.List(esql_dtype(esql_type))))
            return Typed(literal.first(), esql_type, multi=True, const=list(non_null))
        if value is None or esql_type == t.NULL:
            return Typed(pl.lit(None), t.NULL, const=None)
        value = literal_item(value, esql_type)
        return Typed(pl.lit(value, dtype=esql_dtype(esql_type)), esql_type, const=value)

    def _field(self, node: ast.Field) -> Typed:
        info = self.columns.get(node.name)
        if info is None:
            raise execution_error(f"Unknown column [{node.name}]", node)
        if info.type == t.UNSUPPORTED:
            raise execution_error(
                f"Cannot use field [{node.name}] with unsupported type [unsupported]", node
            )
        return Typed(pl.col(node.name), info.type, multi=info.multi)

    def _time_span(self, node: ast.TimeSpan) -> Typed:
        if node.unit not in SPAN_UNITS:
            raise unsupported_error(f"time span unit [{node.unit}] is not supported", node)
        # ES|QL types days and longer as calendar periods, shorter spans as fixed durations.
        calendar = node.unit in ("day", "week", "month", "quarter", "year")
        kind = t.DATE_PERIOD if calendar else t.TIME_DURATION
        return Typed(pl.lit(None), kind, const=(node.amount, node.unit))

    # -----------------------------------------------------------------------------------------
    # Operators
    # -----------------------------------------------------------------------------------------

    def _unary(self, node: ast.UnaryOp) -> Typed:
        operand = self.bind(self.compile(node.operand))
        if node.op == "NOT":
            operand = self.single(operand, node)
            if operand.type not in (t.BOOLEAN, t.NULL):
                raise execution_error(
                    f"argument of [{node.text}] must be [boolean], found value "
                    f"[{value_text(operand)}] type [{operand.type}]",
                    node,
                )
            return Typed(~operand.expr.cast(pl.Boolean), t.BOOLEAN)
        if node.op == "-":
            if operand.type in (t.TIME_DURATION, t.DATE_PERIOD):
                amount, unit = operand.const
                return Typed(pl.lit(None), operand.type, const=(-amount, unit))
            operand = self.single(operand, node)
            if operand.type == t.NULL:
                return operand
            if not is_numeric(operand.type):
                raise execution_error(
                    f"argument of [{node.text}] must be [numeric], found value "
                    f"[{value_text(operand)}] type [{operand.type}]",
                    node,
                )
            if operand.type in (t.INTEGER, t.LONG):
                low = INT32_MIN if operand.type == t.INTEGER else INT64_MIN
                overflow = operand.expr == low
                self.fail(node, overflow, f"java.lang.ArithmeticException: {operand.type} overflow")
                negated = pl.when(overflow).then(None).otherwise(-operand.expr)
                return Typed(negated, operand.type)
            return Typed(-operand.expr, operand.type)
        raise unsupported_error(f"unsupported operator [{node.op}]", node)

    def _binary(self, node: ast.BinaryOp) -> Typed:
        if node.op in ("AND", "OR"):
            left = self.single(self.compile(node.left), node)
            right = self.single(self.compile(node.right), node)
            for side, ordinal in ((left, "first"), (right, "second")):
                if side.type not in (t.BOOLEAN, t.NULL):
                    raise execution_error(
                        f"{ordinal} argument of [{node.text}] must be [boolean], found value "
                        f"[{value_text(side)}] type [{side.type}]",
                        node,
                    )
            lhs, rhs = left.expr.cast(pl.Boolean), right.expr.cast(pl.Boolean)
            # polars' & and | follow Kleene's three-valued logic, as ES|QL does.
            return Typed(lhs & rhs if node.op == "AND" else lhs | rhs, t.BOOLEAN)
        left = self.bind(self.compile(node.left))
        right = self.bind(self.compile(node.right))
        if node.op in ("+", "-", "*", "/", "%"):
            return self._arithmetic(node, left, right)
        if node.op in ("==", "!=", "<", "<=", ">", ">="):
            return self._comparison(node, left, right)
        raise unsupported_error(f"unsupported operator [{node.op}]", node)

    def _arithmetic(self, node: ast.BinaryOp, left: Typed, right: Typed) -> Typed:
        op = node.op
        spans = (t.TIME_DURATION, t.DATE_PERIOD)
        if left.type in spans or right.type in spans:
            return self._date_span_arithmetic(node, left, right)
        left = self.single(left, node)
        right = self.single(right, node)
        if left.type == t.NULL and right.type == t.NULL:
            return Typed(pl.lit(None), t.NULL, const=None)
        for side, ordinal in ((left, "first"), (right, "second")):
            if side.type != t.NULL and not is_numeric(side.type):
                if side.type == t.DATE and op in ("+", "-"):
                    raise execution_error(
                        f"[{op}] has arguments with incompatible types [{left.type}] and "
                        f"[{right.type}] in [{node.text}]",
                        node,
                    )
                raise execution_error(
                    f"{ordinal} argument of [{node.text}] must be [numeric], found value "
                    f"[{value_text(side)}] type [{side.type}]",
                    node,
                )
        result_type = numeric_result_type(left.type, right.type)
        if left.type == t.NULL or right.type == t.NULL:
            return Typed(pl.lit(None, dtype=esql_dtype(result_type)), result_type)
        dtype = esql_dtype(result_type)
        lhs, rhs = left.expr.cast(dtype), right.expr.cast(dtype)
        both = lhs.is_not_null() & rhs.is_not_null()
        if result_type == t.DOUBLE:
            if op in ("/", "%"):
                zero = both & (rhs == 0)
                self.fail(node, zero, "java.lang.ArithmeticException: / by zero")
                raw = lhs / rhs if op == "/" else java_remainder_float(lhs, rhs)
                return Typed(pl.when(zero).then(None).otherwise(raw), t.DOUBLE)
            # ES also turns an infinite sum or product into null with a warning; here it stays
            # infinite until the result is printed, where it becomes null (no warning). A
            # check per operation would cost a pass over every row for a case that does not
            # occur with finite inputs of realistic size.
            return Typed({"+": lhs + rhs, "-": lhs - rhs, "*": lhs * rhs}[op], t.DOUBLE)
        if op in ("/", "%"):
            zero = both & (rhs == 0)
            self.fail(node, zero, "java.lang.ArithmeticException: / by zero")
            safe = pl.when(rhs == 0).then(None).otherwise(rhs)
            quotient = truncating_division(lhs, safe)
            raw = quotient if op == "/" else lhs - safe * quotient
            return Typed(raw.cast(dtype), result_type)
        wide: pl.DataType
        if result_type == t.INTEGER:
            wide, low, high = pl.Int64(), INT32_MIN, INT32_MAX
        elif result_type == t.UNSIGNED_LONG:
            wide, low, high = pl.Int128(), 0, 2**64 - 1
        else:
            wide, low, high = pl.Int128(), INT64_MIN, INT64_MAX
        lw, rw = lhs.cast(wide), rhs.cast(wide)
        raw = {"+": lw + rw, "-": lw - rw, "*": lw * rw}[op]
        overflow = (raw < low) | (raw > high)
        label = "unsigned_long" if result_type == t.UNSIGNED_LONG else result_type
        self.fail(node, overflow, f"java.lang.ArithmeticException: {label} overflow")
        return Typed(pl.when(overflow).then(None).otherwise(raw).cast(dtype), result_type)

    def _date_span_arithmetic(self, node: ast.BinaryOp, left: Typed, right: Typed) -> Typed:
        spans = (t.TIME_DURATION, t.DATE_PERIOD)
        if node.op == "+" and left.type in spans and right.type not in spans:
            left, right = right, left
        if left.type in spans or node.op not in ("+", "-"):
            raise execution_error(
                f"[{node.op}] has arguments with incompatible types [{left.type}] and "
                f"[{right.type}] in [{node.text}]",
                node,
            )
        left = self.as_date(self.single(left, node), node)
        amount, unit = right.const
        if node.op == "-":
            amount = -amount
        millis = span_millis(amount, unit)
        if millis is not None:
            # In 128 bits, so that a date pushed past the span the engine holds is found (and
            # made null with a warning) instead of wrapping or aborting the process.
            epoch = self.bind(Typed(left.expr.dt.epoch("ms").cast(pl.Int128) + millis, t.LONG))
            beyond = (epoch.expr < DATETIME_MIN_MS) | (epoch.expr > DATETIME_MAX_MS)
            self.fail(node, beyond, DATE_RANGE_MESSAGE)
            inside = pl.when(beyond).then(None).otherwise(epoch.expr).cast(pl.Int64)
            return Typed(inside.cast(t.DATETIME), t.DATE)
        else:
            shifted = left.expr.dt.offset_by(span_every(amount, unit))
        return Typed(shifted.cast(t.DATETIME), t.DATE)

    def as_date(self, value: Typed, node: ast.Expr) -> Typed:
        """A date operand; a constant string is parsed as ES converts string literals."""
        if value.type in (t.DATE, t.DATE_NANOS):
            return Typed(value.expr.cast(t.DATETIME), t.DATE, value.multi, value.const)
        if value.type == t.NULL:
            return Typed(pl.lit(None, dtype=t.DATETIME), t.DATE, const=None)
        if is_string(value.type) and value.is_const and isinstance(value.const, str):
            parsed = parse_iso_date(value.const)
            if parsed is None:
                raise execution_error(
                    f"Cannot convert string [{value.const}] to [DATETIME], error [failed to "
                    f"parse date field [{value.const}] with format "
                    "[strict_date_optional_time]]",
                    node,
                )
            return Typed(pl.lit(parsed, dtype=t.DATETIME), t.DATE, const=parsed)
        raise execution_error(
            f"argument of [{node.text}] must be [datetime], found value [{value_text(value)}] "
            f"type [{value.type}]",
            node,
        )

    def _comparison(self, node: ast.BinaryOp, left: Typed, right: Typed) -> Typed:
        left = self.single(left, node)
        right = self.single(right, node)
        if left.type == t.NULL or right.type == t.NULL:
            return Typed(pl.lit(None, dtype=pl.Boolean), t.BOOLEAN, const=None)
        if left.type == t.DATE and is_string(right.type):
            right = self.as_date(right, node)
        elif right.type == t.DATE and is_string(left.type):
            left = self.as_date(left, node)
        # A string literal compared with an ip or version field is read as that type.
        if left.type in (t.IP, t.VERSION) and right.type in t.STRING and right.is_const:
            right = Typed(right.expr, left.type, const=right.const)
        elif right.type in (t.IP, t.VERSION) and left.type in t.STRING and left.is_const:
            left = Typed(left.expr, right.type, const=left.const)
        compatible = (
            (is_numeric(left.type) and is_numeric(right.type))
            or (left.type in t.STRING and right.type in t.STRING)
            or left.type == right.type
        )
        if not compatible:
            shown = "numeric" if is_numeric(left.type) else left.type
            raise execution_error(
                f"first argument of [{node.text}] is [{shown}] so second argument must also be "
                f"[{shown}] but was [{right.type}]",
                node,
            )
        lhs, rhs = left.expr, right.expr
        if is_numeric(left.type) and left.type != right.type:
            common = esql_dtype(numeric_result_type(left.type, right.type))
            lhs, rhs = lhs.cast(common), rhs.cast(common)
        result = {
            "==": lhs == rhs,
            "!=": lhs != rhs,
            "<": lhs < rhs,
            "<=": lhs <= rhs,
            ">": lhs > rhs,
            ">=": lhs >= rhs,
        }[node.op]
        return Typed(result, t.BOOLEAN)

    def _in(self, node: ast.InList) -> Typed:
        value = self.single(self.compile(node.value), node)
        options = [self.single(self.compile(option), node) for option in node.options]
        if value.type == t.NULL:
            return Typed(pl.lit(None, dtype=pl.Boolean), t.BOOLEAN)
        matches: list[pl.Expr] = []
        for option in options:
            if option.type == t.NULL:
                matches.append(pl.lit(None, dtype=pl.Boolean))
                continue
            fake = ast.BinaryOp("==", node.value, node.value, pos=node.pos, text=node.text)
            matches.append(self._comparison(fake, value, option).expr)  # also checks types
        constants = [option.const for option in options if option.type != t.NULL]
        same_kind = all(
            option.type == value.type or (option.type in t.STRING and is_string(value.type))
            for option in options
            if option.type != t.NULL
        )
        if constants and same_kind and all(option.is_const for option in options):
            # One hash lookup instead of a chain of comparisons for long constant lists.
            options_series = pl.Series(constants, dtype=esql_dtype(value.type))
            found = value.expr.is_in(options_series.implode())
            if len(constants) < len(options):
                found = pl.when(found).then(True).otherwise(None)
            result = pl.when(value.expr.is_null()).then(None).otherwise(found)
            return Typed(~result if node.negated else result, t.BOOLEAN)
        if not matches:
            return Typed(pl.lit(False), t.BOOLEAN)
        # An OR chain keeps three-valued logic: no match and a null option gives null.
        result = matches[0]
        for match in matches[1:]:
            result = result | match
        if node.negated:
            result = ~result
        return Typed(result, t.BOOLEAN)

    def _like(self, node: ast.Like) -> Typed:
        value = self.single(self.compile(node.value), node)
        if value.type == t.NULL:
            return Typed(pl.lit(None, dtype=pl.Boolean), t.BOOLEAN)
        if not is_string(value.type):
            raise execution_error(
                f"argument of [{node.text}] must be [string], found value [{value_text(value)}] "
                f"type [{value.type}]",
                node,
            )
        regex = "(?s)^(?:" + node.pattern + ")$" if node.regex else like_to_regex(node.pattern)
        try:
            re.compile(regex)
        except re.error as error:
            raise execution_error(
                f"invalid regular expression [{node.pattern}]: {error}", node
            ) from None
        result = value.expr.str.contains(regex)
        return Typed(~result if node.negated else result, t.BOOLEAN)

    def _is_null(self, node: ast.IsNull) -> Typed:
        value = self.compile(node.value)
        missing = value.expr.is_null()
        if value.multi:
            missing = missing | (value.expr.list.len() == 0)
        return Typed(~missing if node.negated else missing, t.BOOLEAN)

    def _cast(self, node: ast.Cast) -> Typed:
        target = CAST_NAMES.get(node.type.lower())
        if target is None:
            raise unsupported_error(f"cast to [{node.type}] is not supported", node)
        return self.convert(node, self.compile(node.value), target)

    # -----------------------------------------------------------------------------------------
    # Conversions (work value by value on multi-valued input, dropping values that fail)
    # -----------------------------------------------------------------------------------------

    def convert(self, node: ast.Expr, value: Typed, target: str) -> Typed:
        """Convert to `target` as the TO_* functions do; failures become null with a warning."""
        if value.type == t.NULL:
            return Typed(pl.lit(None, dtype=esql_dtype(target)), target, const=None)
        value = self.bind(value)
        if value.type == target or (value.type in t.STRING and target in t.STRING):
            return Typed(value.expr, target, value.multi, value.const)
        if target == t.DATE and value.is_const and isinstance(value.const, str):
            parsed = parse_iso_date(value.const)
            if parsed is not None:
                return Typed(pl.lit(parsed, dtype=t.DATETIME), t.DATE, const=parsed)
        make = converter(value.type, target)
        if make is None:
            raise execution_error(
                f"argument of [{node.text}] must be convertible to [{target}], found value "
                f"[{value_text(value)}] type [{value.type}]",
                node,
            )
        if not value.multi:
            converted, failed, message = make(value.expr)
            if failed is not None:
                self.fail(
                    node,
                    failed,
                    message,
                    value=value.expr.cast(pl.String) if VALUE_PLACEHOLDER in message else None,
                )
                converted = pl.when(failed).then(None).otherwise(converted)
            return Typed(converted, target)
        element = pl.element()
        converted, failed, message = make(element)
        if failed is None:
            return Typed(value.expr.list.eval(converted), target, multi=True)
        any_failed = value.expr.list.eval(failed.fill_null(False)).list.any()
        first_bad = value.expr.list.eval(element.filter(failed.fill_null(False))).list.first()
        self.fail(node, any_failed, message, value=first_bad.cast(pl.String))
        kept = value.expr.list.eval(
            pl.when(failed.fill_null(False)).then(None).otherwise(converted).drop_nulls()
        )
        return Typed(kept, target, multi=True)

    # -----------------------------------------------------------------------------------------
    # Function calls
    # -----------------------------------------------------------------------------------------

    def _call(self, node: ast.FunctionCall) -> Typed:
        # Aggregates register themselves beside their builders, which import this module.
        from qs_tui.esql.aggregates import AGGREGATE_NAMES

        name = node.name.upper()
        if name in AGGREGATE_NAMES:
            if self.aggregate is None:
                raise execution_error(
                    f"aggregate function [{node.text}] not allowed outside STATS command", node
                )
            return self.aggregate(node)
        definition = FUNCTIONS.get(name)
        if definition is None:
            raise unsupported_error(f"Unknown function [{node.name}]", node)
        return self.call(definition, node)

    def call(self, definition: FunctionDef, node: ast.FunctionCall) -> Typed:
        """Compile a call of a registered function, as its definition says.

        The arity is checked first; then a null argument folds the call to a typed null when
        the definition says so; then the arguments are compiled, string literals implicitly
        cast, multi-values checked and types checked, in that order over all arguments (so
        that warnings and errors come out in ES's order), before the builder runs.
        """
        self.check_arity(node, definition.min_args, definition.max_args)
        kind = definition.null_result
        if kind is not None and any(self._is_null_arg(arg) for arg in node.args):
            # A null argument makes the call null, whatever the other arguments are.
            for arg in node.args:
                self.compile(arg)
            return Typed(pl.lit(None, dtype=esql_dtype(kind)), kind, const=None)
        if definition.raw:
            return definition.build(self, node, [])
        params = definition.params_for(len(node.args))
        args = [self.bind(self.compile(arg)) for arg in node.args]
        if kind is not None and any(value.type == t.NULL for value in args):
            # An argument computed to null (`TO_LOWER(MV_LAST(null))`) folds the same way.
            return Typed(pl.lit(None, dtype=esql_dtype(kind)), kind, const=None)
        args = [
            self.implicit_cast(value, arg, param.type)
            for value, arg, param in zip(args, node.args, params, strict=True)
        ]
        args = [
            value if param.multi else self.single(value, node)
            for value, param in zip(args, params, strict=True)
        ]
        lone = definition.max_args == 1
        for index, (value, arg, param) in enumerate(zip(args, node.args, params, strict=True)):
            if param.type is not None:
                self.require(node, value, param.type, "" if lone else argument_ordinal(index), arg)
        return definition.build(self, node, args)

    def check_arity(self, node: ast.FunctionCall, low: int, high: int) -> None:
        """Raise ES's error when a call has fewer than `low` or more than `high` arguments."""
        count = len(node.args)
        if not low <= count <= high:
            expected = str(low) if low == high else f"{low} to {high}"
            raise execution_error(
                f"function [{node.name}] takes {expected} argument(s), found {count} in "
                f"[{node.text}]",
                node,
            )

    def compile_args(
        self, node: ast.FunctionCall, low: int, high: int | None = None
    ) -> list[Typed]:
        """Check the arity and compile every argument (for builders that take them raw)."""
        self.check_arity(node, low, low if high is None else high)
        return [self.bind(self.compile(arg)) for arg in node.args]

    def implicit_cast(self, value: Typed, arg: ast.Expr, arg_type: ArgType | None) -> Typed:
        """A string literal given where a number or a date is expected, converted as ES does.

        ES casts a string literal (not a computed string) to the parameter's type before
        checking types: `ABS("10.0")` is `ABS(10.0)`, `DATE_EXTRACT("year", "2022-05-06")`
        reads the date; a string that does not parse is a verification error at the literal,
        `Cannot convert string [a] to [DOUBLE], ...`.
        """
        if (
            arg_type is None
            or arg_type.cast is None
            or not isinstance(arg, ast.Literal)
            or value.type not in t.STRING
            or not isinstance(value.const, str)
        ):
            return value
        target = arg_type.cast
        if target == t.DATE:
            parsed = parse_iso_date(value.const)
            if parsed is None:
                raise execution_error(
                    f"Cannot convert string [{value.const}] to [DATETIME], error [failed to "
                    f"parse date field [{value.const}] with format [strict_date_optional_time]]",
                    arg,
                )
            return Typed(pl.lit(parsed, dtype=t.DATETIME), t.DATE, const=parsed)
        make = converter(value.type, target)
        assert make is not None  # strings convert to every numeric type
        converted, failed, _ = make(pl.lit(value.const, dtype=pl.String))
        checked = pl.lit(False) if failed is None else failed
        result, bad = pl.select(converted.alias("value"), checked.alias("bad")).row(0)
        if bad or result is None:
            raise execution_error(
                f"Cannot convert string [{value.const}] to [{target.upper()}], error [Cannot "
                f"parse number [{value.const}]]",
                arg,
            )
        return Typed(pl.lit(result, dtype=esql_dtype(target)), target, const=result)

    def require(
        self,
        node: ast.FunctionCall,
        value: Typed,
        arg_type: ArgType,
        position: str,
        arg: ast.Expr | None = None,
    ) -> None:
        """Raise ES's type error when `value` is not of `arg_type` (null is always accepted).

        `position` is the ordinal ES puts first (`second argument of [...]`), empty for a
        function of one parameter; the value is quoted as ES quotes it, by its source text.
        """
        if value.type == t.NULL or arg_type.accepts(value.type):
            return
        shown = arg.text if arg is not None and arg.text else value_text(value)
        lead = f"{position} argument" if position else "argument"
        raise execution_error(
            f"{lead} of [{node.text}] must be [{arg_type.label}], found value [{shown}] "
            f"type [{value.type}]",
            node,
        )

    def const_arg(self, node: ast.FunctionCall, value: Typed, what: str) -> Any:
        """The value of an argument that must be a constant (a pattern, a unit, a delimiter)."""
        if not value.is_const:
            raise execution_error(f"[{what}] of [{node.text}] must be a constant", node)
        return value.const

    def lazy_args(self, node: ast.FunctionCall, low: int) -> list[tuple[Typed, int, int]]:
        """Arguments with the range of `checks` each one registered (see `only_when`)."""
        if len(node.args) < low:
            self.check_arity(node, low, MAX_ARGS)
        compiled: list[tuple[Typed, int, int]] = []
        for arg in node.args:
            first = len(self.checks)
            value = self.bind(self.compile(arg))
            compiled.append((value, first, len(self.checks)))
        return compiled

    def only_when(self, first: int, last: int, evaluated: pl.Expr) -> None:
        """Failures of an argument count only on rows where ES evaluates it.

        CASE and COALESCE evaluate their arguments lazily: a branch that is not taken cannot
        fail, so `x / d` in `CASE(d > 0, x / d, 0)` never warns about division by zero.
        """
        for index in range(first, last):
            check = self.checks[index]
            self.checks[index] = replace(check, failed=check.failed & evaluated)

    def _is_null_arg(self, node: ast.Expr) -> bool:
        if isinstance(node, ast.Literal):
            return node.value is None or node.type == t.NULL
        if isinstance(node, ast.Field):
            info = self.columns.get(node.name)
            return info is not None and info.type == t.NULL
        return False
