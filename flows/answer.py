"""Answering an approval from outside the run: the one path for the CLI, Slack and drills.

The Prefect UI's form resumes the paused run directly; every other way in comes through
`submit_decision`, which makes the same checks first. An answer is bound to a plan by the
pause itself: the run pauses under the key ``approval-<plan digest>-<n>``, so an answer
prepared for an older plan (a button in an old Slack message, a CLI call with a digest
read before a re-plan) finds a different pause and changes nothing.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.objects import State
from prefect.exceptions import ObjectNotFound
from prefect.input import RunInput
from prefect.states import Running
from pydantic import Field

__all__ = [
    "ApprovalInput",
    "Decision",
    "SubmitOutcome",
    "SubmitResult",
    "awaited_plan",
    "pause_key",
    "submit_decision",
]

_PREFIX = "approval-"
SCHEMA_WAIT_SECONDS = 60.0  # how long an answer waits for a just-paused run's form


class Decision(enum.StrEnum):
    """approve runs exactly the plan above; reject changes nothing and escalates."""

    APPROVE = "approve"
    REJECT = "reject"


class ApprovalInput(RunInput):
    """The form on a paused run: the plan it decides is the one described above it."""

    decision: Decision = Field(
        title="Decision",
        description=(
            "approve: run exactly the plan described above, nothing else. "
            "reject: change nothing and escalate."
        ),
    )
    approver: str = Field(
        min_length=1,
        title="Approver",
        description="Who decides (name or handle); recorded in the timeline and post-mortem.",
    )
    reason: str = Field(
        "",
        title="Reason",
        description="Why: it goes into the timeline and the post-mortem.",
    )


def pause_key(plan_digest: str, attempt: int = 1) -> str:
    """The pause a plan's approval waits in; a new attempt (re-sent request) gets a new one."""
    return f"{_PREFIX}{plan_digest}-{attempt}"


def awaited_plan(state: State[Any] | None) -> str | None:
    """The digest of the plan a paused run is waiting on, or None if it waits on none."""
    if state is None or not state.is_paused():
        return None
    key = str(state.state_details.pause_key or "")
    if not key.startswith(_PREFIX):
        return None
    return key[len(_PREFIX) :].rsplit("-", 1)[0]


class SubmitOutcome(enum.StrEnum):
    ACCEPTED = "accepted"
    NOT_PAUSED = "not_paused"  # finished, expired, or already answered
    OTHER_PLAN = "other_plan"  # the run now waits on a different plan
    INVALID = "invalid"  # the answer does not fill the form
    UNKNOWN_RUN = "unknown_run"


@dataclass(frozen=True)
class SubmitResult:
    outcome: SubmitOutcome
    message: str

    @property
    def accepted(self) -> bool:
        return self.outcome is SubmitOutcome.ACCEPTED


def submit_decision(
    flow_run_id: UUID | str,
    *,
    plan_digest: str,
    decision: Decision | str,
    approver: str,
    reason: str = "",
) -> SubmitResult:
    """Resume the run with this answer if, and only if, it is waiting on ``plan_digest``.

    Never raises for a stale or finished run: the result says why nothing happened, in
    words fit to show the person who clicked.
    """
    try:
        answer = ApprovalInput(decision=Decision(decision), approver=approver, reason=reason)
    except ValueError as exc:
        return SubmitResult(SubmitOutcome.INVALID, f"the answer is not valid: {exc}")
    run_id = UUID(str(flow_run_id))
    with get_client(sync_client=True) as client:
        try:
            run = client.read_flow_run(run_id)
        except ObjectNotFound:
            return SubmitResult(SubmitOutcome.UNKNOWN_RUN, f"there is no flow run {run_id}")
        waiting_on = awaited_plan(run.state)
        if waiting_on is None:
            state = run.state.name if run.state else "unknown"
            return SubmitResult(
                SubmitOutcome.NOT_PAUSED,
                f"flow run {run.name} is not waiting for an approval (it is {state}): "
                "nothing was changed",
            )
        if waiting_on != plan_digest:
            return SubmitResult(
                SubmitOutcome.OTHER_PLAN,
                f"flow run {run.name} now waits on plan {waiting_on}, not {plan_digest}: "
                "the plan changed since this request; nothing was changed, answer the new one",
            )
        response = _resume(client, run_id, answer.model_dump(mode="json"))
    if response.status.value != "ACCEPT":
        reason_text = getattr(response.details, "reason", "") or response.status.value
        return SubmitResult(
            SubmitOutcome.NOT_PAUSED, f"Prefect refused to resume {run.name}: {reason_text}"
        )
    return SubmitResult(
        SubmitOutcome.ACCEPTED, f"{answer.decision.value} by {approver} recorded for {run.name}"
    )


def _resume(client: SyncPrefectClient, run_id: UUID, run_input: dict[str, Any]) -> Any:
    """Resume; an answer that comes the instant the run pauses is held until its form exists.

    ``pause_flow_run`` sets the run Paused first and saves the form's schema just after, so
    an answer in between (a drill, a fast click on a Slack button posted before the pause)
    is rejected with "Run input schema not found" though the run is waiting for it.
    """
    deadline = time.monotonic() + SCHEMA_WAIT_SECONDS
    while True:
        response = client.resume_flow_run(run_id, run_input=run_input)
        reason = str(getattr(response.details, "reason", "") or "")
        if response.status.value == "ACCEPT" or "schema not found" not in reason.lower():
            return response
        if time.monotonic() > deadline:
            return response
        time.sleep(0.5)


def set_running(flow_run_id: UUID) -> None:
    """A timed-out pause leaves the run Paused; set it Running so the flow may go on."""
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(flow_run_id, Running(), force=True)
