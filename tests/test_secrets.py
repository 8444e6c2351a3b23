"""Secrets never leak: every secret setting is a marker, every command runs (also failing), and
the markers are looked for in everything QuantumState writes or sends.

Each command runs as a real `qs-tui` process against real local servers: a fake Elasticsearch
(the audit trail lands there and is read back with ES|QL) and a stand-in for the Slack webhook.
The war room plays the memory-leak scenario headless and its screenshots are searched too.
Places searched: stdout and stderr of every process, every file written (data directories,
bench results; Arrow segments are decoded, since they are compressed), the audit trail
(`qs-agent-decisions`), and the bodies of every request sent to Elasticsearch and to Slack.
(A request's `Authorization` header and the webhook's own path carry the secrets by design.)
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from qs_tui.config import Settings
from tests.kibana.fake_kibana import fake_kibana
from tests.remediation.local_server import closed_port_url, scripted_server
from tests.scenario_texts import SHORT_LEAK
from tests.store.fake_es import FakeElasticsearch

REPO = Path(__file__).resolve().parents[1]

# Every secret holds "MARKER", so one search finds any of them whole; their encoded forms
# (base64 in the API key and in basic auth, percent-encoding in a URL) are searched as well.
API_KEY_ID = "keyidMARKERid"
API_KEY_SECRET = "apikeyMARKERq7"
API_KEY = base64.b64encode(f"{API_KEY_ID}:{API_KEY_SECRET}".encode()).decode("ascii")
PASSWORD = "pwMARKER-r4#/x"  # a '#' and a '/' as real passwords have
URL_PASSWORD = "urlpwMARKER#k2"
URL_PASSWORD_ENCODED = "urlpwMARKER%23k2"
SLACK_TOKEN = "slackMARKERtokenZ9"
KIBANA_KEY_SECRET = "kbnMARKERkey3"
KIBANA_API_KEY = base64.b64encode(f"kbnid:{KIBANA_KEY_SECRET}".encode()).decode("ascii")

NEEDLES = (
    "MARKER",
    API_KEY,
    KIBANA_API_KEY,
    base64.b64encode(f"elastic:{PASSWORD}".encode()).decode("ascii"),
    base64.b64encode(f"elastic:{URL_PASSWORD}".encode()).decode("ascii"),
    "cHdNQVJLRVI",  # base64 of "pwMARKER" at the start of an encoded value
)


@dataclass
class Run:
    """One finished `qs-tui` process."""

    argv: list[str]
    status: int
    stdout: str
    stderr: str


@dataclass
class Evidence:
    """Everything the commands printed, wrote and sent, by where it was found."""

    runs: dict[str, Run] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    slack_bodies: list[str] = field(default_factory=list)
    es_bodies: list[str] = field(default_factory=list)
    audit: str = ""
    screenshots: dict[str, str] = field(default_factory=dict)


def clean_environment() -> dict[str, str]:
    """The process environment without any setting of the developer's own."""
    prefixes = ("ELASTIC_", "KIBANA_", "QS_", "SLACK_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env["PYTHONPATH"] = str(REPO)
    env["NO_COLOR"] = "1"
    return env


def qs_tui(workdir: Path, env: dict[str, str], *argv: str) -> Run:
    """Run `qs-tui ARGV` in `workdir` with exactly `env` as its settings (no .env file)."""
    done = subprocess.run(
        [sys.executable, "-m", "qs_tui", "--env-file", os.devnull, *argv],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
        check=False,
    )
    return Run(list(argv), done.returncode, done.stdout, done.stderr)


def file_texts(root: Path) -> Iterator[tuple[str, str]]:
    """Every file under `root` as text; Arrow segments decoded (they are lz4-compressed)."""
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        yield str(path), raw.decode("utf-8", errors="replace")
        if raw.startswith(b"ARROW1"):
            frame = pl.read_ipc(raw)
            yield f"{path} (decoded)", frame.write_ndjson()


def request_bodies(server: FakeElasticsearch) -> list[str]:
    """What was sent to Elasticsearch: the path, the query string and the body of each request."""
    return [
        f"{r.method} {r.path} {json.dumps(r.query)} {json.dumps(r.body, ensure_ascii=False)}"
        for r in server.requests
    ]


async def war_room_screenshots(settings: Settings, data_dir: Path) -> dict[str, str]:
    """The README's screenshots of the war room, taken with `settings` (Slack configured)."""
    from qs_tui.store.embedded import EmbeddedStore
    from qs_tui.ui.app import make_app
    from qs_tui.ui.screenshots import HISTORY_MINUTES, take

    app = make_app(
        store=EmbeddedStore(data_dir=data_dir),
        scenario="memory-leak",
        live=False,
        settings=settings,
        history=timedelta(minutes=HISTORY_MINUTES),
        approval_monotonic=lambda: 1000.0,
    )
    app.animation_level = "none"
    return await take(app)


pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Evidence]:
    """Run every command with the markers set, and gather what they left behind."""
    work = tmp_path_factory.mktemp("secrets")
    scenarios = work / "scenarios"
    scenarios.mkdir()
    scenario = scenarios / "short-leak.toml"
    scenario.write_text(SHORT_LEAK, encoding="utf-8")
    found = Evidence()
    cluster = FakeElasticsearch(engine=True, require_authorization=f"ApiKey {API_KEY}")
    basic = base64.b64encode(f"elastic:{URL_PASSWORD}".encode()).decode("ascii")
    basic_cluster = FakeElasticsearch(require_authorization=f"Basic {basic}")
    with (
        cluster,
        basic_cluster,
        scripted_server() as slack,
        fake_kibana(api_key=KIBANA_API_KEY) as kibana,
    ):
        webhook = f"{slack.url}/services/T0000/B0000/{SLACK_TOKEN}"
        secrets = {
            "ELASTIC_API_KEY": API_KEY,
            "ELASTIC_USERNAME": "elastic",
            "ELASTIC_PASSWORD": PASSWORD,
            "SLACK_WEBHOOK_URL": webhook,
            "KIBANA_API_KEY": KIBANA_API_KEY,
        }
        on_cluster = {**clean_environment(), "ELASTIC_URL": cluster.url, **secrets}
        embedded = {
            **clean_environment(),
            **secrets,
            "QS_STORE": "embedded",
            "QS_DATA_DIR": str(work / "data"),
        }
        unreachable = {**on_cluster, "ELASTIC_URL": closed_port_url()}
        hash_in_url = {
            **clean_environment(),
            "ELASTIC_URL": f"http://elastic:{URL_PASSWORD}@{basic_cluster.url[7:]}",
            "ELASTIC_API_KEY": API_KEY,
            "SLACK_WEBHOOK_URL": webhook,
        }
        encoded_in_url = {
            **hash_in_url,
            "ELASTIC_URL": f"http://elastic:{URL_PASSWORD_ENCODED}@{basic_cluster.url[7:]}",
        }
        del encoded_in_url["ELASTIC_API_KEY"]  # the URL's credentials are the ones to use
        no_scheme = {**embedded, "SLACK_WEBHOOK_URL": webhook.removeprefix("http://")}
        spaced_key = {**on_cluster, "ELASTIC_API_KEY": f"{API_KEY}\n{API_KEY}"}
        with_kibana = {**on_cluster, "KIBANA_URL": kibana.url}
        kibana_down = {**on_cluster, "KIBANA_URL": closed_port_url()}
        short = str(scenario)
        plan: list[tuple[str, dict[str, str], list[str]]] = [
            ("cluster doctor", on_cluster, ["doctor"]),
            ("cluster seed", on_cluster, ["seed", "--scenario", short, "--history", "20m"]),
            ("cluster esql", on_cluster, ["esql", "FROM qs-metrics | STATS n = COUNT(*)"]),
            (
                "cluster run",
                on_cluster,
                ["run", "--headless", "--approve", "auto", "--scenario", short, "--json"],
            ),
            ("embedded seed", embedded, ["seed", "--scenario", short, "--history", "20m"]),
            ("embedded live", embedded, ["live", "--scenario", short, "--seconds", "2"]),
            (
                "bench scenarios",
                embedded,
                ["bench", "scenarios", "--dir", str(scenarios), "--json", "bench.json"],
            ),
            ("unreachable esql", unreachable, ["esql", "ROW a = 1"]),
            ("unreachable doctor", unreachable, ["doctor"]),
            ("unreachable run", unreachable, ["run", "--headless", "--scenario", short]),
            ("hash in URL esql", hash_in_url, ["esql", "ROW a = 1"]),
            ("hash in URL doctor", hash_in_url, ["doctor"]),
            ("hash in URL run", hash_in_url, ["run", "--headless", "--scenario", short]),
            ("encoded URL doctor", encoded_in_url, ["doctor"]),
            ("no scheme webhook", no_scheme, ["esql", "ROW a = 1"]),
            ("two-line API key", spaced_key, ["doctor"]),
            ("kibana setup", with_kibana, ["kibana", "setup"]),
            ("kibana remove", with_kibana, ["kibana", "remove"]),
            ("kibana unreachable", kibana_down, ["kibana", "setup"]),
        ]
        for name, env, argv in plan:
            found.runs[name] = qs_tui(work, env, *argv)
        # The audit trail as the cluster holds it, and as the war room's store holds it below.
        found.audit = json.dumps(cluster.documents.get("qs-agent-decisions", []))

        settings = Settings.load(env=secrets, env_file=None)
        found.screenshots = asyncio.run(war_room_screenshots(settings, work / "war-room"))
        from qs_tui.store.embedded import EmbeddedStore

        store = EmbeddedStore(data_dir=work / "war-room")
        try:
            decisions = store.esql("FROM qs-agent-decisions | LIMIT 10000")
        finally:
            store.close()
        found.audit += json.dumps(decisions.to_body(), ensure_ascii=False)
        found.slack_bodies = [r.body.decode("utf-8", errors="replace") for r in slack.received]
        found.es_bodies = request_bodies(cluster) + request_bodies(basic_cluster)
        found.es_bodies += [
            f"{r.method} {r.path} {r.body.decode('utf-8', errors='replace')}"
            for r in kibana.requests
        ]
    found.texts = dict(file_texts(work))
    yield found


