"""Communication as a side channel: every message is attempted, recorded, and never waited on.

A message is queued and the response moves on; when the post ends (delivered, or given up
after its retries) its outcome is written to the timeline. The queue is the incident's own
(`flows.response.MessageQueue`): one sender thread per incident, so the channel reads in
order, and outside any phase's task runner, because a Prefect flow waits for its tasks when
it ends — a Slack rate limit inside the declare phase would otherwise hold the assessment
back. ``Response.settle`` waits for what is still in flight before the post-mortem.

What is owed on a timer (updates, escalations, the status page, pages) is not sent from
here but by the sweep (`flows.notify_due`), which reacts to the record, so adding a channel
never touches a scenario flow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from blocks.slack import SlackWorkspace, redact_slack_tokens
from flows.reactions.situation import ROOM
from incident.models import Delivery
from incident.policy import IncidentPolicy
from tasks.slack import post_message

if TYPE_CHECKING:
    from flows.response import Response

__all__ = ["announce", "incident_room"]


def announce(
    response: Response,
    slack: SlackWorkspace | None,
    policy: IncidentPolicy,
    *,
    phase: str,
    kind: str,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    channel: str | None = None,
) -> None:
    """Post ``text`` to the incident channel in the background; record what became of it.

    ``blocks``: Block Kit for the same message (``text`` stays its plain-text fallback), e.g.
    ``templates.declaration_message(...).blocks``; ``channel``: another channel than the
    incident's (the incident's own channel once the sweep opened it, see `incident_room`).
    """
    step = f"notify:{kind}"
    if slack is None:
        response.event(phase, step, "skipped", "no Slack workspace configured")
        return
    where = channel or response.incident.channel

    def send() -> None:
        try:
            outcome = post_message.fn(
                slack,
                text,
                channel=where,
                kind=kind,
                blocks=blocks,
                attempts=policy.notification_attempts,
                max_wait_seconds=policy.notification_max_wait.total_seconds(),
            )
        except Exception as exc:  # the post promises not to raise; if it did, say so
            outcome = Delivery(
                channel=where,
                kind=kind,
                delivered=False,
                attempts=0,
                error=redact_slack_tokens(str(exc)),
            )
        _record_delivery(response, phase, step, outcome, where)

    response.messages.send(send)


def incident_room(response: Response) -> str | None:
    """The incident's own Slack channel id, once the sweep (`flows.reactions`) opened it."""
    for event in reversed(response.record.timeline(response.incident.id)):
        if event.step == ROOM:
            return str(event.data["channel_id"]) if event.status == "completed" else None
    return None


def _record_delivery(
    response: Response, phase: str, step: str, delivery: Delivery, channel: str
) -> None:
    if delivery.delivered:
        response.event(
            phase,
            step,
            "completed",
            f"{delivery.kind} message posted to {channel}",
            attempts=delivery.attempts,
            ts=delivery.ts,
        )
    else:
        response.event(
            phase,
            step,
            "failed",
            f"{delivery.kind} message to {channel} not delivered after "
            f"{delivery.attempts} attempt(s): {delivery.error}",
            attempts=delivery.attempts,
        )
