"""Per-source payload models, and the one function that turns a parsed body into alerts."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from receiver.payloads.alertmanager import AlertmanagerPayload, GrafanaPayload
from receiver.payloads.common import Normaliser, ParsedDelivery, ReceivedAlert
from receiver.payloads.generic import GenericPayload
from receiver.payloads.pagerduty import PagerDutyWebhook

__all__ = [
    "MODELS",
    "AlertmanagerPayload",
    "GenericPayload",
    "GrafanaPayload",
    "Normaliser",
    "PagerDutyWebhook",
    "ParsedDelivery",
    "ReceivedAlert",
    "normalise",
]

MODELS: dict[str, type[BaseModel]] = {
    "alertmanager": AlertmanagerPayload,
    "grafana": GrafanaPayload,
    "pagerduty": PagerDutyWebhook,
    "generic": GenericPayload,
}


def normalise(source: str, body: Any, norm: Normaliser) -> ParsedDelivery:
    """Validate ``body`` as ``source`` sends it; raises pydantic's ValidationError if broken."""
    payload = MODELS[source].model_validate(body)
    return payload.normalise(norm)  # type: ignore[attr-defined]
