"""One typed settings object for the command line, read once from ``FIREBREAK_*`` variables.

Which Prefect API, which block names, which local services: every command takes what it
needs from here rather than reading the environment itself, so ``firebreak --help`` and the
README can list every knob in one place.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prefect.settings import PREFECT_API_URL, temporary_settings
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["LOCAL_POSTGRES", "LOCAL_REDIS", "SANDBOX_DATABASE", "FirebreakSettings"]

LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"
SANDBOX_DATABASE = "firebreak_sandbox"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "operator"


class FirebreakSettings(BaseSettings):
    """Where Firebreak's command line finds things; every field is ``FIREBREAK_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="FIREBREAK_", extra="ignore")

    prefect_api_url: str | None = Field(
        None,
        description="Prefect API to talk to; empty means the active Prefect profile's.",
    )
    store_block: str = Field("incident-store", description="IncidentStore block name.")
    policy_block: str = Field("incident-policy", description="IncidentPolicyBlock name.")
    slack_block: str = Field("incident-slack", description="SlackWorkspace block name.")
    database_block: str = Field("orders-db", description="PostgresTarget block name.")
    redis_block: str = Field("sessions-cache", description="RedisTarget block name.")
    health_block: str = Field("demo-health", description="HealthEndpoints block name.")
    drill_sandbox_block: str = Field(
        "drill-sandbox", description="PostgresTarget (admin DSN) the `drill` deployment uses."
    )
    drill_database: str = Field(
        "firebreak_drill", description="Sandbox database drills inject PostgreSQL faults into."
    )
    drill_kubeconfig: str | None = Field(
        None, description="Kubeconfig of the cluster Kubernetes drills run in (none: skipped)."
    )
    drill_namespace: str = Field("firebreak-drill", description="Namespace of those drills.")
    drill_cluster_block: str = Field(
        "drill-cluster",
        description="KubernetesTarget (the drill namespace) the `drill` deployment's Kubernetes "
        "drills use; `init` creates it when it is given a kubeconfig.",
    )
    demo_admin_token: SecretStr | None = Field(
        None, description="Admin token of the demo service, for the failing-health drill."
    )
    kubernetes_block: str | None = Field(None, description="KubernetesTarget block, if any.")
    work_pool: str = Field("firebreak", description="Work pool the deployments run on.")
    admin_dsn: SecretStr = Field(
        SecretStr(LOCAL_POSTGRES),
        description="Local PostgreSQL admin DSN that `init` and drills build the sandbox on.",
    )
    redis_url: SecretStr = Field(SecretStr(LOCAL_REDIS), description="Local Redis for `init`.")
    slack_api_url: str = Field(
        "http://127.0.0.1:8599/api/",
        description="Slack Web API for `init`: the local stub (python -m sandbox.slack_stub).",
    )
    slack_token: SecretStr = Field(
        SecretStr("xoxb-local-sandbox"), description="Bot token `init` stores in the block."
    )
    demo_service_url: str = Field(
        "http://127.0.0.1:8598", description="The sandbox demo service (sandbox.demo_service)."
    )
    approver: str = Field(default_factory=_user, description="Who `approve` records.")
    home: Path = Field(default_factory=Path.cwd, description="The Firebreak checkout.")
    receiver_module: str = Field(
        "receiver", description="Package of the alert receiver `serve` starts, if installed."
    )

    @contextmanager
    def prefect(self) -> Iterator[None]:
        """Point Prefect's clients at ``prefect_api_url`` for the duration, if it is set."""
        if not self.prefect_api_url:
            yield
            return
        with temporary_settings({PREFECT_API_URL: self.prefect_api_url}):
            yield
