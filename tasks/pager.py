"""Page people through the PagerDuty Events API v2: trigger, acknowledge, resolve.

Runbook 001's flow chart pages the on-call for the levels the policy says; runbook 002's
matrix pages the next contact when nobody acknowledges. Every event of one incident carries
one dedup key (`dedup_key_for`), so PagerDuty folds them into one alert per service.

Hand-written over `httpx` rather than the official ``pagerduty`` client (checked: 7.2.0):
that client refuses any base URL that is not ``https://`` (so it cannot reach a local stub
without TLS), depends on a separate ``httpx2`` fork, and retries 429 without limit and 5xx
with sleeps growing to minutes, none bounded by a deadline, which would hold up the caller
during a PagerDuty outage. The Events API is one POST; `tasks.http_delivery` bounds it.
"""

from __future__ import annotations

from typing import Any, Literal

from prefect import task
from prefect.cache_policies import NO_CACHE

from blocks.pager import PagerDutyService
from incident.severity import Severity
from tasks.http_delivery import HttpOutcome, send_json

__all__ = ["PAGER_SEVERITY", "dedup_key_for", "send_page_event"]

PAGER_SEVERITY = {
    Severity.CRITICAL: "critical",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "info",
}
"""PagerDuty's payload.severity for each level."""


def dedup_key_for(incident_id: str) -> str:
    """The one dedup key of an incident, for every event and every service."""
    return f"firebreak-{incident_id}"


@task(name="send_page_event", cache_policy=NO_CACHE)
def send_page_event(
    pager: PagerDutyService,
    action: Literal["trigger", "acknowledge", "resolve"],
    *,
    dedup_key: str,
    summary: str = "",
    severity: Severity = Severity.HIGH,
    contact: str = "",
    details: dict[str, Any] | None = None,
    links: list[dict[str, str]] | None = None,
    attempts: int = 3,
    max_wait_seconds: float = 15,
) -> HttpOutcome:
    """Send one event to the service that reaches ``contact`` (the on-call's by default).

    Never raises: an unreachable or refusing PagerDuty comes back as an undelivered outcome.
    """
    key = pager.routing_key_for(contact)
    event: dict[str, Any] = {"routing_key": key, "event_action": action, "dedup_key": dedup_key}
    if action == "trigger":
        event["payload"] = {
            "summary": summary[:1024] or dedup_key,
            "source": pager.source,
            "severity": PAGER_SEVERITY[severity],
            "custom_details": {**(details or {}), **({"contact": contact} if contact else {})},
        }
        if links:
            event["links"] = links
    return send_json(
        "POST",
        f"{pager.events_url}/v2/enqueue",
        event,
        label=f"PagerDuty at {pager.events_url} ({pager.label})",
        secrets=tuple(
            k.get_secret_value() for k in (pager.routing_key, *pager.contact_routing_keys.values())
        ),
        timeout=pager.timeout_seconds,
        attempts=attempts,
        max_wait_seconds=max_wait_seconds,
    )
