"""A request we will not act on: its HTTP status, a reason for metrics, words for the sender.

Every refusal is a 4xx that says what is wrong and what to do; bad input is never a 5xx and
never starts anything. The reason is a short fixed token (``unauthenticated``,
``too_large``...) so ``/metrics`` can count refusals without leaking what was sent.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

__all__ = ["Refusal", "describe_validation_error"]


class Refusal(Exception):
    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.details = details or []
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.reason, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


def describe_validation_error(exc: ValidationError, *, limit: int = 20) -> list[dict[str, Any]]:
    """Where and what, for each problem; never the offending value (it may be huge or secret)."""
    details = []
    for error in exc.errors(include_input=False, include_url=False)[:limit]:
        where = ".".join(str(part) for part in error["loc"]) or "(body)"
        details.append({"field": where, "problem": error["msg"]})
    return details
