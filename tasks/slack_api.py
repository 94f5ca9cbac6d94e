"""The Slack Web API boundary: `slack_sdk`'s own retry handlers, one deadline, one classification.

Every Slack call Firebreak makes (posts, channel creation, topics, invites, user lookups)
goes through `call_slack`, so retries are the SDK's (``slack_sdk.http_retry``: rate limits,
server errors, connection errors) rather than a loop of our own. The handlers here are small
subclasses that share one `_Budget`: at most ``attempts`` requests, none of them and no wait
between them running past ``max_wait_seconds``, and a ``Retry-After`` that would pass the
deadline ends the call at once. Failures are then classified once into `TransientError` /
`PermanentError` with a message that says what to do next, never with a token in it.
"""

from __future__ import annotations

import http.client
import json
import random
import time
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry import RetryHandler
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from blocks.slack import SlackWorkspace
from tasks.logs import run_logger
from tasks.slack_errors import (
    TRANSIENT_ERRORS,
    classify_api_error,
    retry_after,
    scrub,
    unreachable,
)

__all__ = ["MAX_WAIT_SECONDS_LIMIT", "SlackOutcome", "call_slack"]

MAX_WAIT_SECONDS_LIMIT = 60.0
"""The longest ``max_wait_seconds`` honoured; a Prefect task's own timeout sits above it."""

_BACKOFF_BASE_SECONDS = 0.2
_BACKOFF_CAP_SECONDS = 5.0
_MIN_ATTEMPT_SECONDS = 0.05


@dataclass
class SlackOutcome:
    """What one Slack call came to: its answer, or the classified error; never an exception."""

    data: dict[str, Any]
    attempts: int
    error: str = ""
    code: str = ""  # Slack's error code (``name_taken``, ...) when it refused

    @property
    def ok(self) -> bool:
        return not self.error


class _Budget:
    """The attempts and the deadline every handler of one call draws on."""

    def __init__(self, client: WebClient, attempts: int, seconds: float, timeout: float) -> None:
        self.client = client
        self.attempts = max(1, attempts)
        self.seconds = min(max(seconds, 0.0), MAX_WAIT_SECONDS_LIMIT)
        self.deadline = time.monotonic() + self.seconds
        self.timeout = timeout
        self.retries = 0
        self.note = ""
        self.fit_timeout()

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def fit_timeout(self) -> None:
        """No single request may run past the deadline."""
        self.client.timeout = max(min(self.timeout, self.remaining()), _MIN_ATTEMPT_SECONDS)  # type: ignore[assignment]

    def allows(self, wait: float) -> bool:
        if self.retries + 1 >= self.attempts:
            return False
        if wait > self.remaining():
            self.note = f"gave up: waiting {wait:.1f} s would pass the {self.seconds:g} s deadline"
            return False
        return True

    def wait(self, seconds: float, why: str) -> None:
        self.retries += 1
        run_logger().info(
            "Slack call, attempt %d of %d failed (%s); retrying in %.1f s",
            self.retries,
            self.attempts,
            why,
            seconds,
        )
        time.sleep(seconds)
        self.fit_timeout()


def _backoff(retry: int) -> float:
    """Exponential (0.2, 0.4, 0.8 ... up to 5 s) with equal jitter, so callers spread out."""
    delay = min(_BACKOFF_CAP_SECONDS, _BACKOFF_BASE_SECONDS * 2**retry)
    return delay / 2 + random.uniform(0, delay / 2)


class _Bounded(RetryHandler):
    """Mixin: the SDK asks ``can_retry``; we answer within the shared budget, then sleep."""

    budget: _Budget

    def _wait_for(self, state: RetryState, response: HttpResponse | None) -> float:
        return _backoff(state.current_attempt)

    def can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if not self._can_retry(state=state, request=request, response=response, error=error):
            return False
        wait = self._wait_for(state, response)
        state.custom_values = {"wait": wait}
        return self.budget.allows(wait)

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        wait = float((state.custom_values or {}).get("wait", 0.0))
        why = f"HTTP {response.status_code}" if response is not None else type(error).__name__
        self.budget.wait(wait, why)
        state.increment_current_attempt()


class _RateLimited(_Bounded, RateLimitErrorRetryHandler):
    """HTTP 429: wait exactly what ``Retry-After`` says (the SDK's own adds up to 1 s)."""

    def _wait_for(self, state: RetryState, response: HttpResponse | None) -> float:
        return retry_after(response.headers if response is not None else None)


class _ServerError(_Bounded, ServerErrorRetryHandler):
    """Any 5xx, and Slack's ``ok: false`` codes that mean "Slack had a problem"."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code == 429:  # the rate-limit handler's
            return False
        return response.status_code >= 500 or _error_code(response) in TRANSIENT_ERRORS


class _ConnectionError(_Bounded, ConnectionErrorRetryHandler):
    """Refused, reset or timed-out connections (a hung Slack counts)."""


def _error_code(response: HttpResponse) -> str:
    """Slack's ``error`` field, from the parsed body or (for HTTP errors) the raw bytes."""
    body = response.body
    if body is None and response.data:
        try:
            body = json.loads(response.data)
        except ValueError:
            body = None
    return str(body.get("error") or "") if isinstance(body, dict) else ""


def _handlers(budget: _Budget) -> list[RetryHandler]:
    handlers: list[RetryHandler] = [
        _RateLimited(max_retry_count=budget.attempts - 1),
        _ServerError(max_retry_count=budget.attempts - 1),
        _ConnectionError(
            max_retry_count=budget.attempts - 1,
            error_types=[
                urllib.error.URLError,
                TimeoutError,
                ConnectionError,
                http.client.HTTPException,
            ],
        ),
    ]
    for handler in handlers:
        handler.budget = budget  # type: ignore[attr-defined]
    return handlers


def call_slack(
    slack: SlackWorkspace,
    call: Callable[[WebClient], Any],
    *,
    target: str = "",
    attempts: int = 4,
    max_wait_seconds: float = 30,
) -> SlackOutcome:
    """Run ``call(client)`` with the SDK's retry handlers inside one budget; never raises.

    ``target`` (a channel) only makes error messages precise. The answer's data, the number
    of requests made, and on failure a classified message free of any token.
    """
    token = slack.token.get_secret_value()
    client = slack.client()
    budget = _Budget(client, attempts, max_wait_seconds, slack.timeout_seconds)
    client.retry_handlers = _handlers(budget)
    try:
        response = call(client)
    except SlackApiError as exc:
        error, code = classify_api_error(exc.response, slack, target)
    except TimeoutError as exc:
        error, code = _timed_out(slack, client, exc), ""
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            error, code = _timed_out(slack, client, exc.reason), ""
        else:
            error, code = str(unreachable(slack, exc.reason)), ""
    except (OSError, http.client.HTTPException) as exc:
        error, code = str(unreachable(slack, exc)), ""
    except SlackRequestError as exc:
        error = f"the Slack SDK refused the request ({exc}): check api_base_url in {slack.label}"
        code = ""
    except Exception as exc:  # a Slack call must never abort the flow that made it
        error, code = f"unexpected {type(exc).__name__} calling Slack: {exc}", ""
    else:
        data = dict(response.data) if isinstance(response.data, dict) else {}
        return SlackOutcome(data=data, attempts=budget.retries + 1)
    if budget.note:
        error += f"; {budget.note}"
    return SlackOutcome(data={}, attempts=budget.retries + 1, error=scrub(error, token), code=code)


def _timed_out(slack: SlackWorkspace, client: WebClient, exc: object) -> str:
    return f"Slack at {slack.api_base_url} did not answer within {client.timeout:g} s ({exc})"
