"""The estate of a live source, found in the data: services, regions, hosts, dependencies.

Services, regions and hosts are those that sent metrics in the last hour (the rendered
`esql/estate_hosts.esql`: one `STATS ... BY service, region, host` over the profile's metrics).
Who calls whom comes from the traces when they hold a service map, else from the
`[topology.dependencies]` table of the topology file (`qs_tui.live.topology_config`).

What the data cannot tell is filled with defaults, said here so nobody mistakes them for
measurements:

- `hosts_per_region` (the capacity the Tactician weighs a scale-out against) is the most hosts
  any service was seen on in one region.
- A service seen without a region is placed in the region `unknown`.
- A dependency on something that is not a discovered service (a database, a cache, an external
  API) is left out: the agents only reason about services they watch. An edge that would close
  a cycle is left out too (`Estate.dropped_edges`), because the agents walk the graph as a DAG.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from qs_tui.clock import Clock, iso_instant
from qs_tui.esql.errors import EsqlError
from qs_tui.live.render import Renderer, render_canonical, resolve_profile
from qs_tui.live.source import describe_error
from qs_tui.live.topology_config import load_dependencies
from qs_tui.profiles import Profile
from qs_tui.queries import load_query
from qs_tui.store.base import Store, StoreError
from qs_tui.topology import Host, Topology

#: How far back a host counts as part of the estate.
SEEN_WITHIN = timedelta(hours=1)

#: The region of a service whose data has no region field.
UNKNOWN_REGION = "unknown"

DependencyOrigin = Literal["apm", "otel", "config", "none"]

# Elastic APM's service map: an exit span (`processor.event: span`) names what it called in
# `span.destination.service.resource` ("Identifier for the destination service resource being
# operated on (e.g. http://elastic.co:80, elasticsearch, rabbitmq/queue_name)"), keyword, in
# the `traces-apm*` data streams. Source: APM Server "Exported fields > APM Span fields"
# (elastic.co/guide/en/apm/guide/8.2/exported-fields-apm-span.html).
APM_DEPENDENCIES = """\
FROM traces-apm*
| WHERE @timestamp >= TO_DATETIME(?start) AND @timestamp <= TO_DATETIME(?end)
  AND processor.event == "span" AND span.destination.service.resource IS NOT NULL
| STATS calls = COUNT(*) BY service.name, span.destination.service.resource
| LIMIT 10000
"""

# OpenTelemetry's equivalent: a client span (`kind`) whose `peer.service` attribute is "the
# service.name of the remote service" (OpenTelemetry semantic conventions, Peer attributes:
# opentelemetry.io/docs/specs/semconv/registry/attributes/peer/). Elasticsearch 9 stores OTLP
# spans in `traces-*.otel-*` with span attributes under `attributes.*`, resource attributes
# under `resource.attributes.*` and the span kind in `kind` (x-pack/plugin/otel-data's traces
# mappings); the exporter writes the kind capitalised or upper-case depending on its version.
OTEL_DEPENDENCIES = """\
FROM traces-*.otel-*
| WHERE @timestamp >= TO_DATETIME(?start) AND @timestamp <= TO_DATETIME(?end)
  AND kind IN ("Client", "CLIENT", "SPAN_KIND_CLIENT") AND attributes.peer.service IS NOT NULL
