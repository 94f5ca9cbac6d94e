"""Persisting a delivery before it is answered: claim the incident, record every alert once.

One alert group is one incident: ``IncidentRecord.claim`` decides in PostgreSQL, so
concurrent deliveries, restarts and several replicas agree. The alerts and, for a new
incident, the pending run start are then written in one transaction; only after that
commit does the sender get its 2xx. Each newly recorded alert then becomes one timeline
entry; an entry that a crash kept from being written is written by the next delivery for
the incident (rows still without a ``timeline_seq``).

Synchronous (psycopg, like the record); the app runs it in worker threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb

from incident.models import Alert, Incident, TimelineEvent
from incident.record import IncidentRecord
from incident.severity import Severity
from receiver.db import Cursor, Database
from receiver.payloads.common import ReceivedAlert
from receiver.routing import RouteDecision
from receiver.tables import ensure_tables

__all__ = ["GroupBatch", "IntakeOutcome", "IntakeStore", "idempotency_key"]

PHASE = "alerts"


@dataclass(frozen=True)
class GroupBatch:
    """The alerts of one delivery that belong to one incident key."""

    decision: RouteDecision
    alerts: list[ReceivedAlert]

    @property
    def key(self) -> str:
        return self.decision.key


@dataclass(frozen=True)
class IntakeOutcome:
    key: str
    incident_id: str | None
    created: bool
    recorded: int
    duplicates: int
    ignored: str = ""


def idempotency_key(incident_id: str, key: str) -> str:
    """One flow run per incident: the claimed key plus the incident that claimed it.

    The key alone would not do: after an incident closes, the next alert of its group
    opens a new incident, which needs a run of its own.
    """
    return f"firebreak-receiver:{incident_id}:{key}"[:200]


def flow_alert(received: ReceivedAlert, key: str) -> Alert:
    """The alert as the flow receives it: grouped under the incident key."""
    return received.alert.model_copy(update={"group_key": key})


class IntakeStore:
    """One record connection (claims, timeline) and one of the receiver's own (alerts, outbox)."""

    def __init__(
        self,
        dsn: str,
        schema: str,
        *,
        default_severity: Severity,
        channel: str,
    ) -> None:
        self.record = IncidentRecord(dsn, schema)
        self.db = Database(dsn, schema, application_name="firebreak-receiver")
        self._severity = default_severity
        self._channel = channel

    def ensure_schema(self) -> None:
        self.record.ensure_schema()
        ensure_tables(self.db)

    def close(self) -> None:
        self.record.close()
        self.db.close()

    def take(self, batch: GroupBatch) -> IntakeOutcome:
        first = next((a for a in batch.alerts if a.alert.status == "firing"), None)
        if first is None:
            incident_id = self.record.open_incident_for(batch.key)
            if incident_id is None:
                return IntakeOutcome(
                    batch.key, None, False, 0, len(batch.alerts),
                    ignored="resolved notification for an alert group with no open incident: "
                    "nothing to attach it to",
                )  # fmt: skip
            created = False
        else:
            incident_id, created = self.record.claim(self._incident(batch, first), batch.key)
            if created:
                self._claimed_event(incident_id, batch)
        new = self.db.run(lambda cur: self._insert(cur, incident_id, created, batch, first))
        self._tell(incident_id)
        return IntakeOutcome(batch.key, incident_id, created, new, len(batch.alerts) - new)

    def _incident(self, batch: GroupBatch, first: ReceivedAlert) -> Incident:
        alert = flow_alert(first, batch.key)
        title = f"{alert.name}: {alert.summary}" if alert.summary else alert.name
        return Incident(
            title=title[:200],
            severity=alert.severity or self._severity,
            scenario=batch.decision.deployment.split("/", 1)[0],
            alert=alert,
            channel=self._channel,
            commander=alert.labels.get("commander", "on-call"),
        )

    def _claimed_event(self, incident_id: str, batch: GroupBatch) -> None:
        decision = batch.decision
        self.record.append(
            TimelineEvent(
                incident_id=incident_id,
                phase=PHASE,
                step="incident-opened",
                status="completed",
                message=(
                    f"incident opened for alert group {batch.key} by the receiver; "
                    f"starting {decision.deployment} (route {decision.route})"
                ),
                data={"key": batch.key, "route": decision.route, "deployment": decision.deployment},
            )
        )

    def _insert(
        self,
        cur: Cursor,
        incident_id: str,
        created: bool,
        batch: GroupBatch,
        first: ReceivedAlert | None,
    ) -> int:
        with cur.connection.transaction():
            if created and first is not None:
                decision = batch.decision
                parameters = {
                    **decision.parameters,
                    "alert": flow_alert(first, batch.key).model_dump(mode="json"),
                    "incident_id": incident_id,
                }
                cur.execute(
                    self.db.q(
                        "INSERT INTO {s}.run_starts (incident_id, deployment, route, parameters,"
                        " idempotency_key) VALUES (%s,%s,%s,%s,%s)"
                        " ON CONFLICT (incident_id) DO NOTHING"
                    ),
                    (
                        incident_id,
                        decision.deployment,
                        decision.route,
                        Jsonb(parameters),
                        idempotency_key(incident_id, batch.key),
                    ),
                )
            rows = [self._row(incident_id, a, created and a is first) for a in batch.alerts]
            cur.executemany(
                self.db.q(
                    "INSERT INTO {s}.received_alerts (incident_id, fingerprint, status, episode,"
                    " source, alert, ends_at, delivered) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)"
                    " ON CONFLICT (incident_id, fingerprint, status, episode) DO NOTHING"
                    " RETURNING id"
                ),
                rows,
                returning=True,
            )
            new = 0
            while True:
                new += len(cur.fetchall())
                if not cur.nextset():
                    break
            return new

    @staticmethod
    def _row(incident_id: str, received: ReceivedAlert, in_parameters: bool) -> tuple[Any, ...]:
        return (
            incident_id,
            received.fingerprint,
            received.alert.status,
            received.episode,
            received.alert.source.value,
            Jsonb(received.alert.model_dump(mode="json")),
            received.ends_at,
            "parameters" if in_parameters else None,
        )

    def _tell(self, incident_id: str) -> None:
        """One timeline entry per alert not yet in the timeline (this delivery's, or a
        crashed one's); rows another request is telling right now are skipped, not doubled."""

        def work(cur: Cursor) -> None:
            with cur.connection.transaction():
                cur.execute(
                    self.db.q(
                        "SELECT id, fingerprint, status, source, alert, ends_at, delivered"
                        " FROM {s}.received_alerts WHERE incident_id = %s AND timeline_seq IS"
                        " NULL ORDER BY id FOR UPDATE SKIP LOCKED"
                    ),
                    (incident_id,),
                )
                for row in cur.fetchall():
                    event = self.record.append(alert_event(incident_id, row))
                    cur.execute(
                        self.db.q("UPDATE {s}.received_alerts SET timeline_seq = %s WHERE id = %s"),
                        (event.seq, row["id"]),
                    )

        self.db.run(work)


def alert_event(incident_id: str, row: dict[str, Any]) -> TimelineEvent:
    alert = Alert.model_validate(row["alert"])
    labels = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()) if k != "alertname")
    what = f"{alert.name}" + (f" {{{labels[:300]}}}" if labels else "")
    if row["status"] == "resolved":
        message = (
            f"resolved notification from {row['source']}: {what}; recorded, the incident "
            "closes only after its own verification"
        )
    else:
        opened = row["delivered"] == "parameters"
        message = f"{'alert' if opened else 'alert attached'} from {row['source']}: {what}"
        if alert.summary:
            message += f" - {alert.summary[:300]}"
    return TimelineEvent(
        incident_id=incident_id,
        phase=PHASE,
        step=f"alert-{row['status']}",
        status="info",
        message=message,
        data={
            "fingerprint": row["fingerprint"],
            "source": row["source"],
            "status": row["status"],
            "name": alert.name,
            "labels": alert.labels,
            "starts_at": alert.starts_at.isoformat(),
            "ends_at": row["ends_at"].isoformat() if row["ends_at"] else None,
        },
    )
