"""Post to Slack (runbook 002 phase 5, "Internal Communication"; runbook 001 status updates).

A failed Slack post is retried and recorded, never allowed to abort a mitigation: the task
returns a ``Delivery`` saying what happened instead of raising. The retry loop is internal
(no Prefect retries) so it can honour ``Retry-After`` and stay inside one deadline.
"""

from __future__ import annotations

import http.client
import random
import time
import urllib.error
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from blocks.slack import SlackWorkspace, redact_slack_tokens
from incident.errors import PermanentError, TransientError
from incident.models import Delivery
from incident.redact import redact
from tasks.logs import run_logger

__all__ = ["MAX_WAIT_SECONDS_LIMIT", "post_message"]

MAX_WAIT_SECONDS_LIMIT = 60.0
"""The longest ``max_wait_seconds`` honoured; the task's own timeout sits just above it."""

_BACKOFF_BASE_SECONDS = 0.2
_BACKOFF_CAP_SECONDS = 5.0
_MIN_ATTEMPT_SECONDS = 0.05

_AUTH_ERRORS = {
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "no_permission",
    "ekm_access_denied",
}
_MESSAGE_ERRORS = {"no_text", "msg_too_long", "invalid_blocks", "invalid_blocks_format"}
_TRANSIENT_ERRORS = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
}


