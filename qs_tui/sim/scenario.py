"""Scenario files: TOML describing topology, faults and what a correct response looks like.

Scenario names resolve against the shipped scenarios: the repository's `fixtures/scenarios/`
folder, which an installed package carries inside it (see `qs_tui.resources`), so names work
from any working directory, in a checkout, an editable install or a wheel.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from qs_tui.clock import Clock, SystemClock
from qs_tui.resources import scenario_dir
from qs_tui.sim.durations import DurationError, parse_duration
from qs_tui.sim.faults import ALL, FaultKind, FaultSpec
from qs_tui.tomlfile import TomlFileError, decode_error
from qs_tui.tomlfile import field_path as _field_path
from qs_tui.tomlfile import line_of as _line_of
from qs_tui.topology import (
    DEFAULT_HOSTS_PER_REGION,
    DEFAULT_REGIONS,
    DEFAULT_SERVICES,
    Topology,
    generated_topology,
)

#: The shipped scenarios' folder: inside the package, or the checkout's `fixtures/scenarios/`.
SCENARIO_DIR = scenario_dir()

#: Hosts a scenario may simulate (services x regions x hosts per region). The largest shipped
#: estate has 400; each host is one metric document per interval.
MAX_HOSTS = 5_000
#: Services a scenario may list.
MAX_SERVICES = 500
#: Regions a scenario may list.
MAX_REGIONS = 50
#: The longest `history` and `duration`: a month each. Longer belongs in a real cluster.
MAX_SPAN = timedelta(days=30)
#: Metric samples a scenario may generate in all: (history + duration) / interval x hosts.
#: About 150 bytes each in the embedded store, so the bound keeps a whole run under ~300 MB
#: of telemetry and a backfill to a minute or two (the 24-hour healthy scenario: 414,720).
MAX_SAMPLES = 2_000_000

ActionName = Literal["rollback", "restart", "scale_out", "failover", "flush_cache", "none"]


class ScenarioError(TomlFileError):
    """A scenario that cannot be loaded; the message names the file and the line or field."""

    unnamed = "scenario"


class TopologySpec(BaseModel):
    """`[topology]`: the estate the scenario runs on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    services: list[str] | None = None
    """Service names (default: the four default services). Not with `generated`."""

    regions: list[str] = Field(default_factory=lambda: list(DEFAULT_REGIONS))
    """Region names."""

    hosts_per_region: int = Field(default=DEFAULT_HOSTS_PER_REGION, ge=1, le=26)
    """Hosts each service runs in each region."""

    generated: int | None = Field(default=None, ge=1, le=50)
    """Generate this many services with seeded names and a random dependency graph."""

    dependencies: dict[str, list[str]] | None = None
    """service -> services it calls (default: the default graph among the listed services)."""

    @model_validator(mode="after")
    def _services_or_generated(self) -> TopologySpec:
        if self.services is not None and self.generated is not None:
            raise ValueError("give either services or generated, not both")
        if not self.regions:
            raise ValueError("regions must not be empty")
        return self

    def build(self, seed: int) -> Topology:
        """The topology this spec describes.

        Raises:
            ValueError: for unknown services in dependencies or a dependency cycle.
        """
        if self.generated is not None:
            return generated_topology(
                self.generated,
                seed=seed,
                regions=self.regions,
                hosts_per_region=self.hosts_per_region,
            )
        services = tuple(self.services) if self.services is not None else DEFAULT_SERVICES
        dependencies = None
        if self.dependencies is not None:
            dependencies = {name: tuple(calls) for name, calls in self.dependencies.items()}
        return Topology(
            services=services,
            regions=tuple(self.regions),
            hosts_per_region=self.hosts_per_region,
            dependencies=dependencies,
        )


