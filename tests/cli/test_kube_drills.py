"""``firebreak drill`` for the Kubernetes faults: each is injected for real in the drill
namespace, the response resolves it through the shipped routes, and the cluster — not the
scorecard — shows the drill's Deployment serving again, the bystander never edited and
nothing of the drill's left behind."""

from __future__ import annotations

import pytest
from kubernetes import client

from tests.fixtures.postgres import ADMIN_DSN

pytestmark = [pytest.mark.prefect, pytest.mark.kubernetes]

# drill → what the response must have done, as the timeline prints it
DRILLS = {
    "bad-rollout": "rollback_deployment",
    "crash-loop": "rollback_deployment",
    "oom-kill": "patch_container_limits",
}


@pytest.mark.parametrize("drill", sorted(DRILLS))
def test_a_kubernetes_drill_is_resolved_by_the_response_and_leaves_only_the_bystander(
    firebreak, kube_config_path, drill_namespace, kube_admin, drill
):
    apps = client.AppsV1Api(kube_admin)
    bystander = apps.read_namespaced_deployment("bystander", drill_namespace).metadata

    result = firebreak(
        "drill",
        drill,
        env={
            "FIREBREAK_ADMIN_DSN": ADMIN_DSN,
            "FIREBREAK_DRILL_KUBECONFIG": kube_config_path,
            "FIREBREAK_DRILL_NAMESPACE": drill_namespace,
        },
        timeout=600,
    )

    assert result.code == 0, result.output[-4000:]
    scorecard_at = result.stdout.index("scorecard")
    assert DRILLS[drill] in result.stdout[:scorecard_at], "the plan's action, while it ran"
    assert "FAIL" not in result.stdout[scorecard_at:]
    assert "PASSED" in result.stdout[scorecard_at:]
    after = apps.read_namespaced_deployment("bystander", drill_namespace).metadata
    assert (after.generation, after.uid) == (bystander.generation, bystander.uid)
    left = [d.metadata.name for d in apps.list_namespaced_deployment(drill_namespace).items]
    assert left == ["bystander"], "the drill's own Deployment is removed at the end"


def test_a_kubernetes_drill_in_a_namespace_that_does_not_exist_says_so(firebreak, kube_config_path):
    result = firebreak(
        "drill",
        "crash-loop",
        env={
            "FIREBREAK_ADMIN_DSN": ADMIN_DSN,
            "FIREBREAK_DRILL_KUBECONFIG": kube_config_path,
            "FIREBREAK_DRILL_NAMESPACE": "fb-drill-no-such-namespace",
        },
    )
    assert result.code != 0
    assert "fb-drill-no-such-namespace" in result.stderr
    assert "does not exist" in result.stderr
