"""The `qs-tui` command line: the war room, headless runs, ES|QL, seeding, doctor and benchmarks."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn, TextIO

from qs_tui import __version__
from qs_tui.config import ConfigError, Settings, redact_url_credentials
from qs_tui.esql.catalog import EsqlResult
from qs_tui.esql.errors import EsqlError
from qs_tui.kibana.cli import add_kibana_parser, cmd_kibana
from qs_tui.recorder.cli import add_recorder_parsers, cmd_incidents, cmd_replay, cmd_report
from qs_tui.store.base import Store, StoreError


class UsageError(Exception):
    """The command line itself is wrong (mismatched option groups, bad values)."""


# ---------------------------------------------------------------------------------------------
# Argument parsing
# ---------------------------------------------------------------------------------------------


def _parse_param(text: str) -> tuple[str, Any]:
    """`NAME=VALUE`; VALUE is read as JSON when it is JSON (numbers, true, null, "text"),
    otherwise it is a string, so `--param start=2026-11-25T16:00:00Z` needs no quoting."""
    name, sep, raw = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    name = name.lstrip("?")
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    if isinstance(value, dict | list):
        value = raw
    return name, value


def _parse_instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO-8601 instant such as 2026-11-25T16:00:00Z, got {text!r}"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _whole_number(text: str, *, minimum: int) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected a number of at least {minimum}, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    return _whole_number(text, minimum=1)


def _non_negative_int(text: str) -> int:
    return _whole_number(text, minimum=0)


def _duration(text: str) -> timedelta:
    """A positive duration such as `90s`, `15m` or `2h` (argparse names the option)."""
    from qs_tui.sim.durations import DurationError, parse_duration

    try:
        span = parse_duration(text)
    except DurationError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if span <= timedelta(0):
        raise argparse.ArgumentTypeError(f"{text!r} is no time at all: give e.g. 90s, 15m or 2h")
    return span


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """An argument parser whose mistakes are one `error:` line and exit status 1.

    argparse's own habit (a usage block and exit status 2) would collide with `run`'s 2 for
    "an incident was missed", so a script could not tell a typo from a miss.
    """

    def error(self, message: str) -> NoReturn:
        """Raise the mistake as a `UsageError` naming the command it belongs to."""
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


#: Options every command accepts, before or after the command name: (flags, metavar, help).
GLOBAL_OPTIONS: tuple[tuple[str, str, str], ...] = (
    (
        "--env-file",
        "FILE",
        "settings file read before the environment (default: .env when it exists)",
    ),
    ("--data-dir", "DIR", "persist the embedded store in DIR (overrides QS_DATA_DIR)"),
)
#: What the global options are when given nowhere.
GLOBAL_DEFAULTS: dict[str, Any] = {
    "env_file": Path(".env"),
    "data_dir": None,
    "source": None,
    "profile": None,
    "read_only": False,
}
#: Where telemetry comes from, as `--source` takes it (mirrors `qs_tui.session.SOURCE_KINDS`,
#: kept here so that parsing the command line does not import the agents).
SOURCE_CHOICES = ("simulated", "live")


def _add_global_options(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS as the default: a command's parser must not overwrite with its default a
    # value given before the command name; `main` fills in the real defaults afterwards.
    for flag, metavar, help_text in GLOBAL_OPTIONS:
        parser.add_argument(
            flag, type=Path, default=argparse.SUPPRESS, metavar=metavar, help=help_text
        )
    parser.add_argument(
        "--source",
        choices=SOURCE_CHOICES,
        default=argparse.SUPPRESS,
        help="where the telemetry comes from: simulated (the simulator writes it) or live "
        "(only read what is in the store) (default: QS_SOURCE, else live when a cluster is "
        "configured, else simulated)",
    )
    # Global too, but a name as often as a path: kept a string.
    parser.add_argument(
        "--profile",
        default=argparse.SUPPRESS,
        metavar="NAME|PATH",
        help="schema profile the queries read through: qs, ecs, otel or a .toml file "
        "(overrides QS_PROFILE)",
    )
    # A switch rather than a path, so it is not in GLOBAL_OPTIONS' (flag, metavar, help) form.
    parser.add_argument(
        "--read-only",
        action="store_true",
        default=argparse.SUPPRESS,
        help="call no remediation executor, whatever the policy or an approval says "
        "(plans become advice; also QS_READ_ONLY=1)",
    )


def _command(
    commands: argparse._SubParsersAction[_Parser], name: str, help_text: str
) -> argparse.ArgumentParser:
    """Add a command with its help (in the list and on its own --help) and the global options."""
    parser = commands.add_parser(
        name, help=help_text, description=help_text[0].upper() + help_text[1:] + "."
    )
    _add_global_options(parser)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The `qs-tui` argument parser (exposed for tests and for the help text in the README)."""
    parser = _Parser(
        prog="qs-tui",
        description="QuantumState: an SRE war room in the terminal. Without a command, "
        "opens the war room.",
        epilog="Global options go before or after the command: --env-file, --data-dir, "
        "--source, --profile, --read-only. "
        "Exit status: 0 ok, 1 an error or bad usage; run --headless adds 2 (an incident "
        "missed or left open) and 3 (a remediation rejected).",
    )
    parser.add_argument("--version", action="version", version=f"qs-tui {__version__}")
    _add_global_options(parser)
    parser.add_argument(
        "--scenario",
        dest="top_scenario",
        default=None,
        metavar="SCENARIO",
        help="scenario for the war room, or for run/live/seed when they name none "
        "(a name from fixtures/scenarios/ or a TOML file)",
    )
    parser.add_argument(
        "--speed",
        dest="top_speed",
        type=_positive_float,
        default=None,
        metavar="FACTOR",
        help="simulated seconds per wall second in the war room, or for run/live "
        "(default: QS_SPEED, 10)",
    )
    sub = parser.add_subparsers(
        dest="command",
        metavar="COMMAND",
        parser_class=_Parser,
        help="what to do; without one, the war room opens",
    )

    run = _command(sub, "run", "run the agents on a scenario (the war room, or --headless)")
    run.add_argument("--headless", action="store_true", help="no TUI: print the transcript")
    run.add_argument(
        "--scenario", default=None, metavar="SCENARIO", help="scenario name or TOML file"
    )
    run.add_argument(
        "--speed",
        type=_positive_float,
        default=None,
        metavar="FACTOR",
        help="simulated seconds per wall second (headless default: as fast as possible)",
    )
    run.add_argument(
        "--approve",
        choices=["auto", "deny", "prompt"],
        default="prompt",
        help="how approval requests are answered in --headless mode (default: prompt)",
    )
    run.add_argument("--json", action="store_true", help="one JSON object per event (headless)")
    run.add_argument(
        "--for",
        dest="run_for",
        type=_duration,
        default=None,
        metavar="DURATION",
        help="with --headless --source live: watch for this long on the wall clock "
        "(e.g. 90s, 15m, 2h; default: until Ctrl-C)",
    )

    live = _command(sub, "live", "stream simulated telemetry and print it (no agents, no TUI)")
    live.add_argument(
        "--scenario", default=None, metavar="SCENARIO", help="scenario name or TOML file"
    )
    live.add_argument(
        "--speed",
        type=_positive_float,
        default=None,
        metavar="FACTOR",
        help="simulated seconds per wall second (default: QS_SPEED, 10)",
    )
    live.add_argument(
        "--seconds",
        type=_positive_float,
        default=None,
        metavar="SECONDS",
        help="stop after this many wall seconds (default: run until Ctrl-C)",
    )

    esql = _command(sub, "esql", "run an ES|QL query against the configured store")
    esql.add_argument(
        "query", metavar="QUERY", help="the query text, @FILE to read it from a file, - for stdin"
    )
    esql.add_argument(
        "--store",
        choices=["embedded", "elastic"],
        default=None,
        help="the store to query (default: QS_STORE, or elastic when a cluster is configured)",
    )
    esql.add_argument(
        "--param",
        dest="params",
        action="append",
        type=_parse_param,
        default=[],
        metavar="NAME=VALUE",
        help="a named parameter (?NAME); repeatable; VALUE is JSON or plain text",
    )
    esql.add_argument(
        "--now",
        type=_parse_instant,
        default=None,
        metavar="INSTANT",
        help="fix NOW() to this ISO-8601 instant, e.g. 2026-11-25T16:00:00Z (embedded store)",
    )
    esql.add_argument(
        "--format",
        choices=["table", "json", "csv"],
        default="table",
        help="output format (default: table; json is the body of ES's POST /_query)",
    )
    esql.add_argument(
        "--index",
        dest="indices",
        action="append",
        default=[],
        metavar="INDEX",
        help="index to load into the embedded store; repeatable, with --mapping and --data",
    )
    esql.add_argument(
        "--mapping",
        dest="mappings",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="Elasticsearch mapping JSON for the --index before it",
    )
    esql.add_argument(
        "--data",
        dest="datas",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="NDJSON documents for the --index before it",
    )

    seed = _command(sub, "seed", "write a scenario's simulated history into the store")
    seed.add_argument(
        "--scenario", default=None, metavar="SCENARIO", help="scenario name or TOML file"
    )
    seed.add_argument(
        "--history",
        default=None,
        metavar="DURATION",
        help="how much history, e.g. 2h, 90m, 1d (default: the scenario's)",
    )
    seed.add_argument(
        "--store",
        choices=["embedded", "elastic"],
        default=None,
        help="the store to write (default: QS_STORE, or elastic when a cluster is configured)",
    )

    _command(sub, "doctor", "check configuration, connectivity, version and templates")

    queries = _command(
        sub, "queries", "print the exact ES|QL each query becomes for a schema profile"
    )
    queries.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="write one <query>.esql file per query into DIR instead of printing them",
    )

    bench = _command(sub, "bench", "benchmarks: the engine, the agents on scenarios, the TUI")
    bench_sub = bench.add_subparsers(
        dest="bench", metavar="BENCH", parser_class=_Parser, help="which benchmark to run"
    )
    engine = _command(bench_sub, "engine", "time the embedded ES|QL engine against DuckDB")
    engine.add_argument(
        "--docs",
        type=_positive_int,
        default=1_000_000,
        metavar="N",
        help="metric documents to generate (default: 1,000,000)",
    )
    engine.add_argument(
        "--seed", type=int, default=7, metavar="N", help="seed for the generated data (default: 7)"
    )
    engine.add_argument(
        "--ndjson-docs",
        type=_non_negative_int,
        default=None,
        metavar="N",
        help="documents in the NDJSON end-to-end case (default: --docs; 0 skips it)",
    )
    scenarios = _command(
        bench_sub, "scenarios", "run every scenario headless and score the agents on each"
    )
    scenarios.add_argument(
        "--dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder of *.toml scenarios (default: the built-in ones)",
    )
    scenarios.add_argument(
        "--json", type=Path, default=None, metavar="FILE", help="also write the results to FILE"
    )

    tui = _command(bench_sub, "tui", "the war room streaming a large estate: CPU and latency")
    tui.add_argument(
        "--services",
        type=_positive_int,
        default=50,
        metavar="N",
        help="services in the estate (default: 50)",
    )
    tui.add_argument(
        "--regions", type=_positive_int, default=3, metavar="N", help="regions (default: 3)"
    )
    tui.add_argument(
        "--seconds",
        type=_positive_float,
        default=20.0,
        metavar="SECONDS",
        help="wall seconds to stream (default: 20)",
    )
    soak = _command(bench_sub, "soak", "many simulated hours at full speed: does anything grow?")
    soak.add_argument(
        "--hours",
        type=_soak_hours,
        default=24.0,
        metavar="N",
        help="simulated hours to play, fractions allowed (default: 24)",
    )
    soak.add_argument(
        "--json", type=Path, default=None, metavar="FILE", help="also write the figures to FILE"
    )
    add_kibana_parser(sub, _command)
    add_recorder_parsers(sub, _command)
    return parser


