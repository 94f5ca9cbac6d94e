"""Investigation: ranked root-cause hypotheses and runbook 002's mitigation decision tree.

Pure functions over findings. The causes are runbook 000's list ("Identify Root Cause":
deployment, database, resource exhaustion, external dependency, configuration, security)
plus a data issue and one failing component, which runbook 002's tree asks about. Each
hypothesis carries the findings behind it, so a recommendation can always say why.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict, Field

from incident.decision import by_check
from incident.models import Alert, Finding, FindingStatus

__all__ = [
    "CONFIG_ERROR_PATTERN",
    "Cause",
    "Hypothesis",
    "Recommendation",
    "Remedy",
    "decide_mitigation",
    "rank_hypotheses",
]

# What a crashing container's logs say when the fault is its configuration, not its code.
CONFIG_ERROR_PATTERN = re.compile(
    r"missing (required )?(env|environment|config|variable|setting)|no such file|"
    r"invalid (config|configuration|value)|config(uration)? (error|invalid|not found)|"
    r"environment variable .* (not set|required)|permission denied|unknown (flag|option)",
    re.IGNORECASE,
)
_CONFIG_REASONS = {"CreateContainerConfigError", "InvalidImageName", "CreateContainerError"}


class Cause(enum.StrEnum):
    RECENT_DEPLOYMENT = "recent deployment"
    DATABASE = "database"
    RESOURCE_EXHAUSTION = "resource exhaustion"
    EXTERNAL_DEPENDENCY = "external dependency"
    CONFIGURATION_ERROR = "configuration error"
    SECURITY_INCIDENT = "security incident"
    DATA_ISSUE = "data issue"
    COMPONENT_FAILURE = "one component failing"


class Hypothesis(BaseModel):
    model_config = ConfigDict(frozen=True)

    cause: Cause
    confidence: float = Field(ge=0, le=1)
    evidence: tuple[str, ...] = Field(description="check: summary of each finding behind it")


class Remedy(enum.StrEnum):
    """Runbook 002's mitigation decision tree, leaf by leaf."""

    ROLLBACK = "rollback"
    SCALE_OR_RAISE_LIMITS = "scale or raise limits"
    RESTART_COMPONENT = "restart the failing component"
    DATABASE_RECOVERY = "database recovery"
    ESCALATE = "escalate to a senior engineer"


class Recommendation(BaseModel):
    model_config = ConfigDict(frozen=True)

    remedy: Remedy
    because: tuple[str, ...]
    hypotheses: tuple[Hypothesis, ...] = ()


def _said(finding: Finding) -> str:
    return f"{finding.check}: {finding.summary}"


def _recent_rollouts(checks: dict[str, Finding]) -> list[str]:
    history = checks.get("rollout_history")
    if history is None or history.status is FindingStatus.UNREACHABLE:
        return []
    return [d["name"] for d in history.evidence.get("deployments", []) if d.get("recent")]


def _problem_deployments(checks: dict[str, Finding]) -> set[str]:
    pods = checks.get("pod_status")
    if pods is None:
        return set()
    return {p.get("deployment") or p.get("pod") for p in pods.evidence.get("problem_pods", [])}


def _resource_signals(checks: dict[str, Finding]) -> list[Finding]:
    signals = []
    usage = checks.get("pod_usage")
    if usage is not None and any(
        (c.get("memory_ratio") or 0) >= 0.9 or (c.get("cpu_ratio") or 0) >= 0.9
        for c in usage.evidence.get("containers", [])
    ):
        signals.append(usage)
    pods = checks.get("pod_status")
    if pods is not None and any(
        p.get("reason") == "OOMKilled" for p in pods.evidence.get("problem_pods", [])
    ):
        signals.append(pods)
    for name in ("node_conditions", "hpa_status", "connection_headroom"):
        if name in checks and checks[name].is_problem:
            signals.append(checks[name])
    return signals


def _config_errors(checks: dict[str, Finding]) -> list[Finding]:
    hits = []
    logs = checks.get("container_logs")
    if logs is not None and any(
        CONFIG_ERROR_PATTERN.search(line)
        for entry in logs.evidence.get("logs", [])
        for line in entry.get("errors", []) + entry.get("lines", [])
    ):
        hits.append(logs)
    pods = checks.get("pod_status")
    if pods is not None and any(
        c.get("waiting_reason") in _CONFIG_REASONS
        for p in pods.evidence.get("problem_pods", [])
        for c in p.get("containers", [])
    ):
        hits.append(pods)
    return hits


