"""Run the `qs-tui` command with `python -m qs_tui`."""

from qs_tui.cli import main

raise SystemExit(main())
