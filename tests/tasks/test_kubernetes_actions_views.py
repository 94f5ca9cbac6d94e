"""What an approver reads for each Kubernetes mitigation: the change from what to what, the
version planned against, and the dry run's answer beside each item, in the form's width."""

from __future__ import annotations

from datetime import timedelta

import pytest

from incident.models import Action, ActionStatus, Alert, Incident, Plan, utcnow
from incident.plan_text import plan_artifact_markdown, plan_form_markdown
from incident.severity import Severity
from tasks.destructive import DESTRUCTIVE_ACTIONS
from tasks.kubernetes_actions import KUBERNETES_ACTIONS

INCIDENT = Incident(
    title="web down", severity=Severity.CRITICAL, scenario="bad-rollout", alert=Alert(name="Down")
)
ITEMS = {
    "rollback_deployment": (
        {
            "kind": "Deployment",
            "namespace": "shop",
            "name": "web",
            "resource_version": "4711",
            "from_revision": "3",
            "to_revision": "2",
            "to_replicaset": "web-7d9c",
            "template_hash": "7d9c",
            "images_now": ["registry/web:bad"],
            "images_after": ["registry/web:1.37"],
        },
        [
            "web — roll back revision 3 → 2",
            "`registry/web:bad`",
            "`registry/web:1.37`",
            "`web-7d9c`",
            "resourceVersion 4711",
        ],
    ),
    "patch_container_limits": (
        {
            "kind": "Deployment",
            "namespace": "shop",
            "name": "cache",
            "container": "redis",
            "resource": "memory",
            "limit_now": "64Mi",
            "limit_after": "128Mi",
            "request_now": "32Mi",
            "resource_version": "99",
        },
        ["cache/redis — memory limit 64Mi → 128Mi", "32Mi (unchanged)", "resourceVersion 99"],
    ),
    "restart_deployment": (
        {
            "kind": "Deployment",
            "namespace": "shop",
            "name": "api",
            "resource_version": "5",
            "incident_id": "INC-1",
        },
        ["api — rolling restart, once for INC-1", "firebreak.io/restarted-for: INC-1"],
    ),
    "delete_pod": (
        {"namespace": "shop", "name": "api-6f-x2", "uid": "u-1", "resource_version": "7"},
        ["api-6f-x2 — delete this pod", "`u-1`", "never touched"],
    ),
    "scale_workload": (
        {
            "kind": "StatefulSet",
            "namespace": "shop",
            "name": "replica",
            "replicas_now": 2,
            "replicas_after": 3,
            "resource_version": "8",
        },
        ["replica — scale 2 → 3 replicas", "StatefulSet `shop/replica`"],
    ),
}


def test_every_kubernetes_action_is_registered_as_destructive() -> None:
    assert set(KUBERNETES_ACTIONS) <= set(DESTRUCTIVE_ACTIONS)
    assert all("destructive" in DESTRUCTIVE_ACTIONS[a].tags for a in KUBERNETES_ACTIONS)


@pytest.mark.parametrize("action", sorted(ITEMS))
def test_the_form_shows_what_changes_from_what_to_what_and_the_dry_run_beside_it(
    action: str,
) -> None:
    item, expected = ITEMS[action]
    plan = Plan(
        action=action, target="kubernetes:https://k8s:6443/shop", reason="why", items=(item,)
    )
    dry = Action(
        plan=plan,
        status=ActionStatus.DRY_RUN,
        summary="dry run: would do it",
        results=({"name": item["name"], "outcome": "would do it", "detail": ""},),
    )
    form = plan_form_markdown(INCIDENT, plan, dry, deadline=utcnow() + timedelta(minutes=15))
    for text in expected:
        assert text in form
    assert "- dry run: would do it" in form
    assert "|" not in form  # no table wider than the resume form
    headings = [line for line in form.splitlines() if line.startswith("**1. ")]
    assert headings and all(len(h) <= 80 for h in headings)  # a heading reads at a glance
    artifact = plan_artifact_markdown(INCIDENT, plan, dry, deadline=utcnow())
    assert all(text in artifact for text in expected)
