"""The lock-contention scenario on real lock trees: an application's transaction that holds a
row while others queue, beside a superuser's lock with its own waiter and a healthy session.
Approved, only the application's root ends and its waiters go on; rejected, nothing ends."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from blocks.postgres import PostgresTarget
from flows.scenarios.lock_contention import lock_contention
from incident.models import Alert, AlertSource
from sandbox.approver import answer, wait_for_approval_request
from tests.flows.support import fast_policy

pytestmark = pytest.mark.prefect


@dataclass
class LockTrees:
    dsn: str
    app_root: int = 0
    app_waiters: set[int] = field(default_factory=set)
    superuser_root: int = 0
    superuser_waiter: int = 0
    healthy: int = 0
    conns: list[psycopg.Connection[Any]] = field(default_factory=list)

    def activity(self) -> dict[int, str | None]:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid, wait_event_type FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
        return dict(rows)  # wait_event_type: "Lock" waiting on one, "Client" idle

    def sessions(self) -> set[int]:
        """Every backend the fixture made (the flow's own monitoring session is not one)."""
        return {
            self.app_root,
            *self.app_waiters,
            self.superuser_root,
            self.superuser_waiter,
            self.healthy,
        }


@pytest.fixture
def lock_trees(scratch_database: str) -> Iterator[LockTrees]:
    role = f"fb_lk_{secrets.token_hex(3)}"
    params = conninfo_to_dict(scratch_database)
    app_dsn = make_conninfo(**{**params, "user": role})
    trees = LockTrees(scratch_database)

    def connect(dsn: str) -> psycopg.Connection[Any]:
        conn = psycopg.connect(dsn, autocommit=True)
        trees.conns.append(conn)
        return conn

    with psycopg.connect(scratch_database, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        for table in ("hot", "cold"):
            admin.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, n int)")
            admin.execute(f"INSERT INTO {table} VALUES (1, 0)")
            grant = sql.SQL("GRANT SELECT, UPDATE ON {} TO {}")
            admin.execute(grant.format(sql.Identifier(table), sql.Identifier(role)))
    holder = connect(app_dsn)
    holder.execute("BEGIN")
    holder.execute("UPDATE hot SET n = n + 1 WHERE id = 1")
    trees.app_root = holder.info.backend_pid
    for _ in range(2):
        waiter = connect(app_dsn)
        waiter.pgconn.send_query(b"UPDATE hot SET n = n + 1 WHERE id = 1")
        trees.app_waiters.add(waiter.info.backend_pid)
    superuser = connect(scratch_database)
    superuser.execute("BEGIN")
    superuser.execute("UPDATE cold SET n = n + 1 WHERE id = 1")
    trees.superuser_root = superuser.info.backend_pid
    waiter = connect(app_dsn)
    waiter.pgconn.send_query(b"UPDATE cold SET n = n + 1 WHERE id = 1")
    trees.superuser_waiter = waiter.info.backend_pid
    healthy = connect(app_dsn)
    healthy.execute("SELECT 1")
    trees.healthy = healthy.info.backend_pid
    deadline = time.monotonic() + 60
    while True:  # the alert fires once the waits pass the threshold, as `for:` would
        with psycopg.connect(scratch_database, autocommit=True) as conn:
            (youngest,) = conn.execute(
                "SELECT min(extract(epoch FROM now() - query_start)) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND datname = current_database()"
            ).fetchone()
        if youngest is not None and youngest > 3.5:
            break
        assert time.monotonic() < deadline, "the waiters never waited past the threshold"
        time.sleep(0.2)
    yield trees
    for conn in trees.conns:
        conn.close()
    with psycopg.connect(scratch_database, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,)
        )
        name = sql.Identifier(role)
        admin.execute(sql.SQL("DROP OWNED BY {}").format(name))  # its grants in this database
        admin.execute(sql.SQL("DROP ROLE {}").format(name))


def start(background, trees: LockTrees, store) -> Any:  # type: ignore[no-untyped-def]
    alert = Alert(name="PostgresLockWaits", source=AlertSource.ALERTMANAGER, severity="SEV2")
    target = PostgresTarget(dsn=trees.dsn, name="orders-db")
    return background(
        lock_contention,
        alert=alert,
        database=target,
        store=store,
        slack=None,
        policy=fast_policy(),
        return_state=True,
    )


def test_approved_only_the_applications_lock_root_ends_and_its_waiters_go_on(
    background, prefect_api, incident_store, record, lock_trees
):
    trees = lock_trees
    run = start(background, trees, incident_store)
    incident_id, run_id, digest = wait_for_approval_request(record, "lock-contention")
    [plan] = record.plans(incident_id)
    assert [i["pid"] for i in plan.items] == [trees.app_root]
    assert trees.app_root in trees.activity(), "nothing ends before the approval"
    answer(run_id, approve=True, approver="alice", plan_digest=digest)

    state = run.join(timeout=180)

    assert state.name == "Resolved", state.message
    after = trees.activity()
    assert trees.app_root not in after
    assert all(after.get(p, "gone") == "Client" for p in trees.app_waiters), "waiters went on"
    assert after[trees.superuser_root] == "Client", "a superuser's lock is reported, not ended"
    assert after[trees.superuser_waiter] == "Lock", "and its waiter still waits on it"
    assert trees.healthy in after
    notes = [e.message for e in record.timeline(incident_id) if e.step == "note"]
    assert any(f"pid {trees.superuser_root}" in n and "superuser" in n for n in notes), notes


def test_rejected_nothing_ends_and_the_incident_is_escalated(
    background, prefect_api, incident_store, record, lock_trees
):
    trees = lock_trees
    run = start(background, trees, incident_store)
    _, run_id, digest = wait_for_approval_request(record, "lock-contention")
    answer(run_id, approve=False, approver="alice", plan_digest=digest, reason="not yet")

    state = run.join(timeout=180)

    assert state.name == "Escalated", state.message
    after = trees.activity()
    assert trees.sessions() <= set(after), "every backend is still there"
    assert all(after[p] == "Lock" for p in trees.app_waiters)
