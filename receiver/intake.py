"""Intake: split a delivery by incident key, then persist each part before answering.

For an alert group with an open incident (almost every alert of a storm) that is one
statement on the event loop (``record_alerts``). The first alert of a group claims the
incident (``IncidentRecord.claim``), then records itself together with the pending run
start in one transaction, so the run is owed from the moment the sender hears 2xx.
"""

from __future__ import annotations

import asyncio

import anyio
from psycopg.types.json import Jsonb

from incident.errors import TransientError
from receiver.alert_rows import record_alerts
from receiver.async_db import AsyncCursor, AsyncDatabase
from receiver.claims import (
    GroupBatch,
    IntakeOutcome,
    RecordPool,
    flow_alert,
    idempotency_key,
    new_incident,
)
from receiver.db import Database
from receiver.payloads.common import ParsedDelivery, ReceivedAlert
from receiver.routing import RoutingRules
from receiver.settings import ReceiverSettings
from receiver.tables import ensure_tables

__all__ = ["Intake", "split_by_incident"]

_NO_INCIDENT = (
    "resolved notification for an alert group with no open incident: nothing to attach it to"
)


class _ClosedMeanwhile(Exception):
    """The incident just claimed closed before its first alert was recorded."""


def split_by_incident(parsed: ParsedDelivery, routing: RoutingRules) -> list[GroupBatch]:
    """Route each alert; alerts routed to the same incident key travel together, in order."""
    batches: dict[str, GroupBatch] = {}
    for received in parsed.alerts:
        decision = routing.decide(received.alert)
        batch = batches.get(decision.key)
        if batch is None:
            batches[decision.key] = GroupBatch(decision, [received])
        else:
            batch.alerts.append(received)
    return list(batches.values())


class Intake:
    def __init__(self, settings: ReceiverSettings) -> None:
        dsn, schema = settings.record_dsn.get_secret_value(), settings.record_schema
        self._dsn = dsn
        self.db = AsyncDatabase(dsn, schema, size=settings.record_connections)
        self.records = RecordPool(dsn, schema, size=settings.record_connections)
        self._routing = settings.routing
        self._severity = settings.default_severity
        self._channel = settings.policy.incident_channel
        self._claiming: dict[str, asyncio.Lock] = {}

    async def open(self) -> None:
        await anyio.to_thread.run_sync(self.records.warm)
        ddl = Database(self._dsn, self.db.schema, application_name="firebreak-receiver")
        try:
            await anyio.to_thread.run_sync(ensure_tables, ddl)
        finally:
            ddl.close()
        await self.db.open()

    async def close(self) -> None:
        await self.db.close()
        await anyio.to_thread.run_sync(self.records.close)

    async def take(self, parsed: ParsedDelivery) -> list[IntakeOutcome]:
        return [await self._take(batch) for batch in split_by_incident(parsed, self._routing)]

    async def _take(self, batch: GroupBatch) -> IntakeOutcome:
        for _ in range(3):  # an incident closing between claim and record: claim again
            incident_id, new = await self.db.run(lambda cur: self._attach(cur, batch))
            if incident_id is not None:
                return self._outcome(batch, incident_id, False, new)
            first = next((a for a in batch.alerts if a.alert.status == "firing"), None)
            if first is None:
                return IntakeOutcome(batch.key, None, False, 0, len(batch.alerts), _NO_INCIDENT)
            outcome = await self._claim(batch, first)
            if outcome is not None:
                return outcome
        raise TransientError(f"alert group {batch.key!r} kept closing while being recorded: retry")

    async def _attach(self, cur: AsyncCursor, batch: GroupBatch) -> tuple[str | None, int]:
        return await record_alerts(cur, self.db.schema, batch.key, batch.alerts, None)

    async def _claim(self, batch: GroupBatch, first: ReceivedAlert) -> IntakeOutcome | None:
        """Open the incident, or attach to the one another delivery just opened.

        Deliveries of one new group arriving together in this process wait for one claim
        instead of each asking the record (other replicas are settled by the claim itself).
        """
        lock = self._claiming.setdefault(batch.key, asyncio.Lock())
        try:
            async with lock:
                incident_id, new = await self.db.run(lambda cur: self._attach(cur, batch))
                if incident_id is not None:
                    return self._outcome(batch, incident_id, False, new)
                incident = new_incident(
                    batch, first, severity=self._severity, channel=self._channel
                )
                incident_id, created = await self.records.call(
                    lambda record: record.claim(incident, batch.key)
                )
                if not created:
                    return None  # another replica claimed it first: attach to theirs
                try:
                    new = await self.db.run(
                        lambda cur, i=incident_id: self._open(cur, i, batch, first)
                    )
                except _ClosedMeanwhile:
                    return None
                return self._outcome(batch, incident_id, True, new)
        finally:
            if not lock.locked():
                self._claiming.pop(batch.key, None)

    async def _open(
        self, cur: AsyncCursor, incident_id: str, batch: GroupBatch, first: ReceivedAlert
    ) -> int:
        """The new incident's pending run start and its alerts, in one commit."""
        decision = batch.decision
        parameters = {
            **decision.parameters,
            "alert": flow_alert(first, batch.key).model_dump(mode="json"),
            "incident_id": incident_id,
        }
        async with cur.connection.transaction():
            await cur.execute(
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
            recorded, new = await record_alerts(cur, self.db.schema, batch.key, batch.alerts, first)
            if recorded != incident_id:
                raise _ClosedMeanwhile  # roll back: no run is owed for a closed incident
            return new

    @staticmethod
    def _outcome(batch: GroupBatch, incident_id: str, created: bool, new: int) -> IntakeOutcome:
        return IntakeOutcome(batch.key, incident_id, created, new, len(batch.alerts) - new)
