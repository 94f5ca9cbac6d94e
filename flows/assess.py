"""Detection & assessment: run a scenario's diagnostics concurrently, keep every verdict.

A diagnostic that still fails after its retries becomes an ``unreachable`` finding, so one
dead target never hides what the others saw, and never crashes the incident flow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from prefect import Task
from prefect.states import State

from flows.scribe import Scribe
from incident.models import Finding, FindingStatus

__all__ = ["Check", "assess", "finding_from_state"]


@dataclass(frozen=True)
class Check:
    """One diagnostic: a task that returns a Finding, with its arguments."""

    name: str
    target: str
    task: Task[..., Finding]
    kwargs: dict[str, Any] = field(default_factory=dict)


def finding_from_state(check: Check, state: State[Finding]) -> Finding:
    """A completed check's finding; a failed one (after its retries) as ``unreachable``."""
    if state.is_completed():
        return state.result()
    error = state.result(raise_on_failure=False)
    return Finding(
        check=check.name,
        target=check.target,
        status=FindingStatus.UNREACHABLE,
        summary=f"{check.name} could not run: {error}",
        evidence={"error": str(error), "state": state.name},
    )


def assess(
    scribe: Scribe,
    checks: Sequence[Check],
    *,
    skipped: Sequence[Finding] = (),
    phase: str = "assess",
) -> list[Finding]:
    """Submit every check at once; record each finding (and each skipped check) as read."""
    with scribe.step(phase, "diagnostics", f"running {len(checks)} diagnostics") as outcome:
        futures = [check.task.submit(**check.kwargs) for check in checks]
        for future in futures:
            future.wait()
        findings = [
            finding_from_state(check, future.state)
            for check, future in zip(checks, futures, strict=True)
        ]
        findings += skipped
        for finding in findings:
            scribe.record.add_finding(scribe.incident.id, finding)
        outcome["message"] = f"{len(findings)} diagnostics: " + "; ".join(
            f"{f.check} {f.status.value}" for f in findings
        )
        outcome["problems"] = [f.check for f in findings if f.is_problem]
    return findings
