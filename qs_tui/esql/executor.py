"""Runs a parsed ES|QL query over polars lazy frames, one method per command."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import polars as pl

from qs_tui.esql import ast
from qs_tui.esql import types as t
from qs_tui.esql.aggregates import AGGREGATE_NAMES, compile_aggregate
from qs_tui.esql.buckets import BUCKETS, BucketedStats
from qs_tui.esql.casting import implicit_casts
from qs_tui.esql.catalog import Catalog, Column, EsqlResult, IndexData
from qs_tui.esql.errors import EsqlError, EsqlExecutionError
from qs_tui.esql.functions import (
    VALUE_PLACEHOLDER,
    Check,
    ColumnInfo,
    ExprCompiler,
    Typed,
    esql_dtype,
    execution_error,
    is_known_function,
    is_string,
    unsupported_error,
    where,
)
from qs_tui.esql.functions.core import span_millis
from qs_tui.esql.patterns import dissect_columns, grok_columns
from qs_tui.esql.timerange import TIME_FIELD, TimeRange, is_time_type, split_time_range
from qs_tui.esql.values import frame_to_values

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
DEFAULT_LIMIT_WARNING = f"No limit defined, adding default limit of [{DEFAULT_LIMIT}]"
METADATA_TYPES = {"_index": t.KEYWORD, "_id": t.KEYWORD, "_score": t.DOUBLE}
MAX_FAILURE_MESSAGES = 20

# Hidden working columns start with a NUL so that they can never clash with a user's names.
_HIDDEN = "\x00"


def execute(query: ast.Query, catalog: Catalog, *, now: datetime | None = None) -> EsqlResult:
    """Run a parsed query against the catalog and return an ES-shaped result.

    Args:
        query: the syntax tree from `qs_tui.esql.parser.parse`.
        catalog: where `FROM` and `LOOKUP JOIN` find their indices.
        now: the instant `NOW()` returns (aware, UTC); the current time when omitted.

    Raises:
        EsqlExecutionError: unknown index or column, or arguments of the wrong type.
        EsqlUnsupportedError: a command, function or expression the engine does not implement.
    """
    instant = now if now is not None else datetime.now(UTC)
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    executor = Executor(catalog, now=instant)
    try:
        return executor.run(query)
    except EsqlError:
        raise
    except INTERNAL_ERRORS as error:
        # A safety net: the engine should reject bad input before polars sees it, but a user
        # must never get a traceback, and a polars panic (a BaseException) must not end the
        # caller's thread. The original stays as the cause, so real bugs remain visible.
        raise internal_error(error, executor.position) from error


# What the engine turns into an `EsqlExecutionError`: every ordinary exception, and the panic
# polars raises from Rust (`PanicException` derives from BaseException, not Exception).
INTERNAL_ERRORS: tuple[type[BaseException], ...] = (Exception, pl.exceptions.PanicException)


def internal_error(error: BaseException, pos: ast.Pos) -> EsqlExecutionError:
    """An unexpected failure as a one-line `EsqlExecutionError` located at `pos` (if known)."""
    text = str(error).strip()
    detail = text.splitlines()[0] if text else type(error).__name__
    if isinstance(error, RecursionError):
        detail = "the query is nested too deeply to evaluate"
    message = f"query could not be evaluated: {detail}"
    line, column = pos
    if line == 0:
        return EsqlExecutionError(message)
    return EsqlExecutionError(message, line=line, column=column)


@dataclass
class _Frame:
    """The data between two commands: a lazy frame and the ES|QL type of each visible column."""

    lf: pl.LazyFrame
    types: dict[str, str]
    multi: set[str] = field(default_factory=set)
    # Failure checks evaluated as hidden per-row columns of `lf`: (check, flag, value).
    pending: list[tuple[Check, str, str]] = field(default_factory=list)
    # Straight after FROM: how `lf` reads its indices, so a WHERE can read a window of them.
    scan: _Scan | None = None
    # Straight after such a WHERE: the window it read, so a STATS can reuse time buckets.
    window: _Window | None = None

    def columns(self) -> dict[str, ColumnInfo]:
        return {name: ColumnInfo(kind, name in self.multi) for name, kind in self.types.items()}

    def put(self, name: str, kind: str, multi: bool) -> None:
        """Add or replace a column; a replaced column moves to the end, as ES does."""
        self.types.pop(name, None)
        self.types[name] = kind
        if multi:
            self.multi.add(name)
        else:
            self.multi.discard(name)

    def remove(self, name: str) -> None:
        self.types.pop(name, None)
        self.multi.discard(name)


class Executor:
    """Executes one query; holds the warnings it collects.

    Args:
        catalog: where indices come from.
        now: the instant `NOW()` returns.
    """

    def __init__(self, catalog: Catalog, *, now: datetime) -> None:
        self.catalog = catalog
        self.now = now
        self.warnings: list[str] = []
        self._hidden_counter = 0
        # Where the command being run starts: internal failures are reported there.
        self.position: ast.Pos = ast.NO_POS
        # Per command with fallible expressions: a one-row frame of failure flags, and checks.
        self._deferred: list[tuple[pl.LazyFrame, list[Check]]] = []

    # -----------------------------------------------------------------------------------------
    # Driver
    # -----------------------------------------------------------------------------------------

    def run(self, query: ast.Query) -> EsqlResult:
        """Run every command in order, add the implicit limit, and convert the result."""
        self.position = query.source.pos
        if isinstance(query.source, ast.From):
            frame = self._from(query.source)
        elif isinstance(query.source, ast.Row):
            frame = self._row(query.source)
        else:
            raise unsupported_error(
                f"source command [{type(query.source).__name__}] is not supported", query.source
            )
        has_limit = False
        for command in query.commands:
            handler = self._handlers().get(type(command))
            if handler is None:
                raise unsupported_error(
                    f"command [{type(command).__name__.upper()}] is not supported", command
                )
            self.position = command.pos
            frame = handler(frame, command)
            frame.scan = None  # only the command right after FROM may narrow the scan
            if not isinstance(command, ast.Where):
                frame.window = None  # only a STATS right after that WHERE may reuse buckets
            if isinstance(command, ast.Limit):
                has_limit = True
        # Plans are lazy: a failure while collecting cannot be traced to one command.
        self.position = query.source.pos
        self._settle(frame)
        frame.lf = frame.lf.head(MAX_LIMIT if has_limit else DEFAULT_LIMIT)
        names = list(frame.types)
        final = frame.lf.select([pl.col(name) for name in names])
        collected = self._collect(final)
        if not has_limit:
            self._warn(DEFAULT_LIMIT_WARNING)
        columns = [Column(name, frame.types[name]) for name in names]
        return EsqlResult(columns, frame_to_values(collected, frame.types), list(self.warnings))

    def _handlers(self) -> dict[type, Callable[[_Frame, ast.Command], _Frame]]:
        return {
            ast.Where: self._where,  # type: ignore[dict-item]
            ast.Eval: self._eval,  # type: ignore[dict-item]
            ast.Stats: self._stats,  # type: ignore[dict-item]
            ast.Sort: self._sort,  # type: ignore[dict-item]
            ast.Limit: self._limit,  # type: ignore[dict-item]
            ast.Keep: self._keep,  # type: ignore[dict-item]
            ast.Drop: self._drop,  # type: ignore[dict-item]
            ast.Rename: self._rename,  # type: ignore[dict-item]
            ast.Dissect: self._dissect,  # type: ignore[dict-item]
            ast.Grok: self._grok,  # type: ignore[dict-item]
            ast.MvExpand: self._mv_expand,  # type: ignore[dict-item]
            ast.LookupJoin: self._lookup_join,  # type: ignore[dict-item]
        }

    def _compiler(self, frame: _Frame) -> ExprCompiler:
        return ExprCompiler(frame.columns(), now=self.now)

    def _cast(self, node: ast.Expr, columns: dict[str, ColumnInfo]) -> ast.Expr:
        """`node` with ES's implicit casts of string literals applied (see `casting`)."""
        return implicit_casts(node, columns, now=self.now)

    def _hidden(self, kind: str) -> str:
        self._hidden_counter += 1
        return f"{_HIDDEN}{kind}{self._hidden_counter}"

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def _warn_shadowed(self, name: str, pos: ast.Pos, winner: ast.Pos) -> None:
        """ES's warning for a STATS output dropped in favour of a later one of the same name."""
        self._warn(
            f"{where(pos)}: Field '{name}' shadowed by field at line {winner[0]}:{winner[1]}"
        )

    # -----------------------------------------------------------------------------------------
    # Warnings of failed evaluations
    # -----------------------------------------------------------------------------------------

    @staticmethod
    def _bind(lf: pl.LazyFrame, compiler: ExprCompiler) -> pl.LazyFrame:
        """Add the compiler's intermediate columns, which its expressions refer to.

        Columns that do not depend on each other go in one projection, which keeps the plan
        shallow (polars plans deep chains of projections slowly).
        """
        levels: dict[str, int] = {}
        by_level: list[list[pl.Expr]] = []
        for name, expr in compiler.bindings:
            level = 1 + max(
                (levels[root] for root in expr.meta.root_names() if root in levels), default=-1
            )
            levels[name] = level
            if level == len(by_level):
                by_level.append([])
            by_level[level].append(expr.alias(name))
        for exprs in by_level:
            lf = lf.with_columns(exprs)
        return lf

    def _track(self, frame: _Frame, checks: list[Check]) -> None:
        """Evaluate row checks as hidden columns of the frame, next to the command's values.

        The flags travel with the rows: STATS folds them into its aggregation (one pass over
        the data), and before rows are dropped (WHERE, LIMIT) they are queued by `_settle`.
        """
        if not checks:
            return
        exprs: list[pl.Expr] = []
        for check in checks:
            flag, value = self._hidden("check"), self._hidden("value")
            exprs.append(check.failed.alias(flag))
            if check.value is not None:
                exprs.append(pl.when(check.failed).then(check.value.cast(pl.String)).alias(value))
            frame.pending.append((check, flag, value))
        frame.lf = frame.lf.with_columns(exprs)

    def _settle(self, frame: _Frame) -> None:
        """Queue the frame's pending checks over its current rows, before some are dropped."""
        if not frame.pending:
            return
        exprs: list[pl.Expr] = []
        for index, (check, flag, value) in enumerate(frame.pending):
            exprs.append(pl.col(flag).any().alias(f"failed{index}"))
            if check.value is not None:
                failing = pl.col(value).drop_nulls().unique(maintain_order=True)
                exprs.append(failing.head(MAX_FAILURE_MESSAGES).implode().alias(f"values{index}"))
        self._deferred.append((frame.lf.select(exprs), [check for check, _, _ in frame.pending]))
        frame.pending = []

    def _collect(self, lf: pl.LazyFrame) -> pl.DataFrame:
        """Materialise `lf` and evaluate the queued checks, reporting them in query order.

        The checks share most of their plan with `lf`; one `collect_all` lets polars run the
        common part once.
        """
        collected, *check_frames = pl.collect_all([lf, *(queued for queued, _ in self._deferred)])
        for (_, checks), check_frame in zip(self._deferred, check_frames, strict=True):
            self._report(check_frame, checks)
        self._deferred = []
        return collected

    def _report(self, frame: pl.DataFrame, checks: list[Check]) -> None:
        """Add ES's warnings for every check that failed on some row."""
        for index, check in enumerate(checks):
            if not frame.get_column(f"failed{index}").any():
                continue
            self._warn(check.header)
            if check.value is None:
                self._warn(check.message)
                continue
            failures = frame.get_column(f"values{index}")[0]
            for item in failures.to_list() if failures is not None else []:
                self._warn(check.message.replace(VALUE_PLACEHOLDER, str(item)))

    # -----------------------------------------------------------------------------------------
    # Source commands
    # -----------------------------------------------------------------------------------------

    def _from(self, command: ast.From) -> _Frame:
        indices: dict[str, IndexData] = {}
        for pattern in command.indices:
            found = self.catalog.resolve(pattern)
            # A wildcard that matches nothing is fine next to patterns that match, as in ES;
            # a concrete index that does not exist is not.
            if not found and "*" not in pattern:
                raise execution_error(f"Unknown index [{pattern}]", command)
            for index in found:
                indices.setdefault(index.name, index)
        if not indices:
            raise execution_error(f"Unknown index [{','.join(command.indices)}]", command)
        for name in command.metadata:
            if name not in METADATA_TYPES:
                raise unsupported_error(f"metadata field [{name}] is not supported", command)
        field_types: dict[str, str] = {}
        multi: set[str] = set()
        # A frame's schema is rebuilt on every access: read it once per index, not per field.
        schemas = {index.name: index.frame.schema for index in indices.values()}
        for index in indices.values():
            for name, kind in index.types.items():
                if name.startswith("_"):
                    continue
                previous = field_types.get(name)
                if previous is None:
                    field_types[name] = kind
                elif previous != kind:
                    if {previous, kind} <= {t.KEYWORD, t.TEXT}:
                        field_types[name] = t.KEYWORD
                    else:
                        field_types[name] = t.UNSUPPORTED  # ES: conflicting mapping types
                if isinstance(schemas[index.name].get(name), pl.List):
                    multi.add(name)
        # ES lists an index's fields in alphabetical order; metadata follows as requested.
        ordered = sorted(field_types)
        scan = _Scan()
        for index in indices.values():
            exprs: list[pl.Expr] = []
            for name in ordered:
                exprs.append(
                    _field_expr(schemas[index.name], name, field_types[name], name in multi)
                )
            exprs.append(pl.lit(index.name, dtype=pl.String).alias("_index"))
            if "_id" in schemas[index.name]:
                exprs.append(pl.col("_id").cast(pl.String))
            else:
                exprs.append(pl.lit(None, dtype=pl.String).alias("_id"))
            exprs.append(pl.lit(0.0, dtype=pl.Float64).alias("_score"))
            sliceable = (
                index.sorted_by == TIME_FIELD
                and is_time_type(field_types.get(TIME_FIELD, ""))
                and TIME_FIELD not in multi
                and isinstance(schemas[index.name].get(TIME_FIELD), pl.Datetime)
            )
            scan.parts.append((index.frame, exprs, sliceable))
        types = {name: field_types[name] for name in ordered}
        for name in command.metadata:
            types.pop(name, None)
            types[name] = METADATA_TYPES[name]
        frame = _Frame(scan.lazy(), types, {name for name in multi if name in types})
        frame.scan = scan if any(sliceable for _, _, sliceable in scan.parts) else None
        return frame

    def _row(self, command: ast.Row) -> _Frame:
        compiler = ExprCompiler({}, now=self.now)
        frame = _Frame(pl.LazyFrame({f"{_HIDDEN}row": [0]}), {})
        exprs: dict[str, pl.Expr] = {}
        for assignment in command.fields:
            compiled = compiler.compile(assignment.expr)
            _reject_span(compiled, assignment.expr)
            exprs.pop(assignment.name, None)
            exprs[assignment.name] = compiled.expr.alias(assignment.name)
            frame.put(assignment.name, compiled.type, compiled.multi)
        frame.lf = self._bind(frame.lf, compiler)
        self._track(frame, compiler.checks)
        frame.lf = frame.lf.with_columns(list(exprs.values()))
        return frame

    # -----------------------------------------------------------------------------------------
    # Processing commands
    # -----------------------------------------------------------------------------------------

    def _where(self, frame: _Frame, command: ast.Where) -> _Frame:
        compiler = self._compiler(frame)
        cast = self._cast(command.condition, frame.columns())
        condition = compiler.condition(cast)
        scan, frame.window = frame.scan, None
        if scan is not None and not compiler.checks:
            # Rows outside the window cannot pass, and no row's evaluation warns: reading
            # only the window answers the same (see `qs_tui.esql.timerange`).
            window, rest = split_time_range(cast, lambda node: self._constant_instant(frame, node))
            if window is not None:
                frame.lf = scan.lazy(window)
                frame.window = _Window(
                    window,
                    rest,
                    tuple(data for data, _, _ in scan.parts),
                    tuple(frame.types.items()),
                )
        frame.lf = self._bind(frame.lf, compiler)
        if compiler.scores and "_score" in frame.types:
            total = compiler.scores[0]
            for score in compiler.scores[1:]:
                total = total + score
            frame.lf = frame.lf.with_columns((pl.col("_score") + total).alias("_score"))
        self._track(frame, compiler.checks)
        self._settle(frame)
        frame.lf = frame.lf.filter(condition)
        return frame

    def _constant_instant(self, frame: _Frame, node: ast.Expr) -> datetime | None:
        """`node`'s value when it is a `date` known before reading any row, else None.

        A constant string is read as a date the way a comparison with a date reads it.
        """
        compiler = self._compiler(frame)
        try:
            value = compiler.compile(node)
            if value.is_const and is_string(value.type):
                value = compiler.as_date(value, node)
        except EsqlError:
            return None
        if compiler.checks or compiler.bindings or not value.is_const or value.type != t.DATE:
            return None
        try:
            # The instant as the comparison evaluates it (milliseconds), not the Python
            # constant (which may carry microseconds, as NOW() does).
            instant = pl.select(value.expr.cast(esql_dtype(t.DATE))).item()
        except INTERNAL_ERRORS:
            return None
        return instant if isinstance(instant, datetime) else None

    def _eval(self, frame: _Frame, command: ast.Eval) -> _Frame:
        for assignment in command.fields:
            # Each assignment sees the ones before it.
            compiler = self._compiler(frame)
            compiled = compiler.compile(self._cast(assignment.expr, frame.columns()))
            _reject_span(compiled, assignment.expr)
            frame.lf = self._bind(frame.lf, compiler)
            self._track(frame, compiler.checks)
            frame.lf = frame.lf.with_columns(compiled.expr.alias(assignment.name))
            frame.put(assignment.name, compiled.type, compiled.multi)
        return frame

    def _stats(self, frame: _Frame, command: ast.Stats) -> _Frame:
        grouped = bool(command.groups)

        # Groups are evaluated against the input rows. Of several groups with one name the
        # rightmost wins and the others are not grouped by at all, with ES's warning.
        group_compiler = self._compiler(frame)
        compiled_groups: list[tuple[ast.Assignment, Typed]] = []
        for group in command.groups:
            compiled = group_compiler.compile(self._cast(group.expr, frame.columns()))
            _reject_span(compiled, group.expr)
            if _contains_aggregate(group.expr):
                raise execution_error(
                    f"grouping key [{group.expr.text}] cannot contain an aggregate function",
                    group.expr,
                )
            compiled_groups.append((group, compiled))
        winning_group = {group.name: group for group, _ in compiled_groups}
        for group, _ in compiled_groups:
            if winning_group[group.name] is not group:
                self._warn_shadowed(group.name, group.pos, winning_group[group.name].pos)
        winners = [
            (group, self._hidden("group"), compiled)
            for group, compiled in compiled_groups
            if winning_group[group.name] is group
        ]
        keys = [(group.name, hidden, compiled) for group, hidden, compiled in winners]
        frame.lf = self._bind(frame.lf, group_compiler)
        self._track(frame, group_compiler.checks)
        if keys:
            frame.lf = frame.lf.with_columns(
                [compiled.expr.alias(hidden) for _, hidden, compiled in keys]
            )

        # Inside aggregates (and their WHERE) a group's name means the group's expression,
        # evaluated per row before multi-values are spread over groups: `MAX(l) BY l =
        # languages` is MAX(languages), and a group shadows an input field of its name.
        columns = frame.columns()
        aliases: list[pl.Expr] = []
        for group, hidden, compiled in winners:
            if isinstance(group.expr, ast.Field) and group.expr.name == group.name:
                continue  # the field itself
            aliases.append(pl.col(hidden).alias(group.name))
            columns.pop(group.name, None)
            columns[group.name] = ColumnInfo(compiled.type, compiled.multi)
        if aliases:
            frame.lf = frame.lf.with_columns(aliases)
        row_compiler = ExprCompiler(columns, now=self.now)

        current_condition: list[pl.Expr | None] = [None]
        register = _Aggregations(self._hidden)

        def aggregate(call: ast.FunctionCall) -> Typed:
            return compile_aggregate(
                call,
                row_compiler,
                condition=current_condition[0],
                grouped=grouped,
                register=register,
            )

        group_columns = {name: ColumnInfo(compiled.type, False) for name, _, compiled in keys}
        outer = ExprCompiler(group_columns, now=self.now, aggregate=aggregate)
        register.outer = outer
        agg_exprs = register.exprs
        # Of several aggregates with one name the rightmost wins; a group beats them all.
        winning_aggregate = {agg.name: agg for agg in command.aggregates}
        outputs: list[tuple[str, Typed]] = []
        for agg in command.aggregates:
            current_condition[0] = (
                row_compiler.bind(
                    Typed(row_compiler.condition(self._cast(agg.where, columns)), t.BOOLEAN)
                ).expr
                if agg.where is not None
                else None
            )
            _reject_unknown_functions(agg.expr)
            if isinstance(agg.expr, ast.Field) and agg.expr.name in group_columns:
                raise execution_error(
                    f"grouping key [{agg.expr.name}] already specified in the STATS BY clause",
                    agg.expr,
                )
            outside = _fields_outside_aggregates(agg.expr)
            for name, node in outside:
                if name not in group_columns:
                    raise execution_error(
                        f"column [{name}] must appear in the STATS BY clause or be used in an "
                        "aggregate function",
                        node,
                    )
            if not outside and not _contains_aggregate(agg.expr):
                raise execution_error(
                    f"expected an aggregate function but found [{agg.expr.text}]", agg.expr
                )
            compiled = outer.compile(self._cast(agg.expr, {**columns, **group_columns}))
            if agg.name in winning_group:
                self._warn_shadowed(agg.name, agg.pos, winning_group[agg.name].pos)
                continue
            if winning_aggregate[agg.name] is not agg:
                self._warn_shadowed(agg.name, agg.pos, winning_aggregate[agg.name].pos)
                continue
            outputs.append((agg.name, compiled))
        if not command.aggregates and not keys:
            raise execution_error("STATS needs at least one aggregate or grouping", command)

        # Every row expression (aggregate arguments, filters) is compiled: add the
        # intermediate columns they share.
        frame.lf = self._bind(frame.lf, row_compiler)
        self._track(frame, row_compiler.checks)
        # Failures of earlier commands and of this one's row expressions are folded into
        # per-group flags: plain column aggregations in the same pass as the statistics.
        row_flags = frame.pending
        frame.pending = []
        for check, flag, value in row_flags:
            agg_exprs.append(pl.col(flag).any().alias(flag))
            if check.value is not None:
                agg_exprs.append(pl.col(value).drop_nulls().first().alias(value))
        lf = frame.lf
        for _, hidden, compiled in keys:
            if compiled.multi:
                # A multi-valued key puts the row in the group of each of its values, as ES.
                lf = lf.explode(hidden)

        if keys:
            hidden_keys = [hidden for _, hidden, _ in keys]
            reused = (
                self._bucketed(frame, command, lf, keys, agg_exprs)
                if agg_exprs and not row_flags and not self._deferred
                else None
            )
            if reused is not None:
                # Kept in key order when the bucket is the first key (see `_bucketed`).
                aggregated = reused.lazy()
            else:
                if agg_exprs:
                    aggregated = lf.group_by(hidden_keys).agg(agg_exprs)
                else:
                    aggregated = lf.select(hidden_keys).unique()
                # ES leaves the order of groups undefined; sorting by the keys keeps it
                # stable.
                aggregated = aggregated.sort(hidden_keys, nulls_last=True)
            aggregated = aggregated.with_columns(
                [pl.col(hidden).alias(name) for name, hidden, _ in keys]
            )
        else:
            aggregated = lf.select(agg_exprs)

        final: dict[str, tuple[pl.Expr, str, bool]] = {}
        for name, compiled in outputs:
            final[name] = (compiled.expr, compiled.type, compiled.multi)
        for name, hidden, compiled in keys:
            final[name] = (pl.col(hidden), compiled.type, False)

        # STATS output is small: materialise it, so that later commands (and their checks)
        # do not recompute the aggregation.
        collected = self._collect(aggregated)
        for check, flag, value in row_flags:
            if not collected.get_column(flag).any():
                continue
            self._warn(check.header)
            if check.value is None:
                self._warn(check.message)
                continue
            failures = collected.get_column(value).drop_nulls().unique(maintain_order=True)
            for item in failures.head(MAX_FAILURE_MESSAGES).to_list():
                self._warn(check.message.replace(VALUE_PLACEHOLDER, str(item)))
        result = _Frame(self._bind(collected.lazy(), outer), {})
        self._track(result, outer.checks)
        self._settle(result)
        result.lf = result.lf.select([expr.alias(name) for name, (expr, _, _) in final.items()])
        for name, (_, kind, multi) in final.items():
            result.put(name, kind, multi)
        return result

    def _bucketed(
        self,
        frame: _Frame,
        command: ast.Stats,
        lf: pl.LazyFrame,
        keys: list[tuple[str, str, Typed]],
        agg_exprs: list[pl.Expr],
    ) -> pl.DataFrame | None:
        """The aggregation grouped by `keys`, through the bucket cache (`qs_tui.esql.buckets`)
        when this STATS follows the window's WHERE and groups by fixed `@timestamp` buckets
        that tile the window; None otherwise (the caller aggregates as usual).

        Only when nothing in the rows warns (no checks pending) and nothing depends on the
        instant of the query (`NOW()`): a kept bucket must answer exactly as a fresh one.
        """
        window = frame.window
        if window is None:
            return None
        bounds = window.range
        if (
            bounds.lower is None
            or bounds.upper is None
            or not bounds.lower_inclusive
            or bounds.upper_inclusive
            or any(compiled.multi for _, _, compiled in keys)
        ):
            return None
        groups = {group.name: group for group in command.groups}
        bucket: tuple[int, int] | None = None
        for position, (name, _, _) in enumerate(keys):
            span = _time_bucket_ms(groups[name].expr)
            if span is not None:
                bucket = (position, span)
                break
        if bucket is None:
            return None
        position, span = bucket
        lower, upper = _epoch_ms(bounds.lower), _epoch_ms(bounds.upper)
        if lower % span or upper % span or lower >= upper:
            return None  # a bucket at an edge would be partial: it depends on the window
        signature = (window.source_types, window.rest, command)
        if _calls_now(window.rest) or _calls_now_in(command):
            return None
        try:
            hash(signature)
        except TypeError:  # a multi-valued literal (a list): no signature to key it by
            return None
        names = tuple(
            [hidden for _, hidden, _ in keys] + [expr.meta.output_name() for expr in agg_exprs]
        )
        spec = BucketedStats(
            signature=signature,
            frames=window.frames,
            names=names,
            bucket=position,
            span_ms=span,
        )
        hidden_keys = list(names[: len(keys)])
        bucket_ms = pl.col(names[position]).dt.epoch("ms")

        def compute(start: int, end: int) -> pl.DataFrame:
            rows = lf.filter((bucket_ms >= start) & (bucket_ms < end))
            grouped = rows.group_by(hidden_keys).agg(agg_exprs)
            return grouped.sort(hidden_keys, nulls_last=True).collect()

        reused = BUCKETS.aggregate(spec, lower, upper, compute)
        if position == 0:
            # Each part is sorted by the keys and the parts follow each other in time, the
            # first key: together they are in key order already (no bucket is null, as the
            # window leaves out rows without a timestamp).
            return reused
        return reused.sort(hidden_keys, nulls_last=True)

    def _sort(self, frame: _Frame, command: ast.Sort) -> _Frame:
        compiler = self._compiler(frame)
        keys: list[pl.Expr] = []
        descending: list[bool] = []
        nulls_last: list[bool] = []
        for order in command.orders:
            compiled = compiler.compile(self._cast(order.expr, frame.columns()))
            _reject_span(compiled, order.expr)
            expr = compiled.expr
            if compiled.multi:
                # ES sorts a multi-valued field by its smallest value ascending, largest descending.
                expr = expr.list.min() if order.ascending else expr.list.max()
            keys.append(expr)
            descending.append(not order.ascending)
            first = order.nulls_first if order.nulls_first is not None else not order.ascending
            nulls_last.append(not first)
        frame.lf = self._bind(frame.lf, compiler)
        self._track(frame, compiler.checks)
        frame.lf = frame.lf.sort(
            keys, descending=descending, nulls_last=nulls_last, maintain_order=True
        )
        return frame

    def _limit(self, frame: _Frame, command: ast.Limit) -> _Frame:
        if command.count < 0:
            raise execution_error(
                f"Invalid value for LIMIT [{command.count}], must be a non-negative integer",
                command,
            )
        self._settle(frame)
        frame.lf = frame.lf.head(min(command.count, MAX_LIMIT))
        return frame

    def _match(self, frame: _Frame, pattern: str, command: ast.Command) -> list[str]:
        names = [name for name in frame.types if fnmatch.fnmatchcase(name, pattern)]
        if not names:
            if "*" in pattern:
                raise _name_error(f"No matches found for pattern [{pattern}]", pattern, command)
            raise _name_error(f"Unknown column [{pattern}]", pattern, command)
        return names

    def _keep(self, frame: _Frame, command: ast.Keep) -> _Frame:
        # A column goes where its most specific pattern puts it: exact names beat partial
        # wildcards, which beat a lone `*`; between equals the rightmost pattern wins (as ES).
        placement: dict[str, tuple[int, int]] = {}
        for position, pattern in enumerate(command.patterns):
            rank = 0 if pattern == "*" else 1 if "*" in pattern else 2
            for name in self._match(frame, pattern, command):
                current = placement.get(name)
                if current is None or rank >= current[0]:
                    placement[name] = (rank, position)
        ordered = sorted(
            placement, key=lambda name: (placement[name][1], list(frame.types).index(name))
        )
        types = {name: frame.types[name] for name in ordered}
        frame.types = types
        frame.multi = {name for name in frame.multi if name in types}
        return frame

    def _drop(self, frame: _Frame, command: ast.Drop) -> _Frame:
        # Every pattern is matched against DROP's input, as ES does: naming a column twice
        # (`DROP a, a`, `DROP a*, a`) drops it once instead of failing on the second name.
        dropped = [
            name for pattern in command.patterns for name in self._match(frame, pattern, command)
        ]
        for name in dropped:
            frame.remove(name)
        return frame

    def _rename(self, frame: _Frame, command: ast.Rename) -> _Frame:
        for old, new in command.pairs:
            if old not in frame.types:
                raise _name_error(f"Unknown column [{old}]", old, command)
            if old == new:
                continue
            kind = frame.types[old]
            multi = old in frame.multi
            renamed: dict[str, str] = {}
            for name, existing in frame.types.items():
                if name == new:
                    continue  # the renamed column replaces an existing one of that name
                renamed[new if name == old else name] = kind if name == old else existing
            frame.lf = frame.lf.with_columns(pl.col(old).alias(new))
            frame.types = renamed
            frame.multi.discard(old)
            frame.multi.discard(new)
            if multi:
                frame.multi.add(new)
        return frame

    def _text_source(self, frame: _Frame, source: ast.Expr, command: ast.Command) -> Typed:
        compiler = self._compiler(frame)
        compiled = compiler.single(compiler.compile(source), source)
        if compiled.type not in (t.KEYWORD, t.TEXT, t.NULL):
            raise execution_error(
                f"{type(command).__name__.upper()} only supports KEYWORD or TEXT values, found "
                f"expression [{source.text}] type [{compiled.type}]",
                source,
            )
        frame.lf = self._bind(frame.lf, compiler)
        self._track(frame, compiler.checks)
        return compiled

    def _append_columns(
        self, frame: _Frame, columns: list[tuple[str, pl.Expr, str, bool]]
    ) -> _Frame:
        frame.lf = frame.lf.with_columns([expr.alias(name) for name, expr, _, _ in columns])
        for name, _, kind, multi in columns:
            frame.put(name, kind, multi)
        return frame

    def _dissect(self, frame: _Frame, command: ast.Dissect) -> _Frame:
        source = self._text_source(frame, command.source, command)
        columns = dissect_columns(
            source.expr.cast(pl.String),
            command.pattern,
            append_separator=command.append_separator or "",
            node=command,
        )
        return self._append_columns(frame, columns)

    def _grok(self, frame: _Frame, command: ast.Grok) -> _Frame:
        source = self._text_source(frame, command.source, command)
        columns = grok_columns(source.expr.cast(pl.String), command.pattern, node=command)
        return self._append_columns(frame, columns)

    def _mv_expand(self, frame: _Frame, command: ast.MvExpand) -> _Frame:
        if command.column not in frame.types:
            raise _name_error(f"Unknown column [{command.column}]", command.column, command)
        if command.column in frame.multi:
            expanded = frame.lf.explode(command.column)
            kind = frame.types[command.column]
            frame.lf = expanded
            frame.multi.discard(command.column)
            frame.types[command.column] = kind
        return frame

    def _lookup_join(self, frame: _Frame, command: ast.LookupJoin) -> _Frame:
        if any(char in command.index for char in "*,"):
            raise execution_error(
                f"invalid [{command.index}] resolution in lookup mode to an index pattern",
                command,
            )
        found = self.catalog.resolve(command.index)
        if not found:
            raise execution_error(f"Unknown index [{command.index}]", command)
        lookup = found[0]
        for key in command.on:
            if key not in frame.types:
                raise _name_error(f"Unknown column [{key}] in LOOKUP JOIN", key, command)
            if key not in lookup.types:
                raise execution_error(
                    f"Unknown column [{key}] in lookup index [{lookup.name}]", command
                )
            left_type, right_type = frame.types[key], lookup.types[key]
            if left_type != right_type and not {left_type, right_type} <= {t.KEYWORD, t.TEXT}:
                raise execution_error(
                    f"JOIN left field [{key}] of type [{left_type.upper()}] is incompatible "
                    f"with right field [{key}] of type [{right_type.upper()}]",
                    command,
                )
        added = [
            name
            for name in sorted(lookup.types)
            if name not in command.on and not name.startswith("_")
        ]
        lookup_schema = lookup.frame.schema
        right_exprs = [
            _field_expr(lookup_schema, key, frame.types[key], False) for key in command.on
        ]
        right_exprs += [
            _field_expr(
                lookup_schema,
                name,
                lookup.types[name],
                isinstance(lookup_schema.get(name), pl.List),
            )
            for name in added
        ]
        right = lookup.frame.lazy().select(right_exprs)
        self._settle(frame)  # the join keeps only visible columns
        # Lookup fields replace same-named columns of the input (hidden ones included).
        kept = [name for name in frame.types if name not in added]
        left = frame.lf.select(kept)
        left_keys = []
        for key in command.on:
            if key in frame.multi:
                # A multi-valued key matches nothing, as in ES.
                hidden = self._hidden("key")
                left = left.with_columns(
                    pl.when(pl.col(key).list.len() == 1)
                    .then(pl.col(key).list.first())
                    .alias(hidden)
                )
                left_keys.append(hidden)
            else:
                left_keys.append(key)
        joined = left.join(
            right,
            left_on=left_keys,
            right_on=list(command.on),
            how="left",
            maintain_order="left",
            suffix=f"{_HIDDEN}right",
        )
        frame.lf = joined
        for name in added:
            frame.put(name, lookup.types[name], isinstance(lookup.frame.schema.get(name), pl.List))
        return frame


