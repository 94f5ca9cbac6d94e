"""Runbook 002's decision tree, the hypotheses behind it, and severity from the evidence:
pure functions, so every branch is a row of a table."""

from __future__ import annotations

import pytest

from incident.classification import classify
from incident.investigation import Cause, Remedy, decide_mitigation, rank_hypotheses
from incident.models import Alert, Finding, FindingStatus
from incident.severity import Severity

OK, WARN, CRIT = FindingStatus.OK, FindingStatus.WARNING, FindingStatus.CRITICAL


def finding(check: str, status: FindingStatus = WARN, **evidence: object) -> Finding:
    return Finding(
        check=check, target="t", status=status, summary=f"{check} said so", evidence=evidence
    )


ROLLED_OUT = finding("rollout_history", OK, deployments=[{"name": "web", "recent": True}])
NOT_ROLLED_OUT = finding("rollout_history", OK, deployments=[{"name": "web", "recent": False}])
WEB_CRASHING = finding(
    "pod_status",
    CRIT,
    problem_pods=[{"pod": "web-1", "deployment": "web", "reason": "CrashLoopBackOff"}],
)
TWO_CRASHING = finding(
    "pod_status",
    CRIT,
    problem_pods=[
        {"pod": "web-1", "deployment": "web", "reason": "CrashLoopBackOff"},
        {"pod": "api-1", "deployment": "api", "reason": "CrashLoopBackOff"},
    ],
)
OOM = finding(
    "pod_status",
    CRIT,
    problem_pods=[{"pod": "cache-1", "deployment": "cache", "reason": "OOMKilled"}],
)
HOT = finding("pod_usage", WARN, containers=[{"pod": "cache-1", "memory_ratio": 0.97}])
CONFIG_LOGS = finding(
    "container_logs",
    WARN,
    logs=[{"pod": "web-1", "errors": ["FATAL: missing required env DATABASE_URL"], "lines": []}],
)
POOL = finding("connection_headroom", CRIT)
DEPENDENCY = finding("dependency:payments-api", CRIT)
BREACH = finding("auth_failures", CRIT)


@pytest.mark.parametrize(
    ("findings", "alert", "remedy"),
    [
        pytest.param([ROLLED_OUT, WEB_CRASHING], None, Remedy.ROLLBACK, id="recent-deployment"),
        pytest.param(
            [ROLLED_OUT, WEB_CRASHING, CONFIG_LOGS],
            None,
            Remedy.ROLLBACK,
            id="rollout-undoes-config",
        ),
        pytest.param([NOT_ROLLED_OUT, OOM, HOT], None, Remedy.SCALE_OR_RAISE_LIMITS, id="resource"),
        pytest.param([POOL], None, Remedy.SCALE_OR_RAISE_LIMITS, id="pool-is-a-resource"),
        pytest.param(
            [NOT_ROLLED_OUT, WEB_CRASHING], None, Remedy.RESTART_COMPONENT, id="one-component"
        ),
        pytest.param([NOT_ROLLED_OUT, TWO_CRASHING], None, Remedy.ESCALATE, id="many-components"),
        pytest.param(
            [NOT_ROLLED_OUT, WEB_CRASHING, CONFIG_LOGS], None, Remedy.ESCALATE, id="config-error"
        ),
        pytest.param(
            [], Alert(name="OrdersDataInconsistency"), Remedy.DATABASE_RECOVERY, id="data-issue"
        ),
        pytest.param([DEPENDENCY], None, Remedy.ESCALATE, id="external-dependency"),
        pytest.param([BREACH], None, Remedy.ESCALATE, id="security"),
        pytest.param([finding("health", OK)], None, Remedy.ESCALATE, id="nothing-explains-it"),
    ],
)
def test_the_decision_tree_takes_the_runbooks_branch_with_the_evidence_behind_it(
    findings, alert, remedy
):
    recommendation = decide_mitigation(rank_hypotheses(findings, alert))
    assert recommendation.remedy is remedy
    assert recommendation.because, "a recommendation always says why"


def test_hypotheses_are_ranked_and_name_the_findings_behind_them():
    ranked = rank_hypotheses([ROLLED_OUT, WEB_CRASHING, POOL, DEPENDENCY, BREACH])
    assert ranked[0].cause is Cause.RECENT_DEPLOYMENT
    assert [h.confidence for h in ranked] == sorted((h.confidence for h in ranked), reverse=True)
    causes = {h.cause: h for h in ranked}
    assert {Cause.DATABASE, Cause.EXTERNAL_DEPENDENCY, Cause.SECURITY_INCIDENT} <= set(causes)
    assert any("connection_headroom" in e for e in causes[Cause.DATABASE].evidence)


def test_a_rollout_of_another_deployment_than_the_broken_one_is_a_weaker_hypothesis():
    other = finding("rollout_history", OK, deployments=[{"name": "api", "recent": True}])
    [deployment] = [
        h for h in rank_hypotheses([other, WEB_CRASHING]) if h.cause is Cause.RECENT_DEPLOYMENT
    ]
    [direct] = [
        h for h in rank_hypotheses([ROLLED_OUT, WEB_CRASHING]) if h.cause is Cause.RECENT_DEPLOYMENT
    ]
    assert deployment.confidence < direct.confidence


def status(desired: int, available: int) -> Finding:
    return finding(
        "deployment_status",
        CRIT if available == 0 else WARN if available < desired else OK,
        deployments=[{"name": "web", "desired": desired, "available": available}],
    )


@pytest.mark.parametrize(
    ("findings", "declared", "expected"),
    [
        pytest.param(
            [finding("service_endpoints", CRIT)], Severity.LOW, Severity.CRITICAL, id="outage"
        ),
        pytest.param([BREACH], Severity.MEDIUM, Severity.CRITICAL, id="breach"),
        pytest.param([status(4, 0)], Severity.LOW, Severity.CRITICAL, id="nothing-available"),
        pytest.param([status(4, 1)], Severity.LOW, Severity.HIGH, id="most-users"),
        pytest.param([status(4, 3)], Severity.LOW, Severity.MEDIUM, id="degraded"),
        pytest.param([status(4, 4)], Severity.LOW, Severity.LOW, id="healthy-stays-minor"),
        pytest.param([status(4, 3)], Severity.CRITICAL, Severity.CRITICAL, id="never-lowered"),
        pytest.param([HOT], Severity.LOW, Severity.MEDIUM, id="any-problem-is-degraded"),
    ],
)
def test_severity_follows_the_runbooks_indicators_and_is_only_ever_raised(
    findings, declared, expected
):
    assessed = classify(findings, declared)
    assert assessed.severity is expected
    assert assessed.impact


def test_the_share_that_counts_as_most_users_is_the_policys():
    assert classify([status(10, 4)], Severity.LOW, major_impact_share=0.5).severity is Severity.HIGH
    assert (
        classify([status(10, 4)], Severity.LOW, major_impact_share=0.7).severity is Severity.MEDIUM
    )
