"""Advisory remediation: nothing is carried out; the Surgeon says what a human would run.

`AdvisoryExecutor` is what a service gets when no executor acts on it (no mapping in
`remediation.toml`, or a real estate where QuantumState only watches). Its `apply` never
changes anything and never claims to: it answers not-done with `details["advised"]` and the
exact command for the plan, e.g. `kubectl rollout restart deployment/payment -n shop --context
prod` when the service's Kubernetes target is known. The Surgeon reports that as advice (an
`advised` step), not as a failure.

`RoutingExecutor` sends each target to the executor mapped for its service and region, and
the rest to a default executor (advisory unless the session chose another, such as the
simulated cluster).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Mapping

from qs_tui.models import ActionKind, RemediationOption
from qs_tui.remediation.base import (
    ADVISED,
    Details,
    RemediationExecutor,
    action_verb,
    describe_target,
)
from qs_tui.remediation.config import (
    AdvisoryTarget,
    ArgoCDTarget,
    KubernetesTarget,
    RemediationConfig,
    Target,
    WebhookTarget,
    WorkflowsTarget,
)
from qs_tui.remediation.webhook import redact_url


def _quote(value: str) -> str:
    return shlex.quote(value)


def _kubectl_scope(target: KubernetesTarget) -> str:
    """`-n shop --context prod` (and `--kubeconfig` when the file is not kubectl's default)."""
    parts = ["-n", _quote(target.namespace)]
    if target.context:
        parts += ["--context", _quote(target.context)]
    if target.kubeconfig is not None:
        parts += ["--kubeconfig", _quote(str(target.kubeconfig))]
    return " ".join(parts)


def kubectl_command(target: KubernetesTarget, action: ActionKind) -> str | None:
    """The kubectl command for `action` on the target's Deployment, or None when the action
    has no Kubernetes meaning (failover, cache flush).

    The commands are kubectl's own (kubernetes.io/docs/reference/kubectl/generated/):
    `rollout restart`, `rollout undo` (to the previous revision) and `scale`.
    """
    resource = f"deployment/{_quote(target.deployment)}"
    scope = _kubectl_scope(target)
    if action is ActionKind.RESTART:
        return f"kubectl rollout restart {resource} {scope}"
    if action is ActionKind.ROLLBACK:
        return f"kubectl rollout undo {resource} {scope}"
    if action is ActionKind.SCALE_OUT:
        # One more replica than now; the current count is read in the same line so the
        # command is exact whatever the count is when a human runs it.
        current = f"$(kubectl get {resource} {scope} -o jsonpath='{{.spec.replicas}}')"
        return f"kubectl scale {resource} {scope} --replicas=$(( {current} + 1 ))"
    return None


def advice_for(option: RemediationOption, target: Target | None) -> str:
    """What a human would run (or do) to carry out `option` on `target`.

    Args:
        option: the plan's option for one target (a region, not `all`).
        target: the service's mapping in `remediation.toml`, None when unmapped.
    """
    action = option.action
    plain = f"{action_verb(action)} {describe_target(option)}"
    if isinstance(target, KubernetesTarget):
        command = kubectl_command(target, action)
        if command is None:
            return f"{plain} (a {action.value} has no Kubernetes command; do it by hand)"
        if action is ActionKind.SCALE_OUT:
            return f"{command}   # keep it at most {target.max_replicas} replicas"
        return command
    if isinstance(target, ArgoCDTarget):
        app = _quote(target.application)
        if action is ActionKind.ROLLBACK:
            # `argocd app rollback APPNAME [ID]`: without an id, the previous history entry
            # (argo-cd.readthedocs.io/en/stable/user-guide/commands/argocd_app_rollback/).
            return f"argocd app rollback {app}"
        if action is ActionKind.RESTART:
            # The built-in Deployment resource action `restart`
            # (argo-cd.readthedocs.io/en/stable/operator-manual/resource_actions/).
            return f"argocd app actions run {app} restart --kind Deployment --all"
        return f"{plain} (Argo CD application {target.application})"
    if isinstance(target, WorkflowsTarget):
        workflow = target.workflows.get(action)
        if workflow is None:
            return f"{plain} (no workflow is mapped to {action.value})"
        body = json.dumps({"inputs": workflow_inputs(option)}, separators=(",", ":"))
        # POST /api/workflows/workflow/{id}/run with kbn-xsrf, as Kibana's API reference
        # documents (elastic.co/docs/api/kibana, "Run a workflow").
        return (
            f'curl -X POST "$KIBANA_URL/api/workflows/workflow/{_quote(workflow)}/run" '
            '-H "Authorization: ApiKey $KIBANA_API_KEY" -H "kbn-xsrf: true" '
            f"-H 'Content-Type: application/json' -d {_quote(body)}"
        )
    if isinstance(target, WebhookTarget):
        return f"{plain} through the automation endpoint {redact_url(target.url)}"
    if isinstance(target, AdvisoryTarget) and target.note:
        return f"{plain} ({target.note})"
    return plain


def workflow_inputs(option: RemediationOption, *, incident_id: str = "") -> dict[str, object]:
    """The inputs a workflow run receives: what to do, where, and for which incident."""
    inputs: dict[str, object] = {
        "action": option.action.value,
        "service": option.service,
        "region": option.region,
    }
    if incident_id:
        inputs["incident_id"] = incident_id
    if option.target_version:
        inputs["target_version"] = option.target_version
    return inputs


class AdvisoryExecutor:
    """Carries out nothing and says so; `apply` answers with the command a human would run.

    Args:
        config: where each service lives, so the advice names the real target.
    """

    name = "advisory"

    def __init__(self, config: RemediationConfig | None = None) -> None:
        self.config = config or RemediationConfig()

    def advice(self, option: RemediationOption) -> str:
        """The command (or words) for `option`, from the service's mapping if any."""
        return advice_for(option, self.config.target_for(option.service, option.region))

    def precheck(self, option: RemediationOption, *, incident_id: str = "") -> tuple[bool, str]:
        """Always passes: nothing will be carried out, so nothing can be in the way."""
        return True, (
            f"advisory for {option.service} in {option.region}: nothing will be carried out"
        )

    def already_done(self, option: RemediationOption, *, incident_id: str = "") -> str | None:
        """Unknown: advice does not read the target."""
        return None

    def apply(
        self, option: RemediationOption, *, incident_id: str = ""
    ) -> tuple[bool, str, Details]:
        """Not done, by design: the message and `details["advice"]` are what to run."""
        if option.action is ActionKind.DO_NOTHING:
            return True, "nothing done, by choice", {"changed": False}
        command = self.advice(option)
        return (
            False,
            f"advisory, nothing carried out; a human would run: {command}",
            {"changed": False, ADVISED: True, "advice": command},
        )

    def verify(self, option: RemediationOption, details: Details) -> tuple[bool, str]:
        """Nothing was changed, so there is nothing to confirm."""
        return False, "advisory: nothing was carried out to verify"

    def revert(
        self, option: RemediationOption, details: Details, *, incident_id: str = ""
    ) -> tuple[bool, str]:
        """Nothing was changed, so nothing is undone."""
        return True, "advisory: nothing was carried out, nothing to undo"


class RoutingExecutor:
    """Sends each target to the executor its service (and region) is mapped to.

    Args:
        config: the parsed `remediation.toml`.
        default: the executor for unmapped services (advisory when None).
        build: makes the executor for a mapping; the default builds the real ones
            (`build_executor`). Executors are built once per mapping and reused.
    """

    name = "routing"

    def __init__(
        self,
        config: RemediationConfig,
        default: RemediationExecutor | None = None,
        *,
        build: Callable[[Target], RemediationExecutor] | None = None,
    ) -> None:
        self.config = config
        self.advisory = AdvisoryExecutor(config)
        self.default: RemediationExecutor = default or self.advisory
        self._build = build or build_executor
        self._built: dict[int, RemediationExecutor] = {}

    def executor_for(self, option: RemediationOption) -> RemediationExecutor:
        """The executor that acts on `option`'s service in its region."""
        target = self.config.target_for(option.service, option.region)
        if target is None:
            return self.default
        if isinstance(target, AdvisoryTarget):
            return self.advisory
        key = id(target)
        if key not in self._built:
            self._built[key] = self._build(target)
        return self._built[key]

    def precheck(self, option: RemediationOption, *, incident_id: str = "") -> tuple[bool, str]:
        """The mapped executor's pre-check, named after it."""
        executor = self.executor_for(option)
        ok, message = executor.precheck(option, incident_id=incident_id)
        return ok, f"[{executor.name}] {message}"

    def already_done(self, option: RemediationOption, *, incident_id: str = "") -> str | None:
        """The mapped executor's answer."""
        return self.executor_for(option).already_done(option, incident_id=incident_id)

    def apply(
        self, option: RemediationOption, *, incident_id: str = ""
    ) -> tuple[bool, str, Details]:
        """The mapped executor's apply."""
        return self.executor_for(option).apply(option, incident_id=incident_id)

    def verify(self, option: RemediationOption, details: Details) -> tuple[bool, str]:
        """The mapped executor's verification."""
        return self.executor_for(option).verify(option, details)

    def revert(
        self, option: RemediationOption, details: Details, *, incident_id: str = ""
    ) -> tuple[bool, str]:
        """The mapped executor's revert."""
        return self.executor_for(option).revert(option, details, incident_id=incident_id)


def build_executor(
    target: Target, *, environ: Mapping[str, str] | None = None
) -> RemediationExecutor:
    """The real executor for one mapping (imported only when a service is mapped to it).

    A mapping whose executor is not available here (its optional dependency is missing, or
    it is not built yet) becomes advisory for that service, with the reason in the advice.
    """
    import os

    env = os.environ if environ is None else environ
    if isinstance(target, KubernetesTarget):
        from qs_tui.remediation.kubernetes import KubernetesExecutor

        return KubernetesExecutor(target)
    if isinstance(target, WebhookTarget):
        from qs_tui.remediation.webhook import WebhookExecutor

        headers = {}
        if target.authorization_env and env.get(target.authorization_env):
            headers["Authorization"] = env[target.authorization_env]
        return WebhookExecutor(target.url, headers=headers)
    return AdvisoryExecutor(RemediationConfig(services=[target]))