@dataclass
class _Scan:
    """What FROM reads: per index its frame, the projection to the query's columns, and
    whether the frame is sorted by `@timestamp` (so a time window can slice it)."""

    parts: list[tuple[pl.DataFrame, list[pl.Expr], bool]] = field(default_factory=list)

    def lazy(self, window: TimeRange | None = None) -> pl.LazyFrame:
        """The indices as one lazy frame; sorted ones cut to `window` when given."""
        frames = [
            (window.slice(data) if window is not None and sliceable else data).lazy().select(exprs)
            for data, exprs, sliceable in self.parts
        ]
        return frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical_relaxed")


@dataclass(frozen=True)
class _Window:
    """The `@timestamp` window a WHERE right after FROM read, and what else it asked."""

    range: TimeRange
    rest: tuple[ast.Expr, ...]  # the other top-level AND terms of its condition
    frames: tuple[pl.DataFrame, ...]  # the frames FROM read, in order
    source_types: tuple[tuple[str, str], ...]  # the columns FROM made, with their types


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _epoch_ms(instant: datetime) -> int:
    return (instant - _EPOCH) // timedelta(milliseconds=1)


def _time_bucket_ms(node: ast.Expr) -> int | None:
    """The span of `BUCKET(@timestamp, <fixed span>)` in ms (epoch-aligned), else None."""
    if not (
        isinstance(node, ast.FunctionCall)
        and node.name.upper() == "BUCKET"
        and len(node.args) == 2
        and isinstance(node.args[0], ast.Field)
        and node.args[0].name == TIME_FIELD
        and isinstance(node.args[1], ast.TimeSpan)
        and node.args[1].unit != "week"  # weeks start on Monday, not at the epoch
    ):
        return None
    try:
        return span_millis(node.args[1].amount, node.args[1].unit)
    except KeyError:
        return None


