"""The Redis client-flood drill: one "application" leaking idle connections.

The fault (`sandbox.injectors.RedisClientFlood`) opens named connections and leaves them
idle; beside it one connection of the same name stays busy (a leak's busy connections are
never disconnected) and a bystander of another name idles (one connection is no flood). The
alert fires once the leak is idle past the policy's age, goes through `respond` and the
shipped routes, and the on-call approves only a plan confined to the fault's client name.
The scorecard reads ``CLIENT LIST``: the idle leak gone, the busy one and the bystander
still connected.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import redis
from pydantic import SecretStr

from blocks.redis import RedisTarget
from blocks.store import IncidentStore
from flows.drill import DRILL_POLICY, DRILL_TOKEN, RECORD_SCHEMA, DrillReport
from flows.drill_run import finish, fire, posted
from incident.errors import PermanentError
from incident.models import Plan, new_incident_id
from sandbox.approver import OnCall
from sandbox.injectors import DrillTargets, FaultSession, RedisClientFlood
from sandbox.slack_stub import SlackStub

__all__ = ["run_redis_flood_drill"]

SCENARIO = "redis-client-flood"
LEAK = 40
POLICY = DRILL_POLICY.model_copy(
    update={"idle_connection_age": timedelta(seconds=3), "client_flood_size": LEAK // 2}
)


def _ids(conn: redis.Redis, name: str) -> set[int]:
    return {int(c["id"]) for c in conn.client_list() if c.get("name") == name}


def _busy(url: str, name: str, stop: threading.Event) -> tuple[redis.Redis, int]:
    """A connection of the leaking application that keeps working: it must be spared."""
    conn = redis.Redis.from_url(url, single_connection_client=True)
    conn.client_setname(name)

    def work() -> None:
        while not stop.wait(0.5):
            try:
                conn.ping()
            except redis.RedisError:
                return

    threading.Thread(target=work, daemon=True, name="drill-busy-client").start()
    return conn, int(conn.client_id())


def _idle_past(conn: redis.Redis, name: str, count: int, seconds: float) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        idle = [
            c
            for c in conn.client_list()
            if c.get("name") == name and int(c.get("idle", 0)) > seconds
        ]
        if len(idle) >= count:
            return
        time.sleep(0.3)
    raise TimeoutError(f"the leaked connections did not idle past {seconds} s")


def _confined_to(name: str):  # type: ignore[no-untyped-def]
    def judge(plans: list[Plan]) -> str | None:
        names = {c.get("name") for p in plans for i in p.items for c in i.get("clients", [])}
        return None if names == {name} else f"plan reaches other clients: {sorted(map(str, names))}"

    return judge


def run_redis_flood_drill(
    admin_dsn: str, targets: DrillTargets, approve_after: float = 1.0
) -> DrillReport:
    """Inject a leak, respond through the routes, approve, score from CLIENT LIST."""
    if targets.redis_url is None:
        raise PermanentError("the Redis drill needs a Redis URL (FIREBREAK_REDIS_URL)")
    url = targets.redis_url.get_secret_value()
    store = IncidentStore(dsn=admin_dsn, schema_name=RECORD_SCHEMA)
    record = store.open()
    report = DrillReport(scenario=SCENARIO)
    watcher = redis.Redis.from_url(url)
    fault = RedisClientFlood(DrillTargets(redis_url=SecretStr(url)), clients=LEAK)
    stop = threading.Event()
    bystander = redis.Redis.from_url(url, single_connection_client=True)
    bystander.client_setname("drill-bystander")
    bystander_id = int(bystander.client_id())
    busy, busy_id = _busy(url, fault.name, stop)
    try:
        with (
            SlackStub(token=DRILL_TOKEN) as slack_stub,
            FaultSession(admin_dsn, RECORD_SCHEMA, DrillTargets(redis_url=SecretStr(url))) as s,
            s.injected(fault),
        ):
            _idle_past(watcher, fault.name, LEAK, POLICY.idle_connection_age.total_seconds())
            leaked = _ids(watcher, fault.name) - {busy_id}
            own = new_incident_id()
            on_call = OnCall(
                record, SCENARIO, own, read_seconds=approve_after, judge=_confined_to(fault.name)
            )
            on_call.start()
            target = RedisTarget(url=url, name="drill-sessions-cache")
            state = fire(
                "RedisTooManyConnections",
                "sessions-cache flooded with client connections",
                {"service": "sessions"},
                incident_id=own,
                target=("redis", target),
                store=store,
                slack_stub=slack_stub,
                policy=POLICY,
            )
            on_call.join(timeout=5)
            left = {int(c["id"]) for c in watcher.client_list()}
            report.state, report.incident_id = state.name or "", own
            report.checks = {
                f"fault injected ({len(leaked)} idle connections)": len(leaked) >= LEAK,
                "incident declared in the channel": posted(slack_stub, "INCIDENT DECLARED"),
                "approval asked for in the channel": posted(slack_stub, "APPROVAL NEEDED"),
                "plan confined to the leaking client": on_call.objection is None,
                "approval requested and given": on_call.approved,
                "idle leaked connections disconnected": not leaked & left,
                "the leak's busy connection spared": busy_id in left,
                "bystander client untouched": bystander_id in left,
                "resolution posted": posted(slack_stub, "INCIDENT RESOLVED"),
                "run ended Resolved": state.name == "Resolved",
            }
    finally:
        stop.set()
        for conn in (busy, bystander, watcher):
            conn.close()
    return finish(report, record)
