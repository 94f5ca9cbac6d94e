"""A Redis client flood: many idle connections from one "application", as a leak makes them.

Every connection is named (``CLIENT SETNAME``) after the fault, so removal finds exactly
these clients in ``CLIENT LIST`` and kills them by id; nobody else's connection is touched,
and the shared server's configuration is never changed.
"""

from __future__ import annotations

import contextlib
import secrets
from typing import Any

import redis

from incident.errors import PermanentError
from incident.redact import redact
from sandbox.injectors.base import DrillTargets, Fault, register

__all__ = ["RedisClientFlood"]


def _client(targets: DrillTargets) -> redis.Redis:
    if targets.redis_url is None:
        raise PermanentError("no Redis drill target configured: set its URL")
    return redis.Redis.from_url(targets.redis_url.get_secret_value(), socket_timeout=5)


def _named(conn: redis.Redis, name: str) -> list[dict[str, Any]]:
    return [c for c in conn.client_list() if c.get("name") == name]


@register
class RedisClientFlood(Fault):
    kind = "redis-flood"

    def __init__(self, targets: DrillTargets, clients: int = 50) -> None:
        super().__init__(targets)
        self.clients = clients
        self.name = f"fb-drill-flood-{secrets.token_hex(4)}"
        self._conns: list[redis.Redis] = []

    @property
    def target(self) -> str:
        url = self.targets.redis_url.get_secret_value() if self.targets.redis_url else "-"
        return f"redis {redact(url)}"

    @property
    def resource(self) -> dict[str, Any]:
        return {"client_name": self.name, "clients": self.clients}

    def inject(self) -> None:
        for _ in range(self.clients):
            conn = _client(self.targets)
            conn.client_setname(self.name)  # opens the connection and names it
            self._conns.append(conn)

    def present(self) -> bool:
        with _client(self.targets) as conn:
            return len(_named(conn, self.name)) >= self.clients

    def remove(self) -> str:
        for conn in self._conns:
            with contextlib.suppress(redis.RedisError):
                conn.close()
        self._conns.clear()
        return self.remove_orphan(self.resource, self.targets)

    @classmethod
    def remove_orphan(cls, resource: dict[str, Any], targets: DrillTargets) -> str:
        killed = 0
        with _client(targets) as conn:
            for client in _named(conn, resource["client_name"]):
                with contextlib.suppress(redis.ResponseError):  # gone meanwhile
                    killed += int(conn.client_kill_filter(_id=client["id"]))
        return f"killed {killed} lingering client(s) named {resource['client_name']}"
