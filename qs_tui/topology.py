"""The simulated estate: services x regions x hosts and the graph of who calls whom."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from string import ascii_lowercase

DEFAULT_SERVICES: tuple[str, ...] = (
    "api-gateway",
    "auth-service",
    "payment-service",
    "inventory-service",
)
DEFAULT_REGIONS: tuple[str, ...] = ("us-east-1", "us-west-2", "eu-west-1")
DEFAULT_HOSTS_PER_REGION = 2

#: service -> the services it calls.
DEFAULT_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "api-gateway": ("auth-service", "payment-service", "inventory-service"),
    "payment-service": ("inventory-service", "auth-service"),
    "auth-service": (),
    "inventory-service": (),
}

#: Hours from UTC of each region's local time (standard time), for the daily traffic shape.
REGION_UTC_OFFSETS: dict[str, float] = {
    "us-east-1": -5,
    "us-east-2": -5,
    "us-west-1": -8,
    "us-west-2": -8,
    "ca-central-1": -5,
    "sa-east-1": -3,
    "eu-west-1": 0,
    "eu-west-2": 0,
    "eu-central-1": 1,
    "eu-north-1": 1,
    "ap-south-1": 5.5,
    "ap-southeast-1": 8,
    "ap-southeast-2": 10,
    "ap-northeast-1": 9,
}

MAX_GENERATED_SERVICES = 50

# Words for generated service names; with "api-gateway" first this gives 50+ distinct names.
_SERVICE_WORDS: tuple[str, ...] = (
    "auth", "payment", "inventory", "catalog", "search", "cart", "checkout", "shipping",
    "pricing", "user", "profile", "notification", "email", "recommendation", "review", "order",
    "billing", "ledger", "fraud", "session", "media", "thumbnail", "geo", "tax", "currency",
    "loyalty", "coupon", "wishlist", "audit", "report", "analytics", "ingest", "export",
    "scheduler", "queue", "webhook", "sms", "push", "identity", "token", "config", "feature",
    "ratelimit", "cache", "warehouse", "supplier", "returns", "invoice", "subscription", "promo",
    "consent", "metering",
)  # fmt: skip


def region_code(region: str) -> str:
    """A short region code for host names: `us-east-1` -> `use1`, `ap-southeast-2` -> `apse2`."""
    parts = region.split("-")
    if len(parts) < 3:
        return region.replace("-", "")
    middle = "".join(
        word[0] if len(word) <= 5 else word[0] + _direction_second(word) for word in parts[1:-1]
    )
    return parts[0] + middle + parts[-1]


def _direction_second(word: str) -> str:
    # "southeast" -> "e" (apse2), "northeast" -> "e" (apne1); other long words keep one letter.
    for direction in ("east", "west"):
        if word.endswith(direction) and word != direction:
            return direction[0]
    return ""


def host_name(service: str, region: str, index: int) -> str:
    """The name of the `index`-th host (0-based) of a service in a region.

    Example: `host_name("payment-service", "us-east-1", 0)` is `payment-service-use1-a`.
    """
    letters = ascii_lowercase
    suffix = letters[index] if index < len(letters) else f"{letters[index % 26]}{index // 26}"
    return f"{service}-{region_code(region)}-{suffix}"


@dataclass(frozen=True)
class Host:
    """One machine: the unit a metric sample describes."""

    name: str
    service: str
    region: str


@dataclass(frozen=True)
class Topology:
    """Services deployed in regions on hosts, and the dependency graph between services.

    Attributes:
        services: service names, callers before callees where possible.
        regions: region names.
        hosts_per_region: hosts each service runs in each region at the start.
        dependencies: service -> the services it calls (a DAG). Unset means the default
            graph restricted to `services`.
    """

    services: tuple[str, ...] = DEFAULT_SERVICES
    regions: tuple[str, ...] = DEFAULT_REGIONS
    hosts_per_region: int = DEFAULT_HOSTS_PER_REGION
    dependencies: Mapping[str, tuple[str, ...]] | None = None

    def __post_init__(self) -> None:
        if self.dependencies is None:
            # The default graph, restricted to the services this topology has.
            restricted = {
                caller: tuple(c for c in callees if c in self.services)
                for caller, callees in DEFAULT_DEPENDENCIES.items()
                if caller in self.services
            }
            object.__setattr__(self, "dependencies", restricted)
        if not self.services:
            raise ValueError("a topology needs at least one service")
        if not self.regions:
            raise ValueError("a topology needs at least one region")
        if self.hosts_per_region < 1:
            raise ValueError("hosts_per_region must be at least 1")
        if len(set(self.services)) != len(self.services):
            raise ValueError("service names must be unique")
        known = set(self.services)
        for caller, callees in self.graph.items():
            unknown = [name for name in (caller, *callees) if name not in known]
            if unknown:
                raise ValueError(f"dependency on unknown service {unknown[0]!r}")
        self._check_acyclic()

    def _check_acyclic(self) -> None:
        state: dict[str, int] = {}  # 1 = on the current path, 2 = done

        def visit(service: str, path: list[str]) -> None:
            if state.get(service) == 2:
                return
            if state.get(service) == 1:
                cycle = " -> ".join([*path[path.index(service) :], service])
                raise ValueError(f"dependency cycle: {cycle}")
            state[service] = 1
            for callee in self.graph.get(service, ()):
                visit(callee, [*path, service])
            state[service] = 2

        for service in self.services:
            visit(service, [])

    @property
    def graph(self) -> Mapping[str, tuple[str, ...]]:
        """The dependency graph (service -> services it calls), never None."""
        return self.dependencies or {}

    def hosts(self) -> list[Host]:
        """Every initial host, ordered by service, region, then host letter."""
        return [
            Host(host_name(service, region, index), service, region)
            for service in self.services
            for region in self.regions
            for index in range(self.hosts_per_region)
        ]

    def callees(self, service: str) -> tuple[str, ...]:
        """The services `service` calls directly."""
        return tuple(self.graph.get(service, ()))

    def callers(self, service: str) -> tuple[str, ...]:
        """The services that call `service` directly."""
        return tuple(s for s in self.services if service in self.graph.get(s, ()))

    def dependents(self, service: str) -> dict[str, int]:
        """Every service that depends on `service`, directly or not, with its hop distance.

        The distance is the shortest number of calls between the dependent and `service`
        (a direct caller is 1). `service` itself is not included.
        """
        distances: dict[str, int] = {}
        frontier = [service]
        depth = 0
        while frontier:
            depth += 1
            following: list[str] = []
            for callee in frontier:
                for caller in self.callers(callee):
                    if caller != service and caller not in distances:
                        distances[caller] = depth
                        following.append(caller)
            frontier = following
        return distances

    def fan_in(self, service: str) -> int:
        """How many services call `service` (0 for entry points)."""
        return len(self.callers(service))


def default_topology() -> Topology:
    """The four services in three regions with two hosts each (24 hosts)."""
    return Topology()


def generated_topology(
    count: int,
    *,
    seed: int,
    regions: Iterable[str] = DEFAULT_REGIONS,
    hosts_per_region: int = DEFAULT_HOSTS_PER_REGION,
) -> Topology:
    """A topology of `count` services (1-50) with seeded names and a random DAG.

    `api-gateway` is the entry point; every other service is called by at least one
    service listed before it, and calls only services listed after it, so the graph has no
    cycles by construction.

    Raises:
        ValueError: if `count` is outside 1..50.
    """
    if not 1 <= count <= MAX_GENERATED_SERVICES:
        raise ValueError(f"a generated topology has 1 to {MAX_GENERATED_SERVICES} services")
    rng = random.Random(f"topology:{seed}")
    words = list(_SERVICE_WORDS)
    rng.shuffle(words)
    services = ["api-gateway", *(f"{word}-service" for word in words[: count - 1])]
    calls: dict[str, set[str]] = {service: set() for service in services}
    for index in range(1, count):
        # Prefer recent services as callers so the graph grows in depth, not only in width.
        caller = services[rng.randint(max(0, index - 4), index - 1)]
        calls[caller].add(services[index])
        for _ in range(rng.randint(0, 1)):
            later = rng.randint(index, count - 1)
            if later > index:
                calls[services[index]].add(services[later])
    dependencies = {service: tuple(sorted(calls[service])) for service in services}
    return Topology(
        services=tuple(services),
        regions=tuple(regions),
        hosts_per_region=hosts_per_region,
        dependencies=dependencies,
    )


@dataclass(frozen=True)
class EstateUpdate:
    """The estate as a source found it again (a live source rediscovers it every few minutes).

    Attributes:
        topology: the estate now: the agents plan and link cascades on it from this tick on.
        changes: what changed since the previous discovery, one line each for the transcript.
    """

    topology: Topology
    changes: tuple[str, ...] = ()
