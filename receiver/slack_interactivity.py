"""Approve / Reject clicks from Slack: verified, checked against the policy, then answered.

A click is a signed ``block_actions`` payload. After the signature (``receiver.auth``), the
Slack user is mapped to an approver (``IncidentPolicy.slack_approvers``), who must be on the
allow-list (``approvers``) and, where the policy asks, not the person who requested the
action. Only then does the answer go to ``flows.answer.submit_decision``, the same path the
CLI uses and the same input the Prefect UI form gives. Whatever happens, the clicker is told
why (an ephemeral message in the channel), the message is updated when the request is
decided or no longer waiting, and the incident's timeline records the click.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from prefect.settings import PREFECT_API_URL, temporary_settings
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from flows.answer import SubmitOutcome, SubmitResult, submit_decision
from incident.models import TimelineEvent
from incident.policy import IncidentPolicy
from receiver.refusal import Refusal, describe_validation_error
from receiver.slack_blocks import ACTIONS, ButtonValue, decided_blocks

__all__ = ["Click", "ClickAnswer", "answer_click", "parse_click", "tell_slack"]

log = logging.getLogger("firebreak.receiver")


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _User(_Lenient):
    id: str = Field(min_length=1)
    username: str = ""


class _Action(_Lenient):
    action_id: str
    value: str = ""


class _Container(_Lenient):
    channel_id: str = ""
    message_ts: str = ""


class _Message(_Lenient):
    ts: str = ""
    blocks: list[dict[str, Any]] = Field(default_factory=list)


class _BlockActions(_Lenient):
    type: str
    user: _User
    actions: list[_Action] = Field(min_length=1)
    container: _Container = Field(default_factory=_Container)
    channel: dict[str, Any] = Field(default_factory=dict)
    message: _Message = Field(default_factory=_Message)


@dataclass(frozen=True)
class Click:
    user_id: str
    decision: str  # approve | reject
    value: ButtonValue
    channel: str
    message_ts: str
    blocks: list[dict[str, Any]]


def parse_click(raw: bytes) -> Click | None:
    """The click, or None for an interaction that is not one of our buttons."""
    try:
        form = parse_qs(raw.decode("utf-8"), strict_parsing=True)
        data = json.loads(form["payload"][0])
    except (UnicodeDecodeError, ValueError, KeyError, IndexError):
        raise Refusal(
            400, "invalid_payload", "expected a form field 'payload' holding Slack's JSON"
        ) from None
    try:
        payload = _BlockActions.model_validate(data)
    except ValidationError as exc:
        raise Refusal(
            422,
            "invalid_payload",
            "not a Slack block_actions payload",
            details=describe_validation_error(exc),
        ) from None
    action = payload.actions[0]
    if payload.type != "block_actions" or action.action_id not in ACTIONS:
        return None
    try:
        value = ButtonValue.model_validate_json(action.value)
    except ValidationError as exc:
        raise Refusal(
            422,
            "invalid_payload",
            "the button's value is not a Firebreak approval",
            details=describe_validation_error(exc),
        ) from None
    return Click(
        user_id=payload.user.id,
        decision=ACTIONS[action.action_id],
        value=value,
        channel=payload.container.channel_id or str(payload.channel.get("id", "")),
        message_ts=payload.container.message_ts or payload.message.ts,
        blocks=payload.message.blocks,
    )


@dataclass(frozen=True)
class ClickAnswer:
    outcome: str  # accepted, not_paused, other_plan, unknown_run, invalid, not_allowed
    approver: str | None
    text: str  # what the clicker is told
    update: str | None  # the note that replaces the buttons, or None to leave the message


def _not_allowed(text: str, approver: str | None = None) -> ClickAnswer:
    return ClickAnswer("not_allowed", approver, text + ": nothing was changed", None)


def answer_click(click: Click, policy: IncidentPolicy, prefect_api_url: str) -> ClickAnswer:
    """Check the clicker against the policy, then submit; blocking (run it in a thread)."""
    approver = policy.slack_approvers.get(click.user_id)
    if approver is None:
        return _not_allowed(
            f"<@{click.user_id}> is not mapped to an approver in the incident policy "
            "(slack_approvers)"
        )
    if approver not in policy.approvers:
        return _not_allowed(f"{approver} is not on the incident policy's approver list", approver)
    if policy.approver_must_not_be_requester and click.value.requested_by == approver:
        return _not_allowed(
            f"{approver} requested this action, and the policy asks for another approver",
            approver,
        )
    with temporary_settings(updates={PREFECT_API_URL: prefect_api_url}):
        result = submit_decision(
            click.value.run,
            plan_digest=click.value.digest,
            decision=click.decision,
            approver=approver,
            reason=f"answered in Slack by <@{click.user_id}>",
        )
    return _from_result(result, click, approver)


def _from_result(result: SubmitResult, click: Click, approver: str) -> ClickAnswer:
    at = datetime.now(UTC).strftime("%H:%M:%S UTC")
    if result.accepted:
        verb = "Approved" if click.decision == "approve" else "Rejected"
        mark = ":white_check_mark:" if click.decision == "approve" else ":no_entry:"
        return ClickAnswer(
            "accepted", approver, result.message, f"{mark} *{verb}* by {approver} at {at}"
        )
    update = None
    if result.outcome in (SubmitOutcome.NOT_PAUSED, SubmitOutcome.UNKNOWN_RUN):
        update = f":hourglass: No longer waiting for an answer ({at}): {result.message}"
    elif result.outcome is SubmitOutcome.OTHER_PLAN:
        update = ":arrows_counterclockwise: Superseded: the plan changed; answer the new request"
    return ClickAnswer(result.outcome.value, approver, result.message, update)


def click_event(click: Click, answer: ClickAnswer) -> TimelineEvent:
    who = answer.approver or f"Slack user {click.user_id}"
    return TimelineEvent(
        incident_id=click.value.incident,
        phase="mitigate",
        step="approval-click",
        status="info" if answer.outcome == "accepted" else "skipped",
        message=f"{click.decision} clicked in Slack by {who}: {answer.text}",
        data={
            "outcome": answer.outcome,
            "slack_user": click.user_id,
            "approver": answer.approver,
            "plan_digest": click.value.digest,
            "flow_run_id": str(click.value.run),
        },
    )


def tell_slack(client: WebClient, click: Click, answer: ClickAnswer) -> None:
    """Update the message and answer the clicker; a Slack failure is logged, never raised."""
    try:
        if answer.update is not None and click.channel and click.message_ts:
            client.chat_update(
                channel=click.channel,
                ts=click.message_ts,
                text=answer.update,
                blocks=decided_blocks(click.blocks, answer.update),
            )
        if answer.outcome != "accepted" and click.channel:
            client.chat_postEphemeral(channel=click.channel, user=click.user_id, text=answer.text)
    except (SlackApiError, SlackRequestError, OSError) as exc:
        log.warning("could not answer a Slack click in %s: %s", click.channel, type(exc).__name__)
