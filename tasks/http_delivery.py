"""One JSON request to a notification API (status page, pager), retried within a deadline.

Both APIs are told things during an incident, and neither may hold up a mitigation: a call
makes at most ``attempts`` requests inside ``max_wait_seconds`` (429 waits out
``Retry-After`` unless that passes the deadline; 5xx, 420, timeouts and refused connections
back off with jitter; other 4xx are not retried), then returns an `HttpOutcome` saying what
happened. Failures are classified here once, and the message never carries the credential.
"""

from __future__ import annotations

import random
import time
from typing import Any

import httpx
from pydantic import BaseModel, Field

from incident.errors import PermanentError, TransientError
from incident.redact import redact
from tasks.logs import run_logger

__all__ = ["HttpOutcome", "send_json"]

_MIN_ATTEMPT_SECONDS = 0.05
_MAX_WAIT_LIMIT = 60.0


class HttpOutcome(BaseModel):
    """What became of one call: delivered or not, how many requests, the answer or the error."""

    delivered: bool
    attempts: int
    status: int | None = None
    error: str = ""
    data: Any = Field(default=None, description="The decoded JSON answer, when delivered")


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(float(response.headers.get("Retry-After", "1")), 0.0)
    except ValueError:
        return 1.0


def _backoff(attempt: int) -> float:
    delay = min(5.0, 0.2 * 2 ** (attempt - 1))
    return delay / 2 + random.uniform(0, delay / 2)


def _classify(response: httpx.Response, label: str) -> Exception | None:
    """None for success; otherwise the error, transient or permanent."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    detail = response.text[:200].strip()
    if status in (420, 429):
        return TransientError(
            f"{label} rate limited (HTTP {status}) for {_retry_after(response):g} s"
        )
    if status >= 500:
        return TransientError(f"{label} answered HTTP {status} ({detail}): a service-side problem")
    if status in (401, 403):
        return PermanentError(f"{label} refused the credential (HTTP {status}): check the key")
    return PermanentError(f"{label} refused the request (HTTP {status}): {detail}")


def send_json(
    method: str,
    url: str,
    body: dict[str, Any] | None,
    *,
    label: str,
    headers: dict[str, str] | None = None,
    secrets: tuple[str, ...] = (),
    timeout: float = 10,
    attempts: int = 3,
    max_wait_seconds: float = 15,
) -> HttpOutcome:
    """Send ``body`` as JSON; never raises. ``label`` names the service in messages
    (e.g. "Status page at http://... (StatusPage block 'x')"); ``secrets`` are redacted."""
    budget = min(max(max_wait_seconds, 0.0), _MAX_WAIT_LIMIT)
    deadline = time.monotonic() + budget
    made, error, status = 0, "", None
    with httpx.Client(headers=headers, follow_redirects=False) as client:
        while made < max(1, attempts):
            made += 1
            left = max(deadline - time.monotonic(), _MIN_ATTEMPT_SECONDS)
            try:
                response = client.request(method, url, json=body, timeout=min(timeout, left))
            except httpx.TimeoutException:
                failure: Exception = TransientError(f"{label} did not answer within {left:.1f} s")
                wait = _backoff(made)
            except httpx.TransportError as exc:
                failure = TransientError(f"could not reach {label} ({exc}): check the URL")
                wait = _backoff(made)
            else:
                status = response.status_code
                found = _classify(response, label)
                if found is None:
                    data = response.json() if response.content else None
                    return HttpOutcome(delivered=True, attempts=made, status=status, data=data)
                failure = found
                wait = _retry_after(response) if status in (420, 429) else _backoff(made)
            error = redact(str(failure), *secrets)
            if isinstance(failure, PermanentError) or made >= attempts:
                break
            if wait > deadline - time.monotonic():
                error += f"; gave up: waiting {wait:.1f} s would pass the {budget:g} s deadline"
                break
            run_logger().info(
                "%s: attempt %d failed (%s); retrying in %.1f s", label, made, error, wait
            )
            time.sleep(wait)
    run_logger().warning("%s: not delivered after %d attempt(s): %s", label, made, error)
    return HttpOutcome(delivered=False, attempts=made, status=status, error=error)