def _soak_hours(text: str) -> float:
    """`bench soak --hours`: above 0 and at most a scenario's longest span."""
    from qs_tui.sim.scenario import MAX_SPAN

    value = _positive_float(text)
    longest = MAX_SPAN.total_seconds() / 3600
    if not value <= longest:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"expected at most {longest:g} hours, got {text!r}")
    return value


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse `argv`, filling in the global options wherever (or if) they were given.

    Raises:
        UsageError: the command line is wrong (one line, naming the command).
        SystemExit: `--help` or `--version` printed what was asked.
    """
    args, extras = parser.parse_known_args(argv)
    if extras:
        # argparse would blame the top-level parser; name the command the words were given to.
        words = [getattr(args, "command", None), getattr(args, "bench", None)]
        where = " ".join(["qs-tui", *(word for word in words if word)])
        raise UsageError(
            f"{where}: unrecognized arguments: {' '.join(extras)} (see {where} --help)"
        )
    if hasattr(args, "env_file") and not args.env_file.exists():
        # A settings file named on purpose and missing (a typo in `--env-file prod.env`)
        # would otherwise fall back silently to the embedded store.
        raise UsageError(f"--env-file {args.env_file}: no such file")
    for name, default in GLOBAL_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, default)
    return args


# ---------------------------------------------------------------------------------------------
# Output formats
# ---------------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ", ".join(_cell(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def format_table(result: EsqlResult) -> str:
    """Columns aligned under their names, numbers right-aligned; an empty result says so."""
    names = [c.name for c in result.columns]
    rows = [[_cell(v) for v in row] for row in result.values]
    widths = [len(name) for name in names]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    numeric = [c.type in {"integer", "long", "double", "unsigned_long"} for c in result.columns]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(width) if is_num else cell.ljust(width)
            for cell, width, is_num in zip(cells, widths, numeric, strict=True)
        ]
        return " | ".join(parts).rstrip()

    out = [line(names), "-+-".join("-" * w for w in widths)]
    out.extend(line(row) for row in rows)
    if not rows:
        out.append("(no rows)")
    return "\n".join(out)


def format_csv(result: EsqlResult) -> str:
    """RFC 4180 CSV with a header row; nulls are empty cells, multi-values joined by `;`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([c.name for c in result.columns])
    for row in result.values:
        writer.writerow(["" if v is None else v if isinstance(v, str) else _cell(v) for v in row])
    return buffer.getvalue().rstrip("\n")


