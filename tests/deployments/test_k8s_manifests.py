"""deployments/k8s/: every manifest is accepted by a real apiserver (server-side dry run),
and the worker's Role grants exactly what the scenarios need — checked as that identity."""

from __future__ import annotations

import copy
import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config
from kubernetes.dynamic import DynamicClient

pytestmark = pytest.mark.kubernetes

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deployments" / "k8s"

NEEDED = [  # (verb, group, resource, subresource): what the scenarios read and mutate
    *[(v, "apps", "deployments", "") for v in ("get", "list", "patch")],
    *[(v, "apps", "replicasets", "") for v in ("get", "list")],
    *[(v, "apps", r, "scale") for r in ("deployments", "statefulsets") for v in ("get", "patch")],
    *[(v, "", "pods", "") for v in ("get", "list", "delete")],
    ("get", "", "pods", "log"),
    ("list", "", "events", ""),
    *[(v, "", r, "") for r in ("services", "endpoints") for v in ("get", "list")],
    *[(v, "autoscaling", "horizontalpodautoscalers", "") for v in ("get", "list")],
    *[(v, "networking.k8s.io", "ingresses", "") for v in ("get", "list")],
    *[(v, "metrics.k8s.io", "pods", "") for v in ("get", "list")],
]
NOT_GRANTED = [
    ("get", "", "secrets", ""),
    ("list", "", "configmaps", ""),
    ("create", "", "pods", ""),
    ("delete", "apps", "deployments", ""),
    ("update", "apps", "deployments", ""),
    ("patch", "apps", "replicasets", ""),
    ("patch", "apps", "statefulsets", ""),
    ("create", "", "pods", "exec"),
    ("patch", "", "services", ""),
    ("delete", "", "events", ""),
    ("patch", "networking.k8s.io", "ingresses", ""),
]


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _manifests() -> list[dict[str, Any]]:
    return [d for path in sorted(K8S.glob("*.yaml")) for d in _docs(path)]


def _role(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == "Role")


def _moved(doc: dict[str, Any], namespaces: dict[str, str], suffix: str) -> dict[str, Any]:
    """The manifest with its namespaces (and cluster-wide names) made this test's own."""
    doc = copy.deepcopy(doc)
    meta = doc["metadata"]
    if "namespace" in meta:
        meta["namespace"] = namespaces[meta["namespace"]]
    else:
        meta["name"] = f"{meta['name']}-{suffix}"
        if "roleRef" in doc:
            doc["roleRef"]["name"] = f"{doc['roleRef']['name']}-{suffix}"
    for subject in doc.get("subjects", []):
        subject["namespace"] = namespaces[subject["namespace"]]
    return doc


@pytest.fixture
def namespaces(kube_admin):
    core = client.CoreV1Api(kube_admin)
    made = {name: f"fb-{name[:4]}-{secrets.token_hex(3)}" for name in ("firebreak", "production")}
    for ns in made.values():
        core.create_namespace({"metadata": {"name": ns, "labels": {"firebreak.dev/test": "true"}}})
    yield made
    for ns in made.values():
        core.delete_namespace(ns, propagation_policy="Background")


def test_every_manifest_passes_a_server_side_dry_run_and_nothing_is_created(kube_admin, namespaces):
    dynamic = DynamicClient(kube_admin)
    suffix = secrets.token_hex(3)
    docs = _manifests()
    assert {d["kind"] for d in docs} >= {
        "Deployment",
        "Service",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "ClusterRole",
        "ClusterRoleBinding",
    }
    names = {d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"}
    assert names == {"prefect-server", "firebreak-worker", "firebreak-receiver"}
    for doc in docs:
        moved = _moved(doc, namespaces, suffix)
        api = dynamic.resources.get(api_version=moved["apiVersion"], kind=moved["kind"])
        ns = moved["metadata"].get("namespace")
        answer = api.create(body=moved, namespace=ns, dry_run="All")
        assert answer.metadata.name == moved["metadata"]["name"]
    apps = client.AppsV1Api(kube_admin)
    for ns in namespaces.values():
        assert apps.list_namespaced_deployment(ns).items == []  # a dry run persists nothing
    rbac = client.RbacAuthorizationV1Api(kube_admin)
    assert not [r for r in rbac.list_cluster_role().items if r.metadata.name.endswith(suffix)]


def test_no_rule_of_any_manifest_uses_a_wildcard():
    for doc in _manifests():
        for rule in doc.get("rules", []):
            for key in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule.get(key, []), (doc["metadata"]["name"], rule)


def test_the_bare_machine_role_grants_the_same_rules_as_the_kubernetes_one():
    bare = _docs(ROOT / "deployments" / "rbac-worker.yaml")
    assert _role(bare)["rules"] == _role(_docs(K8S / "worker-rbac.yaml"))["rules"]


def test_the_worker_role_allows_what_the_scenarios_need_and_nothing_else(
    kube_admin, namespaces, service_account_kubeconfig
):
    rules = _role(_docs(K8S / "worker-rbac.yaml"))["rules"]
    app_ns = namespaces["production"]
    kubeconfig = service_account_kubeconfig(app_ns, rules)
    with config.new_client_from_config(config_file=kubeconfig, persist_config=False) as api:
        auth = client.AuthorizationV1Api(api)

        def allowed(verb: str, group: str, resource: str, sub: str) -> bool:
            review = auth.create_self_subject_access_review(
                {
                    "spec": {
                        "resourceAttributes": {
                            "namespace": app_ns,
                            "verb": verb,
                            "group": group,
                            "resource": resource,
                            "subresource": sub,
                        }
                    }
                }
            )
            return bool(review.status.allowed)

        assert [n for n in NEEDED if not allowed(*n)] == []
        assert [n for n in NOT_GRANTED if allowed(*n)] == []
