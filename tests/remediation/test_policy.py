"""The remediation policy: `[policy]` in remediation.toml, and the one function that decides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qs_tui.cli import build_parser, main, parse_args
from qs_tui.config import Settings
from qs_tui.models import ActionKind, ApprovalDecision
from qs_tui.remediation.config import (
    PolicyConfig,
    RemediationConfigError,
    parse_remediation,
)
from qs_tui.remediation.policy import (
    REDACTED,
    ActionRecord,
    auto_approval,
    blocking_rule,
    decide,
    freeze_in_force,
    known_secrets,
    policy_settings,
    rate_limit,
    redact,
)
from tests.remediation.factories import make_approval, make_option, make_plan

# A Sunday evening in Berlin (CET, UTC+1): 20:00 local.
SUNDAY_EVENING = datetime(2026, 12, 6, 19, 0, tzinfo=UTC)
# A Wednesday noon: no weekend freeze.
WEDNESDAY_NOON = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)

POLICY_TOML = """\
[policy]
auto_approve = ["restart"]
max_risk = "low"
max_actions_per_service_per_hour = 3
max_actions_per_hour = 5

[[policy.freezes]]
name = "weekend freeze"
days = ["sat", "sun"]
from = "18:00"
to = "08:00"
timezone = "Europe/Berlin"

