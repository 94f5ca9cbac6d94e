"""Keep the public status page current (runbook 002: Investigating → Identified → Monitoring →
Resolved; runbook 003: update it once customer impact is confirmed).

Thin tasks over the Atlassian Statuspage REST API v1 with `httpx`; each returns an
`HttpOutcome` and never raises, so a status-page outage cannot fail the response.
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from blocks.statuspage import StatusPage
from tasks.http_delivery import HttpOutcome, send_json

__all__ = ["open_status_incident", "set_component_status", "update_status_incident"]


def _call(
    page: StatusPage, method: str, path: str, body: dict[str, Any], attempts: int, wait: float
) -> HttpOutcome:
    return send_json(
        method,
        page.url(path),
        body,
        label=f"status page at {page.api_base_url} ({page.label})",
        headers=page.auth_headers(),
        secrets=(page.api_key.get_secret_value(),),
        timeout=page.timeout_seconds,
        attempts=attempts,
        max_wait_seconds=wait,
    )


@task(name="open_status_incident", cache_policy=NO_CACHE)
def open_status_incident(
    page: StatusPage,
    *,
    name: str,
    status: str,
    body: str,
    components: dict[str, str] | None = None,
    attempts: int = 3,
    max_wait_seconds: float = 15,
) -> HttpOutcome:
    """Create the page's incident; ``components``: component id -> status it shows now.
    On success ``data["id"]`` is the status-page incident id later updates need."""
    fields: dict[str, Any] = {"name": name, "status": status, "body": body}
    if components:
        fields["component_ids"] = list(components)
        fields["components"] = dict(components)
    return _call(page, "POST", "incidents", {"incident": fields}, attempts, max_wait_seconds)


@task(name="update_status_incident", cache_policy=NO_CACHE)
def update_status_incident(
    page: StatusPage,
    incident_id: str,
    *,
    status: str,
    body: str,
    components: dict[str, str] | None = None,
    attempts: int = 3,
    max_wait_seconds: float = 15,
) -> HttpOutcome:
    """Move the incident to ``status`` with an update ``body`` (and component states)."""
    fields: dict[str, Any] = {"status": status, "body": body}
    if components:
        fields["components"] = dict(components)
    return _call(
        page, "PATCH", f"incidents/{incident_id}", {"incident": fields}, attempts, max_wait_seconds
    )


@task(name="set_component_status", cache_policy=NO_CACHE)
def set_component_status(
    page: StatusPage,
    component_id: str,
    status: str,
    *,
    attempts: int = 3,
    max_wait_seconds: float = 15,
) -> HttpOutcome:
    """Set one component (operational, degraded_performance, partial_outage, major_outage)."""
    body = {"component": {"status": status}}
    return _call(page, "PATCH", f"components/{component_id}", body, attempts, max_wait_seconds)
