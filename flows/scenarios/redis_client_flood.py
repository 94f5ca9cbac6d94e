"""Redis flooded with client connections: runbook 000's Redis checks (``redis-cli INFO``,
clients), 001's connection-leak pattern.

Read top to bottom it is the runbook: who holds the connections, and the server's own
counters; disconnect the idle connections of a leaking client group, once approved (never
a busy one, a protected name, a replica or a subscriber); verify no group floods any more;
else hand over, naming the application to restart or fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prefect import flow

from blocks.loading import resolve_block
from blocks.policy import IncidentPolicyBlock
from blocks.redis import RedisTarget
from blocks.slack import SlackWorkspace
from blocks.store import IncidentStore
from flows.engine import respond_with
from flows.hooks import record_abnormal_end, release_incident
from flows.phases.assess import Check
from flows.phases.mitigate import Actuator
from flows.scenario import Scenario, Setting
from incident.models import Alert
from incident.policy import IncidentPolicy
from incident.redis_planning import KILL_CLIENTS, decide_client_relief
from incident.severity import Severity
from tasks.redis import read_redis_info
from tasks.redis_actions import kill_redis_clients
from tasks.redis_clients import list_redis_clients

__all__ = ["REDIS_FLOOD", "redis_client_flood"]


def _targets(p: Mapping[str, Any]) -> RedisTarget:
    return resolve_block(RedisTarget, p["redis"])


def _checks(redis: RedisTarget, policy: IncidentPolicy) -> list[Check]:
    idle = policy.idle_connection_age.total_seconds()
    return [
        Check(
            "redis_clients",
            redis.label,
            list_redis_clients,
            {"target": redis, "idle_seconds": idle, "flood_size": policy.client_flood_size},
        ),
        Check("redis_info", redis.label, read_redis_info, {"target": redis}),
    ]


REDIS_FLOOD: Scenario[RedisTarget] = Scenario(
    name="redis-client-flood",
    title="Redis flooded with client connections",
    runbooks=("000 Check Redis", "001 connection leak"),
    default_severity=Severity.HIGH,
    targets=_targets,
    checks=_checks,
    decide=lambda findings, redis, policy, incident: decide_client_relief(
        findings, redis.identity, redis.protected_client_names
    ),
    actuators=lambda redis: {KILL_CLIENTS: Actuator(kill_redis_clients, redis)},
    verification=("redis_clients",),
    follow_ups=(
        "Find the code path that opens connections without closing them; use one pool",
        "Set Redis' `timeout` so idle connections are closed by the server",
        "Alert on connected_clients per client name before maxclients is near",
    ),
)


@flow(
    name="redis-client-flood",
    flow_run_name="redis-client-flood-{alert.name}",
    on_completion=[release_incident],
    on_failure=[record_abnormal_end],
    on_crashed=[record_abnormal_end],
)
def redis_client_flood(
    alert: Alert,
    redis: str | RedisTarget = "sessions-cache",
    store: str | IncidentStore = "incident-store",
    slack: str | SlackWorkspace | None = "incident-slack",
    policy: str | IncidentPolicyBlock | IncidentPolicy = "incident-policy",
    dry_run: bool = False,
    incident_id: str | None = None,
):  # type: ignore[no-untyped-def]
    """Disconnect a leaking client's idle Redis connections, once approved; never a busy one.

    Args:
        alert: the alert that fired (connected clients, rejected connections).
        redis: RedisTarget block (name) of the flooded server.
        store: IncidentStore block (name) of the incident record database.
        slack: SlackWorkspace block (name) for the incident channel; None to stay silent.
        policy: IncidentPolicy block (name): idle age, flood size, approval timeout.
        dry_run: plan and show, disconnect nothing.
        incident_id: the incident the receiver already recorded for this alert group.
    """
    setting = Setting.resolve(store, slack, policy, dry_run)
    return respond_with(REDIS_FLOOD, {"redis": redis}, alert, setting, incident_id=incident_id)
