"""The scribe role from the runbooks: every step goes into the record the moment it happens."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prefect.futures import PrefectFuture

from incident.models import Delivery, Incident, TimelineEvent
from incident.record import IncidentRecord
from tasks.logs import run_logger

__all__ = ["Scribe"]


class Scribe:
    """Writes timeline events to the durable record and mirrors them to the run's log."""

    def __init__(self, record: IncidentRecord, incident: Incident) -> None:
        self.record = record
        self.incident = incident
        self.pending: list[threading.Event] = []  # messages still in flight (communicate.py)
        # the newest message's future, which the next one waits for (communicate.py)
        self.last_message: PrefectFuture[Delivery] | None = None

    def event(self, phase: str, step: str, status: str, message: str, **data: Any) -> TimelineEvent:
        event = self.record.append(
            TimelineEvent(
                incident_id=self.incident.id,
                phase=phase,
                step=step,
                status=status,
                message=message,
                data=data,
            )
        )
        level = logging.WARNING if status in ("failed", "escalated") else logging.INFO
        run_logger().log(level, "[%s] %s/%s %s: %s", self.incident.id, phase, step, status, message)
        return event

    def settle(self, timeout: float = 90) -> bool:
        """Wait for in-flight messages to be recorded; False if some were still out at timeout."""
        deadline = time.monotonic() + timeout
        return all(done.wait(max(deadline - time.monotonic(), 0)) for done in list(self.pending))

    @contextmanager
    def step(self, phase: str, step: str, message: str) -> Iterator[dict[str, Any]]:
        """Record a step's start and its end; a step that raises is recorded as failed.

        The yielded dict collects what the completion event should say.
        """
        self.event(phase, step, "started", message)
        outcome: dict[str, Any] = {}
        try:
            yield outcome
        except BaseException as exc:
            self.event(phase, step, "failed", f"{message}: failed: {exc}")
            raise
        done = outcome.pop("message", f"{message}: done")
        self.event(phase, step, "completed", done, **outcome)
