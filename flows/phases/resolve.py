"""Resolution & verification (runbook 002): resolved means healthy over the monitoring window.

First the mitigation must take effect (every verification check healthy within the
verification window); then every check must *stay* healthy for the whole monitoring window
(runbooks 000/001: "monitor for 30 minutes"), sampled at the policy's interval. One bad
sample withholds the resolution and says which check turned bad and when. The channel is
told only what the flow does: that it is watching, for how long, and then what it saw.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from flows.phases.assess import Check, run_checks
from flows.phases.phase import phase
from flows.response import Response
from incident import templates
from incident.models import Finding, FindingStatus, IncidentStatus, utcnow

__all__ = ["Verification", "escalate", "resolve", "verify"]


@dataclass(frozen=True)
class Verification:
    healthy: bool
    why: str
    findings: tuple[Finding, ...] = ()
    took_effect: bool = True  # False: never healthy in the verification window


def _bad(findings: Sequence[Finding]) -> list[Finding]:
    return [f for f in findings if f.status is not FindingStatus.OK]


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


def verify(response: Response, checks: Sequence[Check]) -> Verification:
    """Until every check is healthy at once, or the verification window ends."""
    policy = response.policy
    window = policy.verification_window.total_seconds()
    interval = max(policy.verification_interval.total_seconds(), 0.1)
    deadline = time.monotonic() + window
    names = ", ".join(c.name for c in checks)
    with response.step("resolve", "verify", f"waiting up to {window:.0f} s for {names}") as out:
        samples = 0
        while True:
            samples += 1
            findings = run_checks(checks)
            bad = _bad(findings)
            if not bad or time.monotonic() >= deadline:
                break
            time.sleep(interval)
        response.add_findings(findings)
        message = (
            f"every check healthy after {samples} sample(s)"
            if not bad
            else "still unhealthy at the end of the window: "
            + "; ".join(f"{f.check}: {f.summary}" for f in bad)
        )
        out["healthy"] = not bad
        out["message"] = message
    return Verification(not bad, message, tuple(findings), took_effect=not bad)


def monitor(response: Response, checks: Sequence[Check]) -> Verification:
    """Every check must stay healthy for the monitoring window; one bad sample withholds."""
    policy = response.policy
    window = policy.monitoring_window.total_seconds()
    interval = max(policy.verification_interval.total_seconds(), 0.1)
    response.set_status(IncidentStatus.MONITORING)
    response.announce(
        "resolve",
        "monitoring",
        templates.monitoring(response.incident, policy, watching=_minutes(window)),
    )
    deadline = time.monotonic() + window
    with response.step("resolve", "monitor", f"watching every check for {_minutes(window)}") as out:
        samples, bad, findings = 0, [], []
        while True:
            samples += 1
            findings = run_checks(checks)
            bad = _bad(findings)
            if bad or time.monotonic() >= deadline:
                break
            time.sleep(min(interval, max(deadline - time.monotonic(), 0.05)))
        out["samples"] = samples
        out["healthy"] = not bad
        if bad:
            response.add_findings(findings)
            message = f"turned bad again at {utcnow():%H:%M:%S} UTC: " + "; ".join(
                f"{f.check}: {f.summary}" for f in bad
            )
        else:
            message = f"every check stayed healthy for {_minutes(window)} ({samples} samples)"
        out["message"] = message
    return Verification(not bad, message, tuple(findings))


@phase("resolve")
def resolve(
    response: Response, checks: Sequence[Check], *, root_cause: str, fix: str
) -> Verification:
    """Verify, monitor, and only then resolve; a withheld resolution is the caller's to escalate."""
    took = verify(response, checks)
    if not took.healthy:
        return Verification(
            False, f"the mitigation did not take effect: {took.why}", took.findings, False
        )
    watched = monitor(response, checks)
    if not watched.healthy:
        return Verification(False, f"resolution withheld: {watched.why}", watched.findings)
    window = _minutes(response.policy.monitoring_window.total_seconds())
    response.set_status(IncidentStatus.RESOLVED, milestone="resolved_at")
    response.event("resolve", "resolved", "completed", f"resolved: {fix}", root_cause=root_cause)
    response.announce(
        "resolve",
        "resolution",
        templates.resolution(
            response.incident,
            resolved_at=utcnow(),
            root_cause=root_cause,
            fix=fix,
            monitoring=f"watched for {window}: every check stayed healthy",
        ),
    )
    return watched


def escalate(response: Response, why: str, *, phase: str = "mitigate") -> str:
    """Runbook 002's matrix: hand over to the next contact, saying what was and was not done."""
    incident = response.incident
    contact = response.policy.escalation_contact(
        incident.severity, utcnow() - incident.alert.starts_at
    )
    response.set_status(IncidentStatus.ESCALATED)
    response.event(phase, "escalated", "escalated", f"escalated to {contact}: {why}")
    response.announce(
        phase, "escalation", templates.escalation(incident, response.policy, why, contact)
    )
    return contact