class _RateLimited(TransientError):
    """HTTP 429: Slack says how long to wait."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# No Prefect timeout: it cannot interrupt a worker thread, and the loop keeps its own deadline.
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
    """Post ``text`` (and optional Block Kit ``blocks``) to ``channel``, or the workspace's
    incident channel; never raises for Slack or network failures.

    429 waits out ``Retry-After`` (giving up at once if that is beyond the deadline); 5xx,
    timeouts and connection errors back off exponentially with jitter; Slack refusals
    (``channel_not_found``, ``invalid_auth``, ...) are not retried. At most ``attempts``
    requests, all within ``max_wait_seconds`` (capped at ``MAX_WAIT_SECONDS_LIMIT``).
    On success ``Delivery.channel`` is the channel *id* Slack answers with, which together
    with ``ts`` is what ``chat.update`` needs.
    """
    target = channel or slack.incident_channel
    token = slack.token.get_secret_value()
    budget = min(max(max_wait_seconds, 0.0), MAX_WAIT_SECONDS_LIMIT)
    deadline = time.monotonic() + budget
    attempts = max(1, attempts)
    logger = run_logger()
    client = slack.client()
    made, error = 0, ""
    while made < attempts:
        made += 1
        # Never let one request run past the deadline.
        remaining = deadline - time.monotonic()
        client.timeout = max(min(slack.timeout_seconds, remaining), _MIN_ATTEMPT_SECONDS)  # type: ignore[assignment]
        try:
            answer = _post(client, slack, target, text, blocks)
        except _RateLimited as exc:
            error, wait = str(exc), exc.retry_after
        except TransientError as exc:
            error, wait = str(exc), _backoff(made)
        except PermanentError as exc:
            error = str(exc)
            break
        except Exception as exc:  # a Slack post must never abort the flow that sent it
            error = f"unexpected {type(exc).__name__} posting to {target}: {exc}"
            break
        else:
            return Delivery(
                channel=str(answer.get("channel") or target),
                kind=kind,
                delivered=True,
                attempts=made,
                ts=str(answer.get("ts", "")),
            )
        error = _scrub(error, token)
        if made >= attempts:
            break
        left = deadline - time.monotonic()
        if wait > left:
            error += f"; gave up: waiting {wait:.1f} s would pass the {budget:g} s deadline"
            break
        logger.info(
            "Slack post to %s, attempt %d of %d failed (%s); retrying in %.1f s",
            target,
            made,
            attempts,
            error,
            wait,
        )
        time.sleep(wait)
    error = _scrub(error, token)
    logger.warning(
        "Slack %s message to %s not delivered after %d attempt(s): %s", kind, target, made, error
    )
    return Delivery(channel=target, kind=kind, delivered=False, attempts=made, error=error)


def _post(
    client: WebClient,
    slack: SlackWorkspace,
    target: str,
    text: str,
    blocks: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    """One ``chat.postMessage``; every failure is classified here, once."""
    try:
        response = client.chat_postMessage(channel=target, text=text, blocks=blocks)
    except SlackApiError as exc:
        raise _classify_api_error(exc.response, slack, target) from None
    except TimeoutError as exc:
        raise TransientError(
            f"Slack at {slack.api_base_url} did not answer within {client.timeout:g} s ({exc})"
        ) from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise TransientError(
                f"Slack at {slack.api_base_url} did not answer within {client.timeout:g} s"
            ) from None
        raise _unreachable(slack, exc.reason) from None
    except (OSError, http.client.HTTPException) as exc:
        raise _unreachable(slack, exc) from None
    except SlackRequestError as exc:
        raise PermanentError(
            f"the Slack SDK refused the request ({exc}): check api_base_url in {slack.label}"
        ) from None
    return dict(response.data) if isinstance(response.data, dict) else {}


def _classify_api_error(response: Any, slack: SlackWorkspace, target: str) -> Exception:
    status: int = response.status_code
    data = response.data if isinstance(response.data, dict) else {}
    code = str(data.get("error") or "")
    if status == 429:
        retry_after = _retry_after(response.headers)
        return _RateLimited(f"Slack rate limited for {retry_after:g} s (HTTP 429)", retry_after)
    if status >= 500 or code in _TRANSIENT_ERRORS:
        return TransientError(
            f"Slack answered HTTP {status} ({code or 'no error code'}): a Slack-side problem; "
            "see https://slack-status.com if it persists"
        )
    if status != 200:
        return PermanentError(
            f"{slack.api_base_url} answered HTTP {status} ({code or 'no error code'}): "
            f"check api_base_url in {slack.label}"
        )
    if code in _AUTH_ERRORS:
        return PermanentError(
            f"Slack refused the bot token ({code}): check the token in {slack.label}"
        )
    if code == "missing_scope":
        needed = data.get("needed", "chat:write")
        return PermanentError(
            f"the Slack app lacks the {needed} scope (missing_scope): add it, reinstall the app "
            f"and update the token in {slack.label}"
        )
    if code == "channel_not_found":
        return PermanentError(
            f"Slack has no channel {target} the bot can see (channel_not_found): check the "
            f"channel name, or invite the bot to it if it is private"
        )
    if code == "not_in_channel":
        return PermanentError(
            f"the bot is not a member of {target} (not_in_channel): invite the bot to {target} "
            f"(/invite @your-bot in {target})"
        )
    if code == "is_archived":
        return PermanentError(f"{target} is archived (is_archived): unarchive it or post elsewhere")
    if code in _MESSAGE_ERRORS:
        return PermanentError(f"Slack refused the message itself ({code}): fix its text or blocks")
    return PermanentError(f"Slack refused the post to {target} ({code or 'no error code'})")


def _unreachable(slack: SlackWorkspace, reason: object) -> TransientError:
    return TransientError(
        f"could not reach Slack at {slack.api_base_url} ({reason}): check the network, any "
        f"proxy, and api_base_url in {slack.label}"
    )


def _retry_after(headers: Any) -> float:
    raw = None
    if headers:
        raw = headers.get("Retry-After") or headers.get("retry-after")
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    try:
        return max(float(raw), 0.0) if raw is not None else 1.0
    except (TypeError, ValueError):
        return 1.0


def _backoff(attempt: int) -> float:
    """Exponential (0.2, 0.4, 0.8 ... up to 5 s) with equal jitter, so callers spread out."""
    delay = min(_BACKOFF_CAP_SECONDS, _BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
    return delay / 2 + random.uniform(0, delay / 2)


def _scrub(text: str, token: str) -> str:
    """No bot token (this one or any other) leaves the task in a message."""
    return redact_slack_tokens(redact(text, token))
