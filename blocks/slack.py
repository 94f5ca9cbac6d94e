"""The Slack workspace Firebreak talks to: bot token, API address, default channel.

Configuration only (see DESIGN.md); ``client()`` hands out a ready ``WebClient`` and the
retry policy lives in ``tasks.slack`` where it can be bounded.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

from prefect.blocks.core import Block
from pydantic import Field, SecretStr, field_validator
from slack_sdk import WebClient

__all__ = ["SlackWorkspace", "redact_slack_tokens"]

_SLACK_TOKEN = re.compile(r"xox[a-z]-[A-Za-z0-9-]+")


def redact_slack_tokens(text: str) -> str:
    """Mask anything shaped like a Slack token (xoxb-, xoxp-, ...), whoever's it is."""
    return _SLACK_TOKEN.sub("xox*-***", text)


class _RedactTokens(logging.Filter):
    """The SDK debug-logs whole request and response bodies; keep tokens out of them."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _SLACK_TOKEN.search(message):
            record.msg, record.args = redact_slack_tokens(message), None
        return True


_sdk_logger = logging.getLogger(__name__ + ".sdk")
_sdk_logger.addFilter(_RedactTokens())


class SlackWorkspace(Block):
    """A Slack workspace reached with a bot token, where incidents are announced.

    ``api_base_url`` exists so tests and sandboxed drills can point the real client at
    ``sandbox.slack_stub.SlackStub`` instead of slack.com.

    Example:
        Load a saved workspace and post with the Slack SDK:
        ```python
        from blocks import SlackWorkspace
        slack = SlackWorkspace.load("BLOCK_NAME")
        slack.client().chat_postMessage(channel=slack.incident_channel, text="hello")
        ```
    """

    _block_type_name = "Slack Workspace"
    _description = (
        "Bot token and API address of the Slack workspace where Firebreak announces "
        "incidents and posts updates."
    )
    _logo_url = (
        "https://cdn.sanity.io/images/3ugk85nk/production/"
        "c1965ecbf8704ee1ea20d77786de9a41ce1087d1-500x500.png"
    )
    _documentation_url = "https://api.slack.com/authentication/token-types#bot"

    token: SecretStr = Field(
        description=(
            "Bot user OAuth token (xoxb-...) of the Slack app; it needs the chat:write, "
            "channels:manage and channels:join scopes."
        ),
    )
    api_base_url: str = Field(
        default="https://slack.com/api/",
        description=(
            "Base URL of the Slack Web API; point it at a local Slack stub for tests and drills."
        ),
    )
    incident_channel: str = Field(
        default="#incident-response",
        description="Channel where incidents are announced when a message names no other.",
    )
    timeout_seconds: float = Field(
        default=10,
        gt=0,
        description="How long one request to Slack may take before it counts as failed.",
    )

    @field_validator("api_base_url")
    @classmethod
    def _must_be_http(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("http", "https"):
            raise ValueError(f"api_base_url must be an http(s) URL, got {value!r}")
        return value if value.endswith("/") else value + "/"

    @property
    def label(self) -> str:
        """How messages name this block: its saved name if it has one."""
        name = getattr(self, "_block_document_name", None)
        return f"SlackWorkspace block '{name}'" if name else "the SlackWorkspace block"

    def client(self) -> WebClient:
        """A ``WebClient`` for this workspace, with no retry handlers of its own.

        ``tasks.slack.post_message`` does the retrying, so it can honour ``Retry-After``
        within its own deadline; SDK retries would wait unbounded on top.
        """
        return WebClient(
            token=self.token.get_secret_value(),
            base_url=self.api_base_url,
            timeout=self.timeout_seconds,  # type: ignore[arg-type]  # urllib takes floats
            retry_handlers=[],
            logger=_sdk_logger,
        )