def rank_hypotheses(findings: Iterable[Finding], alert: Alert | None = None) -> list[Hypothesis]:
    """Every cause the findings support, most likely first."""
    found = list(findings)
    checks = by_check(found)
    out: list[Hypothesis] = []

    def add(cause: Cause, confidence: float, behind: Sequence[Finding], *extra: str) -> None:
        out.append(
            Hypothesis(cause=cause, confidence=confidence, evidence=(*extra, *map(_said, behind)))
        )

    recent = _recent_rollouts(checks)
    broken = _problem_deployments(checks)
    if recent:
        culprit = bool(set(recent) & broken) or not broken
        add(
            Cause.RECENT_DEPLOYMENT,
            0.9 if culprit else 0.5,
            [checks["rollout_history"]],
            f"rolled out shortly before: {', '.join(recent)}",
        )
    config = _config_errors(checks)
    if config:
        add(Cause.CONFIGURATION_ERROR, 0.8, config)
    resources = _resource_signals(checks)
    if resources:
        add(Cause.RESOURCE_EXHAUSTION, 0.75, resources)
    database = [
        checks[n]
        for n in ("connection_headroom", "lock_waits", "long_running_queries", "slow_statements")
        if n in checks and checks[n].is_problem
    ]
    if database:
        add(Cause.DATABASE, 0.7, database)
    dependencies = [f for f in found if f.check.startswith("dependency") and f.is_problem]
    if dependencies:
        add(Cause.EXTERNAL_DEPENDENCY, 0.7, dependencies)
    security = [f for f in found if f.check == "auth_failures" and f.is_problem]
    if security:
        add(Cause.SECURITY_INCIDENT, 0.8, security)
    name = f"{alert.name} {alert.summary}" if alert else ""
    if re.search(r"inconsisten|integrity|corrupt|data (loss|issue)", name, re.IGNORECASE):
        add(Cause.DATA_ISSUE, 0.7, [], f"the alert says so: {alert.name if alert else ''}")
    if len(broken) == 1 and not recent:
        add(
            Cause.COMPONENT_FAILURE, 0.6, [checks["pod_status"]], f"only {next(iter(broken))} fails"
        )
    return sorted(out, key=lambda h: h.confidence, reverse=True)


def decide_mitigation(hypotheses: Sequence[Hypothesis]) -> Recommendation:
    """Runbook 002's tree: recent deployment → rollback; resource → scale or raise limits; one
    component failing → restart it; data issue → database recovery; otherwise escalate.

    One branch is added before the tree's second question: a configuration error with no
    rollout to undo is escalated, since restarting or scaling it only crashes again.
    """
    causes = {h.cause: h for h in hypotheses}
    if Cause.CONFIGURATION_ERROR in causes and Cause.RECENT_DEPLOYMENT not in causes:
        # not in the runbook's tree, but no restart or scale fixes a bad configuration
        return Recommendation(
            remedy=Remedy.ESCALATE,
            because=(
                "configuration error: a restart would crash the same way",
                *causes[Cause.CONFIGURATION_ERROR].evidence,
            ),
            hypotheses=tuple(hypotheses),
        )
    for cause, remedy in (
        (Cause.RECENT_DEPLOYMENT, Remedy.ROLLBACK),
        (Cause.RESOURCE_EXHAUSTION, Remedy.SCALE_OR_RAISE_LIMITS),
        (Cause.COMPONENT_FAILURE, Remedy.RESTART_COMPONENT),
        (Cause.DATA_ISSUE, Remedy.DATABASE_RECOVERY),
    ):
        if cause in causes:
            return Recommendation(
                remedy=remedy, because=causes[cause].evidence, hypotheses=tuple(hypotheses)
            )
    because = tuple(f"{h.cause.value} ({h.confidence:.0%})" for h in hypotheses) or (
        "no finding points to a cause the runbooks can mitigate",
    )
    return Recommendation(remedy=Remedy.ESCALATE, because=because, hypotheses=tuple(hypotheses))
