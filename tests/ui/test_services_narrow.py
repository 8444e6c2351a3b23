"""At 80×24 the services pane keeps its headers and rows that read differently."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from textual.widget import Widget
from textual.widgets import Label

from qs_tui.ui.app import WarRoomApp
from qs_tui.ui.widgets import ServicesPane
from qs_tui.ui.widgets.services import ServiceRow, short_regions
from tests.ui.conftest import SMALL, WIDE

pytestmark = pytest.mark.anyio

WarRoom = Callable[..., WarRoomApp]


def test_short_regions_are_the_host_codes_and_never_ambiguous() -> None:
    assert short_regions(["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"]) == {
        "us-east-1": "use1",
        "us-west-2": "usw2",
        "eu-west-1": "euw1",
        "ap-southeast-2": "apse2",
    }
    # Two regions that would share a code keep their full names.
    assert short_regions(["us-east-1", "us-eastern-1", "eu-west-1"]) == {
        "us-east-1": "us-east-1",
        "us-eastern-1": "us-eastern-1",
        "eu-west-1": "euw1",
    }


def shown_labels(widget: Widget) -> list[str]:
    return [str(label.render()) for label in widget.query(Label) if label.display]


@pytest.mark.parametrize("size", [SMALL, WIDE], ids=["80x24", "120x40"])
async def test_headers_stay_and_every_row_reads_differently(
    war_room: WarRoom, size: tuple[int, int]
) -> None:
    app = war_room("cascade", history=timedelta(minutes=5))
    async with app.run_test(size=size) as pilot:
        await app.wait_ready()
        await pilot.pause()
        pane = app.query_one(ServicesPane)
        header = pane.query_one("#services-header")
        assert header.display and header.region.height == 1
        titles = shown_labels(header)
        assert titles[1:] == (
            ["cpu", "mem", "err", "p95"] if size == SMALL else ["cpu", "memory", "errors", "p95"]
        )
        names = []
        for row in pane.query(ServiceRow):
            (name,) = [label for label in row.query(".name").results(Label) if label.display]
            # What fits in the cell is what the operator reads.
            names.append(str(name.render())[: name.content_region.width])
        assert len(names) == 12
        assert len(set(names)) == len(names), names
        if size == SMALL:
            assert "● use1 payment-service" in names
