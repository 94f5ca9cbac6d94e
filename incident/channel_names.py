"""Dedicated incident channel names within Slack's rules (runbook 001: #incident-2024-01-15-x).

Slack channel names are lowercase letters, digits, hyphens and underscores, at most 80
characters. A collision (``name_taken``) gets ``-2``, ``-3``, ... appended, the suffix
always fitting inside the limit.
"""

from __future__ import annotations

import re
from datetime import date

__all__ = ["MAX_CHANNEL_NAME", "channel_name", "slug"]

MAX_CHANNEL_NAME = 80
_NOT_ALLOWED = re.compile(r"[^a-z0-9_-]+")


def slug(text: str) -> str:
    """Lowercase, every run of other characters one hyphen, no hyphen at either end."""
    return _NOT_ALLOWED.sub("-", text.lower()).strip("-_") or "service"


def channel_name(day: date, service: str, attempt: int = 1, *, prefix: str = "incident") -> str:
    """``incident-2026-12-02-payments``; attempt 2 gives ``...-payments-2``."""
    suffix = f"-{attempt}" if attempt > 1 else ""
    head = f"{slug(prefix)}-{day:%Y-%m-%d}-"
    room = MAX_CHANNEL_NAME - len(head) - len(suffix)
    return head + slug(service)[:room].rstrip("-_") + suffix
