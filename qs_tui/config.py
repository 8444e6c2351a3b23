"""Settings from the environment and an optional `.env` file, validated with pydantic."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable and the fix."""


class Settings(BaseModel):
    """Everything QuantumState can be configured with. Nothing set means the embedded store."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    elastic_url: str | None = Field(default=None, alias="ELASTIC_URL")
    """URL of an Elasticsearch 8.19+/9.x cluster, e.g. `https://localhost:9200`."""

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
    """Slack incoming webhook for incident notifications (optional)."""

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

    speed: float = Field(default=1.0, gt=0, alias="QS_SPEED")
    """Simulated seconds per wall second (1 = real time, 60 = a minute each second)."""

    seed: int = Field(default=7, alias="QS_SEED")
    """Seed for the simulator's randomness, so runs are reproducible."""

    @field_validator("elastic_url")
    @classmethod
    def _url_has_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://, e.g. https://localhost:9200")
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

    @classmethod
    def load(
        cls,
        *,
        env: Mapping[str, str] | None = None,
        env_file: Path | None = Path(".env"),
    ) -> Settings:
        """Read settings from `env` (default: the process environment) over `env_file`.

        Raises:
            ConfigError: naming each bad variable and what it should be.
        """
        values: dict[str, str] = {}
        if env_file is not None and env_file.is_file():
            values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        values.update(os.environ if env is None else env)
        prefixes = ("ELASTIC_", "QS_", "SLACK_", "KIBANA_")
        relevant = {k: v for k, v in values.items() if k.startswith(prefixes)}
        relevant = {k: v for k, v in relevant.items() if v != ""}
        try:
            return cls.model_validate(relevant)
        except ValidationError as error:
            problems = []
            for item in error.errors():
                name = str(item["loc"][0]) if item["loc"] else "settings"
                problems.append(f"{name}: {item['msg']}")
            source = f" (from the environment or {env_file})" if env_file else ""
            details = "\n  ".join(problems)
            raise ConfigError(f"invalid settings{source}:\n  {details}") from None
