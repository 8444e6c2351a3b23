"""The `qs-tui` command line: the war room, headless runs, ES|QL, seeding, doctor and benchmarks."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from qs_tui import __version__
from qs_tui.config import ConfigError, Settings
from qs_tui.esql.catalog import EsqlResult
from qs_tui.esql.errors import EsqlError
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


def _positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The `qs-tui` argument parser (exposed for tests and for the help text in the README)."""
    parser = argparse.ArgumentParser(
        prog="qs-tui",
        description="QuantumState: an SRE war room in the terminal.",
    )
    parser.add_argument("--version", action="version", version=f"qs-tui {__version__}")
    parser.add_argument(
        "--env-file",
        type=Path,
        default=Path(".env"),
        help="settings file read before the environment (default: .env)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="persist the embedded store here (overrides QS_DATA_DIR)",
    )
    parser.add_argument(
        "--scenario",
        dest="top_scenario",
        default=None,
        help="scenario for the war room (a name from fixtures/scenarios/ or a TOML file)",
    )
    parser.add_argument(
        "--speed",
        dest="top_speed",
        type=_positive_float,
        default=None,
        help="simulated seconds per wall second in the war room",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run the agents on a scenario (the war room, or --headless)")
    run.add_argument("--headless", action="store_true", help="no TUI: print the transcript")
    run.add_argument("--scenario", default=None, help="scenario name or TOML file")
    run.add_argument(
        "--speed",
        type=_positive_float,
        default=None,
        help="simulated seconds per wall second (headless default: as fast as possible)",
    )
    run.add_argument(
        "--approve",
        choices=["auto", "deny", "prompt"],
        default="prompt",
        help="how approval requests are answered in --headless mode (default: prompt)",
    )
    run.add_argument("--json", action="store_true", help="one JSON object per event (headless)")

    live = sub.add_parser("live", help="stream simulated telemetry and print it (headless view)")
    live.add_argument("--scenario", default=None, help="scenario name or TOML file")
    live.add_argument("--speed", type=_positive_float, default=None, help="simulated s per s")
    live.add_argument("--seconds", type=_positive_float, default=None, help="stop after N s")

    esql = sub.add_parser("esql", help="run an ES|QL query against the configured store")
    esql.add_argument("query", help="the query text, @FILE to read it from a file, - for stdin")
    esql.add_argument("--store", choices=["embedded", "elastic"], default=None)
    esql.add_argument(
        "--param",
        dest="params",
        action="append",
        type=_parse_param,
        default=[],
        metavar="NAME=VALUE",
        help="a named parameter (?NAME); repeatable; VALUE is JSON or plain text",
    )
    esql.add_argument("--now", type=_parse_instant, default=None, help="fix NOW() (embedded)")
    esql.add_argument("--format", choices=["table", "json", "csv"], default="table")
    esql.add_argument(
        "--index", dest="indices", action="append", default=[], help="index to load (embedded)"
    )
    esql.add_argument(
        "--mapping",
        dest="mappings",
        action="append",
        default=[],
        type=Path,
        help="Elasticsearch mapping JSON for the --index before it",
    )
    esql.add_argument(
        "--data",
        dest="datas",
        action="append",
        default=[],
        type=Path,
        help="NDJSON documents for the --index before it",
    )

    seed = sub.add_parser("seed", help="write simulated history into the configured store")
    seed.add_argument("--scenario", default=None, help="scenario name or TOML file")
    seed.add_argument("--history", default=None, help="how much history, e.g. 2h, 90m, 1d")
    seed.add_argument("--store", choices=["embedded", "elastic"], default=None)

    sub.add_parser("doctor", help="check configuration, connectivity, version and templates")

    bench = sub.add_parser("bench", help="benchmarks")
    bench_sub = bench.add_subparsers(dest="bench", metavar="BENCH")
    engine = bench_sub.add_parser("engine", help="embedded ES|QL engine against DuckDB")
    engine.add_argument("--docs", type=_positive_int, default=1_000_000)
    engine.add_argument("--seed", type=int, default=7)
    engine.add_argument(
        "--ndjson-docs",
        type=_positive_int,
        default=None,
        help="documents in the NDJSON end-to-end case (default: --docs)",
    )
    scenarios = bench_sub.add_parser("scenarios", help="run every scenario and score the agents")
    scenarios.add_argument("--dir", type=Path, default=None, help="folder of *.toml scenarios")
    scenarios.add_argument("--json", type=Path, default=None, help="write results to FILE")
    tui = bench_sub.add_parser("tui", help="the war room streaming a large estate: CPU and latency")
    tui.add_argument("--services", type=_positive_int, default=50)
    tui.add_argument("--regions", type=_positive_int, default=3)
    tui.add_argument("--seconds", type=_positive_float, default=20.0)
    return parser


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
    finally:
        store.close()
    for warning in result.warnings:
        print(f"warning: {warning}", file=err)
    print(format_result(result, args.format), file=out)
    return 0


def cmd_seed(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    """`qs-tui seed`: backfill a scenario's history into the configured store."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from qs_tui.sim.scenario import load_scenario
    from qs_tui.sim.seed import parse_duration, seed

    scenario = load_scenario(args.scenario or settings.scenario)
    history = parse_duration(args.history) if args.history else None
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

            counts = seed(store, scenario, history=history, progress=report)
    finally:
        store.close()
    total = sum(counts.values())
    print(f"seeded scenario {scenario.name}: {total:,} documents", file=out)
    for index, count in sorted(counts.items()):
        print(f"  {index:<22} {count:>10,}", file=out)
    return 0


def _console(stream: TextIO) -> Any:
    from rich.console import Console

    return Console(file=stream)


def cmd_doctor(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    """`qs-tui doctor`: check everything and say how to fix what is wrong."""
    from qs_tui.doctor import run_doctor

    if args.data_dir is not None:
        settings = settings.model_copy(update={"data_dir": args.data_dir})
    return run_doctor(settings, out=out)


def cmd_bench(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    """`qs-tui bench engine`: ingest and detection queries, engine against DuckDB."""
    if args.bench == "engine":
        from qs_tui.bench.engine import run_engine_bench

        run_engine_bench(docs=args.docs, seed=args.seed, ndjson_docs=args.ndjson_docs, out=out)
        return 0
    if args.bench == "scenarios":
        from qs_tui.bench.scenarios import run_scenario_bench

        run_scenario_bench(directory=args.dir, json_path=args.json, out=out)
        return 0
    if args.bench == "tui":
        from qs_tui.bench.tui import run_tui_bench

        run_tui_bench(services=args.services, regions=args.regions, seconds=args.seconds, out=out)
        return 0
    raise UsageError("choose a benchmark: qs-tui bench engine|scenarios|tui")


def cmd_run(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    """`qs-tui run`: the war room, or with --headless the transcript on stdout."""
    if args.data_dir is not None:
        settings = settings.model_copy(update={"data_dir": args.data_dir})
    scenario = args.scenario or settings.scenario
    if args.headless:
        from qs_tui.headless import run_headless

        return run_headless(
            scenario=scenario,
            speed=args.speed,
            approve=args.approve,
            json_lines=args.json,
            out=out,
            err=err,
            stdin=sys.stdin,
            settings=settings,
        )
    return _run_tui(settings, scenario=scenario, speed=args.speed, data_dir=args.data_dir)


def _run_tui(
    settings: Settings, *, scenario: str | None, speed: float | None, data_dir: Path | None
) -> int:
    from qs_tui.ui.runner import run_tui

    return run_tui(settings, scenario=scenario, speed=speed, data_dir=data_dir)


def cmd_live(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    """`qs-tui live`: stream simulated telemetry and print it, without agents or TUI."""
    from qs_tui.sim.live import run_live
    from qs_tui.sim.scenario import load_scenario

    scenario = load_scenario(getattr(args, "scenario", None) or settings.scenario)
    speed = getattr(args, "speed", None) or settings.speed
    store = _open_store(settings, None, args.data_dir)
    try:
        run_live(store, scenario, speed=speed, out=out, stop_after=getattr(args, "seconds", None))
    finally:
        store.close()
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings, TextIO, TextIO], int]] = {
    "run": cmd_run,
    "esql": cmd_esql,
    "seed": cmd_seed,
    "doctor": cmd_doctor,
    "bench": cmd_bench,
    "live": cmd_live,
}


def _known_errors() -> tuple[type[BaseException], ...]:
    """Errors that are the user's to fix: printed as one clear message, never a traceback."""
    errors: list[type[BaseException]] = [ConfigError, StoreError, UsageError, EsqlError]
    try:
        from qs_tui.store.loader import LoadError

        errors.append(LoadError)
    except ImportError:  # pragma: no cover - the loader ships with the package
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
    """Entry point of `qs-tui`; returns the exit status (0 ok, 1 error, 2 usage)."""
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.load(env_file=args.env_file)
        if args.command is None:
            return _run_tui(
                settings.model_copy(update={"data_dir": args.data_dir or settings.data_dir}),
                scenario=args.top_scenario or settings.scenario,
                speed=args.top_speed,
                data_dir=args.data_dir,
            )
        return COMMANDS[args.command](args, settings, out, err)
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        # Looked up only on failure: some error types live in modules that are slow to import
        # (the simulator's), which a command like `esql` never needs.
        if not isinstance(error, _known_errors()):
            raise
        print(f"error: {describe_error(error)}", file=err)
        return 1
