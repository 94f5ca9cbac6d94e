"""Severity from the alert and the findings, by runbook 002's indicators.

SEV1: the service is down for everyone, or data or security is at risk; SEV2: a major
feature is down or more than half of it fails; SEV3: degraded but usable; SEV4: minor. The
share that counts as "most users" is the policy's (``IncidentPolicy.major_impact_share``).
An assessment only ever raises the severity the alert came with: lowering it is a person's
call, made with more than the checks can see.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from incident.decision import by_check
from incident.models import Finding, FindingStatus
from incident.severity import Severity

__all__ = ["Assessment", "classify"]


class Assessment(BaseModel):
    model_config = ConfigDict(frozen=True)

    severity: Severity
    impact: str
    because: tuple[str, ...]


def _unavailable_share(checks: dict[str, Finding]) -> float | None:
    """The share of the checked workloads' replicas that are not available, if known."""
    status = checks.get("deployment_status")
    if status is None or status.status is FindingStatus.UNREACHABLE:
        return None
    rows = status.evidence.get("deployments", [])
    desired = sum(int(r.get("desired") or 0) for r in rows)
    available = sum(int(r.get("available") or 0) for r in rows)
    return 1 - available / desired if desired else None


def classify(
    findings: Iterable[Finding], declared: Severity, *, major_impact_share: float = 0.5
) -> Assessment:
    """The severity the evidence supports, never lower than ``declared``."""
    found = list(findings)
    checks = by_check(found)
    reasons: list[tuple[Severity, str]] = []
    endpoints = checks.get("service_endpoints")
    if endpoints is not None and endpoints.status is FindingStatus.CRITICAL:
        reasons.append((Severity.CRITICAL, f"outage: {endpoints.summary}"))
    health = [f for f in found if f.check.startswith("health")]
    if health and all(f.status is FindingStatus.CRITICAL for f in health):
        reasons.append((Severity.CRITICAL, "every health endpoint fails"))
    for name in ("auth_failures", "data_integrity"):
        if name in checks and checks[name].status is FindingStatus.CRITICAL:
            reasons.append((Severity.CRITICAL, f"{name.replace('_', ' ')}: {checks[name].summary}"))
    share = _unavailable_share(checks)
    if share is not None and share >= 1:
        reasons.append((Severity.CRITICAL, "no replica of the service is available"))
    elif share is not None and share > major_impact_share:
        reasons.append((Severity.HIGH, f"{share:.0%} of replicas unavailable"))
    elif share is not None and share > 0:
        reasons.append((Severity.MEDIUM, f"degraded: {share:.0%} of replicas unavailable"))
    problems = [f for f in found if f.is_problem]
    if problems and not reasons:
        reasons.append((Severity.MEDIUM, f"degraded: {problems[0].check}: {problems[0].summary}"))
    evidence = min(reasons, key=lambda r: r[0].rank) if reasons else None
    severity = min(declared, evidence[0]) if evidence else declared
    impact = evidence[1] if evidence else "no impact found by the checks"
    return Assessment(
        severity=severity, impact=impact, because=tuple(text for _, text in sorted(reasons))
    )
