"""Scenario files: every shipped file loads; bad files say which file, line and field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qs_tui.clock import FrozenClock
from qs_tui.sim.faults import FaultKind
from qs_tui.sim.scenario import (
    SCENARIO_DIR,
    ScenarioError,
    load_scenario,
    parse_scenario,
    scenario_names,
)

GOOD = """\
name = "mine"
start = 2026-11-25T14:00:00Z
history = "30m"

[[faults]]
kind = "memory_leak"
service = "payment-service"
region = "us-east-1"
start = "+5m"

[faults.params]
rate = 0.5

[[faults]]
kind = "error_spike"
service = "auth-service"
start = "-5m"
params = { magnitude = 0.2 }

[[expected.incidents]]
kind = "memory_leak"
service = "payment-service"
root_cause = "memory_leak"
actions = ["restart"]
"""


def write(tmp_path: Path, text: str, name: str = "scenario.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_folder_is_found_from_the_package() -> None:
    assert SCENARIO_DIR.is_dir()
    assert SCENARIO_DIR.parts[-2:] == ("fixtures", "scenarios")


def test_every_shipped_scenario_loads_and_every_fault_kind_is_covered() -> None:
    names = scenario_names()
    assert len(names) >= 12
    kinds: set[FaultKind] = set()
    for name in names:
        scenario = load_scenario(name)
        assert scenario.name == name
        assert scenario.path == SCENARIO_DIR / f"{name}.toml"
        assert scenario.description
        topology = scenario.build_topology()
        assert topology.hosts()
        for fault in scenario.faults:
            kinds.add(fault.kind)
            if fault.params.introduces:
                kinds.add(fault.params.introduces)
        assert scenario.expected.none == (not scenario.faults)
    assert kinds == set(FaultKind)
    assert {"healthy", "healthy-24h", "bad-deploy", "cascade"} <= set(names)


def test_healthy_24h_is_a_day_long() -> None:
    scenario = load_scenario("healthy-24h")
    assert scenario.history_span == timedelta(hours=24)
    assert scenario.expected.none


def test_load_by_path(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    scenario = load_scenario(path)
    assert scenario.name == "mine"
    assert scenario.faults[0].offset == timedelta(minutes=5)
    assert scenario.faults[1].offset == timedelta(minutes=-5)
    assert scenario.faults[1].region == "all"
    assert scenario.start_time == datetime(2026, 11, 25, 14, tzinfo=UTC)
    assert load_scenario(str(path)).name == "mine"


def test_start_now_uses_the_clock(tmp_path: Path) -> None:
    at = datetime(2026, 11, 25, 17, 3, 4, tzinfo=UTC)
    text = GOOD.replace("start = 2026-11-25T14:00:00Z", 'start = "now"')
    scenario = parse_scenario(text, clock=FrozenClock(at))
    assert scenario.start_time == at


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ScenarioError, match=r"unknown scenario 'nope'; known: .*memory-leak"):
        load_scenario("nope")
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenario("missing/file.toml")


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('kind = "error_spike"', 'kind = "error_spike'))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    error = caught.value
    assert error.line == 15
    assert str(error).startswith(f"{path}:15: invalid TOML")


@pytest.mark.parametrize(
    ("old", "new", "field", "line", "message"),
    [
        ('kind = "error_spike"', 'kind = "error_spiek"', "faults[1].kind", 15, "Input should be"),
        ("rate = 0.5", "rate = -1", "faults[0].params.rate", 12, "greater than 0"),
        ("rate = 0.5", "rat = 0.5", "faults[0].params.rat", 12, "Extra inputs"),
        ('start = "+5m"', 'start = "soon"', "faults[0].start", 9, "invalid offset"),
        ('history = "30m"', 'history = "30 minutes"', "history", 3, "invalid duration"),
        ('actions = ["restart"]', 'actions = ["reboot"]', "expected.incidents[0].actions[0]",
         24, "Input should be"),
        ('service = "auth-service"', 'service = "billing"', "faults[1].service", 16,
         "unknown service 'billing'"),
        ('region = "us-east-1"', 'region = "mars-1"', "faults[0].region", 8,
         "unknown region 'mars-1'"),
        ("start = 2026-11-25T14:00:00Z", "start = 2026-11-25T14:00:00", "start", 2, "timezone"),
    ],
)  # fmt: skip
def test_invalid_values_name_the_field_and_line(
    tmp_path: Path, old: str, new: str, field: str, line: int, message: str
) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    error = caught.value
    assert error.field == field
    assert error.line == line
    assert str(error).startswith(f"{path}:{line}: {field}: ")
    assert message in str(error)


def test_missing_expected_section_is_named(tmp_path: Path) -> None:
    text = GOOD[: GOOD.index("[[expected.incidents]]")]
    with pytest.raises(ScenarioError, match=r"expected: required but missing"):
        load_scenario(write(tmp_path, text))


def test_expected_none_and_incidents_exclude_each_other(tmp_path: Path) -> None:
    text = GOOD.replace(
        "[[expected.incidents]]", "[expected]\nnone = true\n\n[[expected.incidents]]"
    )
    with pytest.raises(ScenarioError, match="none = true cannot be combined"):
        load_scenario(write(tmp_path, text))


def test_topology_cycle_is_reported(tmp_path: Path) -> None:
    text = GOOD.replace(
        "[[faults]]",
        '[topology.dependencies]\napi-gateway = ["auth-service"]\nauth-service = ["api-gateway"]'
        "\n\n[[faults]]",
        1,
    )
    with pytest.raises(ScenarioError, match="topology: dependency cycle"):
        load_scenario(write(tmp_path, text))


def test_generated_topology_scenario(tmp_path: Path) -> None:
    text = GOOD.replace("[[faults]]", "[topology]\ngenerated = 30\n\n[[faults]]", 1)
    text = text.replace('"payment-service"', '"api-gateway"').replace('"auth-service"', '"all"')
    text = text.replace('kind = "error_spike"', 'kind = "traffic_drop"')
    scenario = load_scenario(write(tmp_path, text))
    assert len(scenario.build_topology().services) == 30
