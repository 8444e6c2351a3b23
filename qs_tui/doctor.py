"""`qs-tui doctor`: check configuration, connectivity, version, licence, templates and data."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from itertools import chain
from typing import TYPE_CHECKING, Any, Literal, TextIO

from qs_tui.config import Settings
from qs_tui.store.base import Store, StoreError
from qs_tui.store.templates import INDICES, TEMPLATE_PRIORITY, IndexSpec

if TYPE_CHECKING:
    from qs_tui.resources import DataFolder
    from qs_tui.store.compat import ApiCompatibility
    from qs_tui.store.elastic import ElasticStore

__all__ = [
    "Check",
    "patterns_overlap",
    "query_library_check",
    "run_doctor",
    "scenario_checks",
    "template_differences",
]

Status = Literal["ok", "warn", "FAIL"]

#: The oldest Elasticsearch QuantumState supports, and the first major it does not.
MIN_VERSION = (8, 19)
MAX_MAJOR_EXCLUSIVE = 10

_SEED_FIX = "run `qs-tui seed`, which installs the templates and writes data"


@dataclass(frozen=True)
class Check:
    """The outcome of one check: its status, what was found and how to fix it."""

    status: Status
    name: str
    message: str
    fix: str = ""

    def line(self) -> str:
        """The check as one printed line: `ok    name: message` (and `— fix: …`)."""
        text = f"{self.status:<4}  {self.name}: {self.message}"
        return f"{text} — fix: {self.fix}" if self.fix else text


def run_doctor(settings: Settings, *, out: TextIO, profile: str | None = None) -> int:
    """Run every check for the configured store, printing one line per check to `out`.

    Secrets are never printed: only whether they are set. With `profile` (a schema profile's
    name or path), the checks end with its coverage: which mapped indices and fields the
    store holds, and which signals and detectors are therefore available.

    Returns:
        1 when any check failed, 0 otherwise (warnings do not fail).
    """
    kind = settings.store_kind
    store_checks = _elastic_checks(settings) if kind == "elastic" else _embedded_checks(settings)
    checks = chain(store_checks, _library_checks(settings))
    if profile is not None:
        checks = chain(checks, _profile_checks(settings, profile))
    failed = False
    for check in checks:
        print(check.line(), file=out, flush=True)
        failed = failed or check.status == "FAIL"
    summary = "problems found" if failed else "all checks passed"
    print(f"\n{summary} ({kind} store)", file=out)
    return 1 if failed else 0


# -- what the program ships: queries and scenarios -----------------------------------------

_REINSTALL_FIX = (
    "reinstall qs-tui (a wheel carries esql/ and fixtures/scenarios/ inside the package), "
    "or run it from a complete checkout"
)


def _library_checks(settings: Settings) -> Iterator[Check]:
    """The query library and the scenarios are where the program looks, and all are usable."""
    from qs_tui.resources import data_folder

    yield query_library_check(data_folder("esql"))
    yield from scenario_checks(data_folder("scenarios"), configured=settings.scenario)


def query_library_check(folder: DataFolder) -> Check:
    """Every `*.esql` file in `folder` parses (with a stand-in value for each parameter)."""
    from qs_tui.esql.errors import EsqlError
    from qs_tui.esql.parser import parse
    from qs_tui.queries import all_queries

    queries = all_queries(folder.path) if folder.exists else []
    if not queries:
        return Check("FAIL", "queries", f"no query files in {folder.path}", _REINSTALL_FIX)
    broken: list[str] = []
    for query in queries:
        # Parameters only fill literals, so any value shows whether the text parses.
        stand_ins = dict.fromkeys(query.params, "2026-01-01T00:00:00Z")
        try:
            parse(query.text, params=stand_ins)
        except EsqlError as error:
            broken.append(f"{query.name}.esql: {str(error).splitlines()[0]}")
    if broken:
        return Check(
            "FAIL",
            "queries",
            f"{len(broken)} of {len(queries)} in {folder.path} do not parse: " + "; ".join(broken),
            "fix the query (`qs-tui esql @FILE` shows where it fails)",
        )
    return Check("ok", "queries", f"{len(queries)} queries parse ({folder.source}: {folder.path})")


def scenario_checks(folder: DataFolder, *, configured: str) -> Iterator[Check]:
    """Every `*.toml` scenario in `folder` loads, and so does `configured` (QS_SCENARIO)."""
    from qs_tui.sim.scenario import ScenarioError, load_scenario

    files = sorted(folder.path.glob("*.toml")) if folder.exists else []
    if not files:
        yield Check("FAIL", "scenarios", f"no scenario files in {folder.path}", _REINSTALL_FIX)
        return
    broken: list[str] = []
    for path in files:
        try:
            load_scenario(path)
        except ScenarioError as error:
            broken.append(str(error))
    if broken:
        yield Check(
            "FAIL",
            "scenarios",
            f"{len(broken)} of {len(files)} do not load: " + "; ".join(broken),
            _REINSTALL_FIX,
        )
    else:
        yield Check(
            "ok", "scenarios", f"{len(files)} scenarios load ({folder.source}: {folder.path})"
        )
    if configured not in {path.stem for path in files}:
        try:
            load_scenario(configured)
        except ScenarioError as error:
            yield Check(
                "FAIL",
                "scenario",
                f"QS_SCENARIO={configured}: {str(error).removeprefix('scenario: ')}",
                "set QS_SCENARIO to a shipped scenario's name or a TOML file",
            )


# -- schema profile ---------------------------------------------------------------------------


def _profile_checks(settings: Settings, name: str) -> Iterator[Check]:
    """The coverage of schema profile `name` on the configured store."""
    from qs_tui.profiles import ProfileError, load_profile
    from qs_tui.profiles.coverage import profile_coverage
    from qs_tui.store.factory import open_store

    try:
        profile = load_profile(name)
    except ProfileError as error:
        yield Check("FAIL", "profile", str(error), "fix the profile file or choose a built-in")
        return
    try:
        store = open_store(settings)
    except StoreError as error:
        yield Check("FAIL", "profile", f"cannot open the store: {error}")
        return
    try:
        yield from profile_coverage(profile, store)
    except StoreError as error:
        yield Check("FAIL", "profile", f"cannot read the mappings: {error}")
    finally:
        store.close()


# -- embedded -------------------------------------------------------------------------------


def _embedded_checks(settings: Settings) -> Iterator[Check]:
    where = f"data directory {settings.data_dir}" if settings.data_dir else "memory only"
    yield Check("ok", "store", f"embedded ({where})")
    if settings.cluster_configured:
        yield Check(
            "warn",
            "store",
            "a cluster is configured but QS_STORE=embedded, so it is not used",
            "unset QS_STORE (or set QS_STORE=elastic) to use the cluster",
        )
    if settings.data_dir is None:
        yield Check("ok", "persistence", "in memory: set QS_DATA_DIR to keep data across restarts")
    else:
        problem = _data_dir_problem(settings)
        if problem:
            yield Check("FAIL", "data directory", problem, "set QS_DATA_DIR to a writable folder")
            return
        yield Check("ok", "data directory", f"{settings.data_dir} is usable")
    yield from _slack_check(settings)
    from qs_tui.store.factory import open_store

    try:
        store = open_store(settings, kind="embedded")
    except StoreError as error:
        yield Check("FAIL", "open", str(error))
        return
    try:
        health = store.health()
        yield Check(
            "ok" if health.ok else "FAIL",
            "engine",
            f"{health.name}, engine {health.version or '?'} ({health.status})",
        )
        yield Check("ok", "templates", f"{len(INDICES)} index templates installed")
        # The embedded store reports its per-index document counts in its health detail.
        counts = health.detail.get("documents", {})
        for spec in INDICES:
            yield _embedded_count(counts, spec)
        yield from _seed_check(store)
    finally:
        store.close()


def _seed_check(store: Store) -> Iterator[Check]:
    """Whether the last `qs-tui seed` finished (its marker says `complete`)."""
    from qs_tui.sim.seed import seed_status

    status = seed_status(store)
    if status is None:
        return
    if status.complete:
        yield Check("ok", "seed", f"complete (scenario {status.scenario}, {status.history})")
        return
    yield Check(
        "warn",
        "seed",
        f"seed incomplete: the last seed (scenario {status.scenario}, {status.history}) "
        "did not finish",
        "re-run qs-tui seed (it writes only what is missing)",
    )


def _data_dir_problem(settings: Settings) -> str:
    path = settings.data_dir
    assert path is not None
    if path.exists() and not path.is_dir():
        return f"{path} exists but is not a directory"
    existing = path if path.exists() else next((p for p in path.parents if p.exists()), None)
    if existing is None or not os.access(existing, os.W_OK | os.X_OK):
        return f"{path} is not writable"
    return ""


def _embedded_count(counts: Mapping[str, Any], spec: IndexSpec) -> Check:
    count = counts.get(spec.name)
    if not count:
        return Check("ok", spec.name, "no documents yet (the simulator or `qs-tui seed` fill it)")
    return Check("ok", spec.name, f"{int(count):,} documents")


# -- Elasticsearch --------------------------------------------------------------------------


def _elastic_checks(settings: Settings) -> Iterator[Check]:
    from qs_tui.store.elastic import CLIENT_VERSION, ElasticStore

    try:
        store = ElasticStore(settings, connection_retries=0)
    except StoreError as error:
        yield Check("FAIL", "configuration", str(error))
        return
    source = "ELASTIC_URL" if settings.elastic_url else "ELASTIC_CLOUD_ID"
    yield Check("ok", "store", f"elastic: {store.name} (from {source})")
    yield from _credential_checks(settings)
    yield from _tls_checks(settings)
    yield from _slack_check(settings)
    try:
        try:
            info = store.info()
        except StoreError as error:
            yield Check("FAIL", "connectivity", str(error))
            return
        yield Check(
            "ok",
            "connectivity",
            f"reached cluster {info.get('cluster_name', '?')} (node {info.get('name', '?')})",
        )
        yield _version_check(info, CLIENT_VERSION, store.api_compatibility)
        yield _licence_check(store)
        yield from _template_checks(store)
        for spec in INDICES:
            yield _elastic_count(store, spec)
        yield from _seed_check(store)
    finally:
        store.close()


def _credential_checks(settings: Settings) -> Iterator[Check]:
    if settings.elastic_api_key is not None:
        yield Check("ok", "credentials", "API key (ELASTIC_API_KEY is set)")
        if settings.elastic_username or settings.elastic_password:
            yield Check(
                "warn",
                "credentials",
                "ELASTIC_USERNAME/ELASTIC_PASSWORD are set too and ignored",
                "unset them to avoid confusion",
            )
    elif settings.elastic_username:
        if settings.elastic_password is None:
            yield Check(
                "FAIL",
                "credentials",
                f"ELASTIC_USERNAME={settings.elastic_username} but ELASTIC_PASSWORD is not set",
                "set ELASTIC_PASSWORD (or use ELASTIC_API_KEY instead)",
            )
        else:
            yield Check(
                "ok",
                "credentials",
                f"user {settings.elastic_username} (ELASTIC_PASSWORD is set)",
            )
    else:
        yield Check(
            "warn",
            "credentials",
            "none set: only a cluster without security accepts this",
            "set ELASTIC_API_KEY (or ELASTIC_USERNAME and ELASTIC_PASSWORD)",
        )


def _tls_checks(settings: Settings) -> Iterator[Check]:
    uses_tls = bool(settings.elastic_cloud_id) or (settings.elastic_url or "").startswith(
        "https://"
    )
    if not uses_tls:
        yield Check("ok", "tls", "plain HTTP (no TLS)")
        return
    ca_certs = settings.elastic_ca_certs
    if ca_certs is not None and not ca_certs.is_file():
        yield Check(
            "FAIL",
            "tls",
            f"ELASTIC_CA_CERTS={ca_certs} does not exist",
            "point ELASTIC_CA_CERTS at the cluster's CA certificate (PEM), "
            "e.g. config/certs/http_ca.crt of a self-managed node",
        )
    elif not settings.elastic_verify_certs:
        yield Check(
            "warn",
            "tls",
            "certificate verification is off (ELASTIC_VERIFY_CERTS=false)",
            "set ELASTIC_CA_CERTS and turn verification back on outside throwaway clusters",
        )
    elif ca_certs is not None:
        yield Check("ok", "tls", f"verifying the cluster's certificate with {ca_certs}")
    else:
        yield Check("ok", "tls", "verifying the cluster's certificate with the system CAs")


def _slack_check(settings: Settings) -> Iterator[Check]:
    state = "set" if settings.slack_webhook_url is not None else "not set (no Slack notifications)"
    yield Check("ok", "slack", f"SLACK_WEBHOOK_URL is {state}")


def _parse_version(number: str) -> tuple[int, int] | None:
    parts = number.split("-")[0].split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return None


def _version_check(
    info: Mapping[str, Any], client_version: str, compatibility: ApiCompatibility | None
) -> Check:
    """Server version, client version and the REST API compatibility spoken to the cluster."""
    version = info.get("version", {})
    number = str(version.get("number", "?"))
    flavour = str(version.get("build_flavor", "default"))
    spoken = compatibility.description if compatibility is not None else "not decided yet"
    text = f"Elasticsearch {number} ({flavour}), Python client {client_version}, speaking {spoken}"
    parsed = _parse_version(number)
    if flavour == "serverless":
        return Check("ok", "version", text)
    if parsed is None or not MIN_VERSION <= parsed < (MAX_MAJOR_EXCLUSIVE, 0):
        return Check(
            "warn",
            "version",
            f"{text}: only 8.19+ and 9.x are supported",
            "upgrade the cluster to 8.19 or 9.x",
        )
    return Check("ok", "version", text)


def _licence_check(store: ElasticStore) -> Check:
    try:
        licence = store.licence()
    except StoreError as error:
        return Check(
            "warn",
            "licence",
            f"could not be read: {error}",
            "grant the `monitor` cluster privilege to check it (ES|QL itself needs none)",
        )
    kind = licence.get("type", "unknown")
    status = licence.get("status", "unknown")
    if status != "active":
        return Check(
            "warn",
            "licence",
            f"{kind}, {status}",
            "renew it or revert to the free basic licence (POST _license/start_basic)",
        )
    return Check("ok", "licence", f"{kind}, {status} (ES|QL is part of the free basic licence)")


def _template_checks(store: ElasticStore) -> Iterator[Check]:
    try:
        installed = store.index_templates()
    except StoreError as error:
        yield Check(
            "FAIL",
            "templates",
            f"could not be read: {error}",
            "grant the `manage_index_templates` cluster privilege",
        )
        return
    ours = {spec.template for spec in INDICES}
    for spec in INDICES:
        current = installed.get(spec.template)
        if current is None:
            yield Check("warn", spec.template, "not installed", _SEED_FIX)
        else:
            differences = template_differences(spec.template_body(), current)
            if differences:
                yield Check(
                    "warn",
                    spec.template,
                    "installed but differs from this version's: " + ", ".join(differences),
                    "run `qs-tui seed` to update it",
                )
            else:
                yield Check("ok", spec.template, f"installed, priority {TEMPLATE_PRIORITY}")
        yield from _clashes(spec, installed, ours)


def _clashes(
    spec: IndexSpec, installed: Mapping[str, Mapping[str, Any]], ours: set[str]
) -> Iterator[Check]:
    for name, template in sorted(installed.items()):
        if name in ours:
            continue
        patterns = template.get("index_patterns", [])
        if isinstance(patterns, str):
            patterns = [patterns]
        overlapping = [
            p for p in patterns if any(patterns_overlap(p, q) for q in spec.index_patterns)
        ]
        if not overlapping:
            continue
        priority = int(template.get("priority", 0) or 0)
        if priority == TEMPLATE_PRIORITY:
            yield Check(
                "FAIL",
                spec.template,
                f"template {name} has the same priority {priority} and overlapping patterns "
                f"{overlapping}; Elasticsearch rejects ours",
                f"change {name}'s priority or narrow its index_patterns",
            )
        elif priority > TEMPLATE_PRIORITY:
            yield Check(
                "warn",
                spec.template,
                f"template {name} (priority {priority}, patterns {overlapping}) takes precedence "
                f"over ours for {spec.name}",
                f"narrow {name}'s index_patterns or lower its priority below {TEMPLATE_PRIORITY}",
            )


def patterns_overlap(first: str, second: str) -> bool:
    """Whether some index name matches both wildcard patterns (`*` matches any text)."""

    @cache
    def match(i: int, j: int) -> bool:
        if i == len(first) and j == len(second):
            return True
        if i < len(first) and first[i] == "*":
            return match(i + 1, j) or (j < len(second) and match(i, j + 1))
        if j < len(second) and second[j] == "*":
            return match(i, j + 1) or (i < len(first) and match(i + 1, j))
        if i < len(first) and j < len(second) and first[i] == second[j]:
            return match(i + 1, j + 1)
        return False

    return match(0, 0)


def _flat_settings(settings: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Settings as `{"number_of_shards": "1"}` whether nested or dotted, `index.` dropped."""
    flat: dict[str, str] = {}
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flat_settings(value, f"{name}."))
        else:
            flat[name.removeprefix("index.")] = str(value).lower()
    return flat


