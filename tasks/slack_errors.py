"""How a Slack failure is told: transient or permanent, and what to do next, never a token.

Classified once here, for every Slack call `tasks.slack_api.call_slack` makes.
"""

from __future__ import annotations

from typing import Any

from blocks.slack import SlackWorkspace, redact_slack_tokens
from incident.errors import PermanentError, TransientError
from incident.redact import redact

__all__ = [
    "TRANSIENT_ERRORS",
    "classify_api_error",
    "retry_after",
    "scrub",
    "unreachable",
]

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
TRANSIENT_ERRORS = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
}


def classify_api_error(response: Any, slack: SlackWorkspace, target: str) -> tuple[str, str]:
    """(message, Slack error code); transient or permanent is told by the message's words."""
    status: int = response.status_code
    data = response.data if isinstance(response.data, dict) else {}
    code = str(data.get("error") or "")
    where = target or "the channel"
    if status == 429:
        wait = retry_after(response.headers)
        return str(TransientError(f"Slack rate limited for {wait:g} s (HTTP 429)")), code
    if status >= 500 or code in TRANSIENT_ERRORS:
        message = (
            f"Slack answered HTTP {status} ({code or 'no error code'}): a Slack-side problem; "
            "see https://slack-status.com if it persists"
        )
        return message, code
    if status != 200:
        return (
            f"{slack.api_base_url} answered HTTP {status} ({code or 'no error code'}): "
            f"check api_base_url in {slack.label}",
            code,
        )
    messages = {
        "channel_not_found": f"Slack has no channel {where} the bot can see (channel_not_found): "
        "check the channel name, or invite the bot to it if it is private",
        "not_in_channel": f"the bot is not a member of {where} (not_in_channel): invite the bot "
        f"to {where} (/invite @your-bot in {where})",
        "is_archived": f"{where} is archived (is_archived): unarchive it or post elsewhere",
        "missing_scope": f"the Slack app lacks the {data.get('needed', 'needed')} scope "
        f"(missing_scope): add it, reinstall the app and update the token in {slack.label}",
    }
    if code in _AUTH_ERRORS:
        return f"Slack refused the bot token ({code}): check the token in {slack.label}", code
    if code in messages:
        return messages[code], code
    if code in _MESSAGE_ERRORS:
        return f"Slack refused the message itself ({code}): fix its text or blocks", code
    return str(PermanentError(f"Slack refused the call for {where} ({code or 'no code'})")), code


def unreachable(slack: SlackWorkspace, reason: object) -> TransientError:
    return TransientError(
        f"could not reach Slack at {slack.api_base_url} ({reason}): check the network, any "
        f"proxy, and api_base_url in {slack.label}"
    )


def retry_after(headers: Any) -> float:
    raw = None
    if headers:
        for key, value in dict(headers).items():
            if key.lower() == "retry-after":
                raw = value
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    try:
        return max(float(raw), 0.0) if raw is not None else 1.0
    except (TypeError, ValueError):
        return 1.0


def scrub(text: str, token: str) -> str:
    """No bot token (this one or any other) leaves this module in a message."""
    return redact_slack_tokens(redact(text, token))
