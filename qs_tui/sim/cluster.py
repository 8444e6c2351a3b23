"""The simulated production system: it generates telemetry and takes remediation actions.

`Simulation` is what the rest of QuantumState drives: backfill history, then `step()` as
the clock moves; remediations go through `apply_action()` and change the telemetry that
follows, so the loop closes (a rollback really stops the leak in the next samples).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from qs_tui.clock import Clock, as_utc
from qs_tui.sim.durations import parse_duration
from qs_tui.sim.faults import (
    ALL,
    Fault,
    FaultKind,
    FaultSpec,
    HostEffects,
    apply_fault,
    cascade_onset,
)
from qs_tui.sim.generator import DEFAULT_INTERVAL_S, TelemetryGenerator, daily_shape, iso_ms
from qs_tui.sim.shapes import make_shape
from qs_tui.store.base import Store, StoreError
from qs_tui.store.templates import DEPLOYMENTS, LOGS, METRICS
from qs_tui.topology import EstateUpdate, Host, Topology, default_topology, host_name

if TYPE_CHECKING:
    from qs_tui.profiles import Profile
    from qs_tui.sim.scenario import Scenario

#: Hosts a service may run per region after scale-outs.
MAX_HOSTS_PER_REGION = 10
#: Staggering of a healthy deploy's rollout from one region to the next.
REGION_ROLLOUT_STEP = timedelta(minutes=10)
#: Metric documents per bulk call during backfill (stores pay a fixed cost per call).
DEFAULT_BATCH_SIZE = 50_000
#: The document id key both stores read as metadata rather than a field.
ID = "_id"
#: Documents kept for a store that is down, per index; beyond it the oldest are dropped.
MAX_PENDING_PER_INDEX = 200_000


def _empty_pending() -> dict[str, list[dict[str, Any]]]:
    """Per-index buffers, metrics last: each flush writes an interval's logs and deploys
    before its metrics, so a stored metric sample means its whole interval is stored (what
    a resumed backfill relies on)."""
    return {LOGS: [], DEPLOYMENTS: [], METRICS: []}


ProgressCallback = Callable[[int, int], None]


class SimulationError(Exception):
    """The simulation was driven in a way it cannot follow (e.g. backfill after streaming)."""


class ActionKind(StrEnum):
    """Remediations the simulated cluster understands."""

    ROLLBACK = "rollback"
    RESTART = "restart"
    SCALE_OUT = "scale_out"
    FAILOVER = "failover"
    FLUSH_CACHE = "flush_cache"


@dataclass(frozen=True)
class ActionResult:
    """What a remediation did.

    Attributes:
        action: the action taken.
        service: the target service.
        region: the target region (or `all`).
        ok: False when the action could not be carried out (unknown target, nothing to
            roll back, no region left to fail over to).
        changed: False when the action was valid but had nothing left to do (idempotent
            repeat, e.g. a second rollback).
        message: one line for a transcript.
        at: the simulated instant the action took effect.
        removed_faults: ids of faults the action removed for good.
        details: action-specific facts (versions, hosts added, traffic weights).
    """

    action: str
    service: str
    region: str
    ok: bool
    changed: bool
    message: str
    at: datetime
    removed_faults: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepResult:
    """What `Simulation.step` wrote.

    Attributes:
        written: documents written per index.
        latest: the newest metric document per host (the series the UI draws).
        until: the instant generation reached.
        errors: per-document errors the store reported (first few).
        failure: why the store could not be written this step (None: it was); the
            documents wait and go with the next step.
        pending: documents waiting for the store after this step.
        dropped: documents given up so far because too many were waiting (oldest first).
        estate: always None: a simulation's estate is its scenario's and does not change.
    """

    written: dict[str, int]
    latest: dict[str, dict[str, Any]]
    until: datetime
    errors: list[str] = field(default_factory=list)
    failure: str | None = None
    pending: int = 0
    dropped: int = 0
    estate: EstateUpdate | None = None


@dataclass
class GroupState:
    """One service in one region: its hosts, live version and routing."""

    service: str
    region: str
    hosts: list[Host]
    version: str
    previous_version: str | None = None
    rolled_back_from: str | None = None
    traffic_weight: float = 1.0
    restarted_at: dict[str, datetime] = field(default_factory=dict)


def bump_patch(version: str) -> str:
    """`2.3.7` -> `2.3.8` (a version without three numbers gets `.1` appended)."""
    parts = version.split(".")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        return f"{parts[0]}.{parts[1]}.{int(parts[2]) + 1}"
    return f"{version}.1"


def bump_minor(version: str) -> str:
    """`2.3.7` -> `2.4.0`."""
    parts = version.split(".")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        return f"{parts[0]}.{int(parts[1]) + 1}.0"
    return f"{version}.1"


class Simulation:
    """Simulated services that produce telemetry and react to remediation.

    Thread-safe: the streaming loop and the remediation executor may call it from
    different threads.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        topology: Topology | None = None,
        seed: int = 7,
        faults: Iterable[FaultSpec] = (),
        interval_s: int = DEFAULT_INTERVAL_S,
        origin: datetime | None = None,
        healthy_deploys: bool = True,
        shape: str = "qs",
    ) -> None:
        """Create a simulation.

        Args:
            clock: where time comes from; nothing else is consulted.
            topology: the estate (default: four services in three regions).
            seed: seed of every random choice.
            faults: faults to place on the timeline, offsets relative to `origin`.
            interval_s: seconds between metric samples.
            origin: the instant fault offsets count from (default: the clock's now).
            healthy_deploys: whether routine deploys happen on their own.
            shape: the schema profile whose documents are written (`qs`, `ecs`, `otel`;
                see `qs_tui.sim.shapes`).
        """
        self.clock = clock
        self.topology = topology or default_topology()
        self.seed = seed
        self.interval_s = interval_s
        self.origin = as_utc(origin) if origin is not None else clock.now()
        self.healthy_deploys = healthy_deploys
        self.backfill_skipped = 0
        self.profile: Profile | None = None
        """The schema profile of the shape this simulation's telemetry is read back through
        (None: the `qs` shape); resuming a backfill reads the store through it."""
        self.dropped = 0
        self._history = timedelta(0)
        self.generator = TelemetryGenerator(self.topology, seed=seed, interval_s=interval_s)
        self.shape = make_shape(
            shape,
            initial_versions={s: self.generator.initial_version(s) for s in self.topology.services},
            interval_s=interval_s,
        )
        if shape != "qs":
            from qs_tui.profiles import load_profile

            # The shape is read back through the built-in profile of the same name.
            self.profile = load_profile(shape)
        # Shaped documents waiting to be written (a shape other than `qs` converts the
        # canonical buffers once; what a failing store did not take waits here).
        self._outbox: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.RLock()
        self._groups: dict[tuple[str, str], GroupState] = {}
        for service in self.topology.services:
            version = self.generator.initial_version(service)
            for region in self.topology.regions:
                hosts = [
                    Host(host_name(service, region, i), service, region)
                    for i in range(self.topology.hosts_per_region)
                ]
                self._groups[(service, region)] = GroupState(service, region, hosts, version)
        self._faults: list[Fault] = []
        self._cursor: datetime | None = None
        self._pending: dict[str, list[dict[str, Any]]] = _empty_pending()
        self._latest: dict[str, dict[str, Any]] = {}
        self._deploy_days: dict[int, list[tuple[datetime, str, str]]] = {}
        self._dependents: dict[str, dict[str, int]] = {}
        for spec in faults:
            self.inject(spec)

    @classmethod
    def from_scenario(cls, scenario: Scenario, *, clock: Clock, shape: str = "qs") -> Simulation:
        """A simulation of `scenario` whose fault offsets count from `scenario.start`, writing
        the documents of the `shape` profile."""
        return cls(
            clock=clock,
            topology=scenario.build_topology(),
            seed=scenario.seed,
            faults=scenario.faults,
            interval_s=scenario.interval_seconds,
            origin=scenario.start_time,
            healthy_deploys=scenario.healthy_deploys,
            shape=shape,
        )

    # ---- faults -------------------------------------------------------------------------

    def inject(self, fault: FaultSpec) -> Fault:
        """Place a fault on the timeline (offset from `origin`) and return it.

        A fault whose start is already generated begins with the next interval.

        Raises:
            ValueError: if the fault names a service, region or host the topology lacks.
        """
        with self._lock:
            self._check_target(fault)
            start = self.origin + fault.offset
            if self._cursor is not None and start <= self._cursor:
                start = self._cursor + timedelta(seconds=self.interval_s)
            params = fault.params
            end = start + parse_duration(params.duration) if params.duration else None
            kind = fault.kind
            deploy_version: str | None = None
            if kind is FaultKind.BAD_DEPLOY:
                kind = params.introduces or FaultKind.MEMORY_LEAK
                first_region = self.topology.regions[0] if fault.region == ALL else fault.region
                live = self._groups[(fault.service, first_region)].version
                deploy_version = params.version or bump_minor(live)
            number = len(self._faults) + 1
            runtime = Fault(
                fault_id=fault.name or f"f{number}-{fault.kind}-{fault.service}",
                kind=kind,
                service=fault.service,
                region=fault.region,
                host=fault.host,
                start=start,
                params=params,
                deploy_version=deploy_version,
                end=end,
            )
            self._faults.append(runtime)
            return runtime

    def _check_target(self, fault: FaultSpec) -> None:
        if fault.service != ALL and fault.service not in self.topology.services:
            raise ValueError(f"unknown service {fault.service!r}")
        if fault.region != ALL and fault.region not in self.topology.regions:
            raise ValueError(f"unknown region {fault.region!r}")
        if fault.host is not None:
            hosts = {h.name for g in self._groups.values() for h in g.hosts}
            if fault.host not in hosts:
                raise ValueError(f"unknown host {fault.host!r}")

    def active_faults(self) -> list[Fault]:
        """Faults acting somewhere at the clock's current instant."""
        with self._lock:
            now = self.clock.now()
            return [f for f in self._faults if f.live_at(now) and self._acting_anywhere(f)]

    def faults(self) -> list[Fault]:
        """Every fault ever placed, active or not."""
        with self._lock:
            return list(self._faults)

    def _acting_anywhere(self, fault: Fault) -> bool:
        if fault.deploy_version is None:
            return True
        return any(self._runs_fault_version(fault, group) for group in self._groups.values())

    def _runs_fault_version(self, fault: Fault, group: GroupState) -> bool:
        return (
            fault.deployed
            and group.service == fault.service
            and fault.region in (ALL, group.region)
            and group.version == fault.deploy_version
        )

    # ---- generation ---------------------------------------------------------------------

    def _align(self, at: datetime) -> datetime:
        epoch = int(at.timestamp())
        return datetime.fromtimestamp(epoch - epoch % self.interval_s, UTC)

    def _generate_until(self, until: datetime) -> None:
        """Generate every interval in (cursor, until] into the pending buffers."""
        last = self._align(until)
        step = timedelta(seconds=self.interval_s)
        tick = last if self._cursor is None else self._cursor + step
        if tick > last:
            return
        events = self._deploy_events(tick - step, last)
        event_index = 0
        while tick <= last:
            while event_index < len(events) and events[event_index][0] <= tick:
                self._healthy_deploy(*events[event_index])
                event_index += 1
            self._activate_bad_deploys(tick)
            self._generate_tick(tick)
            self._cursor = tick
            tick += step

    def _generate_tick(self, tick: datetime) -> None:
        epoch_ms = int(tick.timestamp()) * 1000
        stamp = iso_ms(epoch_ms)
        live = [f for f in self._faults if f.live_at(tick)]
        metrics = self._pending[METRICS]
        logs = self._pending[LOGS]
        generator = self.generator
        nominal_hosts = self.topology.hosts_per_region
        shapes = {region: daily_shape(tick, region) for region in self.topology.regions}
        for group in self._groups.values():
            load = group.traffic_weight * nominal_hosts / len(group.hosts)
            shape = shapes[group.region]
            for host in group.hosts:
                effects = self._effects(group, host, tick, live) if live else _NEUTRAL
                document, noise = generator.sample(
                    host, tick, stamp, load_factor=load, effects=effects, shape=shape
                )
                lines = generator.log_documents(host, epoch_ms, document, effects, noise)
                # Deterministic ids (host + instant + kind): writing the same interval again
                # (a restart, a re-run seed) lands on the same ids, which the store keeps once.
                document[ID] = f"{host.name}/{epoch_ms}/metrics"
                for number, line in enumerate(lines):
                    line[ID] = f"{host.name}/{epoch_ms}/log-{number}"
                metrics.append(document)
                self._latest[host.name] = document
                logs.extend(lines)

    def _effects(
        self, group: GroupState, host: Host, tick: datetime, live: list[Fault]
    ) -> HostEffects:
        effects: HostEffects | None = None
        for fault in live:
            depth = 0
            if fault.kind is FaultKind.CASCADE:
                if fault.region not in (ALL, group.region) or group.region in fault.cleared_regions:
                    continue
                if group.service != fault.service:
                    found = self._dependents_of(fault.service).get(group.service)
                    if found is None:
                        continue
                    depth = found
                if tick < cascade_onset(fault, depth):
                    continue
                if fault.deploy_version is not None:
                    root = self._groups[(fault.service, group.region)]
                    if not self._runs_fault_version(fault, root):
                        continue
            else:
                if not fault.covers(group.service, group.region, host.name):
                    continue
                if fault.deploy_version is not None and not self._runs_fault_version(fault, group):
                    continue
            restarted = group.restarted_at.get(host.name)
            anchor = fault.start if restarted is None else max(fault.start, restarted)
            profile = self.generator.profile(host)
            if effects is None:
                effects = HostEffects()
            apply_fault(
                fault,
                effects,
                at=tick,
                interval_s=self.interval_s,
                service=group.service,
                depth=depth,
                anchor=anchor,
                base_memory=profile.memory_percent,
                base_disk=profile.disk_percent,
            )
        return effects or _NEUTRAL

    def _dependents_of(self, service: str) -> dict[str, int]:
        found = self._dependents.get(service)
        if found is None:
            found = self.topology.dependents(service)
            self._dependents[service] = found
        return found

    def _deploy_events(self, after: datetime, until: datetime) -> list[tuple[datetime, str, str]]:
        if not self.healthy_deploys:
            return []
        events: list[tuple[datetime, str, str]] = []
        first_day = int(after.timestamp()) // 86400 - 1
        last_day = int(until.timestamp()) // 86400
        for day in range(first_day, last_day + 1):
            planned = self._deploy_days.get(day)
            if planned is None:
                planned = []
                for at, service in self.generator.scheduled_deploys(day):
                    for index, region in enumerate(self.topology.regions):
                        planned.append((at + index * REGION_ROLLOUT_STEP, service, region))
                self._deploy_days[day] = planned
            events.extend(e for e in planned if after < e[0] <= until)
        events.sort()
        return events

    def _healthy_deploy(self, at: datetime, service: str, region: str) -> None:
        group = self._groups[(service, region)]
        held = any(
            f.removed_at is None and self._runs_fault_version(f, group) for f in self._faults
        )
        if held:
            return  # a release freeze: nobody ships over a bad deploy that is still live
        version = bump_patch(group.version)
        self._deploy(group, at, version, description=None, author=None)

    def _activate_bad_deploys(self, tick: datetime) -> None:
        for fault in self._faults:
            if fault.deploy_version is None or fault.deployed or fault.start > tick:
                continue
            fault.deployed = True
            params = fault.params
            regions = self.topology.regions if fault.region == ALL else (fault.region,)
            for region in regions:
                self._deploy(
                    self._groups[(fault.service, region)],
                    fault.start,
                    fault.deploy_version,
                    description=params.description,
                    author=params.author,
                )

    def _deploy(
        self,
        group: GroupState,
        at: datetime,
        version: str,
        *,
        description: str | None,
        author: str | None,
    ) -> None:
        document = self.generator.deployment_document(
            at,
            group.service,
            group.region,
            version=version,
            previous_version=group.version,
            description=description,
            author=author,
        )
        document[ID] = f"{group.service}/{group.region}/{int(at.timestamp() * 1000)}/deploy"
        self._pending[DEPLOYMENTS].append(document)
        group.previous_version = group.version
        group.version = version
        group.rolled_back_from = None

    def _flush(self, store: Store) -> tuple[dict[str, int], list[str]]:
        written: dict[str, int] = {}
        errors: list[str] = []
        source = self._pending
        if self.shape.name != "qs":
            for index, shaped in self.shape.convert(self._pending).items():
                self._outbox.setdefault(index, []).extend(shaped)
            self._pending = _empty_pending()
            source = self._outbox
        for index, documents in source.items():
            if documents:
                result = store.bulk(index, documents)
                written[index] = result.written
                errors.extend(result.errors[: max(0, 5 - len(errors))])
            else:
                written[index] = 0
            source[index] = []
        return written, errors

    def backfill(
        self,
        store: Store,
        history: timedelta,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: ProgressCallback | None = None,
    ) -> dict[str, int]:
        """Write `history` of telemetry ending at the clock's now, in batches.

        Args:
            store: where documents go.
            history: how far back to start.
            batch_size: metric documents per batch (logs and deploys of the same span go along).
            progress: called after each batch with (metric documents written so far, metric
                documents in total); logs and deployments ride along with their interval.

        What the store already holds is not written again: the newest stored sample of
        every host is looked up first (`esql/metrics_newest_per_host.esql`), and batches up to
        the oldest of those are generated (the simulation's state depends on them) but not
        written; `backfill_skipped` says how many metric samples that was. So a restart on a
        persisted store or cluster, or a re-run of an interrupted seed, writes only what is
        missing (and the ids make any overlap harmless).

        Returns:
            Documents written per index.

        Raises:
            SimulationError: if telemetry was already generated (backfill comes first).
            StoreError: if the store rejects documents (the message quotes the first error).
        """
        with self._lock:
            if self._cursor is not None:
                raise SimulationError("backfill must come before the first step")
            if history.total_seconds() < 0:
                raise SimulationError("history cannot be negative")
            now = self.clock.now()
            step = timedelta(seconds=self.interval_s)
            self._cursor = self._align(now - history) - step
            end = self._align(now)
            total = int((end - self._cursor) / step)
            hosts = sum(len(g.hosts) for g in self._groups.values())
            ticks_per_batch = max(1, batch_size // max(1, hosts))
            totals: dict[str, int] = dict.fromkeys(self.shape.indices, 0)
            samples_written = 0
            stored_until = self._stored_until(store, start=self._cursor + step, end=end)
            self.backfill_skipped = 0
            self._history = history
            while self._cursor < end:
                target = min(end, self._cursor + ticks_per_batch * step)
                self._generate_until(target)
                if stored_until is not None and target <= stored_until:
                    self.backfill_skipped += len(self._pending[METRICS])
                    if self.shape.name != "qs":
                        self.shape.convert(self._pending)  # it follows the deploys skipped
                    self._pending = _empty_pending()
                    if progress is not None:
                        progress(samples_written + self.backfill_skipped, total * hosts)
                    continue
                samples_written += len(self._pending[METRICS])
                written, errors = self._flush(store)
                if errors:
                    raise StoreError(
                        "the store rejected simulated documents",
                        f"{len(errors)}+ errors, first: {errors[0]}",
                    )
                for index, count in written.items():
                    totals[index] = totals.get(index, 0) + count
                if progress is not None:
                    progress(samples_written + self.backfill_skipped, total * hosts)
            store.refresh()
            return totals

    def _stored_until(self, store: Store, *, start: datetime, end: datetime) -> datetime | None:
        """The instant up to which every host already has its samples in `[start, end]`
        (None when some host has none there, or the store cannot say)."""
        from qs_tui.esql.errors import EsqlError
        from qs_tui.profiles import query_text
        from qs_tui.queries import bind_params

        try:
            result = store.esql(
                query_text("metrics_newest_per_host", self.profile),
                params=bind_params({"start": start, "end": end}),
            )
        except (StoreError, EsqlError):
            return None  # no index yet, or a store that cannot answer: write everything
        newest: dict[str, datetime] = {}
        for record in result.records():
            host, instant = record.get("host"), record.get("newest")
            if isinstance(host, str) and isinstance(instant, str):
                newest[host] = datetime.fromisoformat(instant.replace("Z", "+00:00"))
        wanted = [host.name for group in self._groups.values() for host in group.hosts]
        if not wanted or any(name not in newest for name in wanted):
            return None
        return min(newest[name] for name in wanted)

    def step(self, store: Store) -> StepResult:
        """Generate from the last generated instant up to the clock's now and write it.

        A store that fails does not raise: `StepResult.failure` says why, and the documents
        wait (up to `MAX_PENDING_PER_INDEX` per index) to be written by a later step.
        """
        with self._lock:
            now = self.clock.now()
            self._generate_until(now)
            failure: str | None = None
            try:
                written, errors = self._flush(store)
                self._prune(store, now)
            except StoreError as error:
                # The store is down for now: what was not written waits for the next step
                # (bounded), so a hiccup neither ends the run nor loses the samples.
                failure = str(error)
                written, errors = {}, []
                self._bound_pending()
            return StepResult(
                written=written,
                latest=dict(self._latest),
                until=self._cursor or now,
                errors=errors,
                failure=failure,
                pending=sum(len(d) for d in [*self._pending.values(), *self._outbox.values()]),
                dropped=self.dropped,
            )

    def _bound_pending(self) -> None:
        for documents in [*self._pending.values(), *self._outbox.values()]:
            excess = len(documents) - MAX_PENDING_PER_INDEX
            if excess > 0:
                del documents[:excess]
                self.dropped += excess

    def _prune(self, store: Store, now: datetime) -> None:
        """Let an in-process store drop telemetry beyond its retention window, on this
        simulation's clock (which is the pipeline's); a cluster's own lifecycle policy does
        this there. The store decides what is telemetry, how long it is kept and how often
        it prunes (`EmbeddedStore.expire`)."""
        if not getattr(store, "supports_prune", False):
            return
        # At least the backfilled history, so what a run starts with stays while it is
        # still the recent past.
        store.expire(now, keep=self._history)  # type: ignore[attr-defined]

    def generate(self, until: datetime) -> dict[str, list[dict[str, Any]]]:
        """Generate up to `until` and hand the documents back instead of writing them."""
        with self._lock:
            self._generate_until(until)
            pending = self._pending
            self._pending = _empty_pending()
            return pending

    @property
    def generated_until(self) -> datetime | None:
        """The newest instant generated so far (None before the first generation)."""
        return self._cursor

    # ---- actions ------------------------------------------------------------------------

    def apply_action(self, action: ActionKind | str, service: str, region: str) -> ActionResult:
        """Carry out a remediation at the clock's now; the telemetry after it reflects it.

        Telemetry up to now is generated first (kept for the next `step`) so the action
        splits the timeline exactly where it happened.
        """
        with self._lock:
            now = self.clock.now()
            self._generate_until(now)
            at = self._cursor or self._align(now)
            try:
                kind = ActionKind(action)
            except ValueError:
                known = ", ".join(a.value for a in ActionKind)
                message = f"unknown action {action!r}; known: {known}"
                return ActionResult(str(action), service, region, False, False, message, at)
            problem = self._target_problem(service, region, kind)
            if problem:
                return ActionResult(kind.value, service, region, False, False, problem, at)
            regions = self.topology.regions if region == ALL else (region,)
            handler = _HANDLERS[kind]
            results = [handler(self, self._groups[(service, r)], at) for r in regions]
            if len(results) == 1:
                return results[0]
            return ActionResult(
                action=kind.value,
                service=service,
                region=region,
                ok=all(r.ok for r in results),
                changed=any(r.changed for r in results),
                message="; ".join(f"{r.region}: {r.message}" for r in results),
                at=at,
                removed_faults=tuple(dict.fromkeys(f for r in results for f in r.removed_faults)),
                details={r.region: r.details for r in results},
            )

    def _target_problem(self, service: str, region: str, kind: ActionKind) -> str | None:
        if service not in self.topology.services:
            return f"unknown service {service!r}"
        if region != ALL and region not in self.topology.regions:
            return f"unknown region {region!r}"
        if region == ALL and kind is ActionKind.FAILOVER:
            return "failover needs one region to move traffic away from"
        return None

    def _remove(self, fault: Fault, region: str, at: datetime, action: ActionKind) -> bool:
        """Clear `fault` in `region`; returns True when it is now gone everywhere."""
        if fault.region == ALL:
            fault.cleared_regions.add(region)
            if set(self.topology.regions) - fault.cleared_regions:
                return False
        fault.removed_at = at
        fault.removed_by = action.value
        return True

    def _faults_in(self, group: GroupState, at: datetime) -> list[Fault]:
        return [
            f
            for f in self._faults
            if f.live_at(at)
            and group.region not in f.cleared_regions
            and f.service in (ALL, group.service)
            and f.region in (ALL, group.region)
        ]

    def _rollback(self, group: GroupState, at: datetime) -> ActionResult:
        kind = ActionKind.ROLLBACK
        if group.rolled_back_from is not None:
            message = f"already rolled back from {group.rolled_back_from} to {group.version}"
            details = {"version": group.version}
            return _outcome(kind, group, at, message, changed=False, details=details)
        if group.previous_version is None:
            message = f"nothing to roll back: {group.version} is the first version"
            return _outcome(kind, group, at, message, ok=False, changed=False)
        bad, previous = group.version, group.previous_version
        document = self.generator.deployment_document(
            at,
            group.service,
            group.region,
            version=previous,
            previous_version=bad,
            description=f"rollback of {bad} to {previous}",
            author="qs-tui remediation",
        )
        self._pending[DEPLOYMENTS].append(document)
        group.version = previous
        group.previous_version = None
        group.rolled_back_from = bad
        removed: list[str] = []
        for fault in self._faults:
            if fault.deploy_version != bad or fault.service != group.service:
                continue
            if fault.removed_at is not None:
                continue
            # A fault deployed to several regions is gone once no region runs its version.
            if not any(self._runs_fault_version(fault, g) for g in self._groups.values()):
                fault.removed_at = at
                fault.removed_by = kind.value
                removed.append(fault.fault_id)
        details = {"version": previous, "previous_version": bad}
        message = f"rolled back {bad} -> {previous}"
        return _outcome(kind, group, at, message, removed=removed, details=details)

    def _restart(self, group: GroupState, at: datetime) -> ActionResult:
        kind = ActionKind.RESTART
        for host in group.hosts:
            group.restarted_at[host.name] = at
            self._pending[LOGS].append(
                {
                    "@timestamp": iso_ms(int(at.timestamp() * 1000)),
                    "service": group.service,
                    "region": group.region,
                    "host": host.name,
                    "level": "INFO",
                    "error_code": None,
                    "message": f"process restarted by remediation on {host.name}",
                    "trace_id": self.generator.stable_trace(host.name, at),
                }
            )
        removed: list[str] = []
        cleared_here: list[str] = []
        returning: list[str] = []
        for fault in self._faults_in(group, at):
            # Restarting resets what accumulates in a process (memory, log files, a wedged
            # connection pool at a cascade's root); it cannot undo code that is still live.
            clears = fault.kind in (FaultKind.MEMORY_LEAK, FaultKind.DISK_FILL) or (
                fault.kind is FaultKind.CASCADE and fault.service == group.service
            )
            if not clears:
                continue
            if fault.deploy_version is not None:
                if self._runs_fault_version(fault, group):
                    returning.append(f"{fault.kind} (in {fault.deploy_version}, still live)")
            elif self._remove(fault, group.region, at, kind):
                removed.append(fault.fault_id)
            else:
                cleared_here.append(fault.fault_id)
        message = f"restarted {len(group.hosts)} hosts"
        if returning:
            message += "; will return: " + ", ".join(returning)
        details = {
            "hosts": [h.name for h in group.hosts],
            "returning": returning,
            "cleared_in_region": cleared_here,
        }
        return _outcome(kind, group, at, message, removed=removed, details=details)

    def _scale_out(self, group: GroupState, at: datetime) -> ActionResult:
        kind = ActionKind.SCALE_OUT
        if len(group.hosts) >= MAX_HOSTS_PER_REGION:
            message = f"already at the maximum of {MAX_HOSTS_PER_REGION} hosts"
            return _outcome(kind, group, at, message, changed=False)
        name = host_name(group.service, group.region, len(group.hosts))
        added = Host(name, group.service, group.region)
        group.hosts.append(added)
        group.restarted_at[added.name] = at  # a fresh process: nothing accumulated yet
        message = f"added {added.name} ({len(group.hosts)} hosts)"
        details = {"added": added.name, "hosts": len(group.hosts)}
        return _outcome(kind, group, at, message, details=details)

    def _failover(self, group: GroupState, at: datetime) -> ActionResult:
        kind = ActionKind.FAILOVER
        if group.traffic_weight == 0:
            return _outcome(kind, group, at, f"{group.region} already drained", changed=False)
        others = [
            g
            for g in self._groups.values()
            if g.service == group.service and g is not group and g.traffic_weight > 0
        ]
        if not others:
            message = "no other region to fail over to"
            return _outcome(kind, group, at, message, ok=False, changed=False)
        share = group.traffic_weight / len(others)
        for other in others:
            other.traffic_weight += share
        group.traffic_weight = 0.0
        message = f"moved traffic from {group.region} to {', '.join(g.region for g in others)}"
        details = {"weights": {g.region: round(g.traffic_weight, 3) for g in others}}
        return _outcome(kind, group, at, message, details=details)

    def _flush_cache(self, group: GroupState, at: datetime) -> ActionResult:
        kind = ActionKind.FLUSH_CACHE
        removed: list[str] = []
        cleared_here: list[str] = []
        for fault in self._faults_in(group, at):
            is_cache = fault.kind is FaultKind.LATENCY_REGRESSION and fault.params.cause == "cache"
            if not is_cache or fault.deploy_version is not None:
                continue
            if self._remove(fault, group.region, at, kind):
                removed.append(fault.fault_id)
            else:
                cleared_here.append(fault.fault_id)
        fixed = removed + cleared_here
        message = "cache flushed" + (f"; cleared {', '.join(fixed)}" if fixed else "")
        details = {"cleared_in_region": cleared_here}
        return _outcome(kind, group, at, message, removed=removed, details=details)

    # ---- state --------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The cluster's state for display and tests: versions, hosts, routing, faults."""
        with self._lock:
            now = self.clock.now()
            return {
                "now": now.isoformat(),
                "generated_until": self._cursor.isoformat() if self._cursor else None,
                "groups": [
                    {
                        "service": g.service,
                        "region": g.region,
                        "version": g.version,
                        "previous_version": g.previous_version,
                        "hosts": [h.name for h in g.hosts],
                        "traffic_weight": round(g.traffic_weight, 3),
                    }
                    for g in self._groups.values()
                ],
                "faults": [
                    {**f.describe(), "active": f.live_at(now) and self._acting_anywhere(f)}
                    for f in self._faults
                ],
                "latest": dict(self._latest),
            }

    def group(self, service: str, region: str) -> GroupState:
        """The state of one service in one region.

        Raises:
            KeyError: if the pair is not in the topology.
        """
        return self._groups[(service, region)]


_NEUTRAL = HostEffects()


def _outcome(
    kind: ActionKind,
    group: GroupState,
    at: datetime,
    message: str,
    *,
    ok: bool = True,
    changed: bool = True,
    removed: list[str] | None = None,
    details: dict[str, Any] | None = None,
) -> ActionResult:
    """An `ActionResult` for one service/region."""
    return ActionResult(
        action=kind.value,
        service=group.service,
        region=group.region,
        ok=ok,
        changed=changed,
        message=message,
        at=at,
        removed_faults=tuple(removed or ()),
        details=details or {},
    )


_HANDLERS: dict[ActionKind, Callable[[Simulation, GroupState, datetime], ActionResult]] = {
    ActionKind.ROLLBACK: Simulation._rollback,
    ActionKind.RESTART: Simulation._restart,
    ActionKind.SCALE_OUT: Simulation._scale_out,
    ActionKind.FAILOVER: Simulation._failover,
    ActionKind.FLUSH_CACHE: Simulation._flush_cache,
}
