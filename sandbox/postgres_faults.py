"""A real connection-pool exhaustion in a real PostgreSQL, with what must survive beside it.

What a responder must terminate: transactions left idle (one holding a row lock) and queries
running for minutes. What it must not touch, all present at the same time: healthy idle
sessions, busy sessions whose queries and transactions are always young (under any age
threshold), a query waiting on the lock (it goes on once the lock's holder is gone), a
backend of another database, a protected role's and a superuser's old idle transactions,
and a pooled backend that looks like an offender when planned and then moves on to fresh
work (`move_on`) before anyone approves.

Either an application role is held at its own ``CONNECTION LIMIT`` (the default), or, with
``fill_server``, the whole server's ``max_connections`` is taken until only the superuser
reserved slots remain. Nothing is simulated: ``pg_stat_activity`` shows it all, and a new
connection as the application is refused. ``stop()`` undoes everything.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

__all__ = ["PoolExhaustion"]

_OFFENDERS = ("idle_in_transaction", "long_query")


@dataclass
class PoolExhaustion:
    """Exhaust a pool, age the offenders past ``age_seconds``, then add the young bystanders."""

    admin_dsn: str
    idle_in_transaction: int = 3
    long_queries: int = 2
    lock_waiters: int = 1
    healthy: int = 2
    age_seconds: float = 3.3
    hazards: bool = True
    fill_server: bool = False
    other_database: str = "postgres"
    role: str = field(default_factory=lambda: f"fb_app_{secrets.token_hex(3)}")
    pids: dict[str, list[int]] = field(default_factory=dict)
    _conns: list[psycopg.Connection[Any]] = field(default_factory=list, repr=False)
    # the fault's roles log in with it: a server that asks for passwords (staging) lets them in
    _password: str = field(default_factory=lambda: secrets.token_urlsafe(18), repr=False)
    moved: bool = False
    _workers: list[threading.Thread] = field(default_factory=list, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def protected_role(self) -> str:
        return f"{self.role}_ops"

    @property
    def table(self) -> str:
        return f"{self.role}_orders"

    @property
    def limit(self) -> int:
        """The application role's connection limit: every app session the fault opens."""
        young = 3 if self.hazards else 0  # young query, young transaction, moved-on backend
        other = 1 if self.hazards else 0
        return (
            self.idle_in_transaction
            + self.long_queries
            + self.lock_waiters
            + young
            + other
            + (self.healthy)
        )

    def _dsn(self, *, user: str | None = None, dbname: str | None = None) -> str:
        params = conninfo_to_dict(self.admin_dsn)
        if user is not None:
            params["password"] = self._password
            params["user"] = user
        if dbname is not None:
            params["dbname"] = dbname
        return make_conninfo(**params)

    @property
    def app_dsn(self) -> str:
        """The application's DSN: same server and database, the application role."""
        return self._dsn(user=self.role)

    def _admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.admin_dsn, autocommit=True)

    def _open(self, kind: str, dsn: str | None = None) -> psycopg.Connection[Any]:
        conn = psycopg.connect(dsn or self.app_dsn, autocommit=True, application_name=f"app-{kind}")
        self._conns.append(conn)
        self.pids.setdefault(kind, []).append(conn.info.backend_pid)
        return conn

    def _update(self) -> sql.Composed:
        return sql.SQL("UPDATE {} SET total = total + 1 WHERE id = 1").format(
            sql.Identifier(self.table)
        )

    def _idle_transaction(self, kind: str, dsn: str | None = None, lock: bool = False) -> None:
        conn = self._open(kind, dsn)
        conn.execute("BEGIN")
        conn.execute(self._update() if lock else sql.SQL("SELECT 1"))

    def _create_roles(self) -> None:
        limit = -1 if self.fill_server else self.limit
        with self._admin() as admin:
            for role, cap in ((self.role, limit), (self.protected_role, -1)):
                admin.execute(
                    sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} CONNECTION LIMIT {}").format(
                        sql.Identifier(role), sql.Literal(self._password), sql.Literal(cap)
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
            for role in (self.role, self.protected_role):
                admin.execute(
                    sql.SQL("GRANT SELECT, UPDATE ON {} TO {}").format(
                        sql.Identifier(self.table), sql.Identifier(role)
                    )
                )

    def start(self) -> PoolExhaustion:
        self._create_roles()
        for n in range(self.idle_in_transaction):
            self._idle_transaction("idle_in_transaction", lock=n == 0)  # the first: lock root
            if n == 0 and self.hazards:  # a superuser's old transaction, amid the offenders
                self._idle_transaction("superuser", self.admin_dsn)
        for _ in range(self.long_queries):
            self._open("long_query").pgconn.send_query(b"SELECT pg_sleep(3600)")
        for _ in range(self.lock_waiters):
            conn = self._open("lock_waiter")
            conn.pgconn.send_query(self._update().as_string(conn).encode())
        if self.hazards:
            self._idle_transaction("moved_on")
            self._idle_transaction("protected", self._dsn(user=self.protected_role))
            self._idle_transaction(
                "other_database", self._dsn(user=self.role, dbname=self.other_database)
            )
        for _ in range(self.healthy):
            self._open("healthy").execute("SELECT 1")
        self._wait_until_older_than(self.age_seconds)
        if self.hazards:  # healthy traffic: always younger than any threshold of seconds
            self._busy("young_query", ["SELECT pg_sleep(0.5)"])
            # one round trip: a client thread starved of the CPU between BEGIN and COMMIT
            # would leave an "idle in transaction" older than the threshold, a real offender
            self._busy("young_transaction", ["BEGIN; SELECT 1; SELECT pg_sleep(0.5); COMMIT"])
        if self.fill_server:
            self._fill_server()
        return self

    def _fill_server(self) -> None:
        """Healthy idle application sessions until the server refuses the next one."""
        for _ in range(10_000):
            try:
                self._open("healthy").execute("SELECT 1")
            except psycopg.OperationalError as exc:
                if "too many clients" in str(exc) or "reserved" in str(exc):
                    return
                raise
        raise RuntimeError("the server never ran out of connections")

    def _wait_until_older_than(self, seconds: float, timeout: float = 60) -> None:
        """Block until every held backend has been in its state longer than ``seconds``."""
        pids = [p for kind, ps in self.pids.items() for p in ps]
        deadline = time.monotonic() + timeout
        with self._admin() as admin:
            while time.monotonic() < deadline:
                row = admin.execute(
                    "SELECT min(extract(epoch FROM now() - state_change)) FROM pg_stat_activity"
                    " WHERE pid = ANY(%s)",
                    (pids,),
                ).fetchone()
                if row and row[0] is not None and row[0] > seconds:
                    return
                time.sleep(0.1)
        raise TimeoutError(f"{self.role}'s backends did not age past {seconds}s in {timeout}s")

    def _busy(self, kind: str, statements: list[str]) -> None:
        """A session doing short work over and over, as a healthy pooled connection does:
        whenever a responder looks, its query or transaction started under a second ago."""
        conn = self._open(kind)

        def work() -> None:
            with contextlib.suppress(psycopg.Error):
                while not self._stopping.is_set():
                    for statement in statements:
                        conn.execute(statement)
                    self._stopping.wait(0.2)

        worker = threading.Thread(target=work, name=f"fault-{kind}", daemon=True)
        self._workers.append(worker)
        worker.start()

    def move_on(self) -> None:
        """The pooled backend commits and starts a fresh, short request (as after planning)."""
        conn = next(c for c in self._conns if c.info.backend_pid == self.pids["moved_on"][0])
        conn.execute("COMMIT")
        conn.pgconn.send_query(b"SELECT pg_sleep(1)")
        self.moved = True

    @property
    def released(self) -> set[int]:
        """Lock waiters: they must go on by themselves once their blocker is gone."""
        return set(self.pids.get("lock_waiter", []))

    def waiting_on_locks(self) -> set[int]:
        """Which of the fault's backends wait on a lock right now."""
        mine = [p for pids in self.pids.values() for p in pids]
        with self._admin() as admin:
            rows = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)"
                " AND cardinality(pg_blocking_pids(pid)) > 0",
                (mine,),
            ).fetchall()
        return {r[0] for r in rows}

    def _offender_kinds(self) -> tuple[str, ...]:
        return _OFFENDERS if self.moved else (*_OFFENDERS, "moved_on")

    @property
    def offending(self) -> set[int]:
        """The backends a responder must terminate (the pooled one too, until it moves on)."""
        return {p for kind in self._offender_kinds() for p in self.pids.get(kind, [])}

    @property
    def bystanders(self) -> set[int]:
        """Every backend the fault opened that a responder must leave alone."""
        kinds = self._offender_kinds()
        return {p for kind, pids in self.pids.items() if kind not in kinds for p in pids}

    def kinds(self, pids: set[int]) -> dict[int, str]:
        """Which part of the fault each pid is (for messages when an assertion fails)."""
        return {p: kind for kind, ps in self.pids.items() for p in ps if p in pids}

    def untouched(self) -> dict[int, str]:
        """Bystanders that are gone, by kind: empty when the responder spared them all."""
        return self.kinds(self.bystanders - self.alive())

    def alive(self) -> set[int]:
        """Which of the fault's backends still exist, read from ``pg_stat_activity``."""
        mine = [p for pids in self.pids.values() for p in pids]
        with self._admin() as admin:
            rows = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)", (mine,)
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
        self._stopping.set()
        for worker in self._workers:
            worker.join(timeout=10)
        for conn in self._conns:
            with contextlib.suppress(psycopg.Error):
                conn.close()
        self._conns.clear()
        with self._admin() as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ANY(%s)",
                ([self.role, self.protected_role],),
            )
            admin.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(self.table)))
            for role in (self.role, self.protected_role):
                admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))

    def __enter__(self) -> PoolExhaustion:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
