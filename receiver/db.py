"""The receiver's own connections to the record database, reopened when they drop.

Each unit of work is one statement or one transaction, and every write the receiver makes
is idempotent (``ON CONFLICT``), so retrying a unit after a dropped connection is safe.
A database that stays unreachable becomes a `TransientError`: the sender is told 503 and
retries, and nothing was half-written.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from incident.errors import TransientError
from incident.redact import describe_dsn, redact

__all__ = ["Cursor", "Database"]

T = TypeVar("T")
Cursor = psycopg.Cursor[dict[str, Any]]


class Database:
    """One autocommit connection, shared by threads one unit of work at a time."""

    def __init__(self, dsn: str, schema: str, *, application_name: str, attempts: int = 3) -> None:
        self._dsn = dsn
        self.schema = schema
        self._application_name = application_name
        self._attempts = attempts
        self._conn: psycopg.Connection[dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def q(self, text: str) -> sql.Composed:
        """``text`` with ``{s}`` as the quoted schema name."""
        return sql.SQL(text).format(s=sql.Identifier(self.schema))

    def run(self, work: Callable[[Cursor], T]) -> T:
        last: Exception | None = None
        for attempt in range(self._attempts):
            with self._lock:
                try:
                    if self._conn is None or self._conn.closed:
                        self._conn = psycopg.connect(
                            self._dsn,
                            autocommit=True,
                            row_factory=dict_row,
                            connect_timeout=5,
                            application_name=self._application_name,
                        )
                    with self._conn.cursor() as cur:
                        return work(cur)
                except psycopg.OperationalError as exc:
                    last = exc
                    if self._conn is not None:
                        self._conn.close()
                    self._conn = None
            if attempt + 1 < self._attempts:
                time.sleep(0.1 * 2**attempt)
        raise TransientError(
            f"incident record database {describe_dsn(self._dsn)} is unreachable "
            f"({redact(str(last).strip(), self._dsn)}): the sender should retry; check the "
            "receiver's record_dsn"
        )

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
