"""Post to Slack (runbook 002 phase 5, "Internal Communication"; runbook 001 status updates).

A failed Slack post is retried and recorded, never allowed to abort a mitigation: the task
returns a ``Delivery`` saying what happened instead of raising. Retries are the Slack SDK's
own handlers, bounded by one deadline (`tasks.slack_api`), so no Prefect retries are used.
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from blocks.slack import SlackWorkspace
from incident.models import Delivery
from tasks.logs import run_logger
from tasks.slack_api import MAX_WAIT_SECONDS_LIMIT, call_slack

__all__ = ["MAX_WAIT_SECONDS_LIMIT", "post_message"]


# No Prefect timeout: it cannot interrupt a worker thread, and the call keeps its own deadline.
@task(name="post_message", cache_policy=NO_CACHE)
def post_message(
    slack: SlackWorkspace,
    text: str,
    *,
    channel: str | None = None,
    kind: str = "update",
    blocks: list[dict[str, Any]] | None = None,
    attempts: int = 4,
    max_wait_seconds: float = 30,
) -> Delivery:
    """Post ``text`` (and optional Block Kit ``blocks``, ``text`` being their fallback) to
    ``channel``, or the workspace's incident channel; never raises for Slack or network failures.

    429 waits out ``Retry-After`` (giving up at once if that is beyond the deadline); 5xx,
    timeouts and connection errors back off exponentially with jitter; Slack refusals
    (``channel_not_found``, ``invalid_auth``, ...) are not retried. At most ``attempts``
    requests, all within ``max_wait_seconds`` (capped at ``MAX_WAIT_SECONDS_LIMIT``).
    On success ``Delivery.channel`` is the channel *id* Slack answers with, which together
    with ``ts`` is what ``chat.update`` needs.
    """
    target = channel or slack.incident_channel
    outcome = call_slack(
        slack,
        lambda client: client.chat_postMessage(channel=target, text=text, blocks=blocks),
        target=target,
        attempts=attempts,
        max_wait_seconds=max_wait_seconds,
    )
    if outcome.ok:
        return Delivery(
            channel=str(outcome.data.get("channel") or target),
            kind=kind,
            delivered=True,
            attempts=outcome.attempts,
            ts=str(outcome.data.get("ts", "")),
        )
    run_logger().warning(
        "Slack %s message to %s not delivered after %d attempt(s): %s",
        kind,
        target,
        outcome.attempts,
        outcome.error,
    )
    return Delivery(
        channel=target,
        kind=kind,
        delivered=False,
        attempts=outcome.attempts,
        error=outcome.error,
    )
