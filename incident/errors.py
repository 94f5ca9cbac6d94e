"""The one error hierarchy every external boundary raises.

Errors are classified once, where the client wrapper meets the external system, so
task retries can ask a single question: is this worth trying again?
"""

from __future__ import annotations

__all__ = ["ApprovalMismatch", "FirebreakError", "PermanentError", "TransientError"]


class FirebreakError(Exception):
    """Base class: the message always says what to do next."""


class TransientError(FirebreakError):
    """Timeout, connection reset, 5xx, 429: retrying may succeed."""


class PermanentError(FirebreakError):
    """4xx, bad configuration, missing object: retrying will not help."""


class ApprovalMismatch(PermanentError):
    """A destructive action was offered an approval for some other plan."""


def is_transient(exc: BaseException) -> bool:
    """``retry_condition_fn`` for Prefect tasks: retry only transient failures."""
    return isinstance(exc, TransientError)
