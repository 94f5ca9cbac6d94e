"""A real connection-pool exhaustion in a real PostgreSQL, for drills and tests.

An application role gets a connection limit, then every one of its connections is taken:
transactions left idle (one holding a row lock), queries sleeping, a query waiting on that
lock, and a few healthy idle sessions. Nothing is simulated: ``pg_stat_activity`` shows it
all, and a new connection as that role is refused ("too many connections for role").
"""

from __future__ import annotations

import contextlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

__all__ = ["PoolExhaustion"]


@dataclass
class PoolExhaustion:
    """Hold an application role's whole connection limit; ``stop()`` undoes everything."""

    admin_dsn: str
    idle_in_transaction: int = 3
    long_queries: int = 2
    lock_waiters: int = 1
    healthy: int = 2
    role: str = field(default_factory=lambda: f"fb_app_{secrets.token_hex(3)}")
    pids: dict[str, list[int]] = field(default_factory=dict)
    _conns: list[psycopg.Connection[Any]] = field(default_factory=list, repr=False)

    @property
    def limit(self) -> int:
        return self.idle_in_transaction + self.long_queries + self.lock_waiters + self.healthy

    @property
    def table(self) -> str:
        return f"{self.role}_orders"

    @property
    def app_dsn(self) -> str:
        """The application's DSN: same server and database, the limited role."""
        params = conninfo_to_dict(self.admin_dsn)
        params.pop("password", None)
        params["user"] = self.role
        return make_conninfo(**params)

    def _admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.admin_dsn, autocommit=True)

    def _connect_app(self, kind: str) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self.app_dsn, autocommit=True, application_name=f"app-{kind}")
        self._conns.append(conn)
        self.pids.setdefault(kind, []).append(conn.info.backend_pid)
        return conn

    def start(self) -> PoolExhaustion:
        with self._admin() as admin:
            admin.execute(
                sql.SQL("CREATE ROLE {} LOGIN CONNECTION LIMIT {}").format(
                    sql.Identifier(self.role), sql.Literal(self.limit)
                )
            )
            admin.execute(
                sql.SQL("CREATE TABLE {} (id int PRIMARY KEY, total int)").format(
                    sql.Identifier(self.table)
                )
            )
            admin.execute(
                sql.SQL("INSERT INTO {} VALUES (1, 0)").format(sql.Identifier(self.table))
            )
            admin.execute(
                sql.SQL("GRANT SELECT, UPDATE ON {} TO {}").format(
                    sql.Identifier(self.table), sql.Identifier(self.role)
                )
            )
        update = sql.SQL("UPDATE {} SET total = total + 1 WHERE id = 1").format(
            sql.Identifier(self.table)
        )
        for n in range(self.idle_in_transaction):
            conn = self._connect_app("idle_in_transaction")
            conn.execute("BEGIN")
            # the first one takes the row lock and sits on it: the root blocker
            conn.execute(update if n == 0 else sql.SQL("SELECT 1"))
        for _ in range(self.long_queries):
            conn = self._connect_app("long_query")
            conn.pgconn.send_query(b"SELECT pg_sleep(3600)")
        for _ in range(self.lock_waiters):
            conn = self._connect_app("lock_waiter")
            conn.pgconn.send_query(update.as_string(conn).encode())
        for _ in range(self.healthy):
            conn = self._connect_app("healthy")
            conn.execute("SELECT 1")
        return self

    @property
    def offending(self) -> set[int]:
        """The backends a responder should terminate: all but the healthy ones."""
        return {p for kind, pids in self.pids.items() if kind != "healthy" for p in pids}

    def wait_until_older_than(self, seconds: float, timeout: float = 30) -> None:
        """Block until every held backend has been in its state longer than ``seconds``.

        Responders only act on backends past an age threshold; a drill must let them age.
        """
        deadline = time.monotonic() + timeout
        with self._admin() as admin:
            while time.monotonic() < deadline:
                row = admin.execute(
                    "SELECT min(extract(epoch FROM now() - state_change)) FROM pg_stat_activity"
                    " WHERE usename = %s",
                    (self.role,),
                ).fetchone()
                if row and row[0] is not None and row[0] > seconds:
                    return
                time.sleep(0.1)
        raise TimeoutError(f"{self.role}'s backends did not age past {seconds}s in {timeout}s")

    def alive(self) -> set[int]:
        with self._admin() as admin:
            rows = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE usename = %s", (self.role,)
            ).fetchall()
        return {r[0] for r in rows}

    def can_connect(self) -> bool:
        """Whether the application could open one more connection right now."""
        try:
            psycopg.connect(self.app_dsn, connect_timeout=3).close()
        except psycopg.OperationalError:
            return False
        return True

    def stop(self) -> None:
        for conn in self._conns:
            with contextlib.suppress(psycopg.Error):
                conn.close()
        self._conns.clear()
        with self._admin() as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (self.role,),
            )
            admin.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(self.table)))
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(self.role)))

    def __enter__(self) -> PoolExhaustion:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
