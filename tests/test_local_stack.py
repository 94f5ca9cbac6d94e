"""The test stack gives what the scenario tests rely on: a real cluster with history, logs and
events; a real exhausted pool; services reachable over real connections."""

from __future__ import annotations

import pytest
import redis
from kubernetes import client

from tests.fixtures.redis import REDIS_URL


@pytest.mark.kubernetes
def test_the_seeded_cluster_has_rollout_history_logs_and_warning_events(seeded_cluster, kube_admin):
    ns = seeded_cluster.namespace
    apps, core = client.AppsV1Api(kube_admin), client.CoreV1Api(kube_admin)
    web_sets = apps.list_namespaced_replica_set(ns, label_selector="app=web").items
    revisions = sorted(
        int(rs.metadata.annotations["deployment.kubernetes.io/revision"]) for rs in web_sets
    )
    assert revisions == [1, 2]

    [worker] = core.list_namespaced_pod(ns, label_selector="app=worker").items
    current = core.read_namespaced_pod_log(worker.metadata.name, ns)
    previous = core.read_namespaced_pod_log(worker.metadata.name, ns, previous=True)
    assert "ERROR db timeout" in current and "ERROR db timeout" in previous

    reasons = {e.reason for e in core.list_namespaced_event(ns).items if e.type == "Warning"}
    assert {"BackOff", "Unhealthy"} <= reasons


def test_the_pool_exhaustion_fault_refuses_the_application_a_connection(pool_exhaustion):
    assert not pool_exhaustion.can_connect()
    assert pool_exhaustion.alive() == pool_exhaustion.offending | pool_exhaustion.bystanders
    others = {*pool_exhaustion.pids["protected"], *pool_exhaustion.pids["superuser"]}
    assert len(pool_exhaustion.alive() - others) == pool_exhaustion.limit  # the role's own


def test_redis_is_reached_over_a_real_connection(redis_sandbox):
    redis_sandbox.client.set(redis_sandbox.key("k"), "v")
    other = redis.Redis.from_url(REDIS_URL)
    assert other.get(redis_sandbox.key("k")) == b"v"
    other.close()
