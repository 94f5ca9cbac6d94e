"""The durable incident record in PostgreSQL: written as things happen, read by everything else.

Every step commits on its own, so a flow that dies mid-incident leaves a timeline that ends
at the last thing it did. Prefect artifacts, Slack messages and the post-mortem are views of
these rows. The record database is configured apart from any database being diagnosed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from incident.errors import PermanentError, TransientError
from incident.models import (
    Action,
    Approval,
    Finding,
    Incident,
    IncidentStatus,
    Plan,
    TimelineEvent,
)
from incident.redact import describe_dsn, redact

__all__ = ["IncidentRecord"]

T = TypeVar("T")

_SCHEMA_LOCK = 0x46697265  # "Fire": one advisory lock serialises concurrent first uses

_DDL = """
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
"""

_MILESTONES = ("acknowledged_at", "mitigated_at", "resolved_at")


class IncidentRecord:
    """A connection to the record database; safe to share between a flow's task threads."""

    def __init__(self, dsn: str, schema: str = "firebreak", *, write_attempts: int = 3) -> None:
        self._dsn = dsn
        self._schema = schema
        self._attempts = write_attempts
        self._conn: psycopg.Connection[dict[str, Any]] | None = None
        self._lock = threading.Lock()
        self._ready = False

    # -- connection -------------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[dict[str, Any]]:
        try:
            return psycopg.connect(
                self._dsn,
                autocommit=True,
                row_factory=dict_row,
                connect_timeout=5,
                application_name="firebreak-record",
            )
        except psycopg.OperationalError as exc:
            raise TransientError(
                f"incident record database {describe_dsn(self._dsn)} is unreachable "
                f"({redact(str(exc).strip(), self._dsn)}): check the DSN in the IncidentStore block"
            ) from None

    def _run(self, work: Callable[[psycopg.Cursor[dict[str, Any]]], T]) -> T:
        """Run ``work`` on a live connection; a dropped connection is reopened and retried.

        Each unit of work is one statement or one transaction, so a retry after a drop
        either repeats a rolled-back transaction or a read.
        """
        last: Exception | None = None
        for attempt in range(self._attempts):
            with self._lock:
                try:
                    if self._conn is None or self._conn.closed:
                        self._conn = self._connect()
                    if not self._ready:
                        self._create_schema(self._conn)
                    with self._conn.cursor() as cur:
                        return work(cur)
                except psycopg.OperationalError as exc:
                    last = exc
                    if self._conn is not None:
                        self._conn.close()
                    self._conn = None
            time.sleep(0.2 * 2**attempt)
        raise TransientError(
            f"incident record write failed after {self._attempts} attempts: "
            f"{redact(str(last), self._dsn)}"
        )

    def _create_schema(self, conn: psycopg.Connection[Any]) -> None:
        """Idempotent; the advisory lock stops two first runs racing on CREATE."""
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            cur.execute(sql.SQL(_DDL).format(schema=sql.Identifier(self._schema)))
        self._ready = True

    def _q(self, text: str) -> sql.Composed:
        return sql.SQL(text).format(s=sql.Identifier(self._schema))

    def ensure_schema(self) -> None:
        self._run(lambda cur: None)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _execute(self, query: str, params: tuple[Any, ...] = ()) -> int:
        def work(cur: psycopg.Cursor[dict[str, Any]]) -> int:
            cur.execute(self._q(query), params)
            return cur.rowcount

        return self._run(work)

    def _fetch(self, query: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        def work(cur: psycopg.Cursor[dict[str, Any]]) -> list[dict[str, Any]]:
            cur.execute(self._q(query), params)
            return cur.fetchall()

        return self._run(work)

    # -- incidents --------------------------------------------------------------------------

    def open_incident(self, incident: Incident) -> Incident:
        self._execute(
            "INSERT INTO {s}.incidents (id, title, severity, status, scenario, dedup_key, alert,"
            " commander, channel, flow_run_id, dry_run, started_at, declared_at)"
            " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            (
                incident.id,
                incident.title,
                incident.severity.name.lower(),
                incident.status.value,
                incident.scenario,
                incident.alert.dedup_key(),
                Jsonb(incident.alert.model_dump(mode="json")),
                incident.commander,
                incident.channel,
                incident.flow_run_id,
                incident.dry_run,
                incident.alert.starts_at,
                incident.declared_at,
            ),
        )
        return incident

    def set_status(
        self, incident_id: str, status: IncidentStatus, *, milestone: str | None = None
    ) -> None:
        """Move the incident on; a milestone (acknowledged_at, ...) is stamped once, first time."""
        if milestone is not None and milestone not in _MILESTONES:
            raise PermanentError(f"unknown milestone {milestone!r}: use one of {_MILESTONES}")
        stamp = f", {milestone} = coalesce({milestone}, now())" if milestone else ""
        changed = self._execute(
            "UPDATE {s}.incidents SET status = %s, updated_at = now()" + stamp + " WHERE id = %s",
            (status.value, incident_id),
        )
        if changed != 1:
            raise PermanentError(f"incident {incident_id} is not in the record")

    def get_incident(self, incident_id: str) -> dict[str, Any]:
        rows = self._fetch("SELECT * FROM {s}.incidents WHERE id = %s", (incident_id,))
        if not rows:
            raise PermanentError(f"incident {incident_id} is not in the record")
        return rows[0]

    def incidents(self, *, scenario: str | None = None) -> list[dict[str, Any]]:
        if scenario is None:
            return self._fetch("SELECT * FROM {s}.incidents ORDER BY declared_at")
        return self._fetch(
            "SELECT * FROM {s}.incidents WHERE scenario = %s ORDER BY declared_at", (scenario,)
        )

    # -- timeline ---------------------------------------------------------------------------

    def append(self, event: TimelineEvent) -> TimelineEvent:
        """Commit one event now; the incident row's counter orders concurrent writers."""

        def work(cur: psycopg.Cursor[dict[str, Any]]) -> int:
            with cur.connection.transaction():
                cur.execute(
                    self._q(
                        "UPDATE {s}.incidents SET last_seq = last_seq + 1, updated_at = now()"
                        " WHERE id = %s RETURNING last_seq"
                    ),
                    (event.incident_id,),
                )
                row = cur.fetchone()
                if row is None:
                    raise PermanentError(f"incident {event.incident_id} is not in the record")
                cur.execute(
                    self._q(
                        "INSERT INTO {s}.timeline (incident_id, seq, at, phase, step, status,"
                        " message, data) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)"
                    ),
                    (
                        event.incident_id,
                        row["last_seq"],
                        event.at,
                        event.phase,
                        event.step,
                        event.status,
                        event.message,
                        Jsonb(event.model_dump(mode="json")["data"]),
                    ),
                )
                return int(row["last_seq"])

        return event.model_copy(update={"seq": self._run(work)})

    def timeline(self, incident_id: str) -> list[TimelineEvent]:
        rows = self._fetch(
            "SELECT * FROM {s}.timeline WHERE incident_id = %s ORDER BY seq", (incident_id,)
        )
        return [TimelineEvent.model_validate(r) for r in rows]

    # -- findings, approvals, actions -------------------------------------------------------

    def add_finding(self, incident_id: str, finding: Finding) -> None:
        self._execute(
            "INSERT INTO {s}.findings (incident_id, check_name, target, status, summary, evidence,"
            " observed_at) VALUES (%s,%s,%s,%s,%s,%s,%s)",
            (
                incident_id,
                finding.check,
                finding.target,
                finding.status.value,
                finding.summary,
                Jsonb(finding.model_dump(mode="json")["evidence"]),
                finding.observed_at,
            ),
        )

    def findings(self, incident_id: str) -> list[Finding]:
        rows = self._fetch(
            "SELECT * FROM {s}.findings WHERE incident_id = %s ORDER BY id", (incident_id,)
        )
        return [
            Finding(
                check=r["check_name"],
                target=r["target"],
                status=r["status"],
                summary=r["summary"],
                evidence=r["evidence"],
                observed_at=r["observed_at"],
            )
            for r in rows
        ]

    def record_approval(self, incident_id: str, plan: Plan, approval: Approval) -> None:
        self._execute(
            "INSERT INTO {s}.approvals (incident_id, plan_digest, plan, decision, approver, reason,"
            " requested_at, decided_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)",
            (
                incident_id,
                approval.plan_digest,
                Jsonb(plan.model_dump(mode="json")),
                approval.decision.value,
                approval.approver,
                approval.reason,
                approval.requested_at,
                approval.decided_at,
            ),
        )

    def approvals(self, incident_id: str) -> list[dict[str, Any]]:
        return self._fetch(
            "SELECT * FROM {s}.approvals WHERE incident_id = %s ORDER BY id", (incident_id,)
        )

    def record_action(self, incident_id: str, action: Action) -> None:
        self._execute(
            "INSERT INTO {s}.actions (incident_id, action, target, plan_digest, status, summary,"
            " results, approver, at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            (
                incident_id,
                action.plan.action,
                action.plan.target,
                action.plan.digest,
                action.status.value,
                action.summary,
                Jsonb(list(action.model_dump(mode="json")["results"])),
                action.approver,
                action.at,
            ),
        )

    def actions(self, incident_id: str) -> list[dict[str, Any]]:
        return self._fetch(
            "SELECT * FROM {s}.actions WHERE incident_id = %s ORDER BY id", (incident_id,)
        )