class ExpectedIncident(BaseModel):
    """`[[expected.incidents]]`: one incident a correct response finds and fixes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FaultKind
    """What the incident is (the fault kind; a bad deploy's introduced kind or `bad_deploy`)."""

    service: str
    """The service that must be named as the origin."""

    region: str = ALL
    """The region (or `all`)."""

    root_cause: str
    """What the investigation should conclude: `deploy v2.4.0` or the fault kind."""

    actions: list[ActionName] = Field(min_length=1)
    """Remediations that count as correct (any one of them)."""

    detect_within: str | None = None
    """How soon after onset detection should happen (a duration), if it matters."""

    @field_validator("detect_within")
    @classmethod
    def _is_duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


class Expected(BaseModel):
    """`[expected]`: what a correct response looks like."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    none: bool = False
    """True for scenarios with nothing to find: a correct response opens no incident."""

    incidents: list[ExpectedIncident] = Field(default_factory=list)
    """The incidents to find, in order of onset."""

    @model_validator(mode="after")
    def _none_or_incidents(self) -> Expected:
        if self.none and self.incidents:
            raise ValueError("none = true cannot be combined with incidents")
        if not self.none and not self.incidents:
            raise ValueError("list incidents, or set none = true for a scenario without faults")
        return self


class Scenario(BaseModel):
    """A scenario: everything needed to replay an incident (or a quiet day) reproducibly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    """Short name (usually the file name without `.toml`)."""

    description: str = ""
    """What happens, in a sentence or two."""

    seed: int = 7
    """Seed for every random choice."""

    start: datetime | Literal["now"] = datetime.fromisoformat("2026-11-25T12:00:00+00:00")
    """When the live part begins (ISO 8601 with a timezone, or `now`)."""

    history: str = "1h"
    """How much telemetry exists before `start` (backfilled by `qs-tui seed`)."""

    duration: str = "1h"
    """How long the scenario runs after `start`."""

    interval: str = "10s"
    """Seconds between metric samples per host."""

    healthy_deploys: bool = True
    """Whether routine (healthy) deploys happen on their own."""

    topology: TopologySpec = Field(default_factory=TopologySpec)
    """The estate."""

    faults: list[FaultSpec] = Field(default_factory=list)
    """What goes wrong, and when."""

    expected: Expected
    """What a correct response looks like."""

    path: Path | None = Field(default=None, exclude=True)
    """The file the scenario came from (set by `load_scenario`)."""

    @field_validator("start")
    @classmethod
    def _aware(cls, value: datetime | str) -> datetime | str:
        if isinstance(value, datetime) and value.utcoffset() is None:
            raise ValueError("start needs a timezone, e.g. 2026-11-25T12:00:00Z")
        return value

    @field_validator("history", "duration", "interval")
    @classmethod
    def _is_duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("history", "duration")
    @classmethod
    def _within_span(cls, value: str) -> str:
        if parse_duration(value) > MAX_SPAN:
            raise ValueError(f"{value} is longer than the limit of {MAX_SPAN.days}d")
        return value

    @field_validator("interval")
    @classmethod
    def _whole_seconds(cls, value: str) -> str:
        seconds = parse_duration(value).total_seconds()
        if seconds < 1 or seconds != int(seconds):
            raise ValueError("interval must be a whole number of seconds, at least 1s")
        return value

    @field_validator("expected", mode="before")
    @classmethod
    def _none_shortcut(cls, value: Any) -> Any:
        return {"none": True} if value == "none" else value

    @property
    def start_time(self) -> datetime:
        """`start` as an aware UTC datetime (`now` must be resolved by `load_scenario`)."""
        if isinstance(self.start, str):
            raise ValueError("start = 'now' is resolved when the scenario is loaded")
        return self.start.astimezone(UTC)

    @property
    def history_span(self) -> timedelta:
        """`history` as a timedelta."""
        return parse_duration(self.history)

    @property
    def duration_span(self) -> timedelta:
        """`duration` as a timedelta."""
        return parse_duration(self.duration)

    @property
    def interval_seconds(self) -> int:
        """`interval` in whole seconds."""
        return int(parse_duration(self.interval).total_seconds())

    def build_topology(self) -> Topology:
        """The scenario's topology."""
        return self.topology.build(self.seed)


def scenario_names() -> list[str]:
    """The names of the scenarios shipped in fixtures/scenarios/."""
    return sorted(path.stem for path in SCENARIO_DIR.glob("*.toml"))


def resolve_scenario_path(name_or_path: str | Path) -> Path:
    """The file for a scenario name (looked up in fixtures/scenarios/) or a path.

    Anything containing a path separator or ending in `.toml` is a path; anything else is a
    name.

    Raises:
        ScenarioError: if no such scenario or file exists (listing the known names).
    """
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or "/" in text or "\\" in text or text.endswith(".toml"):
        path = Path(text)
        if not path.is_file():
            raise ScenarioError("no such file", path=path)
        return path
    path = SCENARIO_DIR / f"{text}.toml"
    if not path.is_file():
        known = ", ".join(scenario_names()) or "none"
        raise ScenarioError(f"unknown scenario {text!r}; known: {known}")
    return path


def load_scenario(name_or_path: str | Path, *, clock: Clock | None = None) -> Scenario:
    """Load and validate a scenario by name or path.

    Args:
        name_or_path: a shipped scenario's name (`memory-leak`) or a TOML file's path.
        clock: resolves `start = "now"` (default: the system clock).

    Raises:
        ScenarioError: naming the file and the line (TOML syntax) or the field path
            (`faults[2].kind: ...`), never a traceback.
    """
    path = resolve_scenario_path(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(f"cannot read: {error}", path=path) from None
    return parse_scenario(text, path=path, clock=clock)


def parse_scenario(text: str, *, path: Path | None = None, clock: Clock | None = None) -> Scenario:
    """Parse scenario TOML `text` (see `load_scenario`).

    Raises:
        ScenarioError: for TOML syntax, invalid fields or targets outside the topology.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message, line = decode_error(error)
        raise ScenarioError(f"invalid TOML: {message}", path=path, line=line) from None
    if path is not None:
        data.setdefault("name", path.stem)
    if data.get("start") == "now":
        data["start"] = (clock or SystemClock()).now().replace(microsecond=0)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        item = error.errors()[0]
        location = _field_path(item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            message = "required but missing"
        extra = f" (and {error.error_count() - 1} more problems)" if error.error_count() > 1 else ""
        line = _line_of(text, item["loc"])
        raise ScenarioError(message + extra, path=path, line=line, field=location) from None
    except DurationError as error:  # pragma: no cover - validators wrap these already
        raise ScenarioError(str(error), path=path) from None
    scenario = scenario.model_copy(update={"path": path})
    _check_bounds(scenario, text)
    _check_targets(scenario, text)
    return scenario


def _check_bounds(scenario: Scenario, text: str) -> None:
    """Refuse estates and runs too big for one machine before anything is generated.

    Checked before the topology is built, so a typo such as a million hosts fails at once
    instead of after gigabytes of memory.
    """
    spec = scenario.topology
    services = spec.generated if spec.generated is not None else len(spec.services or ())
    if spec.generated is None and spec.services is None:
        services = len(DEFAULT_SERVICES)
    regions = len(spec.regions)

    def fail(message: str, loc: tuple[str | int, ...]) -> ScenarioError:
        return ScenarioError(
            message, path=scenario.path, line=_line_of(text, loc), field=_field_path(loc)
        )

    if services > MAX_SERVICES:
        raise fail(
            f"{services:,} services; the limit is {MAX_SERVICES:,}", ("topology", "services")
        )
    if regions > MAX_REGIONS:
        raise fail(f"{regions:,} regions; the limit is {MAX_REGIONS:,}", ("topology", "regions"))
    hosts = services * regions * spec.hosts_per_region
    if hosts > MAX_HOSTS:
        raise fail(
            f"{services:,} services x {regions:,} regions x {spec.hosts_per_region} hosts "
            f"= {hosts:,} hosts; the limit is {MAX_HOSTS:,}",
            ("topology", "hosts_per_region"),
        )
    span = scenario.history_span + scenario.duration_span
    samples = int(span.total_seconds() // scenario.interval_seconds) * hosts
    if samples > MAX_SAMPLES:
        raise fail(
            f"(history {scenario.history} + duration {scenario.duration}) / interval "
            f"{scenario.interval} x {hosts:,} hosts = {samples:,} metric samples; the limit is "
            f"{MAX_SAMPLES:,}: shorten history or duration, lengthen interval or use fewer hosts",
            ("duration",),
        )


def _check_targets(scenario: Scenario, text: str) -> None:
    """Faults and expectations must name services and regions of the topology."""
    try:
        topology = scenario.build_topology()
    except ValueError as error:
        loc: tuple[str | int, ...] = ("topology", "dependencies")
        raise ScenarioError(
            str(error), path=scenario.path, line=_line_of(text, loc), field="topology"
        ) from None
    services = set(topology.services)
    regions = set(topology.regions)
    hosts = {host.name for host in topology.hosts()}
    targets: list[tuple[tuple[str | int, ...], str, str, str | None]] = [
        (("faults", i), f.service, f.region, f.host) for i, f in enumerate(scenario.faults)
    ]
    targets += [
        (("expected", "incidents", i), e.service, e.region, None)
        for i, e in enumerate(scenario.expected.incidents)
    ]
    for loc, service, region, host in targets:
        problem: tuple[str, str] | None = None
        if service != ALL and service not in services:
            problem = (
                "service",
                f"unknown service {service!r}; known: {', '.join(topology.services)}",
            )
        elif region != ALL and region not in regions:
            problem = ("region", f"unknown region {region!r}; known: {', '.join(topology.regions)}")
        elif host is not None and host not in hosts:
            problem = ("host", f"unknown host {host!r}")
        if problem:
            full = (*loc, problem[0])
            raise ScenarioError(
                problem[1], path=scenario.path, line=_line_of(text, full), field=_field_path(full)
            )
