"""The lock-contention drill: a session holding a row lock while others queue behind it.

The fault (`sandbox.injectors.LockContention`) logs in as an application role of its own on
the sandbox database; beside it a bystander holds a lock on a table of its own that nobody
waits on, and must be left alone. The alert fires once the waiters have waited past the
policy's threshold (as Alertmanager's ``for:`` would), goes through `respond` and the shipped
routes, and the on-call approves only a plan that names the lock's holder and nothing else.
The scorecard reads `pg_stat_activity`, not the flow's report: the holder gone, every waiter
still connected and done waiting, the bystander untouched.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg
from pydantic import SecretStr

from blocks.postgres import PostgresTarget
from blocks.store import IncidentStore
from flows.drill import (
    DRILL_POLICY,
    DRILL_TOKEN,
    RECORD_SCHEMA,
    SANDBOX_DATABASE,
    DrillReport,
    sandbox_dsn,
)
from flows.drill_run import finish, fire, posted
from incident.models import Plan, new_incident_id
from sandbox.approver import OnCall
from sandbox.injectors import DrillTargets, FaultSession, LockContention
from sandbox.slack_stub import SlackStub

__all__ = ["run_lock_contention_drill"]

SCENARIO = "lock-contention"


def _backends(dsn: str, application_name: str) -> dict[int, str | None]:
    """pid → wait event type of the fault's sessions, read from the server."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid, wait_event_type FROM pg_stat_activity WHERE application_name = %s",
            (application_name,),
        ).fetchall()
    return {pid: wait for pid, wait in rows}


def _waited_past(dsn: str, application_name: str, seconds: float, timeout: float = 60) -> None:
    """Hold the alert until every waiter has waited longer than ``seconds``."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            (youngest,) = conn.execute(
                "SELECT min(extract(epoch FROM now() - query_start)) FROM pg_stat_activity"
                " WHERE application_name = %s AND wait_event_type = 'Lock'",
                (application_name,),
            ).fetchone() or (None,)
            if youngest is not None and youngest > seconds:
                return
            time.sleep(0.2)
    raise TimeoutError(f"the lock waiters did not wait past {seconds} s within {timeout} s")


def _bystander(dsn: str) -> tuple[psycopg.Connection[Any], int]:
    """A transaction holding a lock of its own that nobody waits on: not contention."""
    conn = psycopg.connect(dsn, autocommit=True, application_name="drill-bystander")
    conn.execute("CREATE TABLE IF NOT EXISTS drill_bystander (id int PRIMARY KEY)")
    conn.execute("BEGIN")
    conn.execute("LOCK TABLE drill_bystander IN ROW EXCLUSIVE MODE")
    return conn, conn.info.backend_pid


def _only(holder: int) -> Callable[[list[Plan]], str | None]:
    def judge(plans: list[Plan]) -> str | None:
        named = {i.get("pid") for p in plans for i in p.items}
        return None if named == {holder} else f"plan names pids {sorted(map(str, named))}"

    return judge


def run_lock_contention_drill(
    admin_dsn: str, targets: DrillTargets | None = None, approve_after: float = 1.0
) -> DrillReport:
    """Inject, respond through the routes, approve the holder only, score; always remove."""
    sandbox = sandbox_dsn(admin_dsn)
    store = IncidentStore(dsn=admin_dsn, schema_name=RECORD_SCHEMA)
    record = store.open()
    report = DrillReport(scenario=SCENARIO)
    drill_targets = DrillTargets(postgres_dsn=SecretStr(admin_dsn))
    fault = LockContention(drill_targets, SANDBOX_DATABASE, waiters=3)
    bystander, bystander_pid = _bystander(sandbox)
    try:
        with (
            SlackStub(token=DRILL_TOKEN) as slack_stub,
            FaultSession(admin_dsn, RECORD_SCHEMA, drill_targets) as session,
            session.injected(fault),
        ):
            threshold = DRILL_POLICY.long_query_threshold.total_seconds()
            _waited_past(sandbox, fault.name, threshold + 0.3)
            before = _backends(sandbox, fault.name)
            waiters = {pid for pid, wait in before.items() if wait == "Lock"}
            [holder] = set(before) - waiters
            own = new_incident_id()
            on_call = OnCall(record, SCENARIO, own, read_seconds=approve_after, judge=_only(holder))
            on_call.start()
            database = PostgresTarget(dsn=sandbox, name="drill-orders-db")
            state = fire(
                "PostgresLockWaits",
                "orders-db queries queued behind a lock",
                {"service": "orders"},
                incident_id=own,
                target=("database", database),
                store=store,
                slack_stub=slack_stub,
                policy=DRILL_POLICY,
            )
            on_call.join(timeout=5)
            after = _backends(sandbox, fault.name)
            report.state, report.incident_id = state.name or "", own
            report.checks = {
                "fault injected (waiters queued on a lock)": len(waiters) == fault.waiters,
                "incident declared in the channel": posted(slack_stub, "INCIDENT DECLARED"),
                "approval asked for in the channel": posted(slack_stub, "APPROVAL NEEDED"),
                "plan names the lock's holder only": on_call.objection is None,
                "approval requested and given": on_call.approved,
                "lock holder ended": holder not in after,
                "every waiter went on, none terminated": all(
                    pid in after and after[pid] != "Lock" for pid in waiters
                ),
                "bystander's own lock untouched": _alive(bystander, bystander_pid),
                "resolution posted": posted(slack_stub, "INCIDENT RESOLVED"),
                "run ended Resolved": state.name == "Resolved",
            }
    finally:
        bystander.close()
    return finish(report, record)


def _alive(conn: psycopg.Connection[Any], pid: int) -> bool:
    try:
        return conn.execute("SELECT pg_backend_pid()").fetchone() == (pid,)
    except psycopg.Error:
        return False
