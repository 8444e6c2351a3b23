"""`qs-tui report`, `qs-tui incidents` and `qs-tui replay`: going back over past incidents."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from qs_tui.config import Settings
from qs_tui.profiles import Profile, load_profile
from qs_tui.store.base import Store

#: The commands this module adds, by name.
RECORDER_COMMANDS = ("report", "incidents", "replay")


def add_recorder_parsers(sub: Any, command: Callable[[Any, str, str], Any]) -> None:
    """Add `report`, `incidents` and `replay` to the `qs-tui` subparsers `sub`.

    Args:
        sub: the `qs-tui` subparsers.
        command: how `qs-tui` adds a command (its help, description and global options).
    """
    store_help = "embedded (default: QS_STORE) or elastic (ELASTIC_URL)"
    report = command(sub, "report", "write the postmortem of a past incident")
    report.add_argument("incident_id", metavar="INCIDENT", help="the incident's id (INC-0001)")
    report.add_argument("--format", choices=("md", "json"), default="md", help="default: md")
    report.add_argument("--store", choices=("embedded", "elastic"), default=None, help=store_help)
    listing = command(sub, "incidents", "list past incidents")
    listing.add_argument(
        "--since",
        default=None,
        metavar="WHEN",
        help="7d, 12h, 30m or an ISO instant (default: all)",
    )
    listing.add_argument("--service", default=None, metavar="S", help="only this service's")
    listing.add_argument(
        "--format", choices=("table", "json"), default="table", help="default: table"
    )
    listing.add_argument("--store", choices=("embedded", "elastic"), default=None, help=store_help)
    replay = command(sub, "replay", "play a past incident back in the war room")
    replay.add_argument("incident_id", metavar="INCIDENT", help="the incident's id (INC-0001)")
    replay.add_argument("--store", choices=("embedded", "elastic"), default=None, help=store_help)
    replay.add_argument(
        "--paused", action="store_true", help="open paused at the start (space plays)"
    )


def _open(args: argparse.Namespace, settings: Settings) -> tuple[Store, Profile]:
    from qs_tui.store.factory import open_store

    store = open_store(settings, kind=args.store, data_dir=args.data_dir)
    return store, load_profile(settings.profile)


def _load(args: argparse.Namespace, settings: Settings, err: TextIO) -> Any:
    """The flight record of `args.incident_id`, or None after one line on `err`."""
    from qs_tui.recorder.flight import IncidentNotFound, load_incident

    store, profile = _open(args, settings)
    try:
        return load_incident(store, args.incident_id, profile), profile
    except IncidentNotFound:
        print(f"error: no incident {args.incident_id} in the store's qs-incidents", file=err)
        return None
    finally:
        store.close()


def cmd_report(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    """`qs-tui report INC-0001`: the postmortem in Markdown or JSON."""
    from qs_tui.recorder.postmortem import postmortem_json, postmortem_markdown

    loaded = _load(args, settings, err)
    if loaded is None:
        return 1
    record, profile = loaded
    write = postmortem_json if args.format == "json" else postmortem_markdown
    print(write(record, profile), file=out)
    return 0


def cmd_incidents(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    """`qs-tui incidents`: past incidents, newest first."""
    from qs_tui.recorder.flight import list_incidents, parse_since

    try:
        since = parse_since(args.since, datetime.now(UTC)) if args.since else None
    except ValueError as error:
        print(f"error: {error}", file=err)
        return 1
    store, profile = _open(args, settings)
    try:
        rows = list_incidents(store, since=since, service=args.service, profile=profile)
    finally:
        store.close()
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2, default=str), file=out)
        return 0
    columns = ("incident_id", "opened_at", "service", "region", "kind", "state", "action", "mttr_s")
    table = [columns] + [tuple(_cell(row.get(c)) for c in columns) for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    for line in table:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip(),
            file=out,
        )
    if not rows:
        print("(no incidents)", file=out)
    return 0


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def cmd_replay(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    """`qs-tui replay INC-0001`: the incident played back from the store and audit trail."""
    loaded = _load(args, settings, err)
    if loaded is None:
        return 1
    from qs_tui.ui.screens.replay import ReplayApp

    ReplayApp(loaded[0], playing=not args.paused).run()
    return 0
