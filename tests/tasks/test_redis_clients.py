"""The Redis client-flood check, planner and action on the real local Redis.

The leak is six named idle connections; beside them one connection of the same name stays
busy and another client idles under its own name. Other tests share this Redis, so every
plan applied here is cut down to this test's own group first: a test never disconnects a
connection it did not make.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import redis
from pydantic import SecretStr

from blocks.redis import RedisTarget
from incident.decision import Verdict
from incident.models import Approval, ApprovalDecision, Finding, FindingStatus, Plan
from incident.redis_planning import decide_client_relief
from tasks.destructive import ApprovalMismatch
from tasks.redis_actions import kill_redis_clients
from tasks.redis_clients import list_redis_clients
from tests.fixtures.redis import REDIS_URL

pytestmark = pytest.mark.prefect

IDLE = 2  # seconds: Redis' idle time has a resolution of one


@dataclass
class Leak:
    name: str
    idle: list[redis.Redis]
    idle_ids: list[int]  # read once at the start: any command wakes a connection
    busy_id: int
    other: str
    other_id: int
    stop: threading.Event
    extra: list[redis.Redis] = field(default_factory=list)

    def connected(self) -> set[int]:
        watcher = redis.Redis.from_url(REDIS_URL)
        try:
            return {int(c["id"]) for c in watcher.client_list()}
        finally:
            watcher.close()


def _named(name: str) -> redis.Redis:
    conn = redis.Redis.from_url(REDIS_URL, single_connection_client=True)
    conn.client_setname(name)
    return conn


def keep_busy(conn: redis.Redis, stop: threading.Event) -> None:
    """A command every 0.2 s until ``stop``: its idle time never reaches a second."""
    conn.ping()

    def work() -> None:
        while not stop.wait(0.2):
            try:
                conn.ping()
            except redis.RedisError:
                return

    threading.Thread(target=work, daemon=True).start()


@pytest.fixture
def leak() -> Iterator[Leak]:
    name, other = f"fb-test-leak-{secrets.token_hex(3)}", f"fb-test-other-{secrets.token_hex(3)}"
    idle = [_named(name) for _ in range(6)]
    idle_ids = [int(c.client_id()) for c in idle]
    busy, bystander = _named(name), _named(other)
    stop = threading.Event()
    keep_busy(busy, stop)
    made = Leak(
        name, idle, idle_ids, int(busy.client_id()), other, int(bystander.client_id()), stop
    )
    time.sleep(IDLE + 0.7)  # the leak idles past the age (Redis counts idle in whole seconds)
    yield made
    stop.set()
    for conn in (*idle, busy, bystander, *made.extra):
        conn.close()


def target() -> RedisTarget:
    return RedisTarget(url=SecretStr(REDIS_URL), name="sessions-cache")


def our_plan(leak: Leak, findings: list[Finding]) -> Plan:
    decision = decide_client_relief(findings, target().identity, protected_names=())
    assert decision.verdict is Verdict.MITIGATE
    [plan] = decision.plans
    ours = tuple(i for i in plan.items if i["name"] == leak.name)
    return plan.model_copy(update={"items": ours})


def approved(plan: Plan) -> Approval:
    return Approval(plan_digest=plan.digest, decision=ApprovalDecision.APPROVED, approver="alice")


def test_the_check_finds_the_leak_by_name_and_never_counts_busy_ones_or_itself(prefect_api, leak):
    finding = list_redis_clients(target(), idle_seconds=IDLE, flood_size=5)

    assert finding.status is FindingStatus.WARNING
    groups = {g["group"]: g for g in finding.evidence["groups"]}
    ours = groups[leak.name]
    assert (ours["connections"], ours["idle"], ours["flood"]) == (7, 6, True)
    assert {c["id"] for c in ours["idle_clients"]} == set(leak.idle_ids)
    assert groups[leak.other]["flood"] is False
    assert finding.evidence["own_client_id"] not in {
        c["id"] for g in finding.evidence["groups"] for c in g["idle_clients"]
    }
    assert f"{leak.name}: 6 of 7 idle" in finding.summary


def test_approved_only_the_planned_idle_connections_go_and_a_woken_one_is_spared(prefect_api, leak):
    plan = our_plan(leak, [list_redis_clients(target(), idle_seconds=IDLE, flood_size=5)])
    woken, closed = leak.idle[:2]
    woken_id, rest_ids = leak.idle_ids[0], leak.idle_ids[2:]
    working = threading.Event()
    # it takes work after the plan was made, and keeps at it however slow the apply is
    keep_busy(woken, working)
    closed.close()  # and this one the application closed itself
    leak.extra.append(_named(leak.name))  # a new connection of that name: not planned

    try:
        action = kill_redis_clients(target(), plan, approved(plan))
    finally:
        working.set()

    outcome = {r["id"]: r["outcome"] for r in action.results}
    assert outcome[woken_id] == "busy again"
    assert {outcome[i] for i in rest_ids} == {"disconnected"}
    assert list(outcome.values()).count("already gone") == 1
    left = leak.connected()
    assert {leak.busy_id, leak.other_id, woken_id} <= left
    assert not set(rest_ids) & left
    assert int(leak.extra[0].client_id()) in left
    again = kill_redis_clients(target(), plan, approved(plan))
    assert again.status.value == "noop", again.summary


def test_nothing_happens_without_the_approval_of_this_plan_on_this_server(prefect_api, leak):
    plan = our_plan(leak, [list_redis_clients(target(), idle_seconds=IDLE, flood_size=5)])
    [item] = plan.items
    fewer = {**item, "clients": item["clients"][:-1]}
    other_plan = plan.model_copy(update={"items": (fewer,)})  # another plan: another digest
    assert other_plan.digest != plan.digest
    elsewhere = RedisTarget(url=SecretStr(REDIS_URL.rsplit("/", 1)[0] + "/5"))

    for attempt in (
        lambda: kill_redis_clients(target(), plan, None),
        lambda: kill_redis_clients(target(), plan, approved(other_plan)),
        lambda: kill_redis_clients(elsewhere, plan, approved(plan)),
    ):
        with pytest.raises(ApprovalMismatch):
            attempt()
    assert set(leak.idle_ids) <= leak.connected()
    dry = kill_redis_clients(target(), plan, None, dry_run=True)
    assert {r["outcome"] for r in dry.results} == {"would disconnect"}
    assert set(leak.idle_ids) <= leak.connected()


def test_a_protected_name_or_an_unreadable_server_escalates():
    flood = Finding(
        check="redis_clients",
        target="sessions-cache",
        status=FindingStatus.WARNING,
        summary="flood",
        evidence={
            "idle_seconds": 60,
            "groups": [
                {"group": "scheduler", "name": "scheduler", "host": "10.0.0.5",
                 "connections": 80, "idle": 80, "flood": True, "idle_clients": []},
            ],
        },
    )  # fmt: skip
    protected = decide_client_relief([flood], "redis://r:6379/0", protected_names={"scheduler"})
    assert protected.verdict is Verdict.ESCALATE and "protected" in protected.why
    down = Finding(
        check="redis_clients",
        target="sessions-cache",
        status=FindingStatus.UNREACHABLE,
        summary="Redis sessions-cache is unreachable",
    )
    unreachable = decide_client_relief([down], "redis://r:6379/0", protected_names=())
    assert unreachable.verdict is Verdict.ESCALATE and "unreachable" in unreachable.why
