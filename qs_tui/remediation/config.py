"""`remediation.toml`: where each service lives and which executor acts on it.

One `[[services]]` table per service (optionally per service and region) names an executor
and its target:

```toml
[[services]]
service = "payment-service"
executor = "kubernetes"
context = "prod"
namespace = "shop"
deployment = "payment"
max_replicas = 10
```

A service with no table stays advisory: the Surgeon prints the command a human would run and
carries out nothing. A table with a `region` applies to that region only and wins over the
service's table without one. Errors name the file, the line and the field
(`remediation.toml:7: services[0].deployment: required but missing`).
"""

from __future__ import annotations

import re
import tomllib
from datetime import datetime
from datetime import time as dt_time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from qs_tui.config import parse_http_url
from qs_tui.models import ActionKind

# The scenario loader's TOML helpers find the line of a pydantic error's location; the
# remediation file uses the same `[[table]]` layout, so they apply as they are.
from qs_tui.tomlfile import TomlFileError, field_path, line_of

#: Where the file is looked for when `QS_REMEDIATION` is not set.
DEFAULT_REMEDIATION_PATH = Path("remediation.toml")

#: The executors a service can be mapped to.
EXECUTOR_NAMES = ("kubernetes", "argocd", "workflows", "webhook", "advisory")

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


class RemediationConfigError(TomlFileError):
    """A `remediation.toml` that cannot be used; the message is `file:line: field: problem`."""

    unnamed = "remediation.toml"


class _Target(BaseModel):
    """What every mapping has: the service, optionally one region, and the executor."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    service: str = Field(min_length=1)
    """The service name as the telemetry names it (`payment-service`)."""

    region: str | None = None
    """Only this region; unset means every region of the service."""

    actions: list[ActionKind] | None = None
    """Only these actions (`["failover"]`); unset means every action. Lets one service use
    Kubernetes for restarts and a workflow for failovers, which Kubernetes has no verb for."""

    @field_validator("actions")
    @classmethod
    def _real_actions(cls, value: list[ActionKind] | None) -> list[ActionKind] | None:
        if value is not None and not value:
            raise ValueError("list at least one action, or leave actions out for all of them")
        if value is not None and ActionKind.DO_NOTHING in value:
            raise ValueError("do_nothing needs no executor")
        return value


class KubernetesTarget(_Target):
    """A Deployment in a Kubernetes cluster, reached through a kubeconfig context."""

    executor: Literal["kubernetes"]

    deployment: str
    """The Deployment's name (`payment`)."""

    namespace: str = "default"
    """The Deployment's namespace."""

    context: str | None = None
    """The kubeconfig context; unset means the kubeconfig's current context."""

    kubeconfig: Path | None = None
    """The kubeconfig file; unset means `KUBECONFIG` or `~/.kube/config`, as kubectl finds it
    (and the in-cluster service account when neither exists)."""

    max_replicas: int = Field(default=10, ge=1)
    """A scale-out adds one replica, never beyond this cap."""

    rollout_timeout_s: float = Field(default=300.0, gt=0)
    """How long verification waits for the rollout to finish. `kubectl rollout status` waits
    until the Deployment's `progressDeadlineSeconds` (600 s by default) reports a failure;
    a shorter wait keeps the incident moving, and that failure still ends it sooner."""

    @field_validator("deployment", "namespace")
    @classmethod
    def _dns_name(cls, value: str) -> str:
        # Kubernetes object names are DNS-1123 subdomains (lowercase, digits, '-', '.').
        if not _NAME.match(value) or len(value) > 253:
            raise ValueError(
                f"{value!r} is not a Kubernetes name (lowercase letters, digits, '-' and '.')"
            )
        return value