def _calls_now(nodes: tuple[ast.Expr, ...]) -> bool:
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionCall) and node.name.upper() == "NOW":
            return True
        stack.extend(ast.children(node))
    return False


def _calls_now_in(command: ast.Stats) -> bool:
    nodes: list[ast.Expr] = [group.expr for group in command.groups]
    for agg in command.aggregates:
        nodes.append(agg.expr)
        if agg.where is not None:
            nodes.append(agg.where)
    return _calls_now(tuple(nodes))


class _Aggregations:
    """Collects one STATS command's aggregations; failures go to the outer compiler's checks,
    evaluated over the aggregated frame."""

    def __init__(self, hidden: Callable[[str], str]) -> None:
        self.exprs: list[pl.Expr] = []
        self.outer: ExprCompiler | None = None
        self._hidden = hidden

    def __call__(self, expr: pl.Expr) -> pl.Expr:
        name = self._hidden("agg")
        self.exprs.append(expr.alias(name))
        return pl.col(name)

    def fail(self, node: ast.Expr, failed: pl.Expr, exception: str) -> None:
        assert self.outer is not None, "aggregates compile through the outer compiler"
        self.outer.fail(node, failed, exception)


class _ColumnNameError(EsqlExecutionError):
    """An error about a column named in a command whose syntax tree keeps no position for it.

    It starts at the command's position; once the query text is attached it moves to where
    the name is written after the command, so the caret points at the name itself.
    """

    def __init__(self, message: str, name: str, *, line: int, column: int) -> None:
        super().__init__(message, line=line, column=column)
        self.name = name

    def located(self, query: str) -> EsqlError:
        if self.query is None and self.line is not None and self.column is not None:
            lines = query.split("\n")
            if 1 <= self.line <= len(lines):
                offset = sum(len(text) + 1 for text in lines[: self.line - 1]) + self.column - 1
                found = _find_name(query, self.name, offset)
                if found is not None:
                    before = query[:found]
                    self.line = before.count("\n") + 1
                    self.column = found - (before.rfind("\n") + 1) + 1
        return super().located(query)


