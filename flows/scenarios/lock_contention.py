"""Lock contention: runbook 000 ("Check for locks"), 001 ("Check lock waits"), 004 Database
Connectivity ("blocking locks", then terminate what holds them).

Read top to bottom it is the runbook: read the lock tree, what runs long and the connection
states; end the root of each tree whose waiters have waited past the threshold (never a
waiter: it goes on by itself); verify nobody waits on a lock any more; else hand over,
naming the roots Firebreak may not end.
"""

from __future__ import annotations

from prefect import flow

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
from incident.lock_planning import decide_lock_relief
from incident.models import Alert
from incident.policy import IncidentPolicy
from incident.pool_planning import ACTION
from incident.severity import Severity
from tasks.postgres import (
    check_monitoring_privileges,
    count_connections_by_state,
    list_lock_waits,
    list_long_running_queries,
)
from tasks.postgres_actions import terminate_backends

__all__ = ["LOCK_CONTENTION", "lock_contention"]


def _checks(t: PostgresTargets, policy: IncidentPolicy) -> list[Check]:
    db = t.database
    return [
        pg_check(db, "lock_waits", list_lock_waits),
        pg_check(
            db, "long_running_queries", list_long_running_queries,
            older_than=policy.long_query_threshold,
        ),
        pg_check(db, "connections_by_state", count_connections_by_state),
        pg_check(db, "monitoring_privileges", check_monitoring_privileges),
    ]  # fmt: skip


LOCK_CONTENTION: Scenario[PostgresTargets] = Scenario(
    name="lock-contention",
    title="Queries queued behind a lock",
    runbooks=("000 Check for locks", "001 Check lock waits", "004 Database Connectivity"),
    default_severity=Severity.HIGH,
    targets=PostgresTargets.of,
    checks=_checks,
    decide=lambda findings, t, policy, incident: decide_lock_relief(
        findings,
        t.database.termination_scope(),
        policy.long_query_threshold.total_seconds(),
    ),
    actuators=lambda t: {ACTION: Actuator(terminate_backends, t.database)},
    verification=("lock_waits",),
    follow_ups=(
        "Find the code path that holds a transaction open while it waits (runbook 001)",
        "Set lock_timeout and idle_in_transaction_session_timeout for application roles",
        "Alert on lock waits before requests time out",
    ),
)


@flow(
    name="lock-contention",
    flow_run_name="lock-contention-{alert.name}",
    on_completion=[release_incident],
    on_failure=[record_abnormal_end],
    on_crashed=[record_abnormal_end],
)
def lock_contention(
    alert: Alert,
    database: str | PostgresTarget = "orders-db",
    store: str | IncidentStore = "incident-store",
    slack: str | SlackWorkspace | None = "incident-slack",
    policy: str | IncidentPolicyBlock | IncidentPolicy = "incident-policy",
    dry_run: bool = False,
    incident_id: str | None = None,
):  # type: ignore[no-untyped-def]
    """End the sessions at the root of a lock queue, once approved; never a waiter.

    Args:
        alert: the alert that fired (lock waits, blocked queries, request timeouts).
        database: PostgresTarget block (name) of the database whose queries queue.
        store: IncidentStore block (name) of the incident record database.
        slack: SlackWorkspace block (name) for the incident channel; None to stay silent.
        policy: IncidentPolicy block (name): the wait threshold, approval timeout, objectives.
        dry_run: plan and show, terminate nothing.
        incident_id: the incident the receiver already recorded for this alert group.
    """
    setting = Setting.resolve(store, slack, policy, dry_run)
    return respond_with(
        LOCK_CONTENTION, {"database": database}, alert, setting, incident_id=incident_id
    )
