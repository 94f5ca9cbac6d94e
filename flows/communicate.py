"""Communication as a side channel: every message is attempted, recorded, and never waited on.

A message is submitted and the flow moves on; when the post ends (delivered, or given up
after its retries) its outcome is written to the timeline. A slow or failing Slack therefore
never delays a diagnostic or a mitigation. ``Scribe.settle`` waits for what is still in
flight before the post-mortem is written and before a run ends.

What is owed on a timer (updates, escalations, the status page, pages) is not sent from
here but by the sweep (`flows.notify_due`), which reacts to the record, so adding a channel
never touches a scenario flow.
"""

from __future__ import annotations

import threading
from typing import Any

from prefect.futures import PrefectFuture

from blocks.slack import SlackWorkspace, redact_slack_tokens
from flows.reactions.situation import ROOM
from flows.scribe import Scribe
from incident.models import Delivery
from incident.policy import IncidentPolicy
from tasks.slack import post_message

__all__ = ["announce", "incident_room"]


def announce(
    scribe: Scribe,
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
        scribe.event(phase, step, "skipped", "no Slack workspace configured")
        return
    channel = channel or scribe.incident.channel
    recorded = threading.Event()

    def record(future: PrefectFuture[Delivery]) -> None:
        try:
            outcome = future.result(raise_on_failure=False)
            if not isinstance(outcome, Delivery):  # the task promises not to raise; if it did
                outcome = Delivery(
                    channel=channel,
                    kind=kind,
                    delivered=False,
                    attempts=0,
                    error=redact_slack_tokens(str(outcome)),
                )
            _record_delivery(scribe, phase, step, outcome, channel)
        finally:
            recorded.set()

    scribe.pending.append(recorded)
    # Each message waits for the one before it, so the channel reads in order even when a
    # slow post (a 429's Retry-After) is overtaken by the response.
    previous = scribe.last_message
    future = post_message.submit(
        slack,
        text,
        channel=channel,
        kind=kind,
        blocks=blocks,
        attempts=policy.notification_attempts,
        max_wait_seconds=policy.notification_max_wait.total_seconds(),
        wait_for=[previous] if previous is not None else None,
    )
    scribe.last_message = future
    future.add_done_callback(record)


def incident_room(scribe: Scribe) -> str | None:
    """The incident's own Slack channel id, once the sweep (`flows.reactions`) opened it."""
    for event in reversed(scribe.record.timeline(scribe.incident.id)):
        if event.step == ROOM:
            return str(event.data["channel_id"]) if event.status == "completed" else None
    return None


def _record_delivery(
    scribe: Scribe, phase: str, step: str, delivery: Delivery, channel: str
) -> None:
    if delivery.delivered:
        scribe.event(
            phase,
            step,
            "completed",
            f"{delivery.kind} message posted to {channel}",
            attempts=delivery.attempts,
            ts=delivery.ts,
        )
    else:
        scribe.event(
            phase,
            step,
            "failed",
            f"{delivery.kind} message to {channel} not delivered after "
            f"{delivery.attempts} attempt(s): {delivery.error}",
            attempts=delivery.attempts,
        )
