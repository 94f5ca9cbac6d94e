"""The worker's shipped Role (deployments/rbac-worker.yaml): no wildcard, and, asked as that
ServiceAccount on the real apiserver, it allows each mitigation's requests and nothing that
would let a bug do more (replace or delete a Deployment, write a ReplicaSet, read Secrets).
That every action really runs under it with no 403 is shown by the other action tests."""

from __future__ import annotations

import pytest
import yaml
from kubernetes import client, config

from tests.fixtures.k8s_targets import RBAC, Responder, Workloads

NEEDED = [  # (verb, group, resource, subresource) the mitigations and verifications send
    ("get", "apps", "deployments", ""),
    ("patch", "apps", "deployments", ""),
    ("get", "apps", "replicasets", ""),
    ("list", "apps", "replicasets", ""),
    ("get", "apps", "deployments", "scale"),
    ("patch", "apps", "deployments", "scale"),
    ("get", "apps", "statefulsets", "scale"),
    ("patch", "apps", "statefulsets", "scale"),
    ("get", "", "pods", ""),
    ("list", "", "pods", ""),
    ("delete", "", "pods", ""),
    ("get", "", "endpoints", ""),
    ("get", "", "services", ""),
]
NOT_GRANTED = [
    ("update", "apps", "deployments", ""),
    ("delete", "apps", "deployments", ""),
    ("create", "apps", "deployments", ""),
    ("patch", "apps", "replicasets", ""),
    ("delete", "apps", "replicasets", ""),
    ("patch", "apps", "statefulsets", ""),
    ("update", "apps", "statefulsets", "scale"),
    ("create", "", "pods", ""),
    ("deletecollection", "", "pods", ""),
    ("create", "", "pods", "exec"),
    ("get", "", "secrets", ""),
    ("patch", "", "services", ""),
]


def test_no_rule_of_the_worker_role_uses_a_wildcard() -> None:
    docs = [d for d in yaml.safe_load_all(RBAC.read_text()) if d]
    rules = [r for d in docs for r in d.get("rules", [])]
    assert rules
    for rule in rules:
        for key in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule.get(key, []), rule


@pytest.mark.kubernetes
def test_the_worker_role_allows_the_mitigations_requests_and_nothing_more(
    workloads: Workloads, responder: Responder
) -> None:
    kubeconfig = responder.target.kubeconfig_file()
    with config.new_client_from_config(config_file=kubeconfig, persist_config=False) as api:
        auth = client.AuthorizationV1Api(api)

        def allowed(verb: str, group: str, resource: str, sub: str) -> bool:
            attributes = {
                "namespace": workloads.namespace,
                "verb": verb,
                "group": group,
                "resource": resource,
                "subresource": sub,
            }
            review = auth.create_self_subject_access_review(
                {"spec": {"resourceAttributes": attributes}}
            )
            return bool(review.status.allowed)

        assert [n for n in NEEDED if not allowed(*n)] == []
        assert [n for n in NOT_GRANTED if allowed(*n)] == []
