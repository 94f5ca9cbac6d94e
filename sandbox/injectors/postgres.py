"""Real PostgreSQL faults for drills: an exhausted connection pool, and lock contention.

Both live in one sandbox database of the drill's PostgreSQL server and are undone from their
ledger row alone: backends are found by role or ``application_name`` (never by pid, which a
killed drill cannot vouch for), then the role and table the fault created are dropped. A
killed drill leaves real damage behind — a ``pg_sleep`` backend keeps its slot for an hour —
which is exactly what the next start's sweep removes.
"""

from __future__ import annotations

import contextlib
import secrets
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from incident.errors import PermanentError
from sandbox.injectors.base import DrillTargets, Fault, register
from sandbox.postgres_faults import PoolExhaustion

__all__ = ["LockContention", "PoolExhaustionFault"]


def _dsn(targets: DrillTargets, database: str) -> str:
    if targets.postgres_dsn is None:
        raise PermanentError("no PostgreSQL drill target configured: set its admin DSN")
    params = conninfo_to_dict(targets.postgres_dsn.get_secret_value())
    params["dbname"] = database
    return make_conninfo(**params)


def _admin(targets: DrillTargets, database: str) -> psycopg.Connection[Any]:
    return psycopg.connect(_dsn(targets, database), autocommit=True, connect_timeout=5)


def _database_exists(targets: DrillTargets, database: str) -> bool:
    admin_db = conninfo_to_dict(targets.postgres_dsn.get_secret_value()).get("dbname", "postgres")  # type: ignore[union-attr]
    with _admin(targets, str(admin_db)) as conn:
        return bool(
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        )


@register
class PoolExhaustionFault(Fault):
    """An application role at its connection limit (sandbox.postgres_faults.PoolExhaustion)."""

    kind = "pool-exhaustion"

    def __init__(self, targets: DrillTargets, database: str) -> None:
        super().__init__(targets)
        self.database = database
        self.fault = PoolExhaustion(
            _dsn(targets, database), role=f"fb_drill_{secrets.token_hex(4)}"
        )

    @property
    def target(self) -> str:
        return f"postgresql database {self.database}"

    @property
    def resource(self) -> dict[str, Any]:
        return {"database": self.database, "role": self.fault.role, "table": self.fault.table}

    def inject(self) -> None:
        self.fault.start()

    def present(self) -> bool:
        return bool(self.fault.alive()) and not self.fault.can_connect()

    def remove(self) -> str:
        self.fault.stop()
        return self.remove_orphan(self.resource, self.targets)

    @classmethod
    def remove_orphan(cls, resource: dict[str, Any], targets: DrillTargets) -> str:
        role, table, database = resource["role"], resource["table"], resource["database"]
        roles = [role, f"{role}_ops"]  # the application role and the fault's protected one
        ended = 0
        if _database_exists(targets, database):
            with _admin(targets, database) as conn:
                # server-wide: the fault also holds a session in another database
                ended = len(
                    conn.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE usename = ANY(%s)",
                        (roles,),
                    ).fetchall()
                )
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
                for name in roles:
                    conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
        return f"terminated {ended} backend(s) of {role}; dropped {table} and the roles"


@register
class LockContention(Fault):
    """One session holds a row lock, idle in transaction; others queue behind it.

    They log in as an application role of the drill's own (never the admin's superuser):
    a responder rightly refuses to end a superuser's session, and a drill must rehearse
    what an application really does.
    """

    kind = "lock-contention"

    def __init__(self, targets: DrillTargets, database: str, waiters: int = 3) -> None:
        super().__init__(targets)
        self.database, self.waiters = database, waiters
        self.name = f"fb_drill_lock_{secrets.token_hex(4)}"
        self._password = secrets.token_urlsafe(18)  # for servers that ask for one (staging)
        self._conns: list[psycopg.Connection[Any]] = []

    @property
    def target(self) -> str:
        return f"postgresql database {self.database}"

    @property
    def resource(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "table": self.name,
            "application_name": self.name,
            "role": self.name,
        }

    def _connect(self) -> psycopg.Connection[Any]:
        params = conninfo_to_dict(_dsn(self.targets, self.database))
        params.update(user=self.name, password=self._password)
        conn = psycopg.connect(
            make_conninfo(**params),
            autocommit=True,
            application_name=self.name,
        )
        self._conns.append(conn)
        return conn

    def inject(self) -> None:
        table = sql.Identifier(self.name)
        role = sql.Identifier(self.name)
        with _admin(self.targets, self.database) as admin:
            admin.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    role, sql.Literal(self._password)
                )
            )
            admin.execute(sql.SQL("CREATE TABLE {} (id int PRIMARY KEY, n int)").format(table))
            admin.execute(sql.SQL("INSERT INTO {} VALUES (1, 0)").format(table))
            admin.execute(sql.SQL("GRANT SELECT, UPDATE ON {} TO {}").format(table, role))
        update = sql.SQL("UPDATE {} SET n = n + 1 WHERE id = 1").format(table)
        holder = self._connect()
        holder.execute("BEGIN")
        holder.execute(update)  # holds the row lock and goes idle in transaction
        for _ in range(self.waiters):
            waiter = self._connect()
            waiter.pgconn.send_query(update.as_string(waiter).encode())

    def present(self) -> bool:
        with _admin(self.targets, self.database) as admin:
            row = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
                " AND wait_event_type = 'Lock'",
                (self.name,),
            ).fetchone()
        return bool(row) and row[0] >= self.waiters

    def remove(self) -> str:
        for conn in self._conns:
            with contextlib.suppress(psycopg.Error):
                conn.close()
        self._conns.clear()
        return self.remove_orphan(self.resource, self.targets)

    @classmethod
    def remove_orphan(cls, resource: dict[str, Any], targets: DrillTargets) -> str:
        if not _database_exists(targets, resource["database"]):
            return f"database {resource['database']} is gone: nothing left"
        with _admin(targets, resource["database"]) as conn:
            ended = len(
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = %s",
                    (resource["application_name"],),
                ).fetchall()
            )
            conn.execute(
                sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(resource["table"]))
            )
            if role := resource.get("role"):  # ledger rows older than the role have none
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        return f"terminated {ended} backend(s) of {resource['application_name']}; dropped table" + (
            " and role" if resource.get("role") else ""
        )
