"""Settings from the environment and an optional `.env` file, validated with pydantic."""

from __future__ import annotations

import base64
import binascii
import difflib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit

from dotenv import dotenv_values
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

#: Prefixes of the variables QuantumState reads; everything else in the environment is ignored.
SETTING_PREFIXES = ("ELASTIC_", "KIBANA_", "QS_", "SLACK_")


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable and the fix."""


@dataclass(frozen=True)
class HttpUrl:
    """The parts of an `http(s)://` URL that a setting holds, checked and percent-decoded."""

    scheme: str
    host: str
    """The host as written in a URL: an IPv6 literal keeps its brackets."""
    port: int | None
    path: str
    query: str
    username: str | None
    password: str | None = field(repr=False)

    def without_credentials(self) -> str:
        """The URL with no `user:password@` part (safe to show and to log)."""
        port = f":{self.port}" if self.port is not None else ""
        query = f"?{self.query}" if self.query else ""
        return f"{self.scheme}://{self.host}{port}{self.path}{query}"


def parse_http_url(value: str, *, example: str, credentials_hint: str | None = None) -> HttpUrl:
    """Parse an `http://` or `https://` URL, failing with a message that never echoes it.

    The messages name the part that is wrong (scheme, host, port) without repeating the
    value, because a URL may carry a password or a secret path (a Slack webhook's is the key).

    Args:
        value: the URL as configured.
        example: a well-formed URL shown in the messages.
        credentials_hint: what to use instead of a user and password that cannot be parsed;
            None when the URL is not expected to carry credentials.

    Raises:
        ValueError: with a one-line message saying what is wrong and how to write it.
    """
    text = value.strip()
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ValueError("contains spaces or control characters")
    scheme, sep, rest = text.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        raise ValueError(f"must start with http:// or https://, e.g. {example}")
    # Per RFC 3986 the authority ends at the first '/', '?' or '#'. An '@' after that point
    # means a user name or password holding one of those characters, unencoded: the URL
    # would silently point somewhere else (its "port" being part of the password).
    authority_end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    if "@" in rest[authority_end:]:
        fix = credentials_hint or "remove it"
        raise ValueError(
            "its user name or password contains '/', '?' or '#', which end the host part of "
            f"a URL: percent-encode them (%2F, %3F, %23) or, simpler, {fix}"
        )
    try:
        parts = urlsplit(text)
    except ValueError as error:
        if str(error).startswith("Invalid IPv6 URL"):
            raise ValueError(
                "its host has a '[' without a closing ']' (an IPv6 host is written as "
                f"{scheme.lower()}://[::1]:9200)"
            ) from None
        raise ValueError("the host in [brackets] is not an IPv6 address") from None
    try:
        hostname = parts.hostname
    except ValueError:
        raise ValueError("the host in [brackets] is not an IPv6 address") from None
    if not hostname:
        raise ValueError(f"has no host, e.g. {example}")
    host_port = parts.netloc.rpartition("@")[2]
    try:
        port = parts.port
    except ValueError:
        raw = host_port.rpartition("]")[2].rpartition(":")[2]
        # Only digits are echoed: anything else in the port position may be a password.
        if raw.isdigit():
            raise ValueError(f"port {int(raw)} is out of range: use 1-65535") from None
        raise ValueError(f"its port is not a number, e.g. {example}") from None
    if port == 0:
        raise ValueError("port 0 is out of range: use 1-65535")
    if parts.fragment:
        raise ValueError("must not end with a #fragment")
    host = f"[{hostname}]" if ":" in hostname else hostname
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return HttpUrl(
        scheme=parts.scheme.lower(),
        host=host,
        port=port,
        path=parts.path.rstrip("/"),
        query=parts.query,
        username=username or None,
        password=password,
    )


_URL_CREDENTIALS = re.compile(r"(?i)\b(https?://)[^\s/@]+@")


def redact_url_credentials(text: str) -> str:
    """`text` with the `user:password@` part of any http(s) URL in it replaced by `****@`."""
    return _URL_CREDENTIALS.sub(r"\1****@", text)


_ELASTIC_CREDENTIALS_HINT = (
    "set ELASTIC_USERNAME and ELASTIC_PASSWORD and keep only the address in ELASTIC_URL"
)


def _parse_elastic_url(value: str) -> HttpUrl:
    """`ELASTIC_URL` parsed: the cluster's address, optionally with credentials and a path."""
    url = parse_http_url(
        value, example="https://localhost:9200", credentials_hint=_ELASTIC_CREDENTIALS_HINT
    )
    if url.query:
        raise ValueError("must not have a ?query part; give the cluster's address only")
    return url


class Settings(BaseModel):
    """Everything QuantumState can be configured with. Nothing set means the embedded store."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    elastic_url: str | None = Field(default=None, alias="ELASTIC_URL")
    """URL of an Elasticsearch 8.19+/9.x cluster, e.g. `https://localhost:9200`. A
    `user:password@` part is accepted (percent-encoded) and moved to the username and
    password, so the URL kept here never carries a secret."""

    elastic_cloud_id: str | None = Field(default=None, alias="ELASTIC_CLOUD_ID")
    """Elastic Cloud deployment id (instead of `ELASTIC_URL`)."""

    elastic_api_key: SecretStr | None = Field(default=None, alias="ELASTIC_API_KEY")
    """API key (the encoded form Kibana shows). Preferred over username/password."""

    elastic_username: str | None = Field(default=None, alias="ELASTIC_USERNAME")
    """Basic-auth user, used with `ELASTIC_PASSWORD` when no API key is set."""

    elastic_password: SecretStr | None = Field(default=None, alias="ELASTIC_PASSWORD")
    """Basic-auth password."""

    elastic_ca_certs: Path | None = Field(default=None, alias="ELASTIC_CA_CERTS")
    """PEM file with the CA that signed the cluster's certificate (self-managed clusters)."""

    elastic_verify_certs: bool = Field(default=True, alias="ELASTIC_VERIFY_CERTS")
    """Verify the cluster's TLS certificate. Turn off only for a throwaway local cluster."""

    elastic_request_timeout_s: float = Field(default=30.0, gt=0, alias="ELASTIC_REQUEST_TIMEOUT")
    """Seconds to wait for one request to the cluster."""

    slack_webhook_url: SecretStr | None = Field(default=None, alias="SLACK_WEBHOOK_URL")
    """Slack incoming webhook for incident notifications (optional). Its path is the secret."""

    kibana_url: str | None = Field(default=None, alias="KIBANA_URL")
    """Kibana's URL for `qs-tui kibana`, e.g. `http://localhost:5601` (on Elastic Cloud, the
    deployment's Kibana endpoint: it is not derived from `ELASTIC_CLOUD_ID`)."""

    kibana_api_key: SecretStr | None = Field(default=None, alias="KIBANA_API_KEY")
    """API key for Kibana; without it the Elastic API key or username/password are used."""

    store: Literal["auto", "embedded", "elastic"] = Field(default="auto", alias="QS_STORE")
    """Which store to use: `auto` picks Elasticsearch when a cluster is configured."""

    data_dir: Path | None = Field(default=None, alias="QS_DATA_DIR")
    """Where the embedded store persists its indices; unset keeps everything in memory."""

    scenario: str = Field(default="memory-leak", alias="QS_SCENARIO")
    """Scenario name or TOML file the simulator plays by default (a leak already underway,
    so a first run shows the whole incident loop; `healthy` is a quiet estate)."""

    speed: float = Field(default=10.0, gt=0, alias="QS_SPEED")
    """Simulated seconds per wall second for the war room and `live` (1 = real time; the
    default 10 shows a new 10 s sample every wall second)."""

    seed: int = Field(default=7, alias="QS_SEED")
    """Seed for the simulator's randomness, so runs are reproducible."""

    profile: str = Field(default="qs", alias="QS_PROFILE")
    """Schema profile the queries read through: a built-in (`qs`, `ecs`, `otel`) or a TOML
    file's path (see the README's "Schema profiles")."""

    debug: bool = Field(default=False, alias="QS_DEBUG")
    """Print the traceback of an unexpected error (for a bug report) instead of one line."""

    @model_validator(mode="before")
    @classmethod
    def _credentials_out_of_url(cls, data: Any) -> Any:
        """Check `ELASTIC_URL` and move a `user:password@` part into the credential settings.

        Credentials in the URL are what `curl`, the Elasticsearch clients and Docker
        quick-starts accept, so an SRE expects them to work; keeping them out of the stored
        URL means the address can be shown anywhere without leaking the password.
        """
        if not isinstance(data, dict) or not isinstance(data.get("ELASTIC_URL"), str):
            return data
        try:
            url = _parse_elastic_url(data["ELASTIC_URL"])
        except ValueError:
            return data  # the field's own validator reports it, beside any other problem
        updated = dict(data, ELASTIC_URL=url.without_credentials())
        if url.username is not None or url.password is not None:
            if data.get("ELASTIC_USERNAME") or data.get("ELASTIC_PASSWORD"):
                raise ValueError(
                    "ELASTIC_URL: has a user name or password and ELASTIC_USERNAME/"
                    "ELASTIC_PASSWORD are set too: set the credentials in one place"
                )
            if url.username is not None:
                updated["ELASTIC_USERNAME"] = url.username
            if url.password is not None:
                updated["ELASTIC_PASSWORD"] = url.password
        return updated

    @field_validator("elastic_url")
    @classmethod
    def _elastic_url_parses(cls, value: str | None) -> str | None:
        if value is not None:
            _parse_elastic_url(value)
        return value

    @field_validator("slack_webhook_url", mode="before")
    @classmethod
    def _webhook_is_a_url(cls, value: Any) -> Any:
        if isinstance(value, str):
            # The message never repeats the URL: its path is what authorises a post.
            parse_http_url(value, example="https://hooks.slack.com/services/…")
            return value.strip()
        return value

    @field_validator("kibana_url")
    @classmethod
    def _kibana_url_parses(cls, value: str | None) -> str | None:
        if value is not None:
            url = parse_http_url(
                value,
                example="https://localhost:5601",
                credentials_hint="set KIBANA_API_KEY and keep only the address in KIBANA_URL",
            )
            if url.username is not None or url.password is not None:
                raise ValueError(
                    "must not carry a user name or password: set KIBANA_API_KEY (or the "
                    "Elastic credentials) and keep only the address here"
                )
        return value

    @field_validator("elastic_api_key", "kibana_api_key", mode="before")
    @classmethod
    def _api_key_is_one_token(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            # A space or newline inside would make the HTTP layer reject the header with a
            # message quoting it; catch it here, where the message can leave the key out.
            if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
                raise ValueError("contains spaces or control characters (pasted twice?)")
        return value

    @field_validator("elastic_username", mode="before")
    @classmethod
    def _username_has_no_colon(cls, value: Any) -> Any:
        if isinstance(value, str) and ":" in value:
            raise ValueError("must not contain ':' (basic auth separates user and password by it)")
        return value

    @property
    def cluster_configured(self) -> bool:
        """Whether a cluster is configured (`ELASTIC_URL` or `ELASTIC_CLOUD_ID`)."""
        return bool(self.elastic_url or self.elastic_cloud_id)

    @property
    def store_kind(self) -> Literal["embedded", "elastic"]:
        """The store `auto` resolves to."""
        if self.store == "auto":
            return "elastic" if self.cluster_configured else "embedded"
        return self.store

    def secrets(self) -> list[str]:
        """Every form in which a configured secret could show up in a message, longest first.

        The API keys (and the secret half of their decoded `id:secret` form), the password (and
        the basic-auth header value made from it), the Slack webhook URL and its path.
        """
        found: list[str] = []
        for api_key in (self.elastic_api_key, self.kibana_api_key):
            if api_key is None:
                continue
            key = api_key.get_secret_value()
            found.append(key)
            try:
                decoded = base64.b64decode(key, validate=True).decode("utf-8")
                found.extend(part for part in decoded.split(":")[1:] if part)
            except (binascii.Error, UnicodeDecodeError, ValueError):
                pass
        if self.elastic_password is not None:
            password = self.elastic_password.get_secret_value()
            found.append(password)
            found.append(quote(password, safe=""))
            basic = f"{self.elastic_username or ''}:{password}".encode()
            found.append(base64.b64encode(basic).decode("ascii"))
        if self.slack_webhook_url is not None:
            webhook = self.slack_webhook_url.get_secret_value()
            found.append(webhook)
            path = urlsplit(webhook).path
            # The last path segment is the token proper (`/services/T…/B…/<token>`).
            token = path.rstrip("/").rpartition("/")[2]
            found.extend(part for part in (path, path.strip("/"), token) if part.strip("/"))
        # Values shorter than 3 characters would blank out ordinary words in every message.
        return sorted({s for s in found if len(s) >= 3}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """`text` with every configured secret and any `user:password@` in a URL masked."""
        for secret in self.secrets():
            text = text.replace(secret, "****")
        return redact_url_credentials(text)

    @classmethod
    def known_names(cls) -> list[str]:
        """Every variable name the settings read, derived from the fields' aliases."""
        return sorted(field.alias for field in cls.model_fields.values() if field.alias)

    @classmethod
    def unknown_app_settings(cls, names: Mapping[str, str]) -> list[str]:
        """One line per `QS_*` name (key of `names`, valued by where it was set) that no
        setting reads, with the closest known name when there is one.

        Only `QS_` is checked: `ELASTIC_*` and `SLACK_*` are shared with other tools (the
        Elasticsearch Docker images read `ELASTIC_PASSWORD`, for instance).
        """
        known = [name for name in cls.known_names() if name.startswith("QS_")]
        lines = []
        for name, origin in sorted(names.items()):
            if not name.startswith("QS_") or name in known:
                continue
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}?" if close else "known: " + ", ".join(known)
            lines.append(f"unknown setting {name} ({origin}) is ignored; {hint}")
        return lines

    @classmethod
    def load(
        cls,
        *,
        env: Mapping[str, str] | None = None,
        env_file: Path | None = Path(".env"),
        warn: Callable[[str], None] | None = None,
    ) -> Settings:
        """Read settings from `env` (default: the process environment) over `env_file`.

        Args:
            env: variables to read instead of the process environment.
            env_file: a dotenv file read first (missing is fine); None reads none.
            warn: called once per unknown `QS_*` variable with a one-line message.

        Raises:
            ConfigError: one line naming each bad variable and what it should be, never
                repeating a secret value.
        """
        values: dict[str, str] = {}
        origins: dict[str, str] = {}
        if env_file is not None and env_file.is_file():
            for key, value in dotenv_values(env_file).items():
                if value is not None and key.startswith(SETTING_PREFIXES):
                    values[key] = value
                    origins[key] = f"in {env_file}"
        for key, value in (os.environ if env is None else env).items():
            if key.startswith(SETTING_PREFIXES):
                values[key] = value
                origins[key] = "in the environment"
        if warn is not None:
            for line in cls.unknown_app_settings(origins):
                warn(line)
        relevant = {k: v for k, v in values.items() if v != ""}
        try:
            return cls.model_validate(relevant)
        except ValidationError as error:
            problems = []
            for item in error.errors(include_input=False, include_url=False):
                message = str(item["msg"]).removeprefix("Value error, ")
                if item["loc"]:
                    name = str(item["loc"][0])
                    problems.append(f"{name} ({origins.get(name, 'default')}): {message}")
                else:
                    name = message.partition(":")[0]
                    where = origins.get(name)
                    problems.append(
                        f"{name} ({where}):{message.partition(':')[2]}" if where else message
                    )
            raise ConfigError("invalid settings: " + "; ".join(problems)) from None
