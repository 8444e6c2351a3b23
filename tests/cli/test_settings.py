"""Settings as a user gets them wrong: bad URLs, misspelt names, empty stores, odd speeds."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import pytest

from qs_tui.cli import live_refresh_s, main
from qs_tui.config import ConfigError, Settings
from tests.scenario_texts import LEAKING_SERVICE_ONLY, quick_leak

SECRET = "Zq8-secret-vX3"


def run(*argv: str) -> tuple[int, str, str]:
    """Run `qs-tui ARGV` in-process; return (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _no_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No cluster, no data dir and no .env: each test says what it sets."""
    for name in list(os.environ):
        if name.startswith(("ELASTIC_", "QS_", "SLACK_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def load(**env: str) -> Settings:
    return Settings.load(env=env, env_file=None)


# -- every setting validated up front, never echoing a secret -----------------------------


@pytest.mark.parametrize(
    ("env", "says"),
    [
        (
            {"ELASTIC_URL": f"http://elastic:{SECRET}#x@127.0.0.1:9200"},
            "ELASTIC_URL (in the environment): its user name or password contains '/', '?' or '#'",
        ),
        ({"ELASTIC_URL": f"http://elastic:{SECRET}/x@127.0.0.1:9200"}, "set ELASTIC_USERNAME"),
        ({"ELASTIC_URL": "http://127.0.0.1:99999"}, "port 99999 is out of range: use 1-65535"),
        ({"ELASTIC_URL": "http://127.0.0.1:0"}, "port 0 is out of range"),
        ({"ELASTIC_URL": "http://[bad"}, "'[' without a closing ']'"),
        ({"ELASTIC_URL": "http://[bad]:9200"}, "not an IPv6 address"),
        ({"ELASTIC_URL": f"http://elastic:{SECRET}"}, "its port is not a number"),
        ({"ELASTIC_URL": "localhost:9200"}, "must start with http:// or https://"),
        ({"ELASTIC_URL": "http://:9200"}, "has no host"),
        ({"ELASTIC_URL": "http://localhost:9200/?pretty"}, "must not have a ?query"),
        (
            {"ELASTIC_URL": f"http://elastic:{SECRET}@localhost:9200", "ELASTIC_PASSWORD": "x"},
            "set the credentials in one place",
        ),
        (
            {"SLACK_WEBHOOK_URL": f"hooks.slack.com/services/T0/B0/{SECRET}"},
            "SLACK_WEBHOOK_URL (in the environment): must start with http:// or https://",
        ),
        ({"SLACK_WEBHOOK_URL": f"https:///services/T0/B0/{SECRET}"}, "SLACK_WEBHOOK_URL"),
        ({"ELASTIC_API_KEY": f"{SECRET} {SECRET}"}, "ELASTIC_API_KEY"),
        ({"ELASTIC_USERNAME": "a:b"}, "must not contain ':'"),
        ({"QS_SPEED": "0"}, "QS_SPEED (in the environment): Input should be greater than 0"),
        ({"QS_STORE": "cloud"}, "QS_STORE"),
    ],
)
def test_bad_settings_are_one_line_naming_the_variable_without_the_secret(
    env: dict[str, str], says: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(**env)
    message = str(caught.value)
    assert message.startswith("invalid settings: ")
    assert says in message
    assert "\n" not in message
    assert SECRET not in message


def test_several_problems_are_named_on_one_line() -> None:
    with pytest.raises(ConfigError) as caught:
        load(ELASTIC_URL="http://127.0.0.1:99999", QS_SPEED="-1")
    message = str(caught.value)
    assert "ELASTIC_URL" in message and "QS_SPEED" in message and "\n" not in message


def test_the_message_says_which_file_a_bad_setting_came_from(tmp_path: Path) -> None:
    env = tmp_path / "prod.env"
    env.write_text("ELASTIC_URL=http://127.0.0.1:99999\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        Settings.load(env={}, env_file=env)
    assert f"ELASTIC_URL (in {env}): port 99999" in str(caught.value)


def test_credentials_in_the_url_become_username_and_password() -> None:
    # A percent-encoded '#' and '/' are how a URL carries them; the address kept is clean.
    settings = load(ELASTIC_URL="https://elastic:p%23ss%2Fw0rd@es.example.com:9243/")
    assert settings.elastic_url == "https://es.example.com:9243"
    assert settings.elastic_username == "elastic"
    assert settings.elastic_password is not None
    assert settings.elastic_password.get_secret_value() == "p#ss/w0rd"
    assert "p#ss" not in repr(settings) and "w0rd" not in repr(settings)


def test_an_ipv6_host_and_a_path_prefix_are_kept() -> None:
    assert load(ELASTIC_URL="HTTP://[::1]:9200/es/").elastic_url == "http://[::1]:9200/es"


@pytest.mark.parametrize("command", [["esql", "ROW a = 1"], ["doctor"], ["run", "--headless"]])
def test_commands_end_with_one_line_for_a_password_with_a_hash(
    command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ELASTIC_URL", f"http://elastic:{SECRET}#x@127.0.0.1:9200")
    status, out, err = run(*command)
    assert status == 1
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("error: invalid settings: ELASTIC_URL")
    assert SECRET not in err
    assert "Traceback" not in err


def test_redact_masks_every_form_of_a_secret() -> None:
    settings = load(
        ELASTIC_URL="http://127.0.0.1:9200",
        ELASTIC_USERNAME="elastic",
        ELASTIC_PASSWORD=SECRET,
        SLACK_WEBHOOK_URL=f"https://hooks.slack.com/services/T0/B0/{SECRET}x",
    )
    text = settings.redact(
        f"pw {SECRET}, token {SECRET}x, url http://someone:other@host:9200/, "
        "basic ZWxhc3RpYzpacTgtc2VjcmV0LXZYMw=="
    )
    assert SECRET not in text and "other" not in text and "ZWxhc3RpYzpa" not in text
    assert "http://****@host:9200/" in text


# -- unknown QS_ settings -------------------------------------------------------------------


def test_a_misspelt_setting_is_pointed_out_once_with_the_closest_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / ".env"
    env.write_text("QS_SCENARO=cascade\n", encoding="utf-8")
    monkeypatch.setenv("QS_SPED", "60")
    monkeypatch.setenv("QS_ZZZ", "1")
    status, out, err = run("esql", "ROW a = 1", "--format", "json")
    assert status == 0, err
    assert json.loads(out)["values"] == [[1]]
    warnings = [line for line in err.splitlines() if line.startswith("warning: unknown")]
    assert warnings == [
        "warning: unknown setting QS_SCENARO (in .env) is ignored; did you mean QS_SCENARIO?",
        "warning: unknown setting QS_SPED (in the environment) is ignored; did you mean QS_SPEED?",
        "warning: unknown setting QS_ZZZ (in the environment) is ignored; known: "
        + ", ".join(name for name in Settings.known_names() if name.startswith("QS_")),
    ]


def test_known_names_come_from_the_settings_fields() -> None:
    names = Settings.known_names()
    assert len(names) == len(Settings.model_fields)
    assert {"QS_SCENARIO", "QS_SPEED", "ELASTIC_URL", "SLACK_WEBHOOK_URL"} <= set(names)
    assert Settings.unknown_app_settings({name: "x" for name in names}) == []


def test_the_example_env_file_lists_every_setting() -> None:
    example = (Path(__file__).resolve().parents[2] / ".env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^# ([A-Z][A-Z_]+)=", example, flags=re.MULTILINE))
    assert listed == set(Settings.known_names())


# -- esql on an empty store -----------------------------------------------------------------

LEAK = ["@" + str(Path(__file__).resolve().parents[2] / "esql" / "memory_leak.esql")]
WINDOW = ["--param", "start=2026-11-25T13:00:00Z", "--param", "end=2026-11-25T14:00:00Z"]


def test_an_empty_in_memory_store_says_how_to_fill_it() -> None:
    status, out, err = run("esql", *LEAK, *WINDOW)
    assert status == 0
    assert out.rstrip().endswith("(no rows)")
    notes = [line for line in err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1
    assert "qs-metrics has no documents" in notes[0]
    assert "qs-tui seed --data-dir DIR" in notes[0] and "--index/--mapping/--data" in notes[0]


def test_an_empty_data_dir_names_itself(tmp_path: Path) -> None:
    data = tmp_path / "empty"
    status, _, err = run("esql", "FROM qs-logs | LIMIT 1", "--data-dir", str(data))
    assert status == 0
    expected = f"qs-logs has no documents in {data}: fill it with `qs-tui seed --data-dir {data}`"
    assert expected in err


def test_no_note_when_the_store_has_data_and_the_query_just_matches_nothing(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    assert run("seed", "--history", "5m", "--data-dir", str(data))[0] == 0
    status, out, err = run(
        "esql", "FROM qs-metrics | WHERE cpu_percent > 1000 | LIMIT 1", "--data-dir", str(data)
    )
    assert status == 0
    assert out.rstrip().endswith("(no rows)")
    assert "note:" not in err


# -- live -----------------------------------------------------------------------------------


def test_live_runs_at_the_war_rooms_speed_and_says_so() -> None:
    assert Settings.model_fields["speed"].default == 10.0
    status, out, err = run("live", "--seconds", "0.5")
    assert status == 0, err
    assert err.splitlines()[0] == (
        "live: memory-leak at x10 (simulated seconds per wall second): a new sample every "
        "1 s; stopping after 0.5 s"
    )
    assert "  x10  " in out.splitlines()[0]


def test_live_at_real_time_says_how_often_a_sample_comes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QS_SPEED", "1")
    status, out, err = run("live", "--seconds", "0.5")
    assert status == 0, err
    assert "at x1 (simulated seconds per wall second): a new sample every 10 s" in err
    assert "  x1  " in out.splitlines()[0]


@pytest.mark.parametrize(
    ("every_s", "stop_after_s", "refresh_s"),
    [(10.0, None, 10.0), (1.0, None, 1.0), (0.1, None, 1.0), (10.0, 2.0, 2.0), (1.0, 5.0, 1.0)],
)
def test_live_refreshes_once_per_new_sample(
    every_s: float, stop_after_s: float | None, refresh_s: float
) -> None:
    # At x1 a sample comes every 10 s: refreshing each second printed the same table 10 times.
    assert live_refresh_s(every_s, stop_after_s) == refresh_s


# -- JSON instants --------------------------------------------------------------------------

ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)?")


def test_headless_json_writes_every_instant_with_z(tmp_path: Path) -> None:
    # A short leak on one service: an incident, its decisions and metrics carry every kind of
    # instant the JSON lines have, without the default scenario's hours of telemetry.
    leak = tmp_path / "leak.toml"
    text = quick_leak("leak", topology=LEAKING_SERVICE_ONLY, duration="4m")
    leak.write_text(text, encoding="utf-8")
    status, out, err = run(
        "run", "--headless", "--approve", "auto", "--json", "--scenario", str(leak)
    )
    assert status == 0, err
    instants = ISO.findall(out)
    found = [match.group(0) for match in ISO.finditer(out)]
    assert len(instants) > 20
    assert all(text.endswith("Z") and "T" in text for text in found), [
        text for text in found if not text.endswith("Z")
    ][:3]
    assert "+00:00" not in out
