"""A person at the Prefect UI, in code, for drills and tests: waits for the form, answers it.

It goes through the same API the UI uses (read the paused run, resume it with input), from
outside the flow run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from uuid import UUID

from prefect.client.orchestration import get_client

from flows.answer import SubmitResult, submit_decision
from incident.models import Plan
from incident.record import IncidentRecord


def wait_for_approval_request(
    record: IncidentRecord,
    scenario: str,
    timeout: float = 90,
    ignore: Collection[str] = (),
    incident_id: str | None = None,
) -> tuple[str, UUID, str]:
    """(incident id, flow run id, plan digest) once the run is paused on its approval.

    ``incident_id``: wait for that incident only (a drill names its own, so a drill running
    beside it on the same record, from another Prefect API, is never answered by mistake).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for incident in record.incidents(scenario=scenario):
            if incident["id"] in ignore or incident_id not in (None, incident["id"]):
                continue
            asked = [
                e
                for e in record.timeline(incident["id"])
                if e.step == "approval" and e.status == "started"
            ]
            if asked and incident["flow_run_id"]:
                run_id = UUID(incident["flow_run_id"])
                with get_client(sync_client=True) as client:
                    state = client.read_flow_run(run_id).state
                if state is not None and state.is_paused():
                    return incident["id"], run_id, asked[-1].data["plan_digest"]
        time.sleep(0.3)
    raise TimeoutError(f"no {scenario} flow run paused for approval within {timeout}s")


def answer(
    flow_run_id: UUID, *, approve: bool, approver: str, plan_digest: str, reason: str = ""
) -> SubmitResult:
    """Answer as a person would, for exactly the plan they read (refused if it changed)."""
    return submit_decision(
        flow_run_id,
        plan_digest=plan_digest,
        decision="approve" if approve else "reject",
        approver=approver,
        reason=reason,
    )


class OnCall(threading.Thread):
    """A drill's on-call in the background: waits for its own incident's approval request,
    reads the plan for ``read_seconds``, then approves it, unless ``judge`` objects to the
    plans (it returns why), in which case the plan is rejected with that reason."""

    def __init__(
        self,
        record: IncidentRecord,
        scenario: str,
        incident_id: str,
        *,
        read_seconds: float = 1.0,
        judge: Callable[[list[Plan]], str | None] | None = None,
        meanwhile: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(daemon=True, name=f"on-call-{incident_id}")
        self.record, self.scenario, self.incident_id = record, scenario, incident_id
        self.read_seconds, self.judge, self.meanwhile = read_seconds, judge, meanwhile
        self.approved = False
        self.objection: str | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            _, run_id, digest = wait_for_approval_request(
                self.record, self.scenario, timeout=300, incident_id=self.incident_id
            )
            time.sleep(self.read_seconds)  # a person reads the plan before deciding
            if self.meanwhile is not None:
                self.meanwhile()  # what changes on the target while they read
            if self.judge is not None:
                self.objection = self.judge(self.record.plans(self.incident_id))
            given = answer(
                run_id,
                approve=self.objection is None,
                approver="drill-on-call",
                reason=self.objection or "drill",
                plan_digest=digest,
            )
            self.approved = given.accepted and self.objection is None
        except BaseException as exc:  # reported on the scorecard, never lost in a thread
            self.error = exc
