"""Baselines for the alert storm, served by the same uvicorn as the receiver.

``bare_json``: read the body, parse the JSON, answer 202: the floor of any webhook.
``bare_insert``: the same plus one durable INSERT (autocommit, so one WAL flush) per request
into a table of its own: the floor of any webhook that persists before answering, which on a
shared machine is mostly the disk's fsync.

    python -m uvicorn bench.bare_endpoints:bare_json --port 9000
    BARE_INSERT_DSN=postgresql://... BARE_INSERT_TABLE=schema.t python -m uvicorn \
        bench.bare_endpoints:bare_insert --port 9001
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import psycopg
from psycopg import sql

__all__ = ["bare_insert", "bare_json"]

_HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"2")]


async def _body(receive: Any) -> bytes:
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body


async def _answer(send: Any) -> None:
    await send({"type": "http.response.start", "status": 202, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": b"{}"})


async def bare_json(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = await _body(receive)
    if body:
        json.loads(body)
    await _answer(send)


_pool: asyncio.Queue[psycopg.AsyncConnection[Any]] | None = None
_opening = asyncio.Lock()


async def _connections() -> asyncio.Queue[psycopg.AsyncConnection[Any]]:
    global _pool
    if _pool is not None:
        return _pool
    async with _opening:
        if _pool is not None:
            return _pool
        pool: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
        for _ in range(4):  # as many as the receiver's default record_connections
            pool.put_nowait(
                await psycopg.AsyncConnection.connect(
                    os.environ["BARE_INSERT_DSN"], autocommit=True
                )
            )
        _pool = pool
    return _pool


async def bare_insert(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = await _body(receive)
    pool = await _connections()  # the warm-up GET connects, as the receiver does at start
    if body:
        json.loads(body)
        conn = await pool.get()
        try:
            schema, table = os.environ["BARE_INSERT_TABLE"].split(".")
            await conn.execute(
                sql.SQL("INSERT INTO {}.{} (body) VALUES (%s)").format(
                    sql.Identifier(schema), sql.Identifier(table)
                ),
                (body.decode(),),
            )
        finally:
            pool.put_nowait(conn)
    await _answer(send)
