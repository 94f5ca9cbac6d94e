"""A response process killed mid-incident leaves a record that ends at its last step."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL

from flows.scenarios.db_pool_exhaustion import DB_POOL, SCENARIO, Targets
from incident.policy import IncidentPolicy
from sandbox.approver import wait_for_approval_request

pytestmark = pytest.mark.prefect

ROOT = Path(__file__).resolve().parents[2]

RUNNER = textwrap.dedent(
    """
    import os
    from datetime import timedelta
    from blocks import IncidentStore, PostgresTarget
    from flows.scenarios.db_pool_exhaustion import db_pool_exhaustion
    from incident.models import Alert
    from incident.policy import IncidentPolicy

    db_pool_exhaustion(
        alert=Alert(name="PostgresConnectionsExhausted", severity="P2"),
        database=PostgresTarget(dsn=os.environ["TARGET_DSN"]),
        store=IncidentStore(dsn=os.environ["STORE_DSN"], schema_name=os.environ["STORE_SCHEMA"]),
        slack=None,
        policy=IncidentPolicy(
            long_query_threshold=timedelta(seconds=3),
            approval_timeout=timedelta(minutes=5),
            approval_poll_interval=timedelta(seconds=1),
        ),
    )
    """
)


def test_a_killed_run_leaves_the_timeline_at_its_last_completed_step(
    prefect_api, pool_exhaustion, postgres_target, incident_store, record
):
    env = {
        **os.environ,
        "PREFECT_API_URL": PREFECT_API_URL.value(),
        "TARGET_DSN": postgres_target.dsn.get_secret_value(),
        "STORE_DSN": incident_store.dsn.get_secret_value(),
        "STORE_SCHEMA": incident_store.schema_name,
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNER],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        incident_id, _, _ = wait_for_approval_request(record, SCENARIO, timeout=120)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    timeline = [e for e in record.timeline(incident_id) if not e.step.startswith("notify:")]
    completed = [(e.phase, e.step) for e in timeline if e.status == "completed"]
    assert completed[-1] == ("mitigate", "dry-run")
    assert (timeline[-1].phase, timeline[-1].step, timeline[-1].status) == (
        "mitigate",
        "approval",
        "started",
    )
    assert record.get_incident(incident_id)["status"] == "identified"
    checks = {c.name for c in DB_POOL.checks(Targets(postgres_target), IncidentPolicy())}
    assert {f.check for f in record.findings(incident_id)} == checks | {"deployment_status"}
    assert pool_exhaustion.offending <= pool_exhaustion.alive(), "killed before approval"