def format_result(result: EsqlResult, fmt: str) -> str:
    """Render a result as `table`, `json` (ES's `POST /_query` body) or `csv`."""
    if fmt == "json":
        return json.dumps(result.to_body(), ensure_ascii=False)
    if fmt == "csv":
        return format_csv(result)
    return format_table(result)


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------


def _open_store(settings: Settings, kind: str | None, data_dir: Path | None) -> Store:
    from qs_tui.store.factory import open_store

    return open_store(settings, kind=kind, data_dir=data_dir)


def _read_query(arg: str, stdin: TextIO) -> str:
    if arg == "-":
        return stdin.read()
    if arg.startswith("@"):
        path = Path(arg[1:])
        try:
            return path.read_text(encoding="utf-8")
        except OSError as error:
            raise UsageError(f"cannot read query file {path}: {error.strerror}") from None
    return arg


def cmd_esql(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    """`qs-tui esql`: load any --index groups, run the query, print it in the chosen format."""
    groups = (len(args.indices), len(args.mappings), len(args.datas))
    if len(set(groups)) != 1:
        raise UsageError(
            "--index, --mapping and --data go together as groups: got "
            f"{groups[0]} --index, {groups[1]} --mapping and {groups[2]} --data"
        )
    kind = args.store or settings.store_kind
    if args.indices and kind != "embedded":
        raise UsageError("--index/--mapping/--data load documents into the embedded store only")
    if args.now is not None and kind != "embedded":
        raise UsageError("--now fixes NOW() on the embedded store only")
    query = _read_query(args.query, sys.stdin)
    store = _open_store(settings, kind, args.data_dir)
    try:
        if args.indices:
            from qs_tui.store.loader import load_index

            for index, mapping, data in zip(args.indices, args.mappings, args.datas, strict=True):
                load_index(store, index=index, mapping_path=mapping, data_path=data)
        params: dict[str, Any] = dict(args.params)
        result = store.esql(query, params=params or None, now=args.now)
        hint = None
        if not result.values and not args.indices:
            hint = _empty_source_hint(store, query, kind, args.data_dir or settings.data_dir)
    finally:
        store.close()
    for warning in result.warnings:
        print(f"warning: {warning}", file=err)
    if hint is not None:
        print(f"note: {hint}", file=err)
    print(format_result(result, args.format), file=out)
    return 0


_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
_FROM_SOURCES = re.compile(r"^\s*FROM\s+(.+?)(?:\s+METADATA\b|\||$)", re.IGNORECASE | re.DOTALL)


def _empty_source_hint(store: Store, query: str, kind: str, data_dir: Path | None) -> str | None:
    """Why a query over `FROM …` may have found nothing: its indices are empty or missing.

    Only asked when the answer has no rows, so an empty result on a seeded store costs one
    extra `COUNT(*)` and explains itself; None when the sources do hold documents.
    """
    match = _FROM_SOURCES.match(_COMMENTS.sub(" ", query))
    if match is None:
        return None
    sources = " ".join(match.group(1).split())
    try:
        counted = store.esql(f"FROM {sources} | STATS n = COUNT(*)")
        documents = counted.values[0][0] if counted.values else 0
    except (StoreError, EsqlError):
        documents = None
    if documents:
        return None
    state = "does not exist" if documents is None else "has no documents"
    if kind != "embedded":
        return f"{sources} {state} in the cluster: `qs-tui seed` writes a scenario's history there"
    if data_dir is None:
        return (
            f"{sources} {state}: the embedded store is in memory and starts empty. Fill a "
            "data directory with `qs-tui seed --data-dir DIR` and query it with "
            "`--data-dir DIR`, or load documents with --index/--mapping/--data"
        )
    return (
        f"{sources} {state} in {data_dir}: fill it with `qs-tui seed --data-dir {data_dir}`, "
        "or load documents with --index/--mapping/--data"
    )


def cmd_seed(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    """`qs-tui seed`: backfill a scenario's history into the configured store."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from qs_tui.sim.scenario import load_scenario
    from qs_tui.sim.seed import parse_duration, seed

    scenario = load_scenario(args.scenario or args.top_scenario or settings.scenario)
    history = parse_duration(args.history) if args.history else None
    shape = _simulated_shape(settings.profile, "seed")
    kind = args.store or settings.store_kind
    data_dir = args.data_dir or settings.data_dir
    if kind == "embedded" and data_dir is None:
        print(
            "note: the embedded store is in memory; set QS_DATA_DIR or --data-dir to keep data",
            file=err,
        )
    store = _open_store(settings, kind, data_dir)
    try:
        with Progress(
            TextColumn("seeding {task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,} docs"),
            TimeRemainingColumn(),
            console=_console(err),
            transient=True,
        ) as progress:
            task = progress.add_task(scenario.name, total=1)

            def report(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            counts = seed(store, scenario, history=history, progress=report, shape=shape)
    finally:
        store.close()
    total = sum(counts.values())
    shaped = "" if shape == "qs" else f" in the {shape} shape"
    print(f"seeded scenario {scenario.name}{shaped}: {total:,} documents", file=out)
    width = max([22, *map(len, counts)])
    for index, count in sorted(counts.items()):
        print(f"  {index:<{width}} {count:>10,}", file=out)
    return 0


def _simulated_shape(profile: str, command: str) -> str:
    """The built-in profile whose shape the simulator writes for `command` (`--profile`)."""
    from qs_tui.sim.shapes import SHAPES as SIMULATED_SHAPES

    if profile not in SIMULATED_SHAPES:
        raise UsageError(
            f"{command} --profile: the simulator writes the shapes of the built-in profiles "
            f"{', '.join(SIMULATED_SHAPES)}, not {profile!r}"
        )
    return profile


def _console(stream: TextIO) -> Any:
    from rich.console import Console

    return Console(file=stream)


def cmd_doctor(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    """`qs-tui doctor`: check everything and say how to fix what is wrong."""
    from qs_tui.doctor import run_doctor

    if args.data_dir is not None:
        settings = settings.model_copy(update={"data_dir": args.data_dir})
    # The profile's coverage is checked when one is chosen (--profile or QS_PROFILE).
    chosen = args.profile is not None or "profile" in settings.model_fields_set
    return run_doctor(settings, out=out, profile=settings.profile if chosen else None)


def cmd_queries(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    """`qs-tui queries [--profile NAME] [--out DIR]`: the rendered query library."""
    from qs_tui.profiles import load_profile
    from qs_tui.profiles.commands import print_queries, write_queries

    profile = load_profile(settings.profile)
    if args.out is None:
        print_queries(profile, out=out)
        return 0
    written = write_queries(profile, args.out)
    print(f"wrote {len(written)} queries for profile {profile.name} to {args.out}", file=out)
    return 0


def cmd_bench(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    """`qs-tui bench engine`: ingest and detection queries, engine against DuckDB."""
    if args.bench == "engine":
        from qs_tui.bench.engine import run_engine_bench

        run_engine_bench(docs=args.docs, seed=args.seed, ndjson_docs=args.ndjson_docs, out=out)
        return 0
    if args.bench == "scenarios":
        from qs_tui.bench.scenarios import run_scenario_bench

        run_scenario_bench(
            directory=args.dir,
            json_path=args.json,
            out=out,
            profile=_simulated_shape(settings.profile, "bench scenarios"),
        )
        return 0
    if args.bench == "tui":
        from qs_tui.bench.tui import run_tui_bench

        run_tui_bench(services=args.services, regions=args.regions, seconds=args.seconds, out=out)
        return 0
    if args.bench == "soak":
        from qs_tui.bench.soak import run_soak_bench

        run_soak_bench(hours=args.hours, json_path=args.json, out=out, err=err)
        return 0
    raise UsageError("choose a benchmark: qs-tui bench engine|scenarios|tui|soak")


def cmd_run(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    """`qs-tui run`: the war room, or with --headless the transcript on stdout."""
    from qs_tui.agents.base import PipelineSettings
    from qs_tui.remediation.policy import policy_settings

    if args.data_dir is not None:
        settings = settings.model_copy(update={"data_dir": args.data_dir})
    # Only a scenario named here: QS_SCENARIO is the simulated source's default, not a
    # choice to refuse on a live one.
    scenario = args.scenario or args.top_scenario
    speed = args.speed or args.top_speed
    if args.headless:
        from qs_tui.headless import run_headless

        return run_headless(
            pipeline_settings=PipelineSettings().model_copy(update=policy_settings(settings)),
            scenario=scenario,
            speed=speed,
            approve=args.approve,
            json_lines=args.json,
            out=out,
            err=err,
            stdin=sys.stdin,
            settings=settings,
            source=args.source,
            run_for=args.run_for,
        )
    if args.run_for is not None:
        raise UsageError("qs-tui run: --for applies to --headless --source live runs")
    return _run_tui(
        settings,
        scenario=scenario,
        speed=speed,
        data_dir=args.data_dir,
        source=args.source,
        err=err,
    )


def _run_tui(
    settings: Settings,
    *,
    scenario: str | None,
    speed: float | None,
    data_dir: Path | None,
    source: str | None = None,
    err: TextIO | None = None,
) -> int:
    from qs_tui.ui.runner import run_tui

    return run_tui(
        settings, scenario=scenario, speed=speed, data_dir=data_dir, source=source, err=err
    )


def live_refresh_s(sample_every_s: float, stop_after_s: float | None) -> float:
    """Wall seconds between live tables: one per new sample (at least a second apart, so a
    fast run stays readable), but never waiting past the requested stop."""
    refresh = max(1.0, sample_every_s)
    return min(refresh, stop_after_s) if stop_after_s is not None else refresh


def cmd_live(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    """`qs-tui live`: stream simulated telemetry and print it, without agents or TUI."""
    from qs_tui.sim.live import run_live
    from qs_tui.sim.scenario import load_scenario

    scenario = load_scenario(args.scenario or args.top_scenario or settings.scenario)
    # The war room's default (QS_SPEED, 10): at x1 a new 10 s sample arrives only every tenth
    # refresh and the same table would print again and again.
    speed = args.speed or args.top_speed or settings.speed
    every_s = scenario.interval_seconds / speed
    print(
        f"live: {scenario.name} at x{speed:g} (simulated seconds per wall second): a new "
        f"sample every {every_s:g} s; "
        + (f"stopping after {args.seconds:g} s" if args.seconds else "Ctrl-C stops"),
        file=err,
    )
    store = _open_store(settings, None, args.data_dir)
    try:
        run_live(
            store,
            scenario,
            speed=speed,
            out=out,
            stop_after=args.seconds,
            refresh_s=live_refresh_s(every_s, args.seconds),
        )
    finally:
        store.close()
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings, TextIO, TextIO], int]] = {
    "run": cmd_run,
    "esql": cmd_esql,
    "seed": cmd_seed,
    "doctor": cmd_doctor,
    "queries": cmd_queries,
    "bench": cmd_bench,
    "live": cmd_live,
    "kibana": cmd_kibana,
    "report": cmd_report,
    "incidents": cmd_incidents,
    "replay": cmd_replay,
}


def _known_errors() -> tuple[type[BaseException], ...]:
    """Errors that are the user's to fix: printed as one clear message, never a traceback."""
    errors: list[type[BaseException]] = [ConfigError, StoreError, UsageError, EsqlError]
    from qs_tui.remediation.config import RemediationConfigError

    errors.append(RemediationConfigError)
    try:
        from qs_tui.store.loader import LoadError

        errors.append(LoadError)
    except ImportError:  # pragma: no cover - the loader ships with the package
        pass
    from qs_tui.profiles import ProfileError

    errors.append(ProfileError)
    try:
        from qs_tui.session import SessionError

        errors.append(SessionError)
    except ImportError:  # pragma: no cover - the session builder ships with the package
        pass
    try:
        from qs_tui.sim.scenario import ScenarioError

        errors.append(ScenarioError)
    except ImportError:  # pragma: no cover
        pass
    try:
        from qs_tui.sim.seed import DurationError

        errors.append(DurationError)
    except ImportError:
        pass
    return tuple(errors)


def describe_error(error: BaseException) -> str:
    """The one-paragraph message printed for a known error."""
    if isinstance(error, EsqlError):
        return f"ES|QL {error.kind}: {error.render()}"
    if isinstance(error, StoreError):
        return f"{error.title}: {error.message}" if error.message else error.title
    return str(error)


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Entry point of `qs-tui`; returns the exit status.

    0 is success and 1 an error or bad usage (one `error:` line on stderr); `run --headless`
    adds 2 (an incident missed or left open) and 3 (a remediation rejected).
    """
    out = out or sys.stdout
    err = err or sys.stderr
    settings: Settings | None = None
    try:
        try:
            args = parse_args(build_parser(), argv)
        except SystemExit as done:  # --help and --version: what was asked is printed
            return done.code if isinstance(done.code, int) else 0

        def warn(message: str) -> None:
            print(f"warning: {message}", file=err)

        settings = Settings.load(env_file=args.env_file, warn=warn)
        if args.profile is not None:
            settings = settings.model_copy(update={"profile": args.profile})
        if args.read_only:  # the flag only ever adds read-only, never lifts QS_READ_ONLY
            settings = settings.model_copy(update={"read_only": True})
        if args.command is None:
            return _run_tui(
                settings.model_copy(update={"data_dir": args.data_dir or settings.data_dir}),
                scenario=args.top_scenario,
                speed=args.top_speed,
                data_dir=args.data_dir,
                source=args.source,
                err=err,
            )
        return COMMANDS[args.command](args, settings, out, err)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`qs-tui live | head`): nothing left to say to it, and the
        # interpreter's own flush at exit must not complain either.
        if out is sys.stdout:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as error:
        # The error types that are the user's to fix are looked up only on failure: some live
        # in modules that are slow to import (the simulator's), which `esql` never needs.
        if isinstance(error, _known_errors()):
            print(f"error: {_redacted(describe_error(error), settings)}", file=err)
            return 1
        if not isinstance(error, OSError):
            return _last_resort(error, settings, err)
        # A file or directory the user named cannot be used (`--json /missing/out.json`).
        where = f"{error.filename}: " if error.filename else ""
        reason = error.strerror or str(error)
        print(f"error: {_redacted(where + reason, settings)}", file=err)
        return 1
    except (SystemExit, GeneratorExit):
        raise
    except BaseException as error:
        # A panic inside a native library (polars' PanicException) is not an Exception.
        return _last_resort(error, settings, err)


def _last_resort(error: BaseException, settings: Settings | None, err: TextIO) -> int:
    """One line, secrets masked, never a traceback that could print a password from a
    message or a URL; QS_DEBUG=1 shows the traceback for a bug report."""
    if settings is not None and settings.debug:
        raise error
    first_line = (str(error).strip().splitlines() or [""])[0]
    print(
        f"error: unexpected {type(error).__name__}: {_redacted(first_line, settings)} "
        "(a bug: run again with QS_DEBUG=1 for the traceback and report it)",
        file=err,
    )
    return 1


def _redacted(text: str, settings: Settings | None) -> str:
    """`text` with configured secrets and URL credentials masked."""
    return settings.redact(text) if settings is not None else redact_url_credentials(text)