class ArgoCDTarget(_Target):
    """An Argo CD Application."""

    executor: Literal["argocd"]

    server: str
    """The Argo CD API server (`https://argocd.example.com`)."""

    application: str
    """The Application's name."""

    project: str | None = None
    """The Application's project, when the server needs it to find the application."""

    token_env: str = "ARGOCD_AUTH_TOKEN"
    """The environment variable holding the API token (the `argocd` CLI reads the same one);
    the token itself never goes in this file."""

    @field_validator("server")
    @classmethod
    def _is_url(cls, value: str) -> str:
        parse_http_url(value, example="https://argocd.example.com")
        return value.rstrip("/")


class WorkflowsTarget(_Target):
    """Elastic Workflows in Kibana: one workflow id per action (`KIBANA_URL`, `KIBANA_API_KEY`)."""

    executor: Literal["workflows"]

    workflows: dict[ActionKind, str]
    """Workflow id per action (`restart = "wf-…"`); an action with no workflow is advisory."""

    @field_validator("workflows")
    @classmethod
    def _some_workflow(cls, value: dict[ActionKind, str]) -> dict[ActionKind, str]:
        if not value:
            raise ValueError('name at least one action\'s workflow id, e.g. restart = "wf-1"')
        if ActionKind.DO_NOTHING in value:
            raise ValueError("do_nothing needs no workflow")
        return value


class WebhookTarget(_Target):
    """The generic automation endpoint (see `qs_tui.remediation.webhook`)."""

    executor: Literal["webhook"]

    url: str
    """The endpoint's URL."""

    authorization_env: str | None = None
    """The environment variable holding the `Authorization` header value, if any."""

    @field_validator("url")
    @classmethod
    def _is_url(cls, value: str) -> str:
        parse_http_url(value, example="https://ops.example.com/qs/remediate")
        return value


class AdvisoryTarget(_Target):
    """Explicitly advisory: nothing is carried out; the advice names this description."""

    executor: Literal["advisory"]

    note: str = ""
    """Where the service lives, in words (`VMs managed by the platform team`)."""


Target = Annotated[
    KubernetesTarget | ArgoCDTarget | WorkflowsTarget | WebhookTarget | AdvisoryTarget,
    Field(discriminator="executor"),
]


