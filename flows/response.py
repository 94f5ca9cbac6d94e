"""The response to one incident, carried through every phase: its record and its messages.

Phases never reach into the record or Slack themselves; they tell the `Response` what
happened and it writes the timeline (committed the moment it happens, the runbooks' scribe
role), stores findings, plans, approvals and actions, moves the incident's status, and hands
messages to the communication side channel. Because everything lands in the record as it
happens, a re-run of the flow (after a suspend, a crash, a retry) can ask the record what is
already done (`done`) instead of doing it twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from prefect.futures import PrefectFuture

from blocks.slack import SlackWorkspace
from incident.models import (
    Action,
    Approval,
    Delivery,
    Finding,
    Incident,
    IncidentStatus,
    Plan,
    TimelineEvent,
)
from incident.policy import IncidentPolicy
from incident.record import IncidentRecord
from tasks.logs import run_logger

__all__ = ["MessageQueue", "Response"]


@dataclass
class MessageQueue:
    """Messages in flight: each waits for the one before it (see `flows.communicate`)."""

    pending: list[threading.Event] = field(default_factory=list)
    last: PrefectFuture[Delivery] | None = None

    def settle(self, timeout: float) -> bool:
        """Wait for in-flight messages to be recorded; False if some were still out."""
        deadline = time.monotonic() + timeout
        return all(done.wait(max(deadline - time.monotonic(), 0)) for done in list(self.pending))


class Response:
    """One incident's response: record writes, status, messages. Safe across task threads."""

    def __init__(
        self,
        record: IncidentRecord,
        incident: Incident,
        policy: IncidentPolicy,
        slack: SlackWorkspace | None,
    ) -> None:
        self.record = record
        self.incident = incident
        self.policy = policy
        self.slack = slack
        self.messages = MessageQueue()

    # -- for flows.communicate, which keeps its queue here ----------------------------------

    @property
    def pending(self) -> list[threading.Event]:
        return self.messages.pending

    @property
    def last_message(self) -> PrefectFuture[Delivery] | None:
        return self.messages.last

    @last_message.setter
    def last_message(self, future: PrefectFuture[Delivery] | None) -> None:
        self.messages.last = future

    # -- the timeline -----------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self.incident.id

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

    @contextmanager
    def step(self, phase: str, step: str, message: str) -> Iterator[dict[str, Any]]:
        """Record a step's start and its end; a step that raises is recorded as failed.

        The yielded dict collects what the completion event should say (``message`` and data).
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

    def done(self, phase: str, step: str = "phase") -> TimelineEvent | None:
        """The last completion of ``phase``/``step`` in the record, if it happened."""
        hits = [
            e
            for e in self.record.timeline(self.incident.id)
            if (e.phase, e.step, e.status) == (phase, step, "completed")
        ]
        return hits[-1] if hits else None

    # -- the record -------------------------------------------------------------------------

    def set_status(self, status: IncidentStatus, *, milestone: str | None = None) -> None:
        self.record.set_status(self.incident.id, status, milestone=milestone)
        self.incident = self.incident.model_copy(update={"status": status})

    def add_findings(self, findings: list[Finding]) -> None:
        for finding in findings:
            self.record.add_finding(self.incident.id, finding)

    def findings(self) -> list[Finding]:
        return self.record.findings(self.incident.id)

    def record_plan(self, plan: Plan) -> None:
        self.record.record_plan(self.incident.id, plan)

    def plan(self, digest: str) -> Plan | None:
        return next((p for p in self.record.plans(self.incident.id) if p.digest == digest), None)

    def record_approval(self, plan: Plan, approval: Approval) -> None:
        self.record.record_approval(self.incident.id, plan, approval)

    def record_action(self, action: Action) -> None:
        self.record.record_action(self.incident.id, action)

    def close(self) -> None:
        """The incident takes no more alerts (resolved, or ended by a dry run)."""
        self.record.close_incident(self.incident.id)

    # -- messages ---------------------------------------------------------------------------

    def announce(self, phase: str, kind: str, text: str) -> None:
        """Post to the incident channel in the background; the timeline says what became of it."""
        from flows.communicate import announce  # the side channel depends on this object

        announce(self, self.slack, self.policy, phase=phase, kind=kind, text=text)

    def settle(self, timeout: float = 90) -> bool:
        return self.messages.settle(timeout)
