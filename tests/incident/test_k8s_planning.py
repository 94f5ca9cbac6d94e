"""The OOM planner raises the limit the template holds now, whatever limits older pods run.

Mid-rollout (someone raised the limit by hand, or a re-plan after a stale apply) the pods
of the old ReplicaSet still run the old limit; the patch changes the template, so the
factor must apply to the template's limit, or the plan says "72Mi → 96Mi" for a 1.5x raise.
"""

from __future__ import annotations

from incident.decision import Verdict
from incident.k8s_planning import decide_oom
from incident.models import Finding, FindingStatus

MI = 1024 * 1024
TARGET = "local/shop"


def findings(template_limit: str | None, pod_limits_mi: list[int]) -> list[Finding]:
    limits = {"memory": template_limit} if template_limit else {}
    return [
        Finding(
            check="deployment_status",
            target=TARGET,
            status=FindingStatus.CRITICAL,
            summary="cache OOM-killed",
            evidence={
                "problem_pods": [
                    {
                        "deployment": "cache",
                        "containers": [{"name": "cache", "last_terminated_reason": "OOMKilled"}],
                    },
                    # a healthy neighbour: never planned
                    {"deployment": "web", "containers": [{"name": "web"}]},
                ]
            },
        ),
        Finding(
            check="rollout_history",
            target=TARGET,
            status=FindingStatus.OK,
            summary="",
            evidence={
                "deployments": [
                    {
                        "name": "cache",
                        "containers": [{"name": "cache", "limits": limits}],
                        "resource_version": "41",
                        "generation": 3,
                    },
                    {
                        "name": "web",
                        "containers": [{"name": "web"}],
                        "resource_version": "7",
                        "generation": 1,
                    },
                ]
            },
        ),
        Finding(
            check="pod_usage",
            target=TARGET,
            status=FindingStatus.WARNING,
            summary="",
            evidence={
                "containers": [
                    {"deployment": "cache", "container": "cache", "memory_limit_bytes": mi * MI}
                    for mi in pod_limits_mi
                ]
                + [{"deployment": "web", "container": "web", "memory_limit_bytes": 128 * MI}]
            },
        ),
    ]


def test_the_raise_is_from_the_templates_limit_not_an_older_pods():
    decision = decide_oom(findings("72Mi", [64, 72]), TARGET, factor=1.5, cap_bytes=1024 * MI)
    assert decision.verdict is Verdict.MITIGATE
    [plan] = decision.plans
    [item] = plan.items
    assert (item["name"], item["limit_now"], item["limit_after"]) == ("cache", "72Mi", "108Mi")
    assert item["generation"] == 3


def test_without_a_template_limit_the_pods_limit_is_raised():
    decision = decide_oom(findings(None, [64]), TARGET, factor=1.5, cap_bytes=1024 * MI)
    [item] = decision.plans[0].items
    assert (item["limit_now"], item["limit_after"]) == ("64Mi", "96Mi")


def test_a_template_already_at_the_cap_is_not_raised_and_says_so():
    decision = decide_oom(findings("256Mi", [64]), TARGET, factor=1.5, cap_bytes=256 * MI)
    assert decision.verdict is Verdict.ESCALATE
    assert "cap (256Mi)" in decision.why


def test_without_metrics_server_the_templates_limit_is_raised_all_the_same():
    """kind and many clusters serve no metrics.k8s.io: pod_usage is skipped, not a blocker."""
    without_usage = [f for f in findings("64Mi", []) if f.check != "pod_usage"]
    decision = decide_oom(without_usage, TARGET, factor=1.5, cap_bytes=1024 * MI)
    [item] = decision.plans[0].items
    assert (item["limit_now"], item["limit_after"]) == ("64Mi", "96Mi")


def test_a_container_with_no_limit_anywhere_escalates_saying_so():
    decision = decide_oom(findings(None, []), TARGET, factor=1.5, cap_bytes=1024 * MI)
    assert decision.verdict is Verdict.ESCALATE
    assert "cache/cache has no memory limit to raise" in decision.why