def _find_name(query: str, name: str, start: int) -> int | None:
    """Where `name` (bare or in backquotes) is first written at or after `start`."""
    bare = rf"(?<![\w.@`*]){re.escape(name)}(?![\w.@`*])"
    quoted = re.escape("`" + name.replace("`", "``") + "`")
    match = re.compile(f"{quoted}|{bare}").search(query, start)
    return match.start() if match else None


def _name_error(message: str, name: str, command: ast.Command) -> EsqlExecutionError:
    line, column = command.pos
    if line == 0:
        return EsqlExecutionError(message)
    return _ColumnNameError(message, name, line=line, column=column)


def _field_expr(schema: pl.Schema, name: str, kind: str, multi: bool) -> pl.Expr:
    """Column `name` of an index (`schema`: its frame's) cast to the engine's dtype for `kind`
    (nulls when absent)."""
    dtype = esql_dtype(kind)
    target: pl.DataType = pl.List(dtype) if multi and kind != t.UNSUPPORTED else dtype
    if name not in schema or kind == t.UNSUPPORTED:
        return pl.lit(None, dtype=target).alias(name)
    column = pl.col(name)
    present = schema[name]
    if multi and not isinstance(present, pl.List):
        wrapped = pl.concat_list([column.cast(dtype)])
        return pl.when(column.is_null()).then(None).otherwise(wrapped).alias(name)
    if present == target:
        return column
    return column.cast(target, strict=False).alias(name)


