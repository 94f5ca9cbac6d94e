"""Async connections to the record database, for the request path.

The hot path runs on the event loop with psycopg's asyncio connections: worker threads
there would each wait for the interpreter lock after every round trip (up to the 5 ms
switch interval while the loop is busy), which under an alert storm costs more than the
database itself. A few connections are shared, one statement or transaction at a time each;
a dropped one is reopened and the unit retried (every write here is ``ON CONFLICT``-safe).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from incident.errors import TransientError
from incident.redact import describe_dsn, redact

__all__ = ["AsyncCursor", "AsyncDatabase"]

T = TypeVar("T")
AsyncCursor = psycopg.AsyncCursor[dict[str, Any]]


class AsyncDatabase:
    def __init__(self, dsn: str, schema: str, *, size: int, attempts: int = 3) -> None:
        self._dsn = dsn
        self.schema = schema
        self._size = size
        self._attempts = attempts
        self._free: asyncio.Queue[psycopg.AsyncConnection[dict[str, Any]] | None] = asyncio.Queue()

    def q(self, text: str) -> sql.Composed:
        return sql.SQL(text).format(s=sql.Identifier(self.schema))

    async def open(self) -> None:
        """Connect them all now, so the first alerts do not wait for connections."""
        for _ in range(self._size):
            self._free.put_nowait(await self._connect())

    async def _connect(self) -> psycopg.AsyncConnection[dict[str, Any]]:
        try:
            return await psycopg.AsyncConnection.connect(
                self._dsn,
                autocommit=True,
                row_factory=dict_row,
                connect_timeout=5,
                application_name="firebreak-receiver",
            )
        except psycopg.OperationalError as exc:
            raise TransientError(
                f"incident record database {describe_dsn(self._dsn)} is unreachable "
                f"({redact(str(exc).strip(), self._dsn)}): check the receiver's record_dsn"
            ) from None

    async def run(self, work: Callable[[AsyncCursor], Awaitable[T]]) -> T:
        last: Exception | None = None
        for attempt in range(self._attempts):
            conn = await self._free.get()
            try:
                if conn is None or conn.closed:
                    conn = await psycopg.AsyncConnection.connect(
                        self._dsn,
                        autocommit=True,
                        row_factory=dict_row,
                        connect_timeout=5,
                        application_name="firebreak-receiver",
                    )  # reopening a dropped one: an OperationalError here is retried
                async with conn.cursor() as cur:
                    return await work(cur)
            except psycopg.OperationalError as exc:
                last = exc
                if conn is not None:
                    await conn.close()
                conn = None
            finally:
                self._free.put_nowait(conn)
            if attempt + 1 < self._attempts:
                await asyncio.sleep(0.1 * 2**attempt)
        raise TransientError(
            f"incident record database {describe_dsn(self._dsn)} is unreachable "
            f"({redact(str(last).strip(), self._dsn)}): the sender should retry; check the "
            "receiver's record_dsn"
        )

    async def close(self) -> None:
        while not self._free.empty():
            conn = self._free.get_nowait()
            if conn is not None:
                await conn.close()