#: Days of the week as a freeze names them (`days = ["sat", "sun"]`), Monday first.
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: The plan's risk (`RemediationOption.risk`, the chance the action makes things worse) at
#: or below which a named level holds. `low` is the pipeline's low-risk threshold (0.2).
RISK_LEVELS: dict[str, float] = {"low": 0.2, "medium": 0.5, "high": 1.0}

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class Freeze(BaseModel):
    """A change freeze: while it holds, only a human may approve an action.

    Either a one-off window between two ISO instants (`start`, `end`), or a weekly one
    (`days`, optionally `from`/`to` local times and a `timezone`). A weekly window starts
    on each listed day at `from` and ends at `to`, the next day when `to` is not after
    `from` (`from = "18:00"`, `to = "08:00"` spans the night); without `from`/`to` it is
    the whole day.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: str = "change freeze"
    """Shown in the rule that decided (`frozen: weekend freeze until Mon 08:00`)."""

    start: datetime | None = None
    """Start of a one-off freeze: an ISO instant with its offset (`2026-12-24T00:00:00Z`)."""

    end: datetime | None = None
    """End of a one-off freeze (exclusive)."""

    days: list[Weekday] | None = None
    """Weekly freeze: the days a window starts on (`["sat", "sun"]`)."""

    from_: dt_time = Field(default=dt_time(0, 0), alias="from")
    """Weekly freeze: local time the window starts (`"18:00"`)."""

    to: dt_time = dt_time(0, 0)
    """Weekly freeze: local time the window ends (`"08:00"`, the next day when not after
    `from`)."""

    timezone: str = "UTC"
    """Weekly freeze: the IANA time zone of `from` and `to` (`Europe/Berlin`)."""

    @field_validator("from_", "to", mode="before")
    @classmethod
    def _clock_time(cls, value: Any) -> Any:
        # TOML has a local-time type (`from = 18:00:00`), but "18:00" in quotes is what
        # people write; accept both, and say what is wrong with anything else.
        if isinstance(value, str):
            match = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
            if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
                raise ValueError(f'{value!r} is not a time of day; write it as "HH:MM"')
            return dt_time(int(match.group(1)), int(match.group(2)))
        return value

    @field_validator("start", "end")
    @classmethod
    def _instant(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError(
                "an instant needs its offset (2026-12-24T00:00:00Z or +01:00): "
                "without one the freeze would depend on this machine's time zone"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name like Europe/Berlin)"
            ) from None
        return value

    @field_validator("days")
    @classmethod
    def _some_days(cls, value: list[Weekday] | None) -> list[Weekday] | None:
        if value is not None and not value:
            raise ValueError('list at least one day, e.g. days = ["sat", "sun"]')
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Freeze:
        one_off = self.start is not None or self.end is not None
        if one_off and self.days is not None:
            raise ValueError("give either start/end or days, not both")
        if one_off:
            if self.start is None or self.end is None:
                raise ValueError("a one-off freeze needs both start and end")
            if self.end <= self.start:
                raise ValueError("end must be after start")
        elif self.days is None:
            raise ValueError("give start and end (ISO instants) or days (a weekly window)")
        return self


class PolicyConfig(BaseModel):
    """The remediation policy (issue 9 §3): what may run without a human, how often the
    estate may be changed, and when only a human may approve.

    Nothing set is the safe default: every action asks a human, no limit, no freeze.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    auto_approve: list[ActionKind] = Field(default_factory=list)
    """Actions that may run without a human (`["restart"]`) when the plan's risk is within
    `max_risk`; default none."""

    max_risk: float = Field(default=RISK_LEVELS["low"], ge=0, le=1)
    """The risk ceiling for auto-approval: `"low"` (≤ 0.2), `"medium"` (≤ 0.5), `"high"`
    (any) or a number between 0 and 1."""

    max_actions_per_service_per_hour: int | None = Field(default=None, ge=1)
    """At most this many actions on one service in any hour; beyond it, a human decides."""

    max_actions_per_hour: int | None = Field(default=None, ge=1)
    """At most this many actions across the estate in any hour; beyond it, a human decides."""

    freezes: list[Freeze] = Field(default_factory=list)
    """Change freezes (`[[policy.freezes]]`): during one, only a human may approve."""

    @field_validator("max_risk", mode="before")
    @classmethod
    def _risk_level(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value not in RISK_LEVELS:
                raise ValueError(
                    f"unknown risk level {value!r}; use low, medium, high or a number 0..1"
                )
            return RISK_LEVELS[value]
        return value

    @field_validator("auto_approve")
    @classmethod
    def _real_actions(cls, value: list[ActionKind]) -> list[ActionKind]:
        if ActionKind.DO_NOTHING in value:
            raise ValueError("do_nothing never needs approval; list only actions that change")
        return value

    @property
    def risk_level(self) -> str:
        """`low` for 0.2, or the number when it is not a named level."""
        for name, ceiling in RISK_LEVELS.items():
            if ceiling == self.max_risk:
                return name
        return f"{self.max_risk:g}"


class RemediationConfig(BaseModel):
    """A parsed `remediation.toml`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    services: list[Target] = Field(default_factory=list)
    """The mappings, in file order."""

    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    """What may run without a human (see `PolicyConfig`)."""

    path: Path | None = Field(default=None, exclude=True)
    """The file this came from (None when built in code or when there was no file)."""

    @model_validator(mode="after")
    def _one_mapping_per_target(self) -> RemediationConfig:
        # Two mappings of one service and region may not claim the same action: one for
        # every action plus one for a few actions is fine (the specific one wins).
        for index, target in enumerate(self.services):
            for earlier in self.services[:index]:
                if (earlier.service, earlier.region) != (target.service, target.region):
                    continue
                mine = set(target.actions) if target.actions is not None else None
                theirs = set(earlier.actions) if earlier.actions is not None else None
                if (mine is None) != (theirs is None):
                    continue
                shared = None if mine is None or theirs is None else mine & theirs
                if shared is not None and not shared:
                    continue
                where = f" in {target.region}" if target.region else ""
                what = f"the {', '.join(sorted(a.value for a in shared))} of " if shared else ""
                raise _Duplicate(index, f"{what}{target.service}{where} is mapped twice")
        return self

    def target_for(
        self, service: str, region: str, action: ActionKind | None = None
    ) -> Target | None:
        """The mapping for `action` on `service` in `region`, the most specific one first:
        one naming the action beats one for every action, then one naming the region beats
        one for every region. None when the service is not mapped (advisory)."""
        best: Target | None = None
        best_rank = -1
        for target in self.services:
            if target.service != service or target.region not in (None, region):
                continue
            if target.actions is not None and (action is None or action not in target.actions):
                continue
            rank = (2 if target.actions is not None else 0) + (1 if target.region else 0)
            if rank > best_rank:
                best, best_rank = target, rank
        return best


class _Duplicate(ValueError):
    """Raised inside validation; carries the index of the second mapping."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


def load_remediation(path: Path | None = None) -> RemediationConfig:
    """Load `remediation.toml`.

    Args:
        path: the file (`QS_REMEDIATION`); None looks for `./remediation.toml` and, when
            there is none, returns an empty configuration (every service advisory).

    Raises:
        RemediationConfigError: `file:line: field: problem`, never a traceback.
    """
    if path is None:
        if not DEFAULT_REMEDIATION_PATH.is_file():
            return RemediationConfig()
        path = DEFAULT_REMEDIATION_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RemediationConfigError("no such file", path=path) from None
    except (OSError, UnicodeDecodeError) as error:
        raise RemediationConfigError(f"cannot read: {error}", path=path) from None
    return parse_remediation(text, path=path)


def parse_remediation(text: str, *, path: Path | None = None) -> RemediationConfig:
    """Parse `remediation.toml` text (see `load_remediation`)."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(error))
        line = int(match.group(1)) if match else None
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
        if match:
            message += f" (column {match.group(2)})"
        raise RemediationConfigError(f"invalid TOML: {message}", path=path, line=line) from None
    try:
        config = RemediationConfig.model_validate(data)
    except ValidationError as error:
        item = error.errors(include_url=False)[0]
        ctx_error = (item.get("ctx") or {}).get("error")
        if isinstance(ctx_error, _Duplicate):
            loc: tuple[str | int, ...] = ("services", ctx_error.index, "service")
            message = str(ctx_error)
        else:
            loc = _without_tags(tuple(item["loc"]))
            if str(item["type"]).startswith("union_tag"):
                loc = (*loc, "executor")
            message = _message(item)
        extra = f" (and {error.error_count() - 1} more problems)" if error.error_count() > 1 else ""
        raise RemediationConfigError(
            message + extra, path=path, line=line_of(text, loc), field=field_path(loc)
        ) from None
    return config.model_copy(update={"path": path})


def _without_tags(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Drop the union tag pydantic puts in a location (`services.0.kubernetes.deployment`)."""
    out: list[str | int] = []
    for index, part in enumerate(loc):
        if index > 0 and isinstance(loc[index - 1], int) and part in EXECUTOR_NAMES:
            continue
        if part == "[key]":  # a dict key that failed: the key itself is the last part
            continue
        out.append(part)
    return tuple(out)


def _message(item: Any) -> str:
    kind = item["type"]
    if kind == "missing":
        return "required but missing"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "union_tag_invalid":
        return f"unknown executor; use one of {', '.join(EXECUTOR_NAMES)}"
    if kind == "union_tag_not_found":
        return f"no executor; add executor = one of {', '.join(EXECUTOR_NAMES)}"
    if kind == "enum":
        return f"unknown action; use one of {', '.join(a.value for a in ActionKind)}"
    return str(item["msg"]).removeprefix("Value error, ")