def _reject_span(compiled: Typed, node: ast.Expr) -> None:
    if compiled.type in (t.TIME_DURATION, t.DATE_PERIOD):
        raise execution_error(
            f"a time span [{node.text}] can only be used in date arithmetic, DATE_TRUNC or BUCKET",
            node,
        )


def _reject_unknown_functions(node: ast.Expr) -> None:
    """Name an unknown function before complaining that no aggregate was found."""
    if isinstance(node, ast.FunctionCall):
        if not is_known_function(node.name):
            raise unsupported_error(f"Unknown function [{node.name}]", node)
        for arg in node.args:
            _reject_unknown_functions(arg)
    elif isinstance(node, ast.BinaryOp):
        _reject_unknown_functions(node.left)
        _reject_unknown_functions(node.right)
    elif isinstance(node, ast.UnaryOp):
        _reject_unknown_functions(node.operand)
    elif isinstance(node, ast.Cast | ast.IsNull | ast.Like):
        _reject_unknown_functions(node.value)


def _contains_aggregate(node: ast.Expr) -> bool:
    stack: list[ast.Expr] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.FunctionCall) and current.name.upper() in AGGREGATE_NAMES:
            return True
        stack.extend(ast.children(current))
    return False


def _fields_outside_aggregates(node: ast.Expr) -> list[tuple[str, ast.Field]]:
    """The columns an aggregate expression reads outside its aggregate calls (`f` in
    `LENGTH(f) + COUNT(*)`): in STATS they must be groups."""
    found: list[tuple[str, ast.Field]] = []
    stack: list[ast.Expr] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Field):
            found.append((current.name, current))
        elif isinstance(current, ast.FunctionCall):
            if current.name.upper() not in AGGREGATE_NAMES:
                stack.extend(current.args)
        elif isinstance(current, ast.BinaryOp):
            stack.extend((current.right, current.left))
        elif isinstance(current, ast.UnaryOp):
            stack.append(current.operand)
        elif isinstance(current, ast.Cast | ast.IsNull | ast.Like):
            stack.append(current.value)
        elif isinstance(current, ast.InList):
            stack.append(current.value)
            stack.extend(current.options)
    return found
