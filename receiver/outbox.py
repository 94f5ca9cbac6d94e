"""The pending work the receiver owes the Prefect API, kept in PostgreSQL until done.

Runs to start (``run_starts``) are leased for a while before an attempt, so two replicas
never try the same start at once, and a replica that dies mid-attempt only delays it by
the lease. Alerts attached to an incident whose run exists are handed to that run
(``received_alerts.delivered``). Incidents a crash left claimed but with no pending start
are found and given one (``orphans``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb

from incident.models import TimelineEvent
from incident.record import IncidentRecord
from receiver.claims import PHASE
from receiver.db import Cursor, Database

__all__ = ["Outbox", "PendingDelivery", "PendingStart"]


@dataclass(frozen=True)
class PendingStart:
    incident_id: str
    deployment: str
    parameters: dict[str, Any]
    idempotency_key: str
    attempts: int
    created_at: datetime
    last_error: str | None


@dataclass(frozen=True)
class PendingDelivery:
    id: int
    incident_id: str
    flow_run_id: str
    fingerprint: str
    status: str
    episode: str
    alert: dict[str, Any]


class Outbox:
    def __init__(self, dsn: str, schema: str) -> None:
        self.record = IncidentRecord(dsn, schema)
        self.db = Database(dsn, schema, application_name="firebreak-receiver-outbox")

    def close(self) -> None:
        self.record.close()
        self.db.close()

    # -- runs to start ----------------------------------------------------------------------

    def lease_due(self, limit: int, lease: timedelta) -> list[PendingStart]:
        rows = self._fetch(
            "UPDATE {s}.run_starts SET lease_until = now() + %s, attempts = attempts + 1"
            " WHERE incident_id IN (SELECT incident_id FROM {s}.run_starts"
            "   WHERE flow_run_id IS NULL AND next_attempt_at <= now()"
            "   AND (lease_until IS NULL OR lease_until < now())"
            "   ORDER BY created_at LIMIT %s FOR UPDATE SKIP LOCKED)"
            " RETURNING incident_id, deployment, parameters, idempotency_key, attempts,"
            " created_at, last_error",
            (lease, limit),
        )
        return [PendingStart(**row) for row in rows]

    def started(self, start: PendingStart, flow_run_id: str, flow_run_name: str) -> float:
        """Record the run; returns seconds from the alert being persisted to the run existing."""
        rows = self._fetch(
            "UPDATE {s}.run_starts SET flow_run_id = %s, started_at = now(), lease_until = NULL,"
            " last_error = NULL WHERE incident_id = %s"
            " RETURNING extract(epoch FROM started_at - created_at) AS waited",
            (flow_run_id, start.incident_id),
        )
        self.record.set_flow_run(start.incident_id, flow_run_id)
        self.record.append(
            TimelineEvent(
                incident_id=start.incident_id,
                phase=PHASE,
                step="run-started",
                status="completed",
                message=f"flow run {flow_run_name} started for {start.deployment}"
                + (f" after {start.attempts} attempts" if start.attempts > 1 else ""),
                data={"flow_run_id": flow_run_id, "deployment": start.deployment},
            )
        )
        return float(rows[0]["waited"]) if rows else 0.0

    def failed(self, start: PendingStart, error: str, retry_in: timedelta) -> None:
        """Keep it pending; tell the timeline the first time, and whenever the reason changes."""
        self._fetch(
            "UPDATE {s}.run_starts SET last_error = %s, lease_until = NULL,"
            " next_attempt_at = now() + %s WHERE incident_id = %s RETURNING incident_id",
            (error, retry_in, start.incident_id),
        )
        if error != start.last_error:
            self.record.append(
                TimelineEvent(
                    incident_id=start.incident_id,
                    phase=PHASE,
                    step="run-start-deferred",
                    status="failed",
                    message=(
                        f"could not start {start.deployment} yet: {error}; the alert is kept "
                        f"and the start retried (next in {retry_in.total_seconds():.0f} s)"
                    ),
                    data={"attempts": start.attempts},
                )
            )

    def pending_count(self) -> int:
        rows = self._fetch("SELECT count(*) AS n FROM {s}.run_starts WHERE flow_run_id IS NULL")
        return int(rows[0]["n"])

    # -- alerts for running flows -------------------------------------------------------------

    def undelivered(self, limit: int) -> list[PendingDelivery]:
        rows = self._fetch(
            "SELECT a.id, a.incident_id, r.flow_run_id, a.fingerprint, a.status, a.episode,"
            " a.alert FROM {s}.received_alerts a JOIN {s}.run_starts r USING (incident_id)"
            " WHERE a.delivered IS NULL AND r.flow_run_id IS NOT NULL ORDER BY a.id LIMIT %s",
            (limit,),
        )
        return [PendingDelivery(**row) for row in rows]

    def delivered(self, ids: list[int], how: str) -> None:
        if ids:
            self._fetch(
                "UPDATE {s}.received_alerts SET delivered = %s WHERE id = ANY(%s) RETURNING id",
                (how, ids),
            )

    # -- repair -------------------------------------------------------------------------------

    def orphans(self, grace: timedelta, limit: int = 50) -> list[dict[str, Any]]:
        """Incidents the receiver claimed whose pending start a crash kept from being written."""
        return self._fetch(
            "SELECT i.id, i.alert, i.open_key FROM {s}.incidents i"
            " WHERE i.open_key IS NOT NULL AND i.closed_at IS NULL AND i.flow_run_id IS NULL"
            " AND i.declared_at < now() - %s"
            " AND NOT EXISTS (SELECT 1 FROM {s}.run_starts r WHERE r.incident_id = i.id)"
            " ORDER BY i.declared_at LIMIT %s",
            (grace, limit),
        )

    def adopt(
        self, incident_id: str, deployment: str, route: str, parameters: dict[str, Any], key: str
    ) -> None:
        self._fetch(
            "INSERT INTO {s}.run_starts (incident_id, deployment, route, parameters,"
            " idempotency_key) VALUES (%s,%s,%s,%s,%s) ON CONFLICT (incident_id) DO NOTHING"
            " RETURNING incident_id",
            (incident_id, deployment, route, Jsonb(parameters), key),
        )

    def _fetch(self, query: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        def work(cur: Cursor) -> list[dict[str, Any]]:
            cur.execute(self.db.q(query), params)
            return cur.fetchall() if cur.description else []

        return self.db.run(work)
