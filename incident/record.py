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
from incident.models import Incident, IncidentStatus, TimelineEvent
from incident.record_evidence import EvidenceRows
from incident.record_schema import migrate
from incident.redact import describe_dsn, redact
from incident.severity import Severity

__all__ = ["IncidentRecord"]

T = TypeVar("T")

_MILESTONES = ("acknowledged_at", "mitigated_at", "resolved_at")


class IncidentRecord(EvidenceRows):
    """A connection to the record database; safe to share between a flow's task threads."""

    def __init__(self, dsn: str, schema: str = "firebreak", *, write_attempts: int = 3) -> None:
        self._dsn = dsn
        self._schema = schema
        self._attempts = write_attempts
        self._conn: psycopg.Connection[dict[str, Any]] | None = None
        self._lock = threading.Lock()
        self._ready = False

    # -- connection -------------------------------------------------------------------------

    @property
    def application_name(self) -> str:
        """How this record's connections show in pg_stat_activity: one record (schema) among
        the several a database server may hold, told apart by a DBA without guessing."""
        return f"firebreak-record {self._schema}"[:63]

    def _connect(self) -> psycopg.Connection[dict[str, Any]]:
        try:
            return psycopg.connect(
                self._dsn,
                autocommit=True,
                row_factory=dict_row,
                connect_timeout=5,
                application_name=self.application_name,
                # no server-side prepared statements: a newer Firebreak migrating the record
                # under a long-lived connection must not break its cached plans
                prepare_threshold=None,
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
        migrate(conn, self._schema)
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

    _INSERT = (
        "INSERT INTO {s}.incidents (id, title, severity, status, scenario, dedup_key, alert,"
        " commander, channel, flow_run_id, dry_run, drill, started_at, declared_at, open_key,"
        " parameters) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
    )

    def _values(self, incident: Incident, open_key: str | None) -> tuple[Any, ...]:
        return (
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
            incident.drill,
            incident.alert.starts_at,
            incident.declared_at,
            open_key,
            Jsonb(incident.parameters),
        )

    def open_incident(self, incident: Incident) -> Incident:
        """Insert the incident, or keep the one already recorded under its id.

        Idempotent, so a flow re-run (or a run the receiver announced first) adopts the
        existing row; the flow run id is filled in once.
        """
        self._execute(
            self._INSERT + " ON CONFLICT (id) DO UPDATE SET"
            " flow_run_id = coalesce({s}.incidents.flow_run_id, EXCLUDED.flow_run_id),"
            " parameters = CASE WHEN {s}.incidents.parameters = '{{}}'::jsonb"
            " THEN EXCLUDED.parameters ELSE {s}.incidents.parameters END",
            self._values(incident, None),
        )
        return incident

    def claim(self, incident: Incident, key: str) -> tuple[str, bool]:
        """(id of the open incident for alert group ``key``, whether this call created it).

        Exactly one open incident per key, however many deliveries race: the unique index on
        open incidents decides, across processes and receiver replicas.
        """
        for _ in range(5):
            rows = self._fetch(
                self._INSERT + " ON CONFLICT (open_key) WHERE closed_at IS NULL"
                " AND open_key IS NOT NULL DO NOTHING RETURNING id",
                self._values(incident, key),
            )
            if rows:
                return str(rows[0]["id"]), True
            existing = self.open_incident_for(key)
            if existing is not None:
                return existing, False
        raise TransientError(f"alert group {key!r} kept closing while being claimed: retry")

    def incident_for_run(self, flow_run_id: str) -> dict[str, Any] | None:
        """The incident a flow run declared, for a re-run of that run to adopt."""
        rows = self._fetch(
            "SELECT * FROM {s}.incidents WHERE flow_run_id = %s ORDER BY declared_at DESC",
            (flow_run_id,),
        )
        return rows[0] if rows else None

    def open_incident_for(self, key: str) -> str | None:
        rows = self._fetch(
            "SELECT id FROM {s}.incidents WHERE open_key = %s AND closed_at IS NULL", (key,)
        )
        return str(rows[0]["id"]) if rows else None

    def close_incident(self, incident_id: str) -> None:
        """The incident takes no more alerts: the next alert of its group opens a new one."""
        self._execute(
            "UPDATE {s}.incidents SET closed_at = coalesce(closed_at, now()), updated_at = now()"
            " WHERE id = %s",
            (incident_id,),
        )

    def set_flow_run(self, incident_id: str, flow_run_id: str) -> None:
        self._execute(
            "UPDATE {s}.incidents SET flow_run_id = %s, updated_at = now() WHERE id = %s",
            (flow_run_id, incident_id),
        )

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

    def find_incident(self, incident_id: str) -> dict[str, Any] | None:
        rows = self._fetch("SELECT * FROM {s}.incidents WHERE id = %s", (incident_id,))
        return rows[0] if rows else None

    def set_severity(self, incident_id: str, severity: Severity) -> None:
        self._execute(
            "UPDATE {s}.incidents SET severity = %s, updated_at = now() WHERE id = %s",
            (severity.name.lower(), incident_id),
        )

    def get_incident(self, incident_id: str) -> dict[str, Any]:
        row = self.find_incident(incident_id)
        if row is None:
            raise PermanentError(f"incident {incident_id} is not in the record")
        return row

    def incidents(
        self, *, scenario: str | None = None, open_only: bool = False
    ) -> list[dict[str, Any]]:
        """Incidents oldest first; ``open_only``: those not closed yet."""
        where, params = [], []
        if scenario is not None:
            where.append("scenario = %s")
            params.append(scenario)
        if open_only:
            where.append("closed_at IS NULL")
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        return self._fetch(
            "SELECT * FROM {s}.incidents" + clause + " ORDER BY declared_at", tuple(params)
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
