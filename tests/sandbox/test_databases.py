"""Two drills starting together both get their sandbox database; neither fails on the race."""

from __future__ import annotations

import secrets
import threading

import psycopg
from psycopg import sql

from sandbox.databases import ensure_database
from tests.fixtures.postgres import ADMIN_DSN


def test_concurrent_first_creations_of_one_database_all_succeed():
    name = f"fb_race_{secrets.token_hex(4)}"
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def create() -> None:
        try:
            with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
                start.wait(timeout=60)
                ensure_database(conn, name)
        except BaseException as exc:  # handed to the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    try:
        assert errors == []
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            assert found.fetchone()
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
