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
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from blocks.slack import SlackWorkspace
from incident.models import (
    Action,
    Approval,
    Finding,
    Incident,
    IncidentStatus,
    Plan,
    TimelineEvent,
)
from incident.policy import IncidentPolicy
from incident.record import IncidentRecord
from incident.severity import Severity
from tasks.logs import run_logger

__all__ = ["MessageQueue", "Response"]


@dataclass
class MessageQueue:
    """One incident's outgoing messages: sent one at a time, in order, off the response's path.

    A thread of its own (not a phase's task runner, which its flow waits for on exit), so a
    slow Slack never holds a phase back; daemon, so a dead channel never keeps a process up.
    """

    pending: list[Future[None]] = field(default_factory=list)
    _sender: ThreadPoolExecutor | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, work: Callable[[], None]) -> None:
        with self._lock:
            if self._sender is None:
                self._sender = ThreadPoolExecutor(1, thread_name_prefix="firebreak-messages")
            self.pending.append(self._sender.submit(work))

    def settle(self, timeout: float) -> bool:
        """Wait for queued messages to be sent and recorded; False if some were still out."""
        _, not_done = wait(list(self.pending), timeout=timeout)
        return not not_done


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

    def raise_severity(self, severity: Severity, why: str) -> None:
        """The evidence says it is worse than declared: record it and tell the channel."""
        before = self.incident.severity.label(self.policy.scheme)
        self.record.set_severity(self.incident.id, severity)
        self.incident = self.incident.model_copy(update={"severity": severity})
        after = severity.label(self.policy.scheme)
        self.event("assess", "severity", "completed", f"severity raised {before} → {after}: {why}")
        self.announce(
            "assess",
            "severity",
            f"⬆ SEVERITY RAISED - {after} {self.incident.id}\n{'━' * 22}\n"
            f"Issue: {self.incident.title}\nWas: {before}\nWhy: {why}",
        )

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

    def announce(
        self, phase: str, kind: str, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> None:
        """Post to the incident channel in the background; the timeline says what became of it."""
        from flows.communicate import announce  # the side channel depends on this object

        announce(self, self.slack, self.policy, phase=phase, kind=kind, text=text, blocks=blocks)

    def settle(self, timeout: float = 90) -> bool:
        return self.messages.settle(timeout)
