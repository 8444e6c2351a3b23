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
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from qs_tui.config import parse_http_url
from qs_tui.models import ActionKind

# The scenario loader's TOML helpers find the line of a pydantic error's location; the
# remediation file uses the same `[[table]]` layout, so they apply as they are.
from qs_tui.sim.scenario import _field_path, _line_of

#: Where the file is looked for when `QS_REMEDIATION` is not set.
DEFAULT_REMEDIATION_PATH = Path("remediation.toml")

#: The executors a service can be mapped to.
EXECUTOR_NAMES = ("kubernetes", "argocd", "workflows", "webhook", "advisory")

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


class RemediationConfigError(Exception):
    """A `remediation.toml` that cannot be used; the message is `file:line: field: problem`.

    Attributes:
        path: the file.
        line: the 1-based line of the problem when known.
        field: the field path (`services[2].deployment`) when the problem is a value.
    """

    def __init__(
        self,
        message: str,
        *,
        path: Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        where = str(path) if path is not None else "remediation.toml"
        if line is not None:
            where += f":{line}"
        prefix = f"{where}: " + (f"{field}: " if field else "")
        super().__init__(prefix + message)
        self.path = path
        self.line = line
        self.field = field


class _Target(BaseModel):
    """What every mapping has: the service, optionally one region, and the executor."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    service: str = Field(min_length=1)
    """The service name as the telemetry names it (`payment-service`)."""

    region: str | None = None
    """Only this region; unset means every region of the service."""


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
    """How long verification waits for a rollout to finish (kubectl's default is 5 minutes
    per `progressDeadlineSeconds`, which is 600 s; 300 s keeps an incident moving)."""

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


class PolicyConfig(BaseModel):
    """The remediation policy (issue 9 §3: auto-approval, rate limits, freezes).

    Reserved: no rule is defined yet, so any key here is refused rather than silently
    ignored (a team must not believe a freeze is in force when it is not).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")


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
        seen: set[tuple[str, str | None]] = set()
        for index, target in enumerate(self.services):
            key = (target.service, target.region)
            if key in seen:
                where = f" in {target.region}" if target.region else ""
                raise _Duplicate(index, f"{target.service}{where} is mapped twice")
            seen.add(key)
        return self

    def target_for(self, service: str, region: str) -> Target | None:
        """The mapping for `service` in `region`: the region's own, else the service's."""
        fallback: Target | None = None
        for target in self.services:
            if target.service != service:
                continue
            if target.region == region:
                return target
            if target.region is None:
                fallback = target
        return fallback


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
            message + extra, path=path, line=_line_of(text, loc), field=_field_path(loc)
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
        if item["loc"] and item["loc"][0] == "policy":
            return "unknown field (no policy rules are supported yet)"
        return "unknown field"
    if kind == "union_tag_invalid":
        return f"unknown executor; use one of {', '.join(EXECUTOR_NAMES)}"
    if kind == "union_tag_not_found":
        return f"no executor; add executor = one of {', '.join(EXECUTOR_NAMES)}"
    if kind == "enum":
        return f"unknown action; use one of {', '.join(a.value for a in ActionKind)}"
    return str(item["msg"]).removeprefix("Value error, ")
