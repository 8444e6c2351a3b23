"""`remediation.toml`: mappings, lookup by service and region, and `file:line: field:` errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from qs_tui.config import Settings
from qs_tui.models import ActionKind
from qs_tui.remediation.config import (
    ArgoCDTarget,
    KubernetesTarget,
    RemediationConfigError,
    WorkflowsTarget,
    load_remediation,
    parse_remediation,
)

EXAMPLE = """\
[[services]]
service = "payment-service"
executor = "kubernetes"
context = "prod"
namespace = "shop"
deployment = "payment"
max_replicas = 6

[[services]]
service = "payment-service"
region = "eu-west-1"
executor = "kubernetes"
context = "prod-eu"
namespace = "shop"
deployment = "payment"

[[services]]
service = "checkout"
executor = "argocd"
server = "https://argocd.example.com/"
application = "checkout-prod"

[[services]]
service = "search"
executor = "workflows"
workflows = { restart = "wf-restart-search", failover = "wf-failover-search" }
"""


def test_a_complete_file_maps_services_and_regions(tmp_path: Path) -> None:
    path = tmp_path / "remediation.toml"
    path.write_text(EXAMPLE)

    config = load_remediation(path)

    default = config.target_for("payment-service", "us-east-1")
    assert isinstance(default, KubernetesTarget)
    assert (default.context, default.namespace, default.deployment) == ("prod", "shop", "payment")
    assert default.max_replicas == 6
    regional = config.target_for("payment-service", "eu-west-1")
    assert isinstance(regional, KubernetesTarget)
    assert regional.context == "prod-eu"
    assert regional.max_replicas == 10
    argo = config.target_for("checkout", "us-east-1")
    assert isinstance(argo, ArgoCDTarget)
    assert argo.server == "https://argocd.example.com"
    flows = config.target_for("search", "us-east-1")
    assert isinstance(flows, WorkflowsTarget)
    assert flows.workflows[ActionKind.FAILOVER] == "wf-failover-search"
    assert config.target_for("inventory", "us-east-1") is None
    assert config.path == path


def test_a_mapping_for_some_actions_wins_over_the_one_for_every_action() -> None:
    config = parse_remediation(
        '[[services]]\nservice = "payment-service"\nregion = "eu-west-1"\n'
        'executor = "kubernetes"\ndeployment = "payment"\n\n'
        '[[services]]\nservice = "payment-service"\nactions = ["failover"]\n'
        'executor = "workflows"\nworkflows = { failover = "wf-drain" }\n'
    )
    restart = config.target_for("payment-service", "eu-west-1", ActionKind.RESTART)
    failover = config.target_for("payment-service", "eu-west-1", ActionKind.FAILOVER)
    assert isinstance(restart, KubernetesTarget)
    assert isinstance(failover, WorkflowsTarget)
    # Another region: only the failover is mapped; the rest stays advisory.
    assert config.target_for("payment-service", "us-east-1", ActionKind.RESTART) is None
    assert isinstance(
        config.target_for("payment-service", "us-east-1", ActionKind.FAILOVER), WorkflowsTarget
    )


def test_no_file_at_the_default_place_means_everything_is_advisory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_remediation(None).services == []


def test_a_named_file_that_is_missing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RemediationConfigError, match=r"nope\.toml: no such file"):
        load_remediation(tmp_path / "nope.toml")


def test_the_setting_is_read_from_qs_remediation(tmp_path: Path) -> None:
    settings = Settings.load(env={"QS_REMEDIATION": "ops/remediation.toml"}, env_file=None)
    assert settings.remediation == Path("ops/remediation.toml")
    assert Settings.load(env={}, env_file=None).remediation is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[[services]]\nservice = "payment"\nexecutor = "kubernetes"\nnamespace = "shop"\n',
            "remediation.toml:1: services[0].deployment: required but missing",
        ),
        (
            '[[services]]\nservice = "a"\nexecutor = "nomad"\n',
            "remediation.toml:3: services[0].executor: unknown executor; use one of "
            "kubernetes, argocd, workflows, webhook, advisory",
        ),
        (
            '[[services]]\nservice = "a"\ndeployment = "a"\n',
            "remediation.toml:1: services[0].executor: no executor; add executor = one of "
            "kubernetes, argocd, workflows, webhook, advisory",
        ),
        (
            '[[services]]\nservice = "a"\nexecutor = "kubernetes"\ndeployment = "a"\n\n'
            '[[services]]\nservice = "b"\nexecutor = "kubernetes"\ndeployment = "Pay_1"\n',
            "remediation.toml:9: services[1].deployment: 'Pay_1' is not a Kubernetes name "
            "(lowercase letters, digits, '-' and '.')",
        ),
        (
            '[[services]]\nservice = "a"\nexecutor = "kubernetes"\ndeployment = "a"\n\n'
            '[[services]]\nservice = "a"\nexecutor = "argocd"\nserver = "https://x"\n'
            'application = "a"\n',
            "remediation.toml:7: services[1].service: a is mapped twice",
        ),
        (
            '[[services]]\nservice = "a"\nactions = ["restart", "failover"]\n'
            'executor = "workflows"\nworkflows = { restart = "x" }\n\n'
            '[[services]]\nservice = "a"\nactions = ["failover"]\nexecutor = "webhook"\n'
            'url = "https://ops.example.com"\n',
            "remediation.toml:8: services[1].service: the failover of a is mapped twice",
        ),
        (
            '[[services]]\nservice = "a"\nactions = []\nexecutor = "advisory"\n',
            "remediation.toml:3: services[0].actions: list at least one action, or leave "
            "actions out for all of them",
        ),
        (
            '[[services]]\nservice = "a"\nexecutor = "workflows"\nworkflows = { reboot = "x" }\n',
            "remediation.toml:4: services[0].workflows.reboot: unknown action; use one of "
            "rollback, restart, scale_out, failover, flush_cache, do_nothing",
        ),
        (
            '[[services]]\nservice = "a"\nexecutor = "argocd"\nserver = "ftp://x"\n'
            'application = "a"\n',
            "remediation.toml:4: services[0].server: must start with http:// or https://, "
            "e.g. https://argocd.example.com",
        ),
        (
            '[policy]\nauto_aprove = ["restart"]\n',
            "remediation.toml:2: policy.auto_aprove: unknown field",
        ),
        (
            '[[services]]\nservice = "a"\nexecutor = "kubernetes"\ndeployment = "a"\n'
            "replicas = 3\n",
            "remediation.toml:5: services[0].replicas: unknown field",
        ),
        ("[[services]\n", "remediation.toml:1: invalid TOML: "),
    ],
)
def test_bad_files_name_the_line_and_the_field(text: str, expected: str) -> None:
    with pytest.raises(RemediationConfigError) as raised:
        parse_remediation(text, path=Path("remediation.toml"))
    assert str(raised.value).startswith(expected)
    assert "\n" not in str(raised.value)


def test_the_readme_example_is_a_valid_file() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Remediation: `remediation.toml`", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    config = parse_remediation(example, path=Path("README.md"))
    executors = {target.executor for target in config.services}
    assert executors == {"kubernetes", "argocd", "workflows", "webhook", "advisory"}
    assert config.target_for("inventory-service", "us-east-1") is None
