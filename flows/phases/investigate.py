"""Investigation: from findings to a decision — no incident, escalate, or a ladder of plans.

The scenario's ``decide`` is pure; this phase records what it concluded (each candidate plan
by digest, and the notes on what was seen but not planned) so the post-mortem, a re-run and
a person reading the record all see the same reasoning.
"""

from __future__ import annotations

from collections.abc import Callable

from prefect import flow

from flows.response import Response
from incident.decision import Decision
from incident.models import Finding

__all__ = ["investigate", "recorded_decision"]


@flow(name="investigate", validate_parameters=False)
def investigate(
    response: Response, findings: list[Finding], decide: Callable[[list[Finding]], Decision]
) -> Decision:
    with response.step("investigate", "decision", "deciding from the findings") as out:
        decision = decide(findings)
        for plan in decision.plans:
            response.record_plan(plan)
        out["message"] = f"{decision.verdict.value}: {decision.why}"
        out["decision"] = decision.model_dump(mode="json")
        out["plans"] = [p.digest for p in decision.plans]
    for note in decision.notes:
        response.event("investigate", "note", "info", note)
    return decision


def recorded_decision(response: Response) -> Decision | None:
    """The decision an earlier attempt of this run recorded, for a re-run to go on from."""
    done = response.done("investigate", "decision")
    return Decision.model_validate(done.data["decision"]) if done else None
