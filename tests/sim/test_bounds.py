"""Scenario sizes are bounded: an estate or a run too big for one machine fails at load time
with a `file:line: field: …` error naming the limit, before anything is generated."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from qs_tui.sim.durations import MAX_DURATION, DurationError, parse_duration, parse_offset
from qs_tui.sim.scenario import (
    MAX_HOSTS,
    MAX_REGIONS,
    MAX_SAMPLES,
    MAX_SERVICES,
    ScenarioError,
    load_scenario,
)

EXPECTED = """
[expected]
none = true
"""


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "big.toml"
    path.write_text(body + EXPECTED, encoding="utf-8")
    return path


def load_error(path: Path) -> str:
    """Load `path`, expecting a ScenarioError, with memory traced: the refusal itself must
    not build the estate it refuses."""
    tracemalloc.start()
    try:
        with pytest.raises(ScenarioError) as caught:
            load_scenario(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, f"refusing the scenario took {peak / 2**20:.0f} MiB"
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_million_hosts_is_refused_naming_the_product_and_the_limit(tmp_path: Path) -> None:
    services = ", ".join(f'"svc-{i}"' for i in range(400))
    regions = ", ".join(f'"r-{i}"' for i in range(40))
    path = write(
        tmp_path,
        f"[topology]\nservices = [{services}]\nregions = [{regions}]\nhosts_per_region = 26\n",
    )
    message = load_error(path)
    assert message.startswith(f"{path}:4: topology.hosts_per_region: ")
    assert "400 services x 40 regions x 26 hosts = 416,000 hosts" in message
    assert f"limit is {MAX_HOSTS:,}" in message


def test_too_many_services_names_the_field(tmp_path: Path) -> None:
    services = ", ".join(f'"svc-{i}"' for i in range(MAX_SERVICES + 1))
    path = write(tmp_path, f"[topology]\nservices = [{services}]\nhosts_per_region = 1\n")
    message = load_error(path)
    assert message.startswith(f"{path}:2: topology.services: ")
    assert f"limit is {MAX_SERVICES}" in message


def test_too_many_regions_names_the_field(tmp_path: Path) -> None:
    regions = ", ".join(f'"r-{i}"' for i in range(MAX_REGIONS + 1))
    path = write(tmp_path, f"[topology]\nregions = [{regions}]\nhosts_per_region = 1\n")
    message = load_error(path)
    assert message.startswith(f"{path}:2: topology.regions: ")
    assert f"limit is {MAX_REGIONS}" in message


@pytest.mark.parametrize("field", ["history", "duration"])
def test_a_thousand_days_is_refused(tmp_path: Path, field: str) -> None:
    path = write(tmp_path, f'{field} = "1000d"\n')
    message = load_error(path)
    assert message.startswith(f"{path}:1: {field}: 1000d is longer than the limit of 30d")


def test_absurd_durations_are_a_clear_error_not_an_overflow(tmp_path: Path) -> None:
    path = write(tmp_path, 'duration = "99999999999d"\n')
    message = load_error(path)
    assert message.startswith(f"{path}:1: duration: ")
    assert "too long: at most 3650d" in message
    with pytest.raises(DurationError, match="too long"):
        parse_offset("-99999999999d")
    assert parse_duration("3650d") == MAX_DURATION


def test_samples_over_the_limit_show_the_sum(tmp_path: Path) -> None:
    # 24 hosts (the default estate) every second for 2 days: 4,147,200 samples.
    path = write(tmp_path, 'history = "1d"\nduration = "1d"\ninterval = "1s"\n')
    message = load_error(path)
    assert message.startswith(f"{path}:2: duration: ")
    assert "(history 1d + duration 1d) / interval 1s x 24 hosts = 4,147,200" in message
    assert f"limit is {MAX_SAMPLES:,}" in message


def test_the_largest_shipped_scenarios_stay_within_the_bounds() -> None:
    assert load_scenario("healthy-24h").duration == "24h"
    assert load_scenario("large-estate").topology.generated == 50


def test_a_long_backfill_shows_its_progress_and_a_short_one_stays_quiet() -> None:
    from io import StringIO

    from qs_tui.headless import BackfillProgress

    err = StringIO()
    progress = BackfillProgress(err, threshold=1_000)
    for done in range(0, 2_001, 100):
        progress(done, 2_000)
    lines = err.getvalue().splitlines()
    assert len(lines) == 10
    assert lines[0] == "writing history: 200 of 2,000 samples (10%)"
    assert lines[-1] == "writing history: 2,000 of 2,000 samples (100%)"
    quiet = StringIO()
    short = BackfillProgress(quiet, threshold=1_000)
    short(500, 999)
    assert quiet.getvalue() == ""
