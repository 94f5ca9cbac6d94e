"""A local PagerDuty Events API v2 (``POST /v2/enqueue``): alerts by dedup key.

Validates events the way PagerDuty documents them (routing key, ``event_action`` of
trigger / acknowledge / resolve, a ``dedup_key`` for the last two, ``payload.summary``,
``source`` and ``severity`` for a trigger) and answers ``202 {"status": "success",
"dedup_key": ...}`` or ``400 {"status": "invalid event", "errors": [...]}``. Alerts are kept
per (routing key, dedup key) with their state, so tests can ask what an on-call would see.
"""

from __future__ import annotations

import hmac
from typing import Any

from sandbox.http_stub import HttpStub, StubReply

__all__ = ["PagerDutyStub"]

_ACTIONS = ("trigger", "acknowledge", "resolve")
_SEVERITIES = ("critical", "error", "warning", "info")
_STATE = {"trigger": "triggered", "acknowledge": "acknowledged", "resolve": "resolved"}


class PagerDutyStub(HttpStub):
    """Accepts events for the given routing keys only (any other is 400, as PagerDuty)."""

    name = "pagerduty-stub"

    def __init__(self, *routing_keys: str, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host=host, port=port)
        self.routing_keys = routing_keys
        self.events: list[dict[str, Any]] = []  # accepted events, routing key included
        self.alerts: dict[tuple[str, str], dict[str, Any]] = {}

    def dedup_keys(self) -> set[str]:
        with self.lock:
            return {e["dedup_key"] for e in self.events}

    def actions(self) -> list[str]:
        with self.lock:
            return [e["event_action"] for e in self.events]

    def route(self, method: str, path: str, headers: dict[str, str], body: Any) -> StubReply:
        if method != "POST" or path != "/v2/enqueue":
            return StubReply(404, {"status": "not found"})
        errors = self._invalid(body if isinstance(body, dict) else {})
        if errors:
            return StubReply(
                400,
                {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
            )
        event = dict(body)
        action, key = event["event_action"], event.get("dedup_key")
        with self.lock:
            if key is None:  # PagerDuty makes one up for a trigger without a key
                key = f"pd-{len(self.events) + 1}"
                event["dedup_key"] = key
            self.events.append(event)
            alert = self.alerts.setdefault(
                (event["routing_key"], key), {"status": "triggered", "history": []}
            )
            if alert["status"] != "resolved" or action == "trigger":
                alert["status"] = _STATE[action]
            alert["history"].append(action)
            if action == "trigger":
                alert["summary"] = event["payload"]["summary"]
        return StubReply(202, {"status": "success", "message": "Event processed", "dedup_key": key})

    def _invalid(self, event: dict[str, Any]) -> list[str]:
        errors = []
        key = str(event.get("routing_key") or "")
        if not any(hmac.compare_digest(key.encode(), k.encode()) for k in self.routing_keys):
            errors.append("'routing_key' is invalid")
        action = event.get("event_action")
        if action not in _ACTIONS:
            errors.append(f"'event_action' must be one of {_ACTIONS}")
        if action in ("acknowledge", "resolve") and not event.get("dedup_key"):
            errors.append("'dedup_key' is required for acknowledge and resolve")
        if len(str(event.get("dedup_key") or "")) > 255:
            errors.append("'dedup_key' is longer than 255 characters")
        if action == "trigger":
            payload = event.get("payload") or {}
            for name in ("summary", "source"):
                if not payload.get(name):
                    errors.append(f"'payload.{name}' is missing")
            if payload.get("severity") not in _SEVERITIES:
                errors.append(f"'payload.severity' must be one of {_SEVERITIES}")
            if len(str(payload.get("summary") or "")) > 1024:
                errors.append("'payload.summary' is longer than 1024 characters")
        return errors
