"""One connection per target for a whole assessment, and the one place query errors are read.

On an exhausted server only the reserved slots remain (``superuser_reserved_connections``,
3 by default): four concurrent checks each opening their own connection starve each other
and the responder reports "unreachable" for a server it could have read. So a phase that
runs several checks on one target ``hold``s a session for their duration, and every query
of those checks goes over that one connection, one statement at a time (each takes
milliseconds). Outside a held session a query opens and closes its own connection.

Sessions are keyed by the target's DSN, so copies of the same block (Prefect copies task
parameters) share one, and two targets never do.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg

from blocks.postgres import PostgresTarget
from incident.errors import PermanentError, TransientError
from incident.redact import redact

__all__ = ["hold", "query", "session_key"]


@dataclass
class _Session:
    target: PostgresTarget
    holders: int = 0
    conn: psycopg.Connection[Any] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


_sessions: dict[str, _Session] = {}
_registry = threading.Lock()


def session_key(target: PostgresTarget) -> str:
    return hashlib.sha256(target.dsn.get_secret_value().encode()).hexdigest()


@contextmanager
def hold(target: PostgresTarget) -> Iterator[None]:
    """Share one connection to ``target`` among every query made until the block ends."""
    key = session_key(target)
    with _registry:
        session = _sessions.setdefault(key, _Session(target))
        session.holders += 1
    try:
        yield
    finally:
        with _registry:
            session.holders -= 1
            if session.holders == 0:
                _sessions.pop(key, None)
                with session.lock:
                    if session.conn is not None:
                        session.conn.close()
                        session.conn = None


def _classify(target: PostgresTarget, exc: psycopg.Error) -> Exception | None:
    """The project's error for a failed statement, or None for a bug in our SQL."""
    secret = target.dsn.get_secret_value()
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return TransientError(
            f"a diagnostic on {target.label} hit its statement timeout: the server is "
            "overloaded; raise statement_timeout_ms in its block if this persists"
        )
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return PermanentError(
            f"the role in {target.label}'s DSN lacks a privilege ({redact(str(exc), secret)}): "
            "grant it pg_read_all_stats (to see every backend) and pg_signal_backend (to "
            "terminate them)"
        )
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return TransientError(f"lost {target.label} mid-query: {redact(str(exc), secret)}")
    return None


def query(target: PostgresTarget, sql: Any, params: Any = None) -> list[dict[str, Any]]:
    """Run one read; over the held session if there is one, else on a connection of its own.

    Connection failures are classified by `PostgresTarget.connect`, statement failures here;
    anything else (a mistake in our SQL) raises as it is, to be seen.
    """
    session = _sessions.get(session_key(target))
    if session is None:
        with target.connect() as conn:
            return _execute(target, conn, sql, params)
    with session.lock:
        if session.conn is None or session.conn.closed or session.conn.broken:
            session.conn = target.connect()
        try:
            return _execute(target, session.conn, sql, params)
        except TransientError:
            session.conn.close()  # a lost session is reopened by the next query (or retry)
            session.conn = None
            raise


def _execute(
    target: PostgresTarget, conn: psycopg.Connection[Any], sql: Any, params: Any
) -> list[dict[str, Any]]:
    try:
        return conn.execute(sql, params).fetchall()
    except psycopg.Error as exc:
        classified = _classify(target, exc)
        if classified is None:
            raise
        raise classified from None
