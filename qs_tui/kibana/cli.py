"""`qs-tui kibana setup|remove`: the subcommand's arguments and its handler."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from qs_tui.config import ConfigError, Settings

if TYPE_CHECKING:
    from qs_tui.kibana.client import KibanaClient

# The client and the setup are imported when the command runs: every `qs-tui` command builds
# this parser, and `esql` should not pay for Kibana's modules at start-up.


def add_kibana_parser(sub: Any, command: Callable[[Any, str, str], Any]) -> None:
    """Add `kibana setup` and `kibana remove` to the `qs-tui` subparsers `sub`.

    Args:
        sub: the `qs-tui` subparsers.
        command: how `qs-tui` adds a command (its help, description and global options).
    """
    kibana = command(
        sub,
        "kibana",
        "install data views, the incidents dashboard and Agent Builder tools into Kibana",
    )
    actions = kibana.add_subparsers(
        dest="kibana_action",
        metavar="{setup,remove}",
        required=True,
        parser_class=type(kibana),
        help="what to do",
    )
    for name, text in (
        ("setup", "install or update everything (re-running duplicates nothing)"),
        ("remove", "take out everything setup installed"),
    ):
        action = command(actions, name, text)
        action.add_argument("--space", default=None, metavar="ID", help="a Kibana space id")
        action.add_argument(
            "--dry-run", action="store_true", help="print what would change; change nothing"
        )


def client_from_settings(settings: Settings, *, space: str | None) -> KibanaClient:
    """A client for `KIBANA_URL`, authenticated with `KIBANA_API_KEY` or the Elastic credentials.

    Raises:
        ConfigError: `KIBANA_URL` is not set.
    """
    from qs_tui.kibana.client import KibanaClient

    if not settings.kibana_url:
        raise ConfigError(
            "KIBANA_URL is not set: give Kibana's URL, e.g. http://localhost:5601 "
            "(on Elastic Cloud, copy the Kibana endpoint from the deployment page)"
        )
    api_key = settings.kibana_api_key or settings.elastic_api_key
    password = settings.elastic_password
    return KibanaClient(
        settings.kibana_url,
        space=space,
        api_key=api_key.get_secret_value() if api_key else None,
        username=settings.elastic_username,
        password=password.get_secret_value() if password else None,
        timeout_s=settings.elastic_request_timeout_s,
    )


def cmd_kibana(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    """`qs-tui kibana setup|remove [--space ID] [--dry-run]`: 0 on success, 1 on an error."""
    from qs_tui.kibana.client import KibanaError
    from qs_tui.kibana.objects import KibanaAssetError
    from qs_tui.kibana.setup import dashboard_url, remove, setup

    try:
        client = client_from_settings(settings, space=args.space)

        def say(line: str) -> None:
            print(f"  {line}", file=out, flush=True)

        where = f"Kibana at {client.endpoint}, space {client.space}"
        heading = "dry run: " if args.dry_run else ""
        print(f"{heading}{args.kibana_action} in {where}", file=out)
        run = setup if args.kibana_action == "setup" else remove
        tally = run(client, say=say, dry_run=args.dry_run)
    except (KibanaError, KibanaAssetError) as error:
        print(f"error: {error}", file=err)
        return 1
    print(f"{args.kibana_action}: {tally.summary()}", file=out)
    if args.kibana_action == "setup" and not args.dry_run:
        print(f"dashboard: {dashboard_url(client)}", file=out)
    return 0
