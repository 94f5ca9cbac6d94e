"""KubernetesTarget: Prefect's standard block checks, persistence, and its own clients."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from kubernetes import client

from blocks.kubernetes import KubernetesTarget
from tests.fixtures.kubernetes import SeededCluster


def test_saved_block_loads_back_with_every_field(prefect_api: None) -> None:
    name = f"fb-test-k8s-{secrets.token_hex(3)}"
    saved = KubernetesTarget(
        kubeconfig_path="/etc/firebreak/kubeconfig",
        context="staging",
        namespace="payments",
        workloads=["api", "worker"],
        request_timeout_seconds=3.5,
    )
    saved.save(name)

    loaded = KubernetesTarget.load(name)

    assert loaded.model_dump() == saved.model_dump()
    assert loaded.label == "k8s:staging/payments"


def test_defaults_watch_every_deployment_in_production() -> None:
    target = KubernetesTarget()
    assert (target.namespace, target.workloads, target.in_cluster) == ("production", [], False)
    assert target.label == "k8s:default-kubeconfig/production"


def test_kubeconfig_defaults_to_the_kubeconfig_environment_variable_read_at_call_time(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "from-env"))
    assert KubernetesTarget().kubeconfig_file() == str(tmp_path / "from-env")
    assert KubernetesTarget(kubeconfig_path="/x/config").kubeconfig_file() == "/x/config"


@pytest.mark.kubernetes
def test_api_client_talks_to_the_kubeconfigs_cluster_without_touching_the_global_default(
    seeded_cluster: SeededCluster,
) -> None:
    default_host = client.Configuration.get_default_copy().host
    target = KubernetesTarget(
        kubeconfig_path=seeded_cluster.kubeconfig, namespace=seeded_cluster.namespace
    )

    with target.api_client() as api:
        names = {
            d.metadata.name
            for d in client.AppsV1Api(api).list_namespaced_deployment(target.namespace).items
        }

    assert names == set(seeded_cluster.deployments)
    assert client.Configuration.get_default_copy().host == default_host
    with target.api_client() as first, target.api_client() as second:
        assert first is not second
        assert first.configuration is not second.configuration
