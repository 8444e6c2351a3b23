"""Remediation on a Kubernetes Deployment, doing what `kubectl` does for each action.

- restart = `kubectl rollout restart`: a strategic merge patch setting the pod template's
  `kubectl.kubernetes.io/restartedAt` annotation (kubectl's
  `polymorphichelpers/objectrestarter.go`).
- rollback = `kubectl rollout undo`: the ReplicaSets the Deployment controls, the previous
  `deployment.kubernetes.io/revision`, and a JSON patch replacing `/spec/template` and
  `/metadata/annotations` (kubectl's `polymorphichelpers/rollback.go`).
- scale_out = `kubectl scale --replicas=N+1`: a merge patch of the `scale` subresource, never
  beyond the `max_replicas` cap from `remediation.toml`.
- verify = `kubectl rollout status`: the Deployment's observed generation, updated and
  available replicas, until done or `rollout_timeout_s` (kubectl's `rollout_status.go`).
- dry run: the pre-check sends the same patch with `dryRun=All` (server-side dry run, API
  concepts: kubernetes.io/docs/reference/using-api/api-concepts/#dry-run), so admission and
  RBAC are checked and nothing is persisted.

failover and cache flushes have no Kubernetes meaning: map the service to a workflow or the
webhook for those. Credentials come from the kubeconfig as kubectl finds it (the mapping's
`kubeconfig`, else the first file of `KUBECONFIG`, else `~/.kube/config`, else the pod's
service account). The client is lightkube (`pip install 'qs-tui[kubernetes]'`), imported only
when a service is mapped to Kubernetes.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qs_tui.models import ActionKind, RemediationOption
from qs_tui.remediation.base import Details, action_noun
from qs_tui.remediation.config import KubernetesTarget

if TYPE_CHECKING:
    from lightkube import Client

#: The annotation `kubectl rollout restart` sets on the pod template.
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
#: The revision the Deployment controller writes on the Deployment and its ReplicaSets.
REVISION = "deployment.kubernetes.io/revision"
#: The label the Deployment controller adds to each ReplicaSet's pod template.
POD_TEMPLATE_HASH = "pod-template-hash"
#: Written with a rollback so a second run for the same incident finds it done.
ROLLED_BACK_FOR = "quantumstate.io/rolled-back-for"

#: Deployment annotations a rollback keeps from the Deployment instead of the ReplicaSet
#: (kubectl's `annotationsToSkip`).
_ANNOTATIONS_TO_SKIP = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)

_NO_MEANING = frozenset({ActionKind.FAILOVER, ActionKind.FLUSH_CACHE})

INSTALL_HINT = (
    "the Kubernetes executor needs the kubernetes extra: pip install 'qs-tui[kubernetes]'"
)


class KubernetesError(Exception):
    """A Kubernetes call that failed, in one line for the transcript."""


class KubernetesExecutor:
    """Acts on one Deployment (the target of a `remediation.toml` mapping).

    Args:
        target: the mapping: context, namespace, Deployment, replica cap, rollout timeout.
        environ: where `KUBECONFIG` is read (default: the process environment).
        request_timeout_s: seconds to wait for one API answer.
        poll_interval_s: seconds between two reads of the rollout's status.
        now: the clock for the `restartedAt` annotation.
    """

    name = "kubernetes"

    def __init__(
        self,
        target: KubernetesTarget,
        *,
        environ: Mapping[str, str] | None = None,
        request_timeout_s: float = 10.0,
        poll_interval_s: float = 2.0,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.target = target
        self._environ = os.environ if environ is None else environ
        self.request_timeout_s = request_timeout_s
        self.poll_interval_s = poll_interval_s
        self._now = now or (lambda: datetime.now(UTC))
        self._client: Client | None = None
        self._lock = threading.Lock()
        where = f" in context {target.context}" if target.context else ""
        self.where = f"deployment/{target.deployment} in namespace {target.namespace}{where}"

    def __repr__(self) -> str:
        return f"KubernetesExecutor({self.where})"

    # ---- the contract -----------------------------------------------------------------

    def precheck(self, option: RemediationOption, *, incident_id: str = "") -> tuple[bool, str]:
        """Read the Deployment, check the action can run, and send it as a server-side dry run."""
        if option.action is ActionKind.DO_NOTHING:
            return True, "no action to check"
        if option.action in _NO_MEANING:
            return False, (
                f"a {action_noun(option.action)} has no Kubernetes meaning: map "
                f"{option.service} to a workflow or the webhook for it in remediation.toml"
            )
        try:
            deployment = self._get_deployment()
            if option.action is ActionKind.RESTART:
                self._patch_restart(dry_run=True)
                return True, f"{self.where} can be restarted (server-side dry run passed)"
            if option.action is ActionKind.ROLLBACK:
                if self._rolled_back_for(deployment, incident_id):
                    return True, f"{self.where} was already rolled back for {incident_id}"
                current, previous = self._revisions(deployment)
                self._patch_rollback(deployment, previous, incident_id, dry_run=True)
                return True, (
                    f"revision {_revision(current)} is live; revision {_revision(previous)} "
                    f"({_images(previous)}) is available (server-side dry run passed)"
                )
            replicas = _replicas(deployment)
            if replicas >= self.target.max_replicas:
                return False, (
                    f"{self.where} already runs {replicas} replicas, the cap set in "
                    f"remediation.toml (max_replicas = {self.target.max_replicas})"
                )
            self._patch_scale(replicas + 1, dry_run=True)
            return True, (
                f"{self.where} can go from {replicas} to {replicas + 1} replicas "
                "(server-side dry run passed)"
            )
        except KubernetesError as error:
            return False, str(error)

    def already_done(self, option: RemediationOption, *, incident_id: str = "") -> str | None:
        """A rollback made for this incident is found on the Deployment; the rest never are."""
        if option.action is not ActionKind.ROLLBACK or not incident_id:
            return None
        try:
            deployment = self._get_deployment()
        except KubernetesError:
            return None
        if self._rolled_back_for(deployment, incident_id):
            return (
                f"{self.where} was already rolled back for {incident_id} "
                f"(now revision {_annotation(deployment, REVISION) or '?'})"
            )
        return None

    def apply(
        self, option: RemediationOption, *, incident_id: str = ""
    ) -> tuple[bool, str, Details]:
        """Send the patch for real."""
        if option.action is ActionKind.DO_NOTHING:
            return True, "nothing done, by choice", {"changed": False}
        if option.action in _NO_MEANING:
            return False, f"a {action_noun(option.action)} has no Kubernetes meaning", {}
        try:
            deployment = self._get_deployment()
            if option.action is ActionKind.RESTART:
                at = self._patch_restart(dry_run=False)
                return (
                    True,
                    f"rollout restart of {self.where} at {at}",
                    {
                        "changed": True,
                        "restarted_at": at,
                    },
                )
            if option.action is ActionKind.ROLLBACK:
                if self._rolled_back_for(deployment, incident_id):
                    message = f"{self.where} was already rolled back for {incident_id}"
                    return True, message, {"changed": False}
                current, previous = self._revisions(deployment)
                self._patch_rollback(deployment, previous, incident_id, dry_run=False)
                return (
                    True,
                    (
                        f"rolled {self.where} back from revision {_revision(current)} to "
                        f"revision {_revision(previous)} ({_images(previous)})"
                    ),
                    {
                        "changed": True,
                        "from_revision": _revision(current),
                        "to_revision": _revision(previous),
                    },
                )
            replicas = _replicas(deployment)
            if replicas >= self.target.max_replicas:
                return (
                    False,
                    (
                        f"{self.where} already runs {replicas} replicas "
                        f"(max_replicas = {self.target.max_replicas})"
                    ),
                    {},
                )
            self._patch_scale(replicas + 1, dry_run=False)
            return (
                True,
                f"scaled {self.where} from {replicas} to {replicas + 1} replicas",
                {
                    "changed": True,
                    "replicas_from": replicas,
                    "replicas_to": replicas + 1,
                },
            )
        except KubernetesError as error:
            return False, str(error), {}

    def verify(self, option: RemediationOption, details: Details) -> tuple[bool, str]:
        """Wait for the rollout, as `kubectl rollout status` does, until done or timed out."""
        deadline = time.monotonic() + self.target.rollout_timeout_s
        message = "not read yet"
        while True:
            try:
                done, message = _rollout_status(self._get_deployment())
            except KubernetesError as error:
                return False, str(error)
            if done is not None:
                return done, message
            if time.monotonic() >= deadline:
                return False, (
                    f"the rollout of {self.where} did not finish within "
                    f"{self.target.rollout_timeout_s:g} s: {message}"
                )
            time.sleep(self.poll_interval_s)

    def revert(
        self, option: RemediationOption, details: Details, *, incident_id: str = ""
    ) -> tuple[bool, str]:
        """Undo: a restart leaves nothing to undo; a rollback rolls forward to the revision
        it left; a scale-out goes back to the replicas it started from."""
        action = option.action
        if action in (ActionKind.RESTART, ActionKind.DO_NOTHING) or action in _NO_MEANING:
            return True, f"nothing to undo after a {action.value}"
        try:
            if action is ActionKind.ROLLBACK:
                revision = details.get("from_revision")
                if not isinstance(revision, int):
                    return False, "the revision before the rollback is not known"
                deployment = self._get_deployment()
                back = self._replica_set_at(deployment, revision)
                self._patch_rollback(deployment, back, "", dry_run=False)
                return True, f"rolled {self.where} forward to revision {revision}"
            replicas = details.get("replicas_from")
            if not isinstance(replicas, int):
                return False, "the replicas before the scale-out are not known"
            self._patch_scale(replicas, dry_run=False)
            return True, f"scaled {self.where} back to {replicas} replicas"
        except KubernetesError as error:
            return False, str(error)

    # ---- requests ---------------------------------------------------------------------

    def _get_deployment(self) -> Any:
        from lightkube.resources.apps_v1 import Deployment

        return self._call(
            lambda client: client.get(
                Deployment, self.target.deployment, namespace=self.target.namespace
            ),
            "read",
        )

    def _patch_restart(self, *, dry_run: bool) -> str:
        from lightkube.resources.apps_v1 import Deployment
        from lightkube.types import PatchType

        # kubectl formats the time as RFC 3339; UTC keeps it the same on every machine.
        at = self._now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: at}}}}}
        self._call(
            lambda client: client.patch(
                Deployment,
                self.target.deployment,
                body,
                namespace=self.target.namespace,
                patch_type=PatchType.STRATEGIC,
                dry_run=dry_run,
            ),
            "patch",
        )
        return at

    def _patch_rollback(
        self, deployment: Any, replica_set: Any, incident_id: str, *, dry_run: bool
    ) -> None:
        from lightkube.resources.apps_v1 import Deployment
        from lightkube.types import PatchType

        template = replica_set.spec.template.to_dict()
        labels = dict(template.get("metadata", {}).get("labels") or {})
        labels.pop(POD_TEMPLATE_HASH, None)
        template.setdefault("metadata", {})["labels"] = labels
        current = dict(deployment.metadata.annotations or {})
        annotations = {k: v for k, v in current.items() if k in _ANNOTATIONS_TO_SKIP}
        for key, value in (replica_set.metadata.annotations or {}).items():
            if key not in _ANNOTATIONS_TO_SKIP:
                annotations[key] = value
        if incident_id:
            annotations[ROLLED_BACK_FOR] = incident_id
        else:
            annotations.pop(ROLLED_BACK_FOR, None)
        patch = [
            {"op": "replace", "path": "/spec/template", "value": template},
            {"op": "replace", "path": "/metadata/annotations", "value": annotations},
        ]
        self._call(
            lambda client: client.patch(
                Deployment,
                self.target.deployment,
                patch,
                namespace=self.target.namespace,
                patch_type=PatchType.JSON,
                dry_run=dry_run,
            ),
            "patch",
        )

    def _patch_scale(self, replicas: int, *, dry_run: bool) -> None:
        from lightkube.resources.apps_v1 import Deployment
        from lightkube.types import PatchType

        self._call(
            lambda client: client.patch(
                Deployment.Scale,
                self.target.deployment,
                {"spec": {"replicas": replicas}},
                namespace=self.target.namespace,
                patch_type=PatchType.MERGE,
                dry_run=dry_run,
            ),
            "scale",
        )

    def _replica_sets(self, deployment: Any) -> list[Any]:
        """The ReplicaSets the Deployment controls (selector match and controller owner)."""
        from lightkube.resources.apps_v1 import ReplicaSet

        selector = dict(deployment.spec.selector.matchLabels or {})
        found = self._call(
            lambda client: list(
                client.list(ReplicaSet, namespace=self.target.namespace, labels=selector)
            ),
            "list the ReplicaSets of",
        )
        uid = deployment.metadata.uid
        return [
            rs
            for rs in found
            if any(ref.controller and ref.uid == uid for ref in (rs.metadata.ownerReferences or []))
        ]

    def _revisions(self, deployment: Any) -> tuple[Any, Any]:
        """(newest, previous) ReplicaSet by revision, as `kubectl rollout undo` picks them."""
        if deployment.spec.paused:
            raise KubernetesError(
                f"{self.where} is paused; kubectl cannot roll back a paused deployment either "
                "(resume it first with kubectl rollout resume)"
            )
        ordered = sorted(
            (rs for rs in self._replica_sets(deployment) if _revision(rs) is not None),
            key=lambda rs: _revision(rs) or 0,
            reverse=True,
        )
        if len(ordered) < 2:
            raise KubernetesError(f"no rollout history for {self.where}: nothing to roll back to")
        return ordered[0], ordered[1]

    def _replica_set_at(self, deployment: Any, revision: int) -> Any:
        for rs in self._replica_sets(deployment):
            if _revision(rs) == revision:
                return rs
        raise KubernetesError(f"revision {revision} of {self.where} is gone")

    def _rolled_back_for(self, deployment: Any, incident_id: str) -> bool:
        return bool(incident_id) and _annotation(deployment, ROLLED_BACK_FOR) == incident_id

    def _call(self, request: Callable[[Client], Any], verb: str) -> Any:
        """Run one request, turning the client's errors into one `KubernetesError` line."""
        try:
            import httpx2
            from lightkube import ApiError, ConfigError
        except ImportError:
            raise KubernetesError(INSTALL_HINT) from None
        try:
            return request(self._connect())
        except ApiError as error:
            status = error.status
            reason = f" ({status.reason})" if status.reason else ""
            raise KubernetesError(
                f"the Kubernetes API answered HTTP {status.code}{reason} to {verb} "
                f"{self.where}: {status.message}"
            ) from None
        except httpx2.HTTPStatusError as error:  # an answer that is not a JSON Status
            raise KubernetesError(
                f"the Kubernetes API answered HTTP {error.response.status_code} to {verb} "
                f"{self.where}"
            ) from None
        except ConfigError as error:
            raise KubernetesError(f"kubeconfig: {error}") from None
        except httpx2.TimeoutException:
            raise KubernetesError(
                f"the Kubernetes API did not answer within {self.request_timeout_s:g} s "
                f"({verb} {self.where})"
            ) from None
        except httpx2.TransportError as error:
            raise KubernetesError(
                f"cannot reach the Kubernetes API for {self.where} ({type(error).__name__})"
            ) from None

    def _connect(self) -> Client:
        with self._lock:
            if self._client is None:
                import httpx2
                from lightkube import Client, KubeConfig

                config = self._kubeconfig(KubeConfig)
                single = config.get(context_name=self.target.context)
                self._client = Client(
                    config=single,
                    namespace=self.target.namespace,
                    timeout=httpx2.Timeout(self.request_timeout_s),
                    field_manager="quantumstate",
                )
            return self._client

    def _kubeconfig(self, kubeconfig: Any) -> Any:
        """The kubeconfig kubectl would read (`--kubeconfig`, `KUBECONFIG`, `~/.kube/config`),
        else the pod's service account (in-cluster)."""
        if self.target.kubeconfig is not None:
            return kubeconfig.from_file(self.target.kubeconfig)
        listed = self._environ.get("KUBECONFIG", "")
        # kubectl merges every file of the list; the first existing one holds the context
        # in the common case of one file.
        for entry in listed.split(os.pathsep):
            if entry and Path(entry).expanduser().is_file():
                return kubeconfig.from_file(Path(entry).expanduser())
        home = Path("~/.kube/config").expanduser()
        if home.is_file():
            return kubeconfig.from_file(home)
        return kubeconfig.from_service_account()


