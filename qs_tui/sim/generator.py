"""Healthy telemetry with a daily shape and seeded noise, bent by the faults acting on a host.

Every random number for a host's sample comes from a `random.Random` seeded with (seed, host,
block of intervals), indexed by the interval's position in its block, and log lines use a hash
of (host, instant, line number). So a sample depends only on its timestamp, its host and the
state of the simulated cluster, never on how generation was split into chunks.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from faker import Faker

from qs_tui.sim.faults import HostEffects, LogCause
from qs_tui.topology import REGION_UTC_OFFSETS, Host, Topology

DEFAULT_INTERVAL_S = 10
#: One INFO line is written per this many requests (logs are sampled, as in production).
REQUESTS_PER_INFO_LINE = 4000
#: One ERROR line is written per this many failed requests.
FAILURES_PER_ERROR_LINE = 40
MAX_ERROR_LINES = 40
MAX_INFO_LINES = 20
#: Smooth noise moves between random knots this many seconds apart.
KNOT_SECONDS = 300
#: Intervals whose noise is drawn from one seeding (seeding is the costly part).
NOISE_BLOCK = 64
DRAWS_PER_TICK = 14
#: Share of intervals in which a host writes one routine slow-request WARN line.
SLOW_WARN_SHARE = 0.03
MESSAGE_VARIANTS = 24
_MASK64 = (1 << 64) - 1
_PICK_SALT = 0x1F3D5B79A2C4E6F8
_CODE_SALT = 0x5A17C0DE5A17C0DE
_CAUSE_SALT = 0x2545F4914F6CDD1D

# Per-service baselines for the default services; others get seeded ones.
_KNOWN_SERVICES: dict[str, tuple[float, float, float]] = {
    # service: (peak requests/s per host, p95 latency ms, error rate)
    "api-gateway": (220.0, 45.0, 0.004),
    "auth-service": (150.0, 25.0, 0.002),
    "payment-service": (80.0, 120.0, 0.006),
    "inventory-service": (120.0, 60.0, 0.003),
}
_BASELINE_ERROR_CODES: tuple[tuple[str, str, float], ...] = (
    ("E_CONN_RESET", "conn_reset", 0.4),
    ("E_DB_TIMEOUT", "db_timeout", 0.35),
    ("E_UPSTREAM_5XX", "upstream", 0.25),
)

TEMPLATES: dict[str, tuple[str, ...]] = {
    "info": (
        "GET {path} 200 {ms}ms user={user}",
        "POST {path} 201 {ms}ms user={user}",
        "GET {path} 304 {ms}ms client={ip}",
        "request completed in {ms}ms for {user} from {ip}",
        "processed order {order} for {user}",
    ),
    "slow": ("slow request GET {path} took {ms}ms (user={user})",),
    "db_timeout": (
        "E_DB_TIMEOUT: query on {table} timed out after {ms}ms",
        "E_DB_TIMEOUT: could not acquire connection to {table} within {ms}ms",
    ),
    "oom": (
        "E_OOM: java.lang.OutOfMemoryError: Java heap space; process killed and restarted",
        "E_OOM: container exceeded memory limit, OOMKilled; restarting {host}",
    ),
    "heap_high": ("heap usage at {pct}% of limit, GC pauses increasing",),
    "upstream": (
        "E_UPSTREAM_5XX: call to {dep} failed with 503 for {path}",
        "E_UPSTREAM_5XX: {dep} returned 502 Bad Gateway (trace to {ip})",
    ),
    "disk_full": ("E_DISK_FULL: no space left on device writing /var/log/{table}.log",),
    "disk_high": ("disk usage at {pct}% on /var/lib/{table}",),
    "conn_reset": (
        "E_CONN_RESET: connection reset by peer {ip} during {path}",
        "E_CONN_RESET: client {ip} closed connection before response",
    ),
    "thread_pool": ("worker pool saturated: {ms} requests queued, rejecting new connections",),
    "cache_miss": ("cache miss storm: hit ratio fell to {ratio}, falling back to {table}",),
    "slow_query": ("slow query on {table}: {ms}ms (plan changed)",),
    "pool_exhausted": (
        "E_DB_TIMEOUT: connection pool exhausted ({ms} waiting), query on {table} aborted",
    ),
    "health_check": ("load balancer health check from {ip} failed: E_CONN_RESET",),
}


def stable_int(*parts: object) -> int:
    """A 64-bit integer derived from `parts`, identical across runs and platforms."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def iso_ms(epoch_ms: int) -> str:
    """Elasticsearch's date form for an instant in epoch milliseconds: `...T16:00:00.000Z`."""
    seconds, millis = divmod(epoch_ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def daily_shape(at: datetime, region: str) -> float:
    """Traffic relative to the daily peak (0.35 at 03:00 local, 1.0 at 15:00 local)."""
    offset_h = REGION_UTC_OFFSETS.get(region, 0.0)
    local_hour = (at.hour + at.minute / 60 + at.second / 3600 + offset_h) % 24
    return 0.35 + 0.65 * (1 + math.cos(2 * math.pi * (local_hour - 15) / 24)) / 2


@dataclass(frozen=True)
class HostProfile:
    """A host's normal behaviour: what its metrics hover around at peak traffic."""

    key: int
    peak_rps: float
    cpu_per_rps: float
    latency_ms: float
    error_rate: float
    memory_percent: float
    disk_percent: float


def _mix(value: int) -> int:
    """A 64-bit hash of an integer (the splitmix64 finaliser): fast, well spread."""
    value &= _MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK64
    return value ^ (value >> 31)


def _unit(value: int) -> float:
    """A uniform number in [0, 1) from a hash of `value`."""
    return _mix(value) / 18446744073709551616.0


class TelemetryGenerator:
    """Turns (host, instant, effects) into metric documents and log lines, reproducibly."""

    def __init__(
        self, topology: Topology, *, seed: int, interval_s: int = DEFAULT_INTERVAL_S
    ) -> None:
        if interval_s < 1:
            raise ValueError("the sampling interval must be at least 1 second")
        self.topology = topology
        self.seed = seed
        self.interval_s = interval_s
        self._profiles: dict[str, HostProfile] = {}
        self._knots: dict[tuple[int, int], tuple[float, float, float]] = {}
        self._rng = random.Random()
        self._knot_rng = random.Random()
        self._blocks: dict[int, tuple[int, list[float], list[tuple[float, float, float]]]] = {}
        self._seconds: dict[int, str] = {}
        self._rendered: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[str]] = {}
        faker = Faker()
        faker.seed_instance(seed)
        self.users = [faker.user_name() for _ in range(200)]
        self.paths = ["/" + faker.uri_path() for _ in range(100)]
        self.ips = [faker.ipv4_public() for _ in range(100)]
        self.tables = [faker.word() + "_" + faker.word() for _ in range(30)]
        self.authors = [faker.name() for _ in range(25)]
        self.deploy_words = [faker.bs() for _ in range(40)]

    def profile(self, host: Host) -> HostProfile:
        """The baseline of `host` (seeded by the simulation seed and the host name)."""
        found = self._profiles.get(host.name)
        if found is not None:
            return found
        service_rng = random.Random(f"{self.seed}:service:{host.service}")
        if host.service in _KNOWN_SERVICES:
            peak_rps, latency, errors = _KNOWN_SERVICES[host.service]
        else:
            peak_rps = service_rng.uniform(30, 200)
            latency = service_rng.uniform(20, 150)
            errors = service_rng.uniform(0.001, 0.006)
        rng = random.Random(f"{self.seed}:host:{host.name}")
        peak_cpu = rng.uniform(38, 55)
        profile = HostProfile(
            key=stable_int(self.seed, host.name) >> 16,
            peak_rps=peak_rps * rng.uniform(0.92, 1.08),
            cpu_per_rps=(peak_cpu - 5.0) / peak_rps,
            latency_ms=latency * rng.uniform(0.9, 1.1),
            error_rate=errors * rng.uniform(0.8, 1.2),
            memory_percent=rng.uniform(35, 58),
            disk_percent=rng.uniform(25, 55),
        )
        self._profiles[host.name] = profile
        return profile

    def _knot(self, key: int, knot: int) -> tuple[float, float, float]:
        cached = self._knots.get((key, knot))
        if cached is None:
            if len(self._knots) > 4096:
                self._knots.clear()
            rng = self._knot_rng
            rng.seed(key ^ 0x5EED0000 ^ (knot << 20))
            cached = (rng.gauss(0, 1), rng.gauss(0, 1), rng.gauss(0, 1))
            self._knots[(key, knot)] = cached
        return cached

    def _smooth(self, key: int, epoch_s: int) -> tuple[float, float, float]:
        knot, into = divmod(epoch_s, KNOT_SECONDS)
        weight = into / KNOT_SECONDS
        first = self._knot(key, knot)
        second = self._knot(key, knot + 1)
        return (
            first[0] + (second[0] - first[0]) * weight,
            first[1] + (second[1] - first[1]) * weight,
            first[2] + (second[2] - first[2]) * weight,
        )

    def _block(self, key: int, block: int) -> tuple[list[float], list[tuple[float, float, float]]]:
        """A host's uniforms and smooth wobbles for one block of intervals (seeded, cached)."""
        cached = self._blocks.get(key)
        if cached is not None and cached[0] == block:
            return cached[1], cached[2]
        rng = self._rng
        rng.seed((key << 32) + block)
        draw = rng.random
        uniforms = [draw() for _ in range(NOISE_BLOCK * DRAWS_PER_TICK)]
        first = block * NOISE_BLOCK
        wobbles = [self._smooth(key, (first + i) * self.interval_s) for i in range(NOISE_BLOCK)]
        self._blocks[key] = (block, uniforms, wobbles)
        return uniforms, wobbles

    def sample(
        self,
        host: Host,
        at: datetime,
        stamp: str,
        *,
        load_factor: float,
        effects: HostEffects,
        shape: float | None = None,
    ) -> tuple[dict[str, Any], list[float]]:
        """The `qs-metrics` document of `host` at `at`.

        Args:
            host: the host.
            at: the sample's timestamp (aligned to the interval).
            stamp: `at` formatted for Elasticsearch (shared by all hosts of an interval).
            load_factor: traffic routed to the host relative to normal (failover and
                scale-out change it; faults act through `effects`).
            effects: what active faults do to the host now.
            shape: `daily_shape(at, host.region)` if the caller already has it.

        Returns:
            The document and this interval's uniforms, which `log_documents` continues from.
        """
        profile = self._profiles.get(host.name) or self.profile(host)
        block, index = divmod(int(at.timestamp()) // self.interval_s, NOISE_BLOCK)
        cached = self._blocks.get(profile.key)
        if cached is not None and cached[0] == block:
            uniforms, wobbles = cached[1], cached[2]
        else:
            uniforms, wobbles = self._block(profile.key, block)
        u = uniforms[index * DRAWS_PER_TICK : (index + 1) * DRAWS_PER_TICK]
        wobble_traffic, wobble_memory, wobble_latency = wobbles[index]
        # Sums of two uniforms, scaled to unit variance: cheap, symmetric, bounded noise.
        n_traffic = (u[0] + u[1] - 1.0) * 2.449
        n_cpu = (u[2] + u[3] - 1.0) * 2.449
        n_latency = (u[4] + u[5] - 1.0) * 2.449
        n_errors = (u[6] + u[7] - 1.0) * 2.449
        n_memory = (u[8] + u[9] - 1.0) * 2.449
        n_disk = u[10] - 0.5
        if shape is None:
            shape = daily_shape(at, host.region)
        requests = profile.peak_rps * shape * load_factor * effects.traffic_factor
        requests *= 1.0 + 0.06 * wobble_traffic + 0.03 * n_traffic
        if effects.crashed:
            requests *= 0.6  # the restarting process served part of the interval
        if requests < 0.0:
            requests = 0.0
        cpu = 5.0 + profile.cpu_per_rps * requests * effects.work_factor + 1.5 * n_cpu
        cpu = 100.0 if cpu > 100.0 else 1.0 if cpu < 1.0 else cpu
        utilisation = cpu / 100.0 if cpu < 97.0 else 0.97
        # Queueing: latency grows slowly until the CPU saturates, then sharply.
        queueing = 1.0 + 0.25 * utilisation / (1.0 - utilisation)
        latency = profile.latency_ms * queueing * effects.latency_factor
        latency = max(1.0, latency * (1.0 + 0.05 * wobble_latency + 0.04 * n_latency))
        error_rate = profile.error_rate * (1.0 + 0.25 * n_errors) + effects.error_add
        if utilisation > 0.9:
            error_rate += (utilisation - 0.9) * 0.8  # saturated hosts time out requests
        if requests < 0.01:
            error_rate = 0.0  # a drained host serves nothing, so nothing fails
        error_rate = 1.0 if error_rate > 1.0 else 0.0 if error_rate < 0.0 else error_rate
        memory = profile.memory_percent + 4.0 * (shape - 0.6) + 1.2 * wobble_memory
        memory += 0.4 * n_memory + effects.memory_extra
        memory = 100.0 if memory > 100.0 else 1.0 if memory < 1.0 else memory
        disk = profile.disk_percent + 0.1 * n_disk + effects.disk_extra
        disk = 100.0 if disk > 100.0 else disk
        document = {
            "@timestamp": stamp,
            "service": host.service,
            "region": host.region,
            "host": host.name,
            "cpu_percent": round(cpu, 2),
            "memory_percent": round(memory, 2),
            "error_rate": round(error_rate, 5),
            "latency_p95_ms": round(latency, 1),
            "requests_per_s": round(requests, 2),
            "disk_percent": round(disk, 2),
        }
        return document, u

    def log_documents(
        self,
        host: Host,
        epoch_ms: int,
        sample: dict[str, Any],
        effects: HostEffects,
        noise: list[float],
    ) -> list[dict[str, Any]]:
        """The `qs-logs` lines `host` writes in the interval ending at `epoch_ms`.

        Volume follows traffic (INFO) and the error rate (ERROR); each ERROR line is
        attributed to a cause in proportion to how much of the error rate it explains.
        Line details come from a hash of (host, instant, line number), so they are as
        reproducible as the metrics.
        """
        requests = sample["requests_per_s"] * self.interval_s
        info_count = int(requests / REQUESTS_PER_INFO_LINE + noise[11])
        failures = requests * sample["error_rate"]
        error_count = int(failures / FAILURES_PER_ERROR_LINE + noise[12])
        slow = noise[13] < SLOW_WARN_SHARE
        if not (info_count or error_count or slow or effects.causes):
            return []
        profile = self._profiles[host.name]
        seed = profile.key ^ (epoch_ms * 0x9E3779B97F4A7C15 & _MASK64)
        lines: list[dict[str, Any]] = []
        line = self._line
        for _ in range(min(MAX_INFO_LINES, info_count)):
            lines.append(line(host, epoch_ms, seed + len(lines), "INFO", None, "info", None))
        if error_count:
            causes = [c for c in effects.causes if c.level == "ERROR"]
            explained = sum(c.weight for c in causes)
            baseline = max(0.0, sample["error_rate"] - explained)
            for _ in range(min(MAX_ERROR_LINES, error_count)):
                number = seed + len(lines)
                pick = _unit(number ^ _PICK_SALT) * (explained + baseline)
                cause = _pick_cause(causes, pick)
                if cause is None:
                    code, template = _baseline_code(_unit(number ^ _CODE_SALT))
                    lines.append(line(host, epoch_ms, number, "ERROR", code, template, None))
                else:
                    lines.append(
                        line(host, epoch_ms, number, "ERROR", cause.code, cause.template, cause)
                    )
        if slow:
            lines.append(line(host, epoch_ms, seed + len(lines), "WARN", None, "slow", None))
        for position, cause in enumerate(effects.causes):
            if cause.level != "WARN":
                continue
            count = int(cause.weight + _unit(seed ^ (position + 1) * _CAUSE_SALT))
            for _ in range(count):
                number = seed + len(lines)
                lines.append(
                    line(host, epoch_ms, number, "WARN", cause.code, cause.template, cause)
                )
        return lines

    def _line(
        self,
        host: Host,
        epoch_ms: int,
        number: int,
        level: str,
        code: str | None,
        template: str,
        cause: LogCause | None,
    ) -> dict[str, Any]:
        mixed = _mix(number)
        variants = self._messages(template, host.service, cause.context if cause else None)
        offset_ms = (mixed >> 20) % (self.interval_s * 1000)
        second, millis = divmod(epoch_ms - offset_ms, 1000)
        prefix = self._seconds.get(second)
        if prefix is None:
            if len(self._seconds) > 100_000:
                self._seconds.clear()
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._seconds[second] = prefix
        return {
            "@timestamp": f"{prefix}.{millis:03d}Z",
            "service": host.service,
            "region": host.region,
            "host": host.name,
            "level": level,
            "error_code": code,
            "message": variants[mixed % len(variants)],
            "trace_id": f"{mixed:016x}{_mix(mixed):016x}",
        }

    def _messages(self, template: str, service: str, context: dict[str, str] | None) -> list[str]:
        """Rendered variants of a template for a service (seeded, cached)."""
        key = (template, service, tuple(sorted(context.items())) if context else ())
        found = self._rendered.get(key)
        if found is not None:
            return found
        if len(self._rendered) > 5000:
            self._rendered.clear()
        rng = random.Random(f"{self.seed}:messages:{key}")
        callees = self.topology.callees(service)
        variants = []
        for _ in range(MESSAGE_VARIANTS):
            values = {
                "user": rng.choice(self.users),
                "path": rng.choice(self.paths),
                "ip": rng.choice(self.ips),
                "table": rng.choice(self.tables),
                "ms": str(rng.randint(20, 500)),
                "order": f"{rng.getrandbits(32):08x}",
                "ratio": f"{rng.random() * 0.3:.2f}",
                "dep": rng.choice(callees) if callees else "a downstream service",
                "host": f"{service} host",
                "pct": "",
                **(context or {}),
            }
            variants.append(rng.choice(TEMPLATES[template]).format(**values))
        self._rendered[key] = variants
        return variants

    def stable_trace(self, *parts: object) -> str:
        """A 32-hex trace id derived from `parts` (for lines written outside the noise)."""
        return f"{stable_int(self.seed, 'trace', *parts):016x}{stable_int(*parts, 'trace'):016x}"

    def scheduled_deploys(self, day: int) -> list[tuple[datetime, str]]:
        """Healthy deploys planned on UTC day number `day` (days since 1970-01-01).

        Each service gets 0-2 deploys a day during working hours; the schedule depends
        only on the seed, the service and the day.
        """
        planned: list[tuple[datetime, str]] = []
        midnight = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day)
        for service in self.topology.services:
            rng = random.Random(f"{self.seed}:deploys:{service}:{day}")
            draw = rng.random()
            count = 0 if draw < 0.55 else 1 if draw < 0.9 else 2
            for _ in range(count):
                minute = rng.randint(14 * 60, 21 * 60)
                planned.append((midnight + timedelta(minutes=minute), service))
        planned.sort()
        return planned

    def deployment_document(
        self,
        at: datetime,
        service: str,
        region: str,
        *,
        version: str,
        previous_version: str,
        description: str | None = None,
        author: str | None = None,
    ) -> dict[str, Any]:
        """The `qs-deployments` document for a deploy (author and commit seeded)."""
        # Seeded by the release, not the region, so one rollout has one author and commit.
        rng = random.Random(f"{self.seed}:deploy-doc:{service}:{version}:{previous_version}")
        return {
            "@timestamp": iso_ms(int(at.timestamp() * 1000)),
            "service": service,
            "region": region,
            "version": version,
            "previous_version": previous_version,
            "author": author or self.authors[rng.randrange(len(self.authors))],
            "commit": f"{rng.getrandbits(28):07x}",
            "description": description
            or f"release {version}: {self.deploy_words[rng.randrange(len(self.deploy_words))]}",
        }

    def initial_version(self, service: str) -> str:
        """The version each service runs when the simulation starts."""
        rng = random.Random(f"{self.seed}:version:{service}")
        return f"{rng.randint(1, 3)}.{rng.randint(0, 9)}.{rng.randint(0, 20)}"


def _pick_cause(causes: list[LogCause], pick: float) -> LogCause | None:
    for cause in causes:
        if pick < cause.weight:
            return cause
        pick -= cause.weight
    return None


def _baseline_code(draw: float) -> tuple[str, str]:
    for code, template, share in _BASELINE_ERROR_CODES:
        if draw < share:
            return code, template
        draw -= share
    return _BASELINE_ERROR_CODES[-1][0], _BASELINE_ERROR_CODES[-1][1]
