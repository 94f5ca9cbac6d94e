"""Where pages go: a PagerDuty service reached through the Events API v2."""

from __future__ import annotations

from urllib.parse import urlsplit

from prefect.blocks.core import Block
from pydantic import Field, SecretStr, field_validator

__all__ = ["PagerDutyService"]


class PagerDutyService(Block):
    """A PagerDuty Events API v2 integration (runbook 001: SEV1/2 page the on-call).

    ``routing_key`` pages the on-call; ``contact_routing_keys`` routes an escalation level's
    contact (as the policy's matrix names them, e.g. "DevOps Lead") to its own service.
    Every event of one incident carries the same dedup key, whichever service it goes to.

    Example:
        ```python
        from blocks.pager import PagerDutyService
        from tasks.pager import send_page_event

        pager = PagerDutyService.load("BLOCK_NAME")
        send_page_event(pager, "trigger", dedup_key="firebreak-INC-1", summary="SEV1 ...")
        ```
    """

    _block_type_name = "PagerDuty Service"
    _description = "Routing key(s) of the PagerDuty Events API v2 integration that pages on-call."
    _documentation_url = "https://developer.pagerduty.com/docs/events-api-v2/overview/"

    routing_key: SecretStr = Field(description="Integration (routing) key of the on-call service.")
    contact_routing_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Routing key per escalation contact; contacts without one page the on-call "
        "service with the contact named in the event.",
    )
    events_url: str = Field(
        "https://events.pagerduty.com",
        description="Base URL of the Events API; point it at a local stub for tests and drills.",
    )
    source: str = Field("firebreak", description="The event's payload.source.")
    timeout_seconds: float = Field(10, gt=0, description="How long one request may take.")

    @field_validator("events_url")
    @classmethod
    def _must_be_http(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("http", "https"):
            raise ValueError(f"events_url must be an http(s) URL, got {value!r}")
        return value.rstrip("/")

    @property
    def label(self) -> str:
        name = getattr(self, "_block_document_name", None)
        return f"PagerDutyService block '{name}'" if name else "the PagerDutyService block"

    def routing_key_for(self, contact: str = "") -> str:
        """The key that reaches ``contact`` (the on-call service's if it has none)."""
        chosen = self.contact_routing_keys.get(contact) if contact else None
        return (chosen or self.routing_key).get_secret_value()
