"""The incident record's side of intake: claiming an alert group, and the events around it.

One alert group is one incident: ``IncidentRecord.claim`` decides in PostgreSQL, so
concurrent deliveries, restarts and several replicas agree. Claims happen once per incident,
so they go through the record's own (synchronous) connection in a worker thread; the hot
path, recording alerts into an open incident, is ``receiver.alert_rows`` on the event loop.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio

from incident.models import Alert, Incident
from incident.record import IncidentRecord
from incident.severity import Severity
from receiver.alert_rows import PHASE
from receiver.payloads.common import ReceivedAlert
from receiver.routing import RouteDecision

__all__ = [
    "PHASE",
    "GroupBatch",
    "IntakeOutcome",
    "RecordPool",
    "flow_alert",
    "idempotency_key",
    "new_incident",
]

T = TypeVar("T")


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


def new_incident(
    batch: GroupBatch, first: ReceivedAlert, *, severity: Severity, channel: str
) -> Incident:
    alert = flow_alert(first, batch.key)
    title = f"{alert.name}: {alert.summary}" if alert.summary else alert.name
    return Incident(
        title=title[:200],
        severity=alert.severity or severity,
        scenario=batch.decision.deployment.split("/", 1)[0],
        alert=alert,
        channel=channel,
        commander=alert.labels.get("commander", "on-call"),
    )


class RecordPool:
    """A few `IncidentRecord` connections, used from worker threads one call at a time."""

    def __init__(self, dsn: str, schema: str, size: int) -> None:
        self._records = [IncidentRecord(dsn, schema) for _ in range(size)]
        self._free: queue.SimpleQueue[IncidentRecord] = queue.SimpleQueue()
        for record in self._records:
            self._free.put(record)

    async def call(self, fn: Callable[[IncidentRecord], T]) -> T:
        def borrowed() -> T:
            record = self._free.get()
            try:
                return fn(record)
            finally:
                self._free.put(record)

        return await anyio.to_thread.run_sync(borrowed)

    def warm(self) -> None:
        """Connect every record now (each checks the schema once), not during a storm."""
        for record in self._records:
            record.ensure_schema()

    def close(self) -> None:
        for record in self._records:
            record.close()
