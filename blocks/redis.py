"""A Redis server Firebreak diagnoses (INFO, memory, clients)."""

from __future__ import annotations

from urllib.parse import urlsplit

import redis
from prefect.blocks.core import Block
from pydantic import Field, SecretStr

__all__ = ["RedisTarget"]


class RedisTarget(Block):
    """A Redis server to diagnose; its URL may carry a password, so it is secret.

    Example:
        ```python
        from blocks import RedisTarget

        target = RedisTarget.load("BLOCK_NAME")
        target.client().info("stats")
        ```
    """

    _block_type_name = "Redis Target"
    _description = "A Redis server that Firebreak diagnoses."
    _documentation_url = "https://redis.io/docs/latest/commands/info/"

    url: SecretStr = Field(description="redis://[:password@]host:port/db; kept secret.")
    name: str = Field("", description="Human name shown in messages, e.g. sessions-cache.")
    timeout_seconds: float = Field(5.0, gt=0, description="Socket and connect timeout in seconds.")
    protected_client_names: list[str] = Field(
        default_factory=list,
        description="Client names (CLIENT SETNAME) Firebreak never disconnects, e.g. a job "
        "scheduler whose idle connections are by design.",
    )

    @property
    def identity(self) -> str:
        """The server and database an approval is for, without credentials."""
        parts = urlsplit(self.url.get_secret_value())
        db = (parts.path or "/0").lstrip("/") or "0"
        return f"redis://{parts.hostname or 'localhost'}:{parts.port or 6379}/{db}"

    @property
    def label(self) -> str:
        """How the target appears in findings and messages: never with its password."""
        parts = urlsplit(self.url.get_secret_value())
        where = f"{parts.hostname or 'localhost'}:{parts.port or 6379}{parts.path or ''}"
        return f"{self.name} ({where})" if self.name else where

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(
            self.url.get_secret_value(),
            socket_timeout=self.timeout_seconds,
            socket_connect_timeout=self.timeout_seconds,
        )
