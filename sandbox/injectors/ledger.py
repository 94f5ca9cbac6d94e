"""The durable ledger of injected faults: what each drill created, until it is removed.

A drill writes a row *before* it creates anything, and marks it removed once the fault is
gone, so a drill process killed at any point leaves behind rows that say what to undo. Each
drill session holds a PostgreSQL advisory lock on its own connection for as long as it
lives: when the process dies, PostgreSQL drops the connection and the lock with it, so the
next drill can tell a dead session's rows (lock free) from those of a drill still running
elsewhere (lock held), without trusting pids or clocks.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from incident.errors import TransientError
from incident.redact import describe_dsn

__all__ = ["FaultLedger", "LedgerEntry"]


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    session: str
    lock_key: int
    kind: str
    target: str  # what was faulted, without credentials
    resource: dict[str, Any]


class FaultLedger:
    """One drill session's view of the ledger table ``<schema>.drill_faults``."""

    def __init__(self, dsn: str, schema: str) -> None:
        self._schema = schema
        self.session = secrets.token_hex(8)
        self.lock_key = secrets.randbits(62)
        try:
            self._conn = psycopg.connect(
                dsn,
                autocommit=True,
                row_factory=dict_row,
                connect_timeout=5,
                application_name=f"firebreak-drill-{self.session}",
            )
        except psycopg.OperationalError:
            raise TransientError(
                f"the drill ledger database {describe_dsn(dsn)} is unreachable: start it or "
                "check the IncidentStore DSN"
            ) from None
        self._create()
        self._conn.execute("SELECT pg_advisory_lock(%s)", (self.lock_key,))

    def _q(self, text: str) -> sql.Composed:
        return sql.SQL(text).format(s=sql.Identifier(self._schema))

    def _create(self) -> None:
        with self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(hashtext('firebreak-drill-ledger'))")
            self._conn.execute(self._q("CREATE SCHEMA IF NOT EXISTS {s}"))
            self._conn.execute(
                self._q(
                    "CREATE TABLE IF NOT EXISTS {s}.drill_faults ("
                    " id bigserial PRIMARY KEY, session text NOT NULL, lock_key bigint NOT NULL,"
                    " kind text NOT NULL, target text NOT NULL, resource jsonb NOT NULL,"
                    " created_at timestamptz NOT NULL DEFAULT now(), removed_at timestamptz,"
                    " outcome text NOT NULL DEFAULT '')"
                )
            )

    def record(self, kind: str, target: str, resource: dict[str, Any]) -> LedgerEntry:
        """Write down what is about to be created (before creating it)."""
        row = self._conn.execute(
            self._q(
                "INSERT INTO {s}.drill_faults (session, lock_key, kind, target, resource)"
                " VALUES (%s, %s, %s, %s, %s) RETURNING id"
            ),
            (self.session, self.lock_key, kind, target, Jsonb(resource)),
        ).fetchone()
        assert row is not None
        return LedgerEntry(row["id"], self.session, self.lock_key, kind, target, resource)

    def mark_removed(self, entry: LedgerEntry, outcome: str) -> None:
        self._conn.execute(
            self._q("UPDATE {s}.drill_faults SET removed_at = now(), outcome = %s WHERE id = %s"),
            (outcome, entry.id),
        )

    def note(self, entry: LedgerEntry, outcome: str) -> None:
        """Say why a row is still open (a removal that failed; retried at the next start)."""
        self._conn.execute(
            self._q("UPDATE {s}.drill_faults SET outcome = %s WHERE id = %s"), (outcome, entry.id)
        )

    def open_entries(self, *, mine: bool) -> list[LedgerEntry]:
        op = "=" if mine else "<>"
        rows = self._conn.execute(
            self._q(
                f"SELECT * FROM {{s}}.drill_faults WHERE removed_at IS NULL AND session {op} %s"
                " ORDER BY id"
            ),
            (self.session,),
        ).fetchall()
        return [
            LedgerEntry(r["id"], r["session"], r["lock_key"], r["kind"], r["target"], r["resource"])
            for r in rows
        ]

    def claim_dead(self, lock_key: int) -> bool:
        """Take a session's lock if its owner is gone; True means its rows are ours to undo."""
        row = self._conn.execute("SELECT pg_try_advisory_lock(%s) AS got", (lock_key,)).fetchone()
        return bool(row and row["got"])

    def release(self, lock_key: int) -> None:
        self._conn.execute("SELECT pg_advisory_unlock(%s)", (lock_key,))

    def close(self) -> None:
        """End the session: its advisory lock goes with the connection."""
        self._conn.close()
