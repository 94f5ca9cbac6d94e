"""How a Kubernetes mitigation fails: a missing permission is a refusal that names the rule
to add (nothing else written), an unreachable cluster a transient error that never carries
the credential."""

from __future__ import annotations

import pytest

from blocks.kubernetes import KubernetesTarget
from incident.errors import TransientError
from incident.models import ActionStatus, Plan
from tasks.kubernetes_actions import patch_container_limits
from tests.fixtures.k8s_plans import approved, limits_plan
from tests.fixtures.k8s_targets import Workloads, container, deployment

pytestmark = pytest.mark.usefixtures("prefect_api")

READ_ONLY = [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]}]


@pytest.mark.kubernetes
def test_a_write_the_role_does_not_allow_is_refused_naming_the_rule_to_add(
    workloads: Workloads, service_account_kubeconfig
) -> None:  # type: ignore[no-untyped-def]
    workloads.create(
        deployment("cache", [container("cache", resources={"limits": {"memory": "64Mi"}})])
    )
    workloads.wait_rolled_out("cache")
    target = KubernetesTarget(
        kubeconfig_path=service_account_kubeconfig(workloads.namespace, READ_ONLY),
        namespace=workloads.namespace,
    )
    plan = limits_plan(workloads, target, "cache", "cache", "128Mi")

    action = patch_container_limits(target, plan, approved(plan))

    assert action.status is ActionStatus.FAILED, action.summary
    [result] = action.results
    assert result["outcome"] == "refused"
    assert "403" in result["detail"] and "add verb patch on deployments" in result["detail"]
    limits = workloads.read("cache").spec.template.spec.containers[0].resources.limits
    assert limits == {"memory": "64Mi"}


def test_an_unreachable_cluster_is_a_transient_error_without_the_token(tmp_path) -> None:  # type: ignore[no-untyped-def]
    token = "fb-secret-token-0123456789"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        '{"apiVersion": "v1", "kind": "Config", "current-context": "x",'
        ' "clusters": [{"name": "x", "cluster": {"server": "https://127.0.0.1:9"}}],'
        f' "users": [{{"name": "x", "user": {{"token": "{token}"}}}}],'
        ' "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}]}'
    )
    target = KubernetesTarget(kubeconfig_path=str(kubeconfig), namespace="shop")
    item = {
        "kind": "Deployment",
        "namespace": "shop",
        "name": "cache",
        "container": "cache",
        "resource": "memory",
        "limit_now": "64Mi",
        "limit_after": "128Mi",
        "request_now": None,
        "resource_version": "1",
    }
    plan = Plan(
        action="patch_container_limits", target=target.identity, reason="oom", items=(item,)
    )

    with pytest.raises(TransientError) as failed:
        patch_container_limits(target, plan, approved(plan))

    assert "unreachable" in str(failed.value)
    assert token not in str(failed.value) and token not in repr(failed.value)
