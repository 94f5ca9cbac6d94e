"""Database connection-pool exhaustion: runbook 000 scenario 2, 001 pattern 1, 004 DB issues.

Read top to bottom it is the runbook: check the connection count against its limits, by
state, the long-running queries, idle connections and the lock tree, and the application's
deployment; terminate what holds the pool (or, failing that, idle connections past an age);
verify the headroom is back and stays back; else hand over, naming the application restart
or the pool size as the next step.
"""

from __future__ import annotations

from prefect import flow

from blocks.kubernetes import KubernetesTarget
from blocks.policy import IncidentPolicyBlock
from blocks.postgres import PostgresTarget
from blocks.slack import SlackWorkspace
from blocks.store import IncidentStore
from flows.engine import respond_with
from flows.hooks import record_abnormal_end, release_incident
from flows.phases.assess import Check
from flows.phases.mitigate import Actuator
from flows.scenario import Scenario, Setting
from flows.scenarios.postgres_targets import PostgresTargets, pg_check
from incident.models import Alert, Finding, FindingStatus
from incident.policy import IncidentPolicy
from incident.pool_planning import ACTION, decide_pool_relief
from incident.severity import Severity
from tasks.kubernetes import get_deployment_status
from tasks.postgres import (
    check_monitoring_privileges,
    count_connections_by_state,
    list_idle_connections,
    list_lock_waits,
    list_long_running_queries,
    measure_connection_headroom,
)
from tasks.postgres_actions import terminate_backends

__all__ = ["DB_POOL", "SCENARIO", "db_pool_exhaustion"]

SCENARIO = "db-pool-exhaustion"


Targets = PostgresTargets


def _checks(t: Targets, policy: IncidentPolicy) -> list[Check]:
    db = t.database

    def pg(name: str, task, **kwargs) -> Check:  # type: ignore[no-untyped-def]
        return pg_check(db, name, task, **kwargs)

    checks = [
        pg(
            "connection_headroom",
            measure_connection_headroom,
            min_headroom=policy.min_connection_headroom,
        ),
        pg("connections_by_state", count_connections_by_state),
        pg(
            "long_running_queries",
            list_long_running_queries,
            older_than=policy.long_query_threshold,
        ),
        pg("idle_connections", list_idle_connections, older_than=policy.idle_connection_age),
        pg("lock_waits", list_lock_waits),
        pg("monitoring_privileges", check_monitoring_privileges),
    ]
    if t.cluster is not None:
        checks.append(
            Check(
                "deployment_status", t.cluster.label, get_deployment_status, {"target": t.cluster}
            )
        )
    return checks


def _skipped(t: Targets) -> list[Finding]:
    if t.cluster is not None:
        return []
    return [
        Finding(
            check="deployment_status",
            target="kubernetes",
            status=FindingStatus.SKIPPED,
            summary="no Kubernetes target given: application deployments not checked",
        )
    ]


DB_POOL: Scenario[Targets] = Scenario(
    name=SCENARIO,
    title="Database connection pool exhausted",
    runbooks=("000 scenario 2", "001 pattern 1", "004 Database Connectivity Issues"),
    default_severity=Severity.HIGH,
    targets=Targets.of,
    checks=_checks,
    decide=lambda findings, t, policy, incident: decide_pool_relief(
        findings, t.database.termination_scope()
    ),
    actuators=lambda t: {ACTION: Actuator(terminate_backends, t.database)},
    verification=("connection_headroom", "long_running_queries", "lock_waits"),
    follow_ups=(
        "Review connection usage per service and add pooling (runbook 001 long-term fix)",
        "Alert on idle-in-transaction sessions before the pool is exhausted",
        "Set idle_in_transaction_session_timeout for application roles",
        "Update the runbook with what this incident taught",
    ),
    skipped=_skipped,
)


@flow(
    name=SCENARIO,
    flow_run_name="db-pool-exhaustion-{alert.name}",
    on_completion=[release_incident],
    on_failure=[record_abnormal_end],
    on_crashed=[record_abnormal_end],
)
def db_pool_exhaustion(
    alert: Alert,
    database: str | PostgresTarget = "orders-db",
    store: str | IncidentStore = "incident-store",
    slack: str | SlackWorkspace | None = "incident-slack",
    cluster: str | KubernetesTarget | None = None,
    policy: str | IncidentPolicyBlock | IncidentPolicy = "incident-policy",
    dry_run: bool = False,
    incident_id: str | None = None,
):  # type: ignore[no-untyped-def]
    """Respond to an exhausted PostgreSQL connection pool, terminating only approved backends.

    Args:
        alert: the alert that fired (Alertmanager, Grafana, PagerDuty, a person, a drill).
        database: PostgresTarget block (name) of the server whose pool is exhausted.
        store: IncidentStore block (name) of the incident record database.
        slack: SlackWorkspace block (name) for the incident channel; None to stay silent.
        cluster: KubernetesTarget block (name) of the application's deployments, if any.
        policy: IncidentPolicy block (name): thresholds, approval timeout, objectives.
        dry_run: plan and show, terminate nothing.
        incident_id: the incident the receiver already recorded for this alert group.
    """
    setting = Setting.resolve(store, slack, policy, dry_run)
    targets = {"database": database, "cluster": cluster}
    return respond_with(DB_POOL, targets, alert, setting, incident_id=incident_id)
