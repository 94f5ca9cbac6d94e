"""One incident as the channels see it: its record row, timeline, policy and the time now."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from blocks.pager import PagerDutyService
from blocks.slack import SlackWorkspace
from blocks.statuspage import StatusPage
from incident import ledger
from incident.models import Alert, Delivery, Incident, IncidentStatus, TimelineEvent
from incident.objectives import Objectives
from incident.policy import IncidentPolicy
from incident.record import IncidentRecord
from tasks.slack import post_message

__all__ = ["ROOM", "Channels", "Situation", "incident_from_row"]

ROOM = "slack:channel"
"""Step recording the dedicated channel (data: channel_id, name)."""


def incident_from_row(row: dict[str, Any]) -> Incident:
    """The `Incident` a record row describes (what templates are rendered from)."""
    return Incident(
        id=row["id"],
        title=row["title"],
        severity=row["severity"],
        status=row["status"],
        scenario=row["scenario"],
        alert=Alert.model_validate(row["alert"]),
        commander=row["commander"],
        channel=row["channel"],
        declared_at=row["declared_at"],
        flow_run_id=row.get("flow_run_id"),
        dry_run=row.get("dry_run", False),
        drill=row.get("drill", False),
    )


@dataclass(frozen=True)
class Channels:
    """The configured outlets; any may be None (then its plugin does nothing)."""

    slack: SlackWorkspace | None = None
    status_page: StatusPage | None = None
    pager: PagerDutyService | None = None


@dataclass
class Situation:
    record: IncidentRecord
    row: dict[str, Any]
    timeline: list[TimelineEvent]
    policy: IncidentPolicy
    channels: Channels
    now: datetime
    done: list[str] = field(default_factory=list)  # steps this pass completed

    @property
    def incident(self) -> Incident:
        return incident_from_row(self.row)

    @property
    def objectives(self) -> Objectives:
        return self.policy.for_severity(self.incident.severity)

    @property
    def resolved(self) -> bool:
        """Resolved, or closed some other way: channels stop asking for attention."""
        return (
            self.row["status"] == IncidentStatus.RESOLVED.value
            or self.row.get("resolved_at") is not None
            or self.row.get("closed_at") is not None
        )

    @property
    def rehearsal(self) -> bool:
        """A drill or a dry run: never pages people, the status page or customers."""
        return bool(self.row.get("drill") or self.row.get("dry_run"))

    @property
    def room(self) -> str:
        """Where incident messages go: the dedicated channel if open, else the incident channel."""
        opened = ledger.last_event(self.timeline, ROOM, ("completed",))
        return str(opened.data["channel_id"]) if opened else self.row["channel"]

    def sent(self, step: str) -> bool:
        return ledger.sent(self.timeline, step)

    def note(self, phase: str, step: str, status: str, message: str, **data: Any) -> None:
        """Append to the record now; keep the local timeline in step so later plugins see it."""
        event = self.record.append(
            TimelineEvent(
                incident_id=self.row["id"],
                phase=phase,
                step=step,
                status=status,
                message=message,
                data=data,
            )
        )
        self.timeline.append(event)
        if status == "completed":
            self.done.append(step)

    def post(
        self,
        step: str,
        text: str,
        *,
        blocks: list[dict[str, Any]] | None = None,
        channel: str | None = None,
        **data: Any,
    ) -> Delivery | None:
        """Post to Slack (the room by default) and record the attempt and its outcome."""
        slack = self.channels.slack
        if slack is None:
            return None
        where = channel or self.room
        self.note("communicate", step, "started", f"posting {step} to {where}")
        delivery = post_message(
            slack,
            text,
            channel=where,
            kind=step.split(":", 1)[-1],
            blocks=blocks,
            attempts=self.policy.notification_attempts,
            max_wait_seconds=self.policy.notification_max_wait.total_seconds(),
        )
        if delivery.delivered:
            self.note(
                "communicate",
                step,
                "completed",
                f"{step} posted to {where}",
                ts=delivery.ts,
                channel=delivery.channel,
                **data,
            )
        else:
            self.note(
                "communicate",
                step,
                "failed",
                f"{step} to {where} not delivered after "
                f"{delivery.attempts} attempt(s): {delivery.error}",
                **data,
            )
        return delivery
