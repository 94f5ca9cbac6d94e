"""The approval request as a Slack message with Approve and Reject buttons (Block Kit).

Each button's ``value`` carries what the click must answer: the flow run, the plan digest
it waits on, the incident, and who asked. Slack signs the whole interaction payload, value
included, so the receiver can trust it; the run only resumes if it still waits on exactly
that digest (``flows.answer.submit_decision``), so a button in an old message is harmless.

Example (the approval step, after pausing under ``pause_key(plan.digest)``)::

    blocks = approval_request_blocks(incident.id, plan.digest, flow_run_id,
                                     summary="Terminate 3 backends on orders-db",
                                     deadline=deadline)
    client.chat_postMessage(channel=incident.channel, text=fallback, blocks=blocks)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

__all__ = [
    "ACTIONS",
    "APPROVE_ACTION",
    "REJECT_ACTION",
    "ButtonValue",
    "approval_request_blocks",
    "decided_blocks",
]

APPROVE_ACTION = "firebreak-approve"
REJECT_ACTION = "firebreak-reject"
ACTIONS = {APPROVE_ACTION: "approve", REJECT_ACTION: "reject"}
_ACTIONS_BLOCK = "firebreak-approval"


class ButtonValue(BaseModel):
    """What a button carries; short keys because Slack caps a value at 2,000 characters."""

    run: UUID = Field(alias="r")
    digest: str = Field(alias="d", pattern=r"^[0-9a-f]{8,64}$")
    incident: str = Field(alias="i", max_length=128)
    requested_by: str | None = Field(None, alias="q", max_length=200)

    def encode(self) -> str:
        return json.dumps(self.model_dump(mode="json", by_alias=True), separators=(",", ":"))


def _when(deadline: datetime) -> str:
    return deadline.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def approval_request_blocks(
    incident_id: str,
    plan_digest: str,
    flow_run_id: UUID | str,
    summary: str,
    deadline: datetime,
    *,
    requested_by: str | None = None,
    run_url: str | None = None,
) -> list[dict[str, Any]]:
    """Blocks for the "APPROVAL NEEDED" message: what, until when, and the two buttons."""
    value = ButtonValue(r=flow_run_id, d=plan_digest, i=incident_id, q=requested_by).encode()
    where = f" · <{run_url}|open the run>" if run_url else ""
    return [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f":rotating_light: *APPROVAL NEEDED* for {incident_id}\n{summary[:2500]}",
            },
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"Plan `{plan_digest}` · answer by *{_when(deadline)}*; no answer: "
                    f"nothing is done and the incident escalates{where}",
                }
            ],
        },
        {
            "type": "actions",
            "block_id": _ACTIONS_BLOCK,
            "elements": [
                {
                    "type": "button",
                    "action_id": APPROVE_ACTION,
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Approve"},
                    "value": value,
                    "confirm": {
                        "title": {"type": "plain_text", "text": "Approve this plan?"},
                        "text": {
                            "type": "mrkdwn",
                            "text": f"Runs exactly plan `{plan_digest}` as described above.",
                        },
                        "confirm": {"type": "plain_text", "text": "Approve"},
                        "deny": {"type": "plain_text", "text": "Cancel"},
                    },
                },
                {
                    "type": "button",
                    "action_id": REJECT_ACTION,
                    "style": "danger",
                    "text": {"type": "plain_text", "text": "Reject"},
                    "value": value,
                },
            ],
        },
    ]


def decided_blocks(original: list[dict[str, Any]], note: str) -> list[dict[str, Any]]:
    """The message as it was, its buttons replaced by a line saying what happened."""
    kept = [b for b in original if b.get("type") != "actions"]
    return [*kept, {"type": "context", "elements": [{"type": "mrkdwn", "text": note[:3000]}]}]