def template_differences(expected: Mapping[str, Any], installed: Mapping[str, Any]) -> list[str]:
    """Which parts of an installed template differ from `expected` (our template body).

    Elasticsearch echoes settings back nested and as strings, and fills in data stream
    defaults, so those are compared in normalised form.
    """
    differences = []
    if list(installed.get("index_patterns", [])) != list(expected["index_patterns"]):
        differences.append("index_patterns")
    if installed.get("priority") != expected["priority"]:
        differences.append("priority")
    if ("data_stream" in installed) != ("data_stream" in expected):
        differences.append("data_stream")
    template = installed.get("template", {})
    if template.get("mappings") != expected["template"]["mappings"]:
        differences.append("mappings")
    if _flat_settings(template.get("settings", {})) != _flat_settings(
        expected["template"]["settings"]
    ):
        differences.append("settings")
    return differences


def _elastic_count(store: ElasticStore, spec: IndexSpec) -> Check:
    kind = "data stream" if spec.data_stream else "index"
    try:
        count = store.document_count(spec.name)
    except StoreError as error:
        return Check("warn", spec.name, f"cannot be counted: {error}")
    if count is None:
        return Check("warn", spec.name, f"{kind} does not exist yet", _SEED_FIX)
    return Check("ok", spec.name, f"{kind} with {count:,} documents")
