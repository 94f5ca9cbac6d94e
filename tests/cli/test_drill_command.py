"""``firebreak drill``: progress while it runs, the scorecard at the end, exit 0 on a pass."""

from __future__ import annotations

import psycopg
import pytest
import redis
from kubernetes import client
from psycopg.conninfo import conninfo_to_dict

from tests.fixtures.postgres import ADMIN_DSN
from tests.fixtures.redis import REDIS_URL
from tests.xdist_groups import SHARED_POSTGRES

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group(SHARED_POSTGRES)]


def test_drill_shows_each_step_as_it_happens_then_a_passing_scorecard(firebreak, admin_dsn):
    result = firebreak("drill", "db-pool-exhaustion", env={"FIREBREAK_ADMIN_DSN": ADMIN_DSN})
    assert result.code == 0, result.output[-4000:]
    out = result.stdout
    scorecard_at = out.index("scorecard")
    progress = out[:scorecard_at]
    for step in ("declare/declared", "mitigate/approval", "mitigate/apply", "postmortem"):
        assert step in progress, step  # printed while the drill ran, before the scorecard
    assert "FAIL" not in out[scorecard_at:]
    assert "PASSED" in out[scorecard_at:]
    assert "time to detect" in out[scorecard_at:]


def test_the_lock_contention_drill_ends_the_holder_alone_and_leaves_nothing_behind(
    firebreak, admin_dsn
):
    result = firebreak("drill", "lock-contention", env={"FIREBREAK_ADMIN_DSN": ADMIN_DSN})
    assert result.code == 0, result.output[-4000:]
    scorecard_at = result.stdout.index("scorecard")
    assert "terminate_backends on 1 item(s), as approved" in result.stdout[:scorecard_at]
    assert "FAIL" not in result.stdout[scorecard_at:]
    assert "PASSED" in result.stdout[scorecard_at:]
    params = conninfo_to_dict(ADMIN_DSN)
    params["dbname"] = "firebreak_drill"
    with psycopg.connect(**params) as conn:
        left = conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE 'fb_drill_lock_%'"
            " UNION ALL SELECT relname FROM pg_class WHERE relname LIKE 'fb_drill_lock_%'"
            " UNION ALL SELECT application_name FROM pg_stat_activity"
            " WHERE application_name LIKE 'fb_drill_lock_%'"
        ).fetchall()
    assert left == []


def test_the_redis_flood_drill_disconnects_the_idle_leak_only(firebreak):
    result = firebreak(
        "drill",
        "redis-client-flood",
        env={"FIREBREAK_ADMIN_DSN": ADMIN_DSN, "FIREBREAK_REDIS_URL": REDIS_URL},
    )
    assert result.code == 0, result.output[-4000:]
    scorecard_at = result.stdout.index("scorecard")
    assert "kill_redis_clients on 1 item(s), as approved" in result.stdout[:scorecard_at]
    assert "FAIL" not in result.stdout[scorecard_at:]
    assert "PASSED" in result.stdout[scorecard_at:]
    leftovers = [
        c["name"]
        for c in redis.Redis.from_url(REDIS_URL).client_list()
        if c.get("name", "").startswith("fb-drill-flood-")
    ]
    assert leftovers == []


def test_a_drill_without_a_response_flow_yet_says_how_to_inject_its_fault_alone(firebreak):
    result = firebreak("drill", "failing-health")
    assert result.code == 1
    assert "no response flow yet" in result.stderr and "--inject-only" in result.stderr


@pytest.mark.parametrize("scenario", ["lock-contention", "redis-client-flood"])
def test_inject_only_puts_the_real_fault_in_place_then_removes_it(
    firebreak, scenario, scratch_database
):
    database = conninfo_to_dict(scratch_database)["dbname"]
    result = firebreak(
        "drill",
        scenario,
        "--inject-only",
        "--hold",
        "0",
        env={"FIREBREAK_ADMIN_DSN": ADMIN_DSN, "FIREBREAK_DRILL_DATABASE": database},
    )
    assert result.code == 0, result.output
    assert "injected" in result.stdout and "in effect" in result.stdout
    assert "removed" in result.stdout.split("in effect", 1)[1]
    with psycopg.connect(scratch_database) as conn:
        assert not conn.execute(
            "SELECT 1 FROM pg_class WHERE relname LIKE 'fb_drill_%'"
            " UNION ALL SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'fb_drill_%'"
        ).fetchall()
    flood = [
        c
        for c in redis.Redis.from_url(REDIS_URL).client_list()
        if c.get("name", "").startswith("fb-drill-flood-")
    ]
    assert flood == []


def test_a_kubernetes_drill_without_a_cluster_says_what_to_set(firebreak):
    result = firebreak("drill", "oom-kill", "--inject-only", "--hold", "0")
    assert result.code == 1
    assert "FIREBREAK_DRILL_KUBECONFIG" in result.stderr


@pytest.mark.kubernetes
def test_a_kubernetes_drill_fault_is_made_in_the_drill_namespace_and_removed(
    firebreak, kube_config_path, drill_namespace, kube_admin
):
    result = firebreak(
        "drill",
        "crash-loop",
        "--inject-only",
        "--hold",
        "0",
        env={
            "FIREBREAK_ADMIN_DSN": ADMIN_DSN,
            "FIREBREAK_DRILL_KUBECONFIG": kube_config_path,
            "FIREBREAK_DRILL_NAMESPACE": drill_namespace,
        },
    )
    assert result.code == 0, result.output
    apps = client.AppsV1Api(kube_admin)
    left = apps.list_namespaced_deployment(drill_namespace).items
    assert [d.metadata.name for d in left] == ["bystander"]