def leaks(text: str) -> list[str]:
    """The needles found in `text`."""
    return [needle for needle in NEEDLES if needle in text]


def test_commands_ran_and_did_what_they_should(evidence: Evidence) -> None:
    """The search below means something only if the commands really ran each path."""
    runs = evidence.runs
    assert runs["cluster doctor"].status == 0, runs["cluster doctor"].stderr
    assert runs["cluster seed"].status == 0, runs["cluster seed"].stderr
    assert runs["cluster esql"].status == 0, runs["cluster esql"].stderr
    assert runs["cluster run"].status == 0, runs["cluster run"].stderr
    assert evidence.audit.count('"decision"') >= 5, "no audit trail was written"
    assert '"Guardian"' in evidence.audit, "the war room wrote no audit trail"
    assert runs["embedded seed"].status == 0, runs["embedded seed"].stderr
    assert runs["embedded live"].status == 0, runs["embedded live"].stderr
    assert runs["bench scenarios"].status == 0, runs["bench scenarios"].stderr
    assert runs["encoded URL doctor"].status == 0, runs["encoded URL doctor"].stdout
    assert "user elastic (ELASTIC_PASSWORD is set)" in runs["encoded URL doctor"].stdout
    for name in ("unreachable esql", "unreachable run", "hash in URL esql", "hash in URL doctor"):
        assert runs[name].status == 1, (name, runs[name].stderr)
    assert runs["unreachable doctor"].status != 0
    assert evidence.slack_bodies, "no notification reached the Slack stand-in"
    assert any("/qs-agent-decisions" in body for body in evidence.es_bodies)
    assert set(evidence.screenshots) >= {"approval", "war-room"}
    assert any(name.endswith("(decoded)") for name in evidence.texts)
    assert runs["kibana setup"].status == 0, runs["kibana setup"].stderr
    assert runs["kibana remove"].status == 0, runs["kibana remove"].stderr
    assert runs["kibana unreachable"].status == 1, runs["kibana unreachable"].stderr
    assert any("_import" in body for body in evidence.es_bodies), "nothing reached Kibana"


