"""The one boundary every HTTP read crosses: failures classified once, secrets never shown.

Health checks, the Prometheus API and ``/metrics`` pages all fail the same ways: the
connection is refused or reset, the answer never comes, or the server answers with an error
status. Whether a retry may help is decided here (`TransientError`: refused, reset, timeout,
5xx, 429; `PermanentError`: other 4xx, a malformed URL), so each diagnostic only reads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from incident.errors import PermanentError, TransientError
from incident.redact import redact

__all__ = ["Answer", "fetch", "raise_for_status"]


@dataclass(frozen=True)
class Answer:
    """A response and how long it took to arrive, in seconds."""

    response: httpx.Response
    seconds: float


def fetch(
    client: httpx.Client,
    url: str,
    *,
    label: str,
    block: str,
    secrets: tuple[str | None, ...] = (),
    params: dict[str, str] | None = None,
) -> Answer:
    """GET ``url``; any answer is returned, a failure to get one raises a classified error.

    ``label`` names the endpoint and ``block`` its block type in messages ("check the URL in
    its HttpEndpoint block"); ``secrets`` are scrubbed from the underlying error text.
    """
    started = time.perf_counter()
    try:
        response = client.get(url, params=params)
    except httpx.TimeoutException:
        raise TransientError(
            f"{label} did not answer within {_timeout(client):g} s: check that it is up, or "
            f"raise timeout_seconds in its {block} block"
        ) from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise PermanentError(
            f"{label} has an invalid URL ({redact(str(exc), *secrets)}): fix it in its "
            f"{block} block"
        ) from None
    except httpx.TransportError as exc:
        raise TransientError(
            f"{label} is unreachable ({redact(str(exc), *secrets) or type(exc).__name__}): "
            f"check the URL in its {block} block and that the service is up"
        ) from None
    return Answer(response, time.perf_counter() - started)


def raise_for_status(response: httpx.Response, *, label: str, block: str) -> None:
    """Raise the classified error for a non-2xx answer of a read that needs a 2xx.

    The error carries ``status`` (the HTTP status), which `unreachable` findings report.
    """
    status = response.status_code
    if 200 <= status < 300:
        return
    detail = " ".join(response.text[:200].split())
    suffix = f": {detail}" if detail else ""
    error: TransientError | PermanentError
    if status == 429:
        error = TransientError(f"{label} is rate limiting Firebreak (HTTP 429){suffix}")
    elif status >= 500:
        error = TransientError(f"{label} answered HTTP {status}{suffix}: a server-side problem")
    elif status in (401, 403):
        error = PermanentError(
            f"{label} refused the credential (HTTP {status}): check the token in its {block} block"
        )
    else:
        error = PermanentError(
            f"{label} refused the request (HTTP {status}){suffix}: check the URL in its "
            f"{block} block"
        )
    error.status = status  # type: ignore[attr-defined]
    raise error


def _timeout(client: httpx.Client) -> float:
    timeout = client.timeout
    return float(timeout.read or timeout.connect or 0)
