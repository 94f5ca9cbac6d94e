"""The receiver's tables, beside the incident record's own (same database, same schema).

``received_alerts``: every alert delivered for an incident, once per (fingerprint, status,
episode), and whether the running flow has it (``delivered``: parameters, input, run-gone).
``run_starts``: the outbox of runs to start. A row is written in the same transaction as the
first alert, so a receiver that dies, or a Prefect API that is down, loses nothing: the
retry loop starts what is still pending, on any replica.

Created with ``IF NOT EXISTS`` under an advisory lock, after the record's own migrations.
"""

from __future__ import annotations

from receiver.db import Cursor, Database

__all__ = ["ensure_tables"]

_LOCK = 0x46697266  # "Firf": the receiver's tables, apart from the record's own lock

_DDL = """
CREATE TABLE IF NOT EXISTS {s}.received_alerts (
    id bigserial PRIMARY KEY,
    incident_id text NOT NULL REFERENCES {s}.incidents(id) ON DELETE CASCADE,
    fingerprint text NOT NULL,
    status text NOT NULL,
    episode text NOT NULL,
    source text NOT NULL,
    alert jsonb NOT NULL,
    ends_at timestamptz,
    received_at timestamptz NOT NULL DEFAULT now(),
    delivered text,
    UNIQUE (incident_id, fingerprint, status, episode)
);
CREATE INDEX IF NOT EXISTS received_alerts_undelivered
    ON {s}.received_alerts (incident_id) WHERE delivered IS NULL;
CREATE TABLE IF NOT EXISTS {s}.run_starts (
    incident_id text PRIMARY KEY REFERENCES {s}.incidents(id) ON DELETE CASCADE,
    deployment text NOT NULL,
    route text NOT NULL,
    parameters jsonb NOT NULL,
    idempotency_key text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz,
    last_error text,
    flow_run_id text,
    started_at timestamptz
);
CREATE INDEX IF NOT EXISTS run_starts_pending
    ON {s}.run_starts (next_attempt_at) WHERE flow_run_id IS NULL;
"""


def ensure_tables(db: Database) -> None:
    """Idempotent; safe from several replicas starting at once."""

    def work(cur: Cursor) -> None:
        with cur.connection.transaction():
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
            cur.execute(db.q(_DDL))

    db.run(work)
