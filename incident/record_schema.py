"""The incident record's tables, and the migrations that bring an older record up to date.

A record outlives the code that wrote it: a team upgrades Firebreak and keeps its history.
So the schema is versioned in the record itself, each migration runs once, under one
advisory lock, and a migration only ever adds (columns, tables, indexes).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

__all__ = ["SCHEMA_VERSION", "migrate"]

_SCHEMA_LOCK = 0x46697265  # "Fire": one advisory lock serialises concurrent first uses

_BASE = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.incidents (
    id text PRIMARY KEY,
    title text NOT NULL,
    severity text NOT NULL,
    status text NOT NULL,
    scenario text NOT NULL,
    dedup_key text NOT NULL,
    alert jsonb NOT NULL,
    commander text NOT NULL,
    channel text NOT NULL,
    flow_run_id text,
    dry_run boolean NOT NULL DEFAULT false,
    started_at timestamptz NOT NULL,
    declared_at timestamptz NOT NULL,
    acknowledged_at timestamptz,
    mitigated_at timestamptz,
    resolved_at timestamptz,
    last_seq integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS incidents_dedup ON {schema}.incidents (dedup_key, status);
CREATE TABLE IF NOT EXISTS {schema}.timeline (
    incident_id text NOT NULL REFERENCES {schema}.incidents(id) ON DELETE CASCADE,
    seq integer NOT NULL,
    at timestamptz NOT NULL,
    phase text NOT NULL,
    step text NOT NULL,
    status text NOT NULL,
    message text NOT NULL,
    data jsonb NOT NULL DEFAULT '{{}}',
    PRIMARY KEY (incident_id, seq)
);
CREATE TABLE IF NOT EXISTS {schema}.findings (
    id bigserial PRIMARY KEY,
    incident_id text NOT NULL REFERENCES {schema}.incidents(id) ON DELETE CASCADE,
    check_name text NOT NULL,
    target text NOT NULL,
    status text NOT NULL,
    summary text NOT NULL,
    evidence jsonb NOT NULL,
    observed_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS {schema}.approvals (
    id bigserial PRIMARY KEY,
    incident_id text NOT NULL REFERENCES {schema}.incidents(id) ON DELETE CASCADE,
    plan_digest text NOT NULL,
    plan jsonb NOT NULL,
    decision text NOT NULL,
    approver text NOT NULL,
    reason text NOT NULL,
    requested_at timestamptz NOT NULL,
    decided_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS {schema}.actions (
    id bigserial PRIMARY KEY,
    incident_id text NOT NULL REFERENCES {schema}.incidents(id) ON DELETE CASCADE,
    action text NOT NULL,
    target text NOT NULL,
    plan_digest text NOT NULL,
    status text NOT NULL,
    summary text NOT NULL,
    results jsonb NOT NULL,
    approver text NOT NULL,
    at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS {schema}.schema_version (
    version integer NOT NULL
);
"""

# Each entry runs once, in order, when the record's version is below its number.
_MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        # open_key: the alert group an incident answers (claimed by the receiver); at most
        # one open incident per key. closed_at: when it stopped taking alerts. drill: kept
        # out of real incident metrics.
        """
        ALTER TABLE {schema}.incidents ADD COLUMN IF NOT EXISTS open_key text;
        ALTER TABLE {schema}.incidents ADD COLUMN IF NOT EXISTS closed_at timestamptz;
        ALTER TABLE {schema}.incidents ADD COLUMN IF NOT EXISTS drill boolean
            NOT NULL DEFAULT false;
        UPDATE {schema}.incidents SET closed_at = coalesce(resolved_at, updated_at)
            WHERE status IN ('resolved', 'crashed') AND closed_at IS NULL;
        CREATE UNIQUE INDEX IF NOT EXISTS incidents_one_open_per_key
            ON {schema}.incidents (open_key) WHERE closed_at IS NULL AND open_key IS NOT NULL;
        CREATE TABLE IF NOT EXISTS {schema}.plans (
            id bigserial PRIMARY KEY,
            incident_id text NOT NULL REFERENCES {schema}.incidents(id) ON DELETE CASCADE,
            digest text NOT NULL,
            action text NOT NULL,
            target text NOT NULL,
            plan jsonb NOT NULL,
            proposed_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (incident_id, digest)
        );
        """,
    ),
    (
        2,
        # the scenario's targets by block name, so a phase can run again for the incident
        # (reassess, redraft the post-mortem) long after its run is gone
        """
        ALTER TABLE {schema}.incidents ADD COLUMN IF NOT EXISTS parameters jsonb
            NOT NULL DEFAULT '{{}}';
        """,
    ),
)

SCHEMA_VERSION = _MIGRATIONS[-1][0]


def migrate(conn: psycopg.Connection[Any], schema: str) -> None:
    """Create or upgrade the record in ``schema``; safe to call from many processes at once."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        cur.execute(sql.SQL(_BASE).format(schema=sql.Identifier(schema)))
        cur.execute(
            sql.SQL("SELECT coalesce(max(version), 0) AS v FROM {}.schema_version").format(
                sql.Identifier(schema)
            )
        )
        row = cur.fetchone()
        current = int(row["v"] if isinstance(row, dict) else row[0])
        for version, statements in _MIGRATIONS:
            if version > current:
                cur.execute(sql.SQL(statements).format(schema=sql.Identifier(schema)))
        if current < SCHEMA_VERSION:
            table = sql.SQL("{}.schema_version").format(sql.Identifier(schema))
            cur.execute(sql.SQL("DELETE FROM {}").format(table))
            cur.execute(sql.SQL("INSERT INTO {} VALUES (%s)").format(table), (SCHEMA_VERSION,))
