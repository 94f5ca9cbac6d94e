"""HTTP health and readiness checks (runbooks 000/002/003/004: ``curl .../health``).

The same check serves a team's own service and a third-party dependency (runbook 001
pattern 3, "third-party service down"): both are one `HttpEndpoint`. An answer is always a
verdict, even a bad one: an unexpected status (a 503 from ``/readyz``, a 500) is
``critical`` because the service *answered* that it is not serving, and the status and the
start of the body are the evidence. Only the absence of an answer (refused, reset, no answer
within the block's timeout) is retried and then ends ``unreachable``. A 401/403 is taken as
Firebreak's credential being wrong, not the service being down, unless the block expects it.
"""

from __future__ import annotations

from blocks.http import HttpEndpoint
from incident.models import Finding, FindingStatus
from incident.redact import redact
from tasks.diagnostic import diagnostic
from tasks.http_reads import fetch, raise_for_status

__all__ = ["check_http_endpoint"]

_BODY_EXCERPT = 300


def _secrets(target: HttpEndpoint) -> tuple[str | None, ...]:
    return (target.bearer_token.get_secret_value() if target.bearer_token else None,)


@diagnostic("http_endpoint", tags=("http",))
def check_http_endpoint(target: HttpEndpoint, slow_after_seconds: float = 1.0) -> Finding:
    """One GET of the endpoint: ``ok`` when it answers as expected within
    ``slow_after_seconds`` (the policy's latency threshold), ``warning`` when it answers as
    expected but slower, ``critical`` when it answers anything else.

    Example:
        ```python
        finding = check_http_endpoint(HttpEndpoint(url="https://api.example.com/health"))
        ```
    """
    with target.client() as client:
        answer = fetch(
            client,
            target.url,
            label=f"HTTP endpoint {target.label}",
            block="HttpEndpoint",
            secrets=_secrets(target),
        )
    response, seconds = answer.response, answer.seconds
    status = response.status_code
    if status in (401, 403) and not target.is_expected(status):
        raise_for_status(response, label=f"HTTP endpoint {target.label}", block="HttpEndpoint")
    evidence = {
        "url": target.url,
        "http_status": status,
        "expected_status": target.expected_status or "2xx",
        "latency_seconds": round(seconds, 4),
        "slow_after_seconds": slow_after_seconds,
    }
    took = f"{seconds * 1000:.0f} ms"
    if not target.is_expected(status):
        body = redact(response.text[:_BODY_EXCERPT], *_secrets(target))
        return Finding(
            check="http_endpoint",
            target=target.label,
            status=FindingStatus.CRITICAL,
            summary=(
                f"{target.label} answered HTTP {status} instead of "
                f"{target.expected_status or 'a 2xx'} (in {took})."
            ),
            evidence={**evidence, "body": body},
        )
    slow = seconds > slow_after_seconds
    return Finding(
        check="http_endpoint",
        target=target.label,
        status=FindingStatus.WARNING if slow else FindingStatus.OK,
        summary=(
            f"{target.label} answered HTTP {status} in {took}"
            + (f", slower than the {slow_after_seconds:g} s threshold." if slow else ".")
        ),
        evidence=evidence,
    )
