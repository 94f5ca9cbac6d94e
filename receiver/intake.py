"""The async face of intake: split a delivery by incident key and persist it off the loop.

A small fixed set of `IntakeStore` connections serves every request; each request borrows
one for the few milliseconds its statements take, in a worker thread, so the event loop
keeps accepting while PostgreSQL commits.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import anyio

from receiver.intake_store import GroupBatch, IntakeOutcome, IntakeStore
from receiver.payloads.common import ParsedDelivery
from receiver.routing import RoutingRules
from receiver.settings import ReceiverSettings

__all__ = ["Intake", "split_by_incident"]

T = TypeVar("T")


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
        dsn = settings.record_dsn.get_secret_value()
        self._stores = [
            IntakeStore(
                dsn,
                settings.record_schema,
                default_severity=settings.default_severity,
                channel=settings.policy.incident_channel,
            )
            for _ in range(settings.record_connections)
        ]
        self._free: asyncio.Queue[IntakeStore] = asyncio.Queue()
        self._routing = settings.routing

    async def open(self) -> None:
        await anyio.to_thread.run_sync(self._stores[0].ensure_schema)
        for store in self._stores:
            self._free.put_nowait(store)

    async def close(self) -> None:
        for store in self._stores:
            await anyio.to_thread.run_sync(store.close)

    @asynccontextmanager
    async def borrow(self) -> AsyncIterator[IntakeStore]:
        store = await self._free.get()
        try:
            yield store
        finally:
            self._free.put_nowait(store)

    async def call(self, fn: Callable[[IntakeStore], T]) -> T:
        async with self.borrow() as store:
            return await anyio.to_thread.run_sync(fn, store)

    async def take(self, parsed: ParsedDelivery) -> list[IntakeOutcome]:
        outcomes = []
        for batch in split_by_incident(parsed, self._routing):
            outcomes.append(await self.call(lambda store, b=batch: store.take(b)))
        return outcomes
