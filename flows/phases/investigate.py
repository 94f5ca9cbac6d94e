"""Investigation: from findings to a decision — no incident, escalate, or a ladder of plans.

The scenario's ``decide`` is pure; this phase records what it concluded (each candidate plan
by digest, and the notes on what was seen but not planned) so the post-mortem, a re-run and
a person reading the record all see the same reasoning.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from prefect.artifacts import create_markdown_artifact

from flows.phases.phase import phase
from flows.response import Response
from incident.decision import Decision
from incident.investigation import Recommendation, decide_mitigation, rank_hypotheses
from incident.models import Finding

__all__ = ["investigate", "preserve_evidence", "recorded_decision", "weigh"]


def preserve_evidence(response: Response, findings: list[Finding]) -> str:
    """Runbook 001's evidence preservation: what every check saw (logs, database state,
    metrics), as it was at assessment, in an artifact the record links to."""
    key = f"{response.id.lower()}-evidence"
    lines = [f"## Evidence of {response.id}, as assessed", ""]
    for f in findings:
        lines += [
            f"### {f.check} — {f.status.value}",
            f"{f.summary} (as of {f.observed_at:%Y-%m-%d %H:%M:%S} UTC, {f.target})",
            "",
            "```json",
            json.dumps(f.evidence, indent=1, default=str)[:20_000],
            "```",
            "",
        ]
    create_markdown_artifact(key=key, markdown="\n".join(lines), description="Evidence, preserved")
    response.event("investigate", "evidence", "completed", f"evidence preserved in artifact {key}")
    return key


def weigh(response: Response, findings: list[Finding]) -> Recommendation:
    """Ranked root-cause hypotheses and runbook 002's recommendation, recorded with why."""
    hypotheses = rank_hypotheses(findings, response.incident.alert)
    recommendation = decide_mitigation(hypotheses)
    response.event(
        "investigate",
        "hypotheses",
        "completed",
        "; ".join(f"{h.cause.value} ({h.confidence:.0%})" for h in hypotheses)
        or "no hypothesis: nothing the checks saw points to a cause",
        hypotheses=[h.model_dump(mode="json") for h in hypotheses],
        recommendation=recommendation.remedy.value,
        because=list(recommendation.because),
    )
    return recommendation


@phase("investigate")
def investigate(
    response: Response, findings: list[Finding], decide: Callable[[list[Finding]], Decision]
) -> Decision:
    """Preserve the evidence, weigh the causes, then the scenario's own decision."""
    preserve_evidence(response, findings)
    weigh(response, findings)
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