[[policy.freezes]]
name = "holiday freeze"
start = 2026-12-24T00:00:00Z
end = "2026-12-27T00:00:00+01:00"
"""


def _policy(text: str = POLICY_TOML) -> PolicyConfig:
    return parse_remediation(text, path=Path("remediation.toml")).policy


# ---- the [policy] table ----------------------------------------------------------------


def test_the_policy_table_is_read_with_its_rules() -> None:
    policy = _policy()

    assert policy.auto_approve == [ActionKind.RESTART]
    assert policy.max_risk == 0.2 and policy.risk_level == "low"
    assert policy.max_actions_per_service_per_hour == 3
    assert policy.max_actions_per_hour == 5
    assert [f.name for f in policy.freezes] == ["weekend freeze", "holiday freeze"]
    assert policy.freezes[1].end == datetime(2026, 12, 26, 23, 0, tzinfo=UTC)


def test_no_policy_table_means_every_action_asks_a_human() -> None:
    policy = _policy("")

    assert policy.auto_approve == []
    assert policy.max_actions_per_hour is None and policy.freezes == []
    plan = make_plan(make_option(ActionKind.RESTART, risk=0.0))
    assert auto_approval(policy, plan, WEDNESDAY_NOON) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[policy]\nmax_risk = "tiny"\n',
            "remediation.toml:2: policy.max_risk: unknown risk level 'tiny'; "
            "use low, medium, high or a number 0..1",
        ),
        (
            '[policy]\nauto_approve = ["reboot"]\n',
            "remediation.toml:2: policy.auto_approve[0]: unknown action; use one of",
        ),
        (
            "[policy]\nmax_actions_per_hour = 0\n",
            "remediation.toml:2: policy.max_actions_per_hour: Input should be greater than",
        ),
        (
            '[policy]\n\n[[policy.freezes]]\ndays = ["sat"]\nfrom = "25:00"\n',
            "remediation.toml:5: policy.freezes[0].from: '25:00' is not a time of day; "
            'write it as "HH:MM"',
        ),
        (
            '[[policy.freezes]]\ndays = ["sat"]\ntimezone = "Mars/Olympus"\n',
            "remediation.toml:3: policy.freezes[0].timezone: unknown time zone 'Mars/Olympus'",
        ),
        (
            '[[policy.freezes]]\nname = "x"\ndays = ["saturday"]\n',
            "remediation.toml:3: policy.freezes[0].days[0]: Input should be 'mon'",
        ),
        (
            "[[policy.freezes]]\nstart = 2026-12-24T00:00:00\nend = 2026-12-25T00:00:00Z\n",
            "remediation.toml:2: policy.freezes[0].start: an instant needs its offset",
        ),
        (
            '[[policy.freezes]]\nname = "no window"\n',
            "remediation.toml:1: policy.freezes[0]: give start and end (ISO instants) or days",
        ),
        (
            "[[policy.freezes]]\nstart = 2026-12-25T00:00:00Z\nend = 2026-12-24T00:00:00Z\n",
            "remediation.toml:1: policy.freezes[0]: end must be after start",
        ),
        (
            "[policy]\nfreeze = true\n",
            "remediation.toml:2: policy.freeze: unknown field",
        ),
    ],
)
def test_bad_policy_values_name_the_line_and_the_field(text: str, expected: str) -> None:
    with pytest.raises(RemediationConfigError) as raised:
        parse_remediation(text, path=Path("remediation.toml"))

    assert str(raised.value).startswith(expected)
    assert "\n" not in str(raised.value)


# ---- change freezes ----------------------------------------------------------------------


def test_a_weekly_freeze_over_the_night_says_when_it_ends() -> None:
    policy = _policy()

    # Sunday 20:00 in Berlin: the Sunday window runs to Monday 08:00 local time.
    assert freeze_in_force(policy, SUNDAY_EVENING) == (
        "frozen: weekend freeze until Mon 08:00 Europe/Berlin"
    )
    # Monday 07:30 Berlin (06:30 UTC) is still inside it; 08:00 Berlin is not.
    assert freeze_in_force(policy, datetime(2026, 12, 7, 6, 30, tzinfo=UTC)) is not None
    assert freeze_in_force(policy, datetime(2026, 12, 7, 7, 0, tzinfo=UTC)) is None
    # Saturday noon: the window starts at 18:00, so no freeze yet.
    assert freeze_in_force(policy, datetime(2026, 12, 5, 11, 0, tzinfo=UTC)) is None
    assert freeze_in_force(policy, WEDNESDAY_NOON) is None


def test_whole_days_that_touch_make_one_freeze() -> None:
    policy = _policy('[[policy.freezes]]\nname = "weekend freeze"\ndays = ["sat", "sun"]\n')

    saturday_morning = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    assert freeze_in_force(policy, saturday_morning) == "frozen: weekend freeze until Mon 00:00"


def test_a_one_off_freeze_holds_between_its_instants() -> None:
    policy = _policy(POLICY_TOML[POLICY_TOML.index('[[policy.freezes]]\nname = "holiday') :])

    assert freeze_in_force(policy, datetime(2026, 12, 25, 12, 0, tzinfo=UTC)) == (
        "frozen: holiday freeze until 2026-12-26T23:00:00Z"
    )
    assert freeze_in_force(policy, datetime(2026, 12, 26, 23, 0, tzinfo=UTC)) is None


# ---- rate limits -------------------------------------------------------------------------


def _actions(service: str, count: int, *, ago: timedelta, now: datetime) -> list[ActionRecord]:
    return [ActionRecord(now - ago, service, ActionKind.RESTART) for _ in range(count)]


def test_the_rate_limit_counts_the_last_hour_per_service_and_across_the_estate() -> None:
    policy = _policy()
    now = WEDNESDAY_NOON
    recent = _actions("payment-service", 3, ago=timedelta(minutes=20), now=now)
    old = _actions("payment-service", 4, ago=timedelta(minutes=61), now=now)

    assert rate_limit(policy, "payment-service", now, recent) == (
        "rate limit: 3 actions on payment-service in the last hour"
    )
    assert rate_limit(policy, "payment-service", now, recent[:2] + old) is None
    assert rate_limit(policy, "checkout", now, recent) is None
    estate = recent[:2] + _actions("checkout", 3, ago=timedelta(minutes=5), now=now)
    assert rate_limit(policy, "search", now, estate) == (
        "rate limit: 5 actions across the estate in the last hour"
    )


# ---- the decision --------------------------------------------------------------------------


def test_read_only_wins_over_everything() -> None:
    policy = _policy()
    plan = make_plan(make_option(ActionKind.RESTART, risk=0.05))
    for approval in (
        make_approval(WEDNESDAY_NOON, by="keyboard"),
        make_approval(WEDNESDAY_NOON, by="auto-approval policy"),
        make_approval(WEDNESDAY_NOON, ApprovalDecision.DRY_RUN),
    ):
        verdict = decide(policy, plan, approval, WEDNESDAY_NOON, read_only=True)
        assert not verdict.allowed
        assert verdict.rule == "read-only: no executor is called"
    assert auto_approval(policy, plan, WEDNESDAY_NOON, read_only=True) is None


def test_auto_approval_names_the_action_and_the_risk_ceiling() -> None:
    policy = _policy()
    low_restart = make_plan(make_option(ActionKind.RESTART, risk=0.15))

    rule = auto_approval(policy, low_restart, WEDNESDAY_NOON)

    assert rule == "auto-approved: restart ≤ low risk"
    by_policy = make_approval(WEDNESDAY_NOON, by="auto-approval policy")
    verdict = decide(policy, low_restart, by_policy, WEDNESDAY_NOON)
    assert verdict.allowed and verdict.rule == rule
    # Riskier, or another action: a human decides.
    risky = make_plan(make_option(ActionKind.RESTART, risk=0.35))
    assert auto_approval(policy, risky, WEDNESDAY_NOON) is None
    rollback = make_plan(make_option(ActionKind.ROLLBACK, risk=0.05))
    assert auto_approval(policy, rollback, WEDNESDAY_NOON) is None


def test_during_a_freeze_only_a_human_may_approve() -> None:
    policy = _policy()
    plan = make_plan(make_option(ActionKind.RESTART, risk=0.05))

    assert auto_approval(policy, plan, SUNDAY_EVENING) is None
    for not_human in ("auto-approval policy", "--approve auto"):
        verdict = decide(policy, plan, make_approval(SUNDAY_EVENING, by=not_human), SUNDAY_EVENING)
        assert not verdict.allowed
        assert verdict.rule.startswith("frozen: weekend freeze until Mon 08:00")
        assert f"only a human may approve, not the {not_human}" in verdict.rule
    human = decide(policy, plan, make_approval(SUNDAY_EVENING), SUNDAY_EVENING)
    assert human.allowed
    assert human.rule.endswith("approved by a human (keyboard)")
    assert blocking_rule(policy, plan, SUNDAY_EVENING) == (
        "frozen: weekend freeze until Mon 08:00 Europe/Berlin: only a human may approve"
    )


def test_a_rate_limit_holds_even_a_human_approval() -> None:
    policy = _policy()
    plan = make_plan(make_option(ActionKind.RESTART, risk=0.05))
    history = _actions("payment-service", 3, ago=timedelta(minutes=10), now=WEDNESDAY_NOON)

    verdict = decide(policy, plan, make_approval(WEDNESDAY_NOON), WEDNESDAY_NOON, history)

    assert not verdict.allowed
    assert verdict.rule == "rate limit: 3 actions on payment-service in the last hour"
    assert auto_approval(policy, plan, WEDNESDAY_NOON, history) is None


def test_a_rejection_is_not_turned_into_a_yes() -> None:
    plan = make_plan(make_option(ActionKind.RESTART, risk=0.05))
    rejected = make_approval(WEDNESDAY_NOON, ApprovalDecision.REJECTED)

    assert not decide(_policy(), plan, rejected, WEDNESDAY_NOON).allowed


# ---- masking for the audit trail -------------------------------------------------------------


def test_redact_masks_credential_keys_and_known_secret_values_at_any_depth() -> None:
    secrets = known_secrets(["MY_TOKEN"], environ={"MY_TOKEN": "s3cr3t-token", "HOME": "/h"})
    document = {
        "token_env": "MY_TOKEN",
        "headers": {"Authorization": "Bearer s3cr3t-token", "Accept": "application/json"},
        "message": "called with s3cr3t-token",
        "steps": [{"api_key": "abc"}, "fine"],
    }

    safe = redact(document, secrets)

    assert safe == {
        "token_env": "MY_TOKEN",
        "headers": {"Authorization": REDACTED, "Accept": "application/json"},
        "message": f"called with {REDACTED}",
        "steps": [{"api_key": REDACTED}, "fine"],
    }


# ---- --read-only and QS_READ_ONLY --------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [["--read-only", "run", "--headless"], ["run", "--headless", "--read-only"]],
)
def test_read_only_is_a_global_option_before_or_after_the_command(argv: list[str]) -> None:
    assert parse_args(build_parser(), argv).read_only is True


def test_without_the_option_read_only_is_off() -> None:
    assert parse_args(build_parser(), ["run", "--headless"]).read_only is False


def test_qs_read_only_and_the_policy_reach_the_pipeline_settings(tmp_path: Path) -> None:
    path = tmp_path / "remediation.toml"
    path.write_text(POLICY_TOML, encoding="utf-8")

    settings = Settings.load(env_file=None, env={"QS_READ_ONLY": "1", "QS_REMEDIATION": str(path)})

    update = policy_settings(settings)

    assert update["read_only"] is True
    assert update["policy"].max_actions_per_service_per_hour == 3


def test_a_bad_policy_stops_a_run_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "remediation.toml"
    path.write_text('[policy]\nauto_approve = ["restart"]\nmax_risk = 2\n', encoding="utf-8")
    monkeypatch.setenv("QS_REMEDIATION", str(path))
    env_file = tmp_path / "empty.env"
    env_file.write_text("", encoding="utf-8")

    status = main(["run", "--headless", "--env-file", str(env_file)])

    err = capsys.readouterr().err
    assert status == 1
    assert err.strip().splitlines() == [
        f"error: {path}:3: policy.max_risk: Input should be less than or equal to 1"
    ]


def test_the_readme_example_policy_is_valid_and_means_what_it_says() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Remediation: `remediation.toml`", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]

    policy = parse_remediation(example, path=Path("README.md")).policy

    assert policy.auto_approve == [ActionKind.RESTART] and policy.risk_level == "low"
    assert freeze_in_force(policy, SUNDAY_EVENING) == (
        "frozen: weekend freeze until Mon 08:00 Europe/Berlin"
    )
    assert freeze_in_force(policy, datetime(2026, 12, 24, 12, 0, tzinfo=UTC)) is not None


def test_one_action_is_one_action() -> None:
    policy = _policy("[policy]\nmax_actions_per_service_per_hour = 1\n")
    history = _actions("payment-service", 1, ago=timedelta(minutes=1), now=WEDNESDAY_NOON)

    assert rate_limit(policy, "payment-service", WEDNESDAY_NOON, history) == (
        "rate limit: 1 action on payment-service in the last hour"
    )