| STATS calls = COUNT(*) BY resource.attributes.service.name, attributes.peer.service
| LIMIT 10000
"""

#: Service-map queries by origin, and the (caller, callee) columns of their answers.
SERVICE_MAPS: dict[str, tuple[str, str, str]] = {
    "apm": (APM_DEPENDENCIES, "service.name", "span.destination.service.resource"),
    "otel": (OTEL_DEPENDENCIES, "resource.attributes.service.name", "attributes.peer.service"),
}


class EstateError(StoreError):
    """The estate cannot be discovered (no data, or the store failed), in one line.

    A `StoreError`, so the commands print it as one `error:` line like any store failure.
    """


@dataclass(frozen=True)
class Estate:
    """What discovery found.

    Attributes:
        topology: the services, regions, capacity and dependency graph the agents read.
        hosts: every host seen, with its service and region (real names, not generated).
        last_seen: host name -> the newest sample's timestamp (as the store returned it).
        dependencies_from: where the graph came from: the APM or OTel service map, the
            topology file, or nowhere (no edges).
        dropped_edges: `caller -> callee` edges left out because they closed a cycle.
    """

    topology: Topology
    hosts: tuple[Host, ...]
    last_seen: Mapping[str, str] = field(default_factory=dict)
    dependencies_from: DependencyOrigin = "none"
    dropped_edges: tuple[str, ...] = ()


@dataclass(frozen=True)
class EstateChange:
    """One difference between two discoveries, in words for the transcript.

    Attributes:
        kind: `service-seen`, `service-gone`, `host-seen`, `host-gone`, `region-seen`,
            `region-gone` or `dependencies-changed`.
        subject: the service, host or region concerned (the caller for dependencies).
        text: one line for a human.
    """

    kind: str
    subject: str
    text: str


def _service_map_origins(profile: Profile | None) -> tuple[str, ...]:
    """Which service maps to try for `profile`: its own traces' shape first."""
    name = getattr(profile, "name", None)
    if name == "otel":
        return ("otel",)
    if name in (None, "qs"):
        return ()  # the simulator writes no traces: its graph is the scenario's or the config's
    return ("apm", "otel") if name != "ecs" else ("apm",)


def _match_service(destination: str, services: set[str]) -> str | None:
    """The discovered service an exit span's destination names, if any.

    APM writes HTTP destinations as `host:port` and others as a bare name; a service reached
    by its DNS name (`payment-service:8080`, `payment-service.shop.svc:8080`) is matched by its
    first label.
    """
    text = destination.strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    host = text.split("/", 1)[0].rsplit(":", 1)[0] if ":" in text else text.split("/", 1)[0]
    for candidate in (text, host, host.split(".", 1)[0]):
        if candidate in services:
            return candidate
    return None


def _service_map(
    store: Store, origin: str, services: set[str], window: dict[str, str]
) -> dict[str, set[str]] | None:
    """Edges from one service map, or None when that kind of trace data is not there."""
    query, caller_column, callee_column = SERVICE_MAPS[origin]
    try:
        rows = store.esql(query, params=window).records()
    except (StoreError, EsqlError):
        # An unknown index or field means this estate has no such traces: not an error.
        return None
    if not rows:
        return None
    edges: dict[str, set[str]] = {}
    for row in rows:
        caller, callee = row.get(caller_column), row.get(callee_column)
        if caller is None or callee is None or str(caller) not in services:
            continue
        target = _match_service(str(callee), services)
        if target is not None and target != caller:
            edges.setdefault(str(caller), set()).add(target)
    return edges


def _acyclic(
    services: tuple[str, ...], edges: Mapping[str, set[str]]
) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
    """The edges without those that would close a cycle (added in a stable order)."""
    kept: dict[str, list[str]] = {service: [] for service in services}
    dropped: list[str] = []

    def reaches(start: str, goal: str) -> bool:
        stack, seen = [start], set()
        while stack:
            node = stack.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                stack.extend(kept.get(node, []))
        return False

    for caller in sorted(edges):
        for callee in sorted(edges[caller]):
            if caller not in kept or callee not in kept:
                continue
            if reaches(callee, caller):
                dropped.append(f"{caller} -> {callee}")
            else:
                kept[caller].append(callee)
    return {caller: tuple(callees) for caller, callees in kept.items()}, tuple(dropped)


