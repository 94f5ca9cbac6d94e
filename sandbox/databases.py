"""Create a sandbox database once, safe when two drills (or a drill and ``init``) start together.

Check-then-create races: both see no database and one ``CREATE DATABASE`` fails. The loser
finds what it wanted, so ``DuplicateDatabase`` is success here.
"""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg
from psycopg import sql

__all__ = ["ensure_database"]


def ensure_database(conn: psycopg.Connection[Any], name: str) -> None:
    """Create database ``name`` on ``conn``'s server (autocommit) unless it exists."""
    if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
        return
    # created meanwhile by another drill (UniqueViolation when both reach the catalogue)
    with contextlib.suppress(psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
