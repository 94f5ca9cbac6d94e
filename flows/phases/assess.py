"""Detection & assessment: run the scenario's diagnostics concurrently, keep every verdict.

The phase takes about as long as its slowest check. A check whose target never answers is
an ``unreachable`` finding (see `tasks.diagnostic`), so one dead target never hides what the
others saw; a check that fails for any other reason is a bug and fails the run, visibly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from prefect import Task
from prefect.artifacts import create_table_artifact

from flows.phases.phase import phase
from flows.response import Response
from incident.classification import classify
from incident.models import Finding

__all__ = ["Check", "assess", "held_sessions", "publish_findings", "run_checks"]


@dataclass(frozen=True)
class Check:
    """One diagnostic: a task returning a Finding, its arguments, and the session it shares.

    ``session`` (with its ``session_key``) is a context manager that lets every check on the
    same target share one connection while the phase runs (PostgreSQL's reserved slots).
    """

    name: str
    target: str
    task: Task[..., Finding]
    kwargs: dict[str, Any] = field(default_factory=dict)
    session: Callable[[], AbstractContextManager[Any]] | None = None
    session_key: str | None = None


@contextmanager
def held_sessions(checks: Sequence[Check]) -> Iterator[None]:
    """Hold each distinct shared session of these checks while the block runs."""
    with ExitStack() as stack:
        seen: set[str] = set()
        for check in checks:
            if check.session is not None and check.session_key not in seen:
                seen.add(check.session_key or check.name)
                stack.enter_context(check.session())
        yield


def run_checks(checks: Sequence[Check]) -> list[Finding]:
    """Every check at once, over shared sessions; findings in the checks' order."""
    with held_sessions(checks):
        futures = [check.task.submit(**check.kwargs) for check in checks]
        for future in futures:
            future.wait()
        # a check that raised (not a classified failure) is a bug: result() re-raises it
        return [future.result() for future in futures]


def publish_findings(response: Response, findings: Sequence[Finding], key: str) -> None:
    create_table_artifact(
        key=f"{response.id.lower()}-{key}",
        table=[
            {"check": f.check, "target": f.target, "status": f.status.value, "summary": f.summary}
            for f in findings
        ],
        description=f"Findings of {response.id}",
    )


@phase("assess")
def assess(
    response: Response,
    checks: Sequence[Check],
    *,
    skipped: Sequence[Finding] = (),
    phase: str = "assess",
) -> list[Finding]:
    """Run every check at once; record each finding (and each skipped check) as read."""
    with response.step(phase, "diagnostics", f"running {len(checks)} diagnostics") as outcome:
        findings = run_checks(checks) + list(skipped)
        response.add_findings(findings)
        outcome["message"] = f"{len(findings)} diagnostics: " + "; ".join(
            f"{f.check} {f.status.value}" for f in findings
        )
        outcome["problems"] = [f.check for f in findings if f.is_problem]
        outcome["unreachable"] = [f.check for f in findings if f.status.value == "unreachable"]
    publish_findings(response, findings, "findings")
    assessed = classify(
        findings, response.incident.severity, major_impact_share=response.policy.major_impact_share
    )
    if assessed.severity < response.incident.severity:
        response.raise_severity(assessed.severity, assessed.impact)
    response.event(
        phase,
        "phase",
        "completed",
        f"{phase} done; impact: {assessed.impact}",
        checks=[f.check for f in findings],
        impact=assessed.impact,
        because=list(assessed.because),
    )
    return findings