def _callers_first(services: list[str], graph: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Services ordered callers before callees (Topology's convention), by name otherwise."""
    callers = {service: 0 for service in services}
    for callees in graph.values():
        for callee in callees:
            callers[callee] += 1
    ordered: list[str] = []
    ready = sorted(s for s, count in callers.items() if count == 0)
    while ready:
        service = ready.pop(0)
        ordered.append(service)
        for callee in graph.get(service, ()):
            callers[callee] -= 1
            if callers[callee] == 0:
                ready.append(callee)
                ready.sort()
    return tuple(ordered)


def discover(
    store: Store,
    profile: Profile | str | None,
    now: datetime,
    *,
    topology_file: Path | None = None,
    render: Renderer = render_canonical,
) -> Estate:
    """The estate seen in `store` during the hour before `now`.

    Args:
        store: where the team's telemetry is.
        profile: the schema profile, a built-in name or TOML path (None: the `qs` shape).
        now: the end of the window (the source's clock).
        topology_file: the TOML file with `[topology.dependencies]`, used when the traces hold
            no service map.
        render: canonical query text -> the query for `profile`.

    Raises:
        EstateError: the store failed, or no host sent metrics in the last hour.
        TopologyConfigError: the topology file is unreadable or malformed.
    """
    profile = resolve_profile(profile)
    window = {"start": iso_instant(now - SEEN_WITHIN), "end": iso_instant(now)}
    query = render(load_query("estate_hosts"), profile)
    try:
        rows = store.esql(query, params=window).records()
    except (StoreError, EsqlError) as error:
        raise EstateError("cannot discover the estate", describe_error(error)) from None
    hosts: dict[str, Host] = {}
    last_seen: dict[str, str] = {}
    for row in rows:
        service, host = row.get("service"), row.get("host")
        if service is None or host is None:
            continue
        region = row.get("region")
        seen = "" if row.get("last_seen") is None else str(row["last_seen"])
        if str(host) in hosts and seen <= last_seen.get(str(host), ""):
            continue  # a host that moved within the hour belongs where it reported last
        hosts[str(host)] = Host(
            str(host), str(service), UNKNOWN_REGION if region is None else str(region)
        )
        last_seen[str(host)] = seen
    if not hosts:
        raise EstateError(
            "no live estate",
            "no host sent metrics in the last hour: check the profile's metrics indices "
            "(qs-tui doctor --profile NAME) and that the collectors are running",
        )
    services = sorted({h.service for h in hosts.values()})
    regions = tuple(sorted({h.region for h in hosts.values()}))
    per_region: dict[tuple[str, str], int] = {}
    for found in hosts.values():
        per_region[(found.service, found.region)] = (
            per_region.get((found.service, found.region), 0) + 1
        )

    edges: dict[str, set[str]] | None = None
    origin: DependencyOrigin = "none"
    for candidate in _service_map_origins(profile):
        edges = _service_map(store, candidate, set(services), window)
        if edges is not None:
            origin = "apm" if candidate == "apm" else "otel"
            break
    if edges is None and topology_file is not None:
        configured = load_dependencies(topology_file)
        edges = {
            caller: {c for c in callees if c in services}
            for caller, callees in configured.items()
            if caller in services
        }
        origin = "config"
    graph, dropped = _acyclic(tuple(services), edges or {})
    topology = Topology(
        services=_callers_first(services, graph),
        regions=regions,
        hosts_per_region=max(per_region.values()),
        # Always explicit: None would give the simulator's default graph, which is not theirs.
        dependencies=graph,
    )
    return Estate(
        topology=topology,
        hosts=tuple(sorted(hosts.values(), key=lambda h: (h.service, h.region, h.name))),
        last_seen=last_seen,
        dependencies_from=origin,
        dropped_edges=dropped,
    )


def discover_estate(
    store: Store,
    profile: Profile | str | None,
    now: datetime,
    *,
    topology_file: Path | None = None,
    render: Renderer = render_canonical,
) -> Topology:
    """The topology of the estate seen in `store` during the hour before `now` (see `discover`).

    Raises:
        EstateError: the store failed, or no host sent metrics in the last hour.
        TopologyConfigError: the topology file is unreadable or malformed.
    """
    return discover(store, profile, now, topology_file=topology_file, render=render).topology


def changes(before: Estate, after: Estate) -> list[EstateChange]:
    """What differs between two discoveries: services, regions and hosts seen or gone, and a
    changed dependency graph."""
    found: list[EstateChange] = []
    old_services, new_services = set(before.topology.services), set(after.topology.services)
    for service in sorted(new_services - old_services):
        found.append(EstateChange("service-seen", service, f"new service seen: {service}"))
    for service in sorted(old_services - new_services):
        found.append(
            EstateChange("service-gone", service, f"service gone: {service} (no metrics for 1h)")
        )
    old_regions, new_regions = set(before.topology.regions), set(after.topology.regions)
    for region in sorted(new_regions - old_regions):
        found.append(EstateChange("region-seen", region, f"new region seen: {region}"))
    for region in sorted(old_regions - new_regions):
        found.append(EstateChange("region-gone", region, f"region gone: {region}"))
    old_hosts = {h.name: h for h in before.hosts}
    new_hosts = {h.name: h for h in after.hosts}
    for name in sorted(new_hosts.keys() - old_hosts.keys()):
        host = new_hosts[name]
        text = f"new host seen: {name} ({host.service}, {host.region})"
        found.append(EstateChange("host-seen", name, text))
    for name in sorted(old_hosts.keys() - new_hosts.keys()):
        host = old_hosts[name]
        text = f"host gone: {name} ({host.service}, {host.region}; no metrics for 1h)"
        found.append(EstateChange("host-gone", name, text))
    for caller in sorted(set(before.topology.graph) | set(after.topology.graph)):
        old_calls = set(before.topology.callees(caller))
        new_calls = set(after.topology.callees(caller))
        if old_calls != new_calls:
            added = ", ".join(sorted(new_calls - old_calls)) or "nothing"
            removed = ", ".join(sorted(old_calls - new_calls)) or "nothing"
            text = f"dependencies of {caller} changed: now also calls {added}; no longer {removed}"
            found.append(EstateChange("dependencies-changed", caller, text))
    return found


class EstateWatcher:
    """Keeps the estate current: discovers it again every `refresh_s` on the source's clock.

    Call `poll()` from the loop that steps the source (each tick): it discovers when due and
    returns what changed since the last discovery. A failed discovery keeps the last estate and
    is reported in `failure` (one line); the next due poll tries again.

    Args:
        store: where the team's telemetry is.
        clock: the source's clock (the wall clock for a live source).
        profile: the schema profile (None: the `qs` shape).
        refresh_s: seconds between two discoveries (`QS_ESTATE_REFRESH`, default 300).
        topology_file: the `[topology.dependencies]` file, if any.
        on_change: called with each change found (e.g. to say it in the transcript).
        render: canonical query text -> the query for `profile`.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        profile: Profile | str | None = None,
        *,
        refresh_s: int = 300,
        topology_file: Path | None = None,
        on_change: Callable[[EstateChange], None] | None = None,
        render: Renderer = render_canonical,
    ) -> None:
        if refresh_s < 1:
            raise ValueError(f"refresh_s must be at least 1 second, got {refresh_s}")
        self.store = store
        self.clock = clock
        self.profile = resolve_profile(profile)
        self.refresh = timedelta(seconds=refresh_s)
        self.topology_file = topology_file
        self._on_change = on_change
        self._render = render
        self._estate: Estate | None = None
        self._last_attempt: datetime | None = None
        self.failure: str | None = None

    @property
    def estate(self) -> Estate | None:
        """The last estate discovered (None before the first success)."""
        return self._estate

    @property
    def topology(self) -> Topology | None:
        """The last topology discovered (None before the first success)."""
        return None if self._estate is None else self._estate.topology

    def due(self) -> bool:
        """Whether a discovery is due now."""
        if self._last_attempt is None:
            return True
        return self.clock.now() - self._last_attempt >= self.refresh

    def poll(self) -> list[EstateChange]:
        """Discover the estate if due; return what changed since the previous discovery.

        The first discovery returns no changes (there is nothing to compare with).
        """
        if not self.due():
            return []
        now = self.clock.now()
        self._last_attempt = now
        try:
            estate = discover(
                self.store,
                self.profile,
                now,
                topology_file=self.topology_file,
                render=self._render,
            )
        except EstateError as error:
            self.failure = str(error)
            return []
        self.failure = None
        previous, self._estate = self._estate, estate
        if previous is None:
            return []
        found = changes(previous, estate)
        if self._on_change is not None:
            for change in found:
                self._on_change(change)
        return found


__all__ = [
    "APM_DEPENDENCIES",
    "OTEL_DEPENDENCIES",
    "SEEN_WITHIN",
    "UNKNOWN_REGION",
    "Estate",
    "EstateChange",
    "EstateError",
    "EstateWatcher",
    "changes",
    "discover",
    "discover_estate",
]
