"""Communication as a side channel: every message is attempted, recorded, and never blocks.

Channels plug in here (Slack now; status page and paging next), so adding one never
touches a scenario flow.
"""

from __future__ import annotations

from blocks.slack import SlackWorkspace, redact_slack_tokens
from flows.scribe import Scribe
from incident.models import Delivery
from incident.policy import IncidentPolicy
from tasks.slack import post_message

__all__ = ["announce"]


def announce(
    scribe: Scribe,
    slack: SlackWorkspace | None,
    policy: IncidentPolicy,
    *,
    phase: str,
    kind: str,
    text: str,
) -> Delivery | None:
    """Post ``text`` to the incident channel and write what became of it into the timeline."""
    if slack is None:
        scribe.event(phase, f"notify:{kind}", "skipped", "no Slack workspace configured")
        return None
    channel = scribe.incident.channel
    try:
        delivery = post_message(
            slack,
            text,
            channel=channel,
            kind=kind,
            attempts=policy.notification_attempts,
            max_wait_seconds=policy.notification_max_wait.total_seconds(),
        )
    except Exception as exc:  # the task promises not to raise; a mitigation must never depend on it
        delivery = Delivery(
            channel=channel,
            kind=kind,
            delivered=False,
            attempts=0,
            error=redact_slack_tokens(str(exc)),
        )
    if delivery.delivered:
        scribe.event(
            phase,
            f"notify:{kind}",
            "completed",
            f"{kind} message posted to {channel}",
            attempts=delivery.attempts,
            ts=delivery.ts,
        )
    else:
        scribe.event(
            phase,
            f"notify:{kind}",
            "failed",
            f"{kind} message to {channel} not delivered after {delivery.attempts} attempt(s): "
            f"{delivery.error}",
            attempts=delivery.attempts,
        )
    return delivery