@pytest.mark.parametrize(
    "name", ["hash in URL esql", "hash in URL doctor", "hash in URL run", "no scheme webhook"]
)
def test_configuration_errors_are_one_line_naming_the_variable(
    evidence: Evidence, name: str
) -> None:
    run = evidence.runs[name]
    assert run.status == 1
    assert run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith("error: invalid settings: ")
    assert ("SLACK_WEBHOOK_URL" if "webhook" in name else "ELASTIC_URL") in run.stderr
    assert "Traceback" not in run.stderr


def test_no_command_prints_a_secret_or_a_traceback(evidence: Evidence) -> None:
    for name, run in evidence.runs.items():
        assert not leaks(run.stdout), (name, "stdout", leaks(run.stdout))
        assert not leaks(run.stderr), (name, "stderr", leaks(run.stderr))
        assert "Traceback" not in run.stderr, (name, run.stderr[-500:])


def test_no_file_written_holds_a_secret(evidence: Evidence) -> None:
    assert evidence.texts
    for path, text in evidence.texts.items():
        assert not leaks(text), (path, leaks(text))


def test_the_audit_trail_holds_no_secret(evidence: Evidence) -> None:
    assert not leaks(evidence.audit)


def test_nothing_sent_to_elasticsearch_or_slack_holds_a_secret(evidence: Evidence) -> None:
    for body in evidence.slack_bodies + evidence.es_bodies:
        assert not leaks(body), (body[:300], leaks(body))


def test_the_war_rooms_screenshots_hold_no_secret(evidence: Evidence) -> None:
    for name, svg in evidence.screenshots.items():
        assert not leaks(svg), (name, leaks(svg))
