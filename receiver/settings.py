"""Everything the receiver is configured by, in one typed object.

Read from a YAML file (``python -m receiver --config receiver.yaml``) with any field
overridable from the environment as ``FIREBREAK_RECEIVER_<FIELD>`` (nested with ``__``,
e.g. ``FIREBREAK_RECEIVER_SLACK__SIGNING_SECRET``), so secrets can come from a Kubernetes
Secret instead of the file. pydantic-settings does that reading; nothing else in the
receiver looks at the environment. Every secret is a ``SecretStr``: it prints as ``**********``
in reprs, logs and error messages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from incident.policy import IncidentPolicy
from incident.severity import Severity
from receiver.routing import RoutingRules

__all__ = [
    "BasicCredential",
    "GenericAuth",
    "HeaderAuth",
    "ReceiverSettings",
    "SignedAuth",
    "SlackSettings",
    "SourceSettings",
]


_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")


def _duration(value: object) -> object:
    """Durations as people write them in YAML or the environment: 30, "30", "500ms", "2m"."""
    if isinstance(value, str) and (match := _DURATION.match(value)):
        return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2) or "s"])
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BasicCredential(_Section):
    username: str = Field(min_length=1)
    password: SecretStr


class HeaderAuth(_Section):
    """Alertmanager (``http_config.authorization`` / ``basic_auth``) and Grafana contact points.

    Several tokens may be valid at once, so a credential can be rotated without a gap.
    A source with no credential at all is switched off: its endpoint answers 404.
    """

    bearer_tokens: list[SecretStr] = Field(default_factory=list)
    basic: list[BasicCredential] = Field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return bool(self.bearer_tokens or self.basic)


class SignedAuth(_Section):
    """PagerDuty v3 webhooks: the subscription's signing secret(s)."""

    signing_secrets: list[SecretStr] = Field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return bool(self.signing_secrets)


class GenericAuth(_Section):
    """Anything else: a bearer token, or an HMAC-SHA256 of the body (``X-Firebreak-Signature``)."""

    bearer_tokens: list[SecretStr] = Field(default_factory=list)
    hmac_secrets: list[SecretStr] = Field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return bool(self.bearer_tokens or self.hmac_secrets)


class SourceSettings(_Section):
    alertmanager: HeaderAuth = Field(default_factory=HeaderAuth)
    grafana: HeaderAuth = Field(default_factory=HeaderAuth)
    pagerduty: SignedAuth = Field(default_factory=SignedAuth)
    generic: GenericAuth = Field(default_factory=GenericAuth)


class SlackSettings(_Section):
    """The Slack app whose Approve / Reject buttons post to ``/slack/interactivity``."""

    signing_secret: SecretStr | None = Field(
        None, description="The app's signing secret; unset: interactivity is switched off"
    )
    bot_token: SecretStr | None = Field(
        None, description="Bot token used to update the approval message and answer clicks"
    )
    api_base_url: str = "https://slack.com/api/"
    timeout_seconds: float = Field(5, gt=0)
    timestamp_tolerance: Duration = Field(
        timedelta(minutes=5), description="Slack's replay window for X-Slack-Request-Timestamp"
    )

    @property
    def enabled(self) -> bool:
        return self.signing_secret is not None


_DEFAULT_ALIASES = {
    "page": "critical",
    "error": "high",
    "major": "high",
    "warning": "medium",
    "minor": "low",
    "info": "low",
}


class ReceiverSettings(BaseSettings):
    """Listen address, credentials, routing, limits and the record: the receiver's whole setup."""

    model_config = SettingsConfigDict(
        env_prefix="FIREBREAK_RECEIVER_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    host: str = "127.0.0.1"
    port: int = Field(8686, ge=0, le=65535, description="0: any free port (tests)")
    record_dsn: SecretStr = Field(description="The incident record database (PostgreSQL)")
    record_schema: str = Field("firebreak", pattern=r"^[a-z_][a-z0-9_]*$")
    record_connections: int = Field(
        4, ge=1, le=64, description="Connections recording alerts, shared by all requests"
    )
    prefect_api_url: str | None = Field(
        None, description="Prefect API to start runs on; unset: the active Prefect profile's"
    )
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Larger bodies get 413")
    max_json_depth: int = Field(32, ge=4, le=512)
    max_alerts_per_request: int = Field(1000, ge=1)
    max_field_chars: int = Field(
        8192, ge=256, description="Longer label/annotation values are clipped, not refused"
    )
    sources: SourceSettings = Field(default_factory=SourceSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    routing: RoutingRules = Field(default_factory=RoutingRules)
    policy: IncidentPolicy = Field(
        default_factory=IncidentPolicy,
        description="Approver allow-list, Slack user map, incident channel (see IncidentPolicy)",
    )
    default_severity: Severity = Field(
        Severity.HIGH, description="For an alert that names no severity we can read"
    )
    severity_aliases: dict[str, Severity] = Field(
        default_factory=lambda: dict(_DEFAULT_ALIASES),
        description="Prometheus-style severity labels (warning, info, ...) -> a level",
    )
    start_retry_initial: Duration = timedelta(seconds=1)
    start_retry_max: Duration = timedelta(seconds=30)
    start_attempt_timeout: Duration = timedelta(seconds=10)
    start_batch: int = Field(
        4,
        ge=1,
        description=(
            "Runs started at once: an alert storm opening many incidents must not swamp the "
            "Prefect API (or the receiver) with a burst of starts"
        ),
    )
    delivery_interval: Duration = Field(
        timedelta(seconds=2),
        description="How often attached alerts are handed to running flows, batched",
    )
    health_interval: Duration = timedelta(seconds=5)
    orphan_grace: Duration = Field(
        timedelta(seconds=30),
        description="A claimed incident with no pending start after this long is repaired",
    )

    @field_validator("severity_aliases", mode="before")
    @classmethod
    def _lowercase_aliases(cls, value: object) -> object:
        if isinstance(value, Mapping):
            return {str(k).lower(): v for k, v in value.items()}
        return value

    @field_validator("prefect_api_url")
    @classmethod
    def _api_url(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _retry_bounds(self) -> ReceiverSettings:
        if self.start_retry_max < self.start_retry_initial:
            raise ValueError("start_retry_max must be at least start_retry_initial")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment over the file: a deployment's Secret wins over the checked-in YAML."""
        return (env_settings, init_settings)

    @classmethod
    def from_yaml(cls, path: Path | str, **overrides: Any) -> ReceiverSettings:
        """Load ``path``; ``routing`` may name a rules file, read relative to it."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"cannot read receiver settings {path}: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError(f"receiver settings {path} must be a mapping of fields")
        routing = data.get("routing")
        if isinstance(routing, str):
            data["routing"] = load_routing(path.parent / routing)
        return cls(**{**data, **overrides})


def load_routing(path: Path | str) -> RoutingRules:
    """Routing rules from their own YAML file (``deployments/routing.yaml`` shows the shape)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read routing rules {path}: {exc}") from None
    return RoutingRules.model_validate(data)
