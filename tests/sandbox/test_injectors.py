"""Every drill fault is real while the drill runs and gone afterwards — whatever ends it.

Each injector is run against its real target (PostgreSQL, Redis, the demo service, the
Kubernetes control plane) beside a bystander that must survive, and the fault is observed
from outside the injector. Three endings: the drill finishes, the response raises, and the
drill process is SIGKILLed (the next drill's start removes what it left).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from sandbox.injectors import FaultLedger, FaultSession
from tests.fixtures.drill_targets import KUBERNETES_KINDS, FaultCase, wait_for
from tests.xdist_groups import SHARED_POSTGRES

pytestmark = pytest.mark.xdist_group(SHARED_POSTGRES)

ROOT = Path(__file__).resolve().parents[2]
KINDS = [
    "pool-exhaustion",
    "lock-contention",
    "redis-flood",
    "failing-health",
    *[pytest.param(k, marks=pytest.mark.kubernetes) for k in KUBERNETES_KINDS],
]
parametrized = pytest.mark.parametrize("fault_case", KINDS, indirect=True)


def _open_rows(admin_dsn: str, schema: str) -> list[tuple[str, str]]:
    with psycopg.connect(admin_dsn) as conn:
        query = sql.SQL("SELECT kind, outcome FROM {}.drill_faults WHERE removed_at IS NULL")
        return conn.execute(query.format(sql.Identifier(schema))).fetchall()


def _assert_gone(case: FaultCase) -> None:
    wait_for(f"{case.kind} removed", lambda: not case.leftovers())
    assert not case.is_present()
    assert case.bystanders_intact()


@parametrized
def test_a_fault_is_in_effect_during_the_drill_and_removed_when_it_ends(
    fault_case, admin_dsn, incident_store
):
    with (
        FaultSession(admin_dsn, incident_store.schema_name, fault_case.targets) as session,
        session.injected(fault_case.make()),
    ):
        assert fault_case.is_present()
        assert fault_case.leftovers()
        assert fault_case.bystanders_intact()
    _assert_gone(fault_case)
    assert _open_rows(admin_dsn, incident_store.schema_name) == []


@parametrized
def test_a_fault_is_removed_when_the_response_raises(fault_case, admin_dsn, incident_store):
    with (
        pytest.raises(RuntimeError, match="response crashed"),
        FaultSession(admin_dsn, incident_store.schema_name, fault_case.targets) as session,
        session.injected(fault_case.make()),
    ):
        assert fault_case.is_present()
        raise RuntimeError("response crashed")
    _assert_gone(fault_case)
    assert _open_rows(admin_dsn, incident_store.schema_name) == []


def _hold(case: FaultCase, admin_dsn: str, schema: str) -> subprocess.Popen[str]:
    """A drill process holding the fault; returns once it says the fault is in effect."""
    spec = {
        "ledger_dsn": admin_dsn,
        "schema": schema,
        "kind": case.kind,
        "options": case.options,
        "targets": case.hold_targets,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.injectors.hold"],
        cwd=ROOT,
        env=dict(os.environ),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(spec))
    proc.stdin.close()
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    try:
        line = lines.get(timeout=120)
    except queue.Empty:
        proc.kill()
        raise AssertionError(f"the drill process never injected: {proc.stderr.read()}") from None
    assert line.startswith(f"INJECTED {case.kind}"), line + proc.stderr.read()
    return proc


@parametrized
def test_a_fault_left_by_a_killed_drill_is_removed_when_the_next_drill_starts(
    fault_case, admin_dsn, incident_store
):
    schema = incident_store.schema_name
    proc = _hold(fault_case, admin_dsn, schema)
    assert fault_case.is_present()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert [kind for kind, _ in _open_rows(admin_dsn, schema)] == [fault_case.kind]
    if fault_case.survives_kill:  # the damage outlives the drill that made it
        assert fault_case.leftovers()

    with FaultSession(admin_dsn, schema, fault_case.targets) as next_drill:
        assert [(o.kind, o.removed) for o in next_drill.swept] == [(fault_case.kind, True)]
    _assert_gone(fault_case)
    assert _open_rows(admin_dsn, schema) == []


@pytest.mark.parametrize("fault_case", ["lock-contention"], indirect=True)
def test_a_drill_still_running_elsewhere_keeps_its_fault(fault_case, admin_dsn, incident_store):
    schema = incident_store.schema_name
    with (
        FaultSession(admin_dsn, schema, fault_case.targets) as running,
        running.injected(fault_case.make()),
    ):
        with FaultSession(admin_dsn, schema, fault_case.targets) as other:
            assert other.swept == []
        assert fault_case.is_present()
    _assert_gone(fault_case)


@pytest.mark.parametrize("fault_case", ["pool-exhaustion", "failing-health"], indirect=True)
def test_a_drill_killed_after_recording_but_before_injecting_leaves_nothing_to_break(
    fault_case, admin_dsn, incident_store
):
    schema = incident_store.schema_name
    fault = fault_case.make()
    killed = FaultLedger(admin_dsn, schema)
    killed.record(fault.kind, fault.target, fault.resource)  # written first ...
    killed.close()  # ... and the process died before creating anything
    with FaultSession(admin_dsn, schema, fault_case.targets) as next_drill:
        assert [(o.kind, o.removed) for o in next_drill.swept] == [(fault_case.kind, True)]
    assert not fault_case.leftovers() and fault_case.bystanders_intact()
    assert _open_rows(admin_dsn, schema) == []