def _annotation(obj: Any, key: str) -> str | None:
    annotations = obj.metadata.annotations or {}
    value = annotations.get(key)
    return str(value) if value is not None else None


def _revision(replica_set: Any) -> int | None:
    value = _annotation(replica_set, REVISION)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _replicas(deployment: Any) -> int:
    replicas = deployment.spec.replicas
    return 1 if replicas is None else int(replicas)  # the API's default is 1


def _images(replica_set: Any) -> str:
    containers = replica_set.spec.template.spec.containers or []
    return ", ".join(str(c.image) for c in containers) or "no containers"


def _rollout_status(deployment: Any) -> tuple[bool | None, str]:
    """kubectl's `DeploymentStatusViewer.Status`: (True, done) / (False, failed) / (None, wait)."""
    status = deployment.status
    name = deployment.metadata.name
    generation = deployment.metadata.generation or 0
    if status is None or (status.observedGeneration or 0) < generation:
        return None, f"waiting for the spec update of {name} to be observed"
    for condition in status.conditions or []:
        if condition.type == "Progressing" and condition.reason == "ProgressDeadlineExceeded":
            return False, f"deployment {name} exceeded its progress deadline"
    wanted = _replicas(deployment)
    updated = status.updatedReplicas or 0
    total = status.replicas or 0
    available = status.availableReplicas or 0
    if updated < wanted:
        return None, f"{updated} of {wanted} new replicas of {name} updated"
    if total > updated:
        return None, f"{total - updated} old replicas of {name} pending termination"
    if available < updated:
        return None, f"{available} of {updated} updated replicas of {name} available"
    return True, f"deployment {name} successfully rolled out ({available} available)"
