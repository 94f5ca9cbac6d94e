"""The sandboxed drill (runbook 003: quarterly incident-response drills).

Injects a real connection-pool exhaustion into a sandbox database on the local PostgreSQL,
runs the real response flow against it with Slack answered by a local stub, approves as the
on-call would from outside the run, then scores the response: was the right thing done,
only that, and how fast. ``python -m flows.drill`` prints the scorecard; exit 0 means passed.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from datetime import timedelta

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from blocks.postgres import PostgresTarget
from blocks.slack import SlackWorkspace
from blocks.store import IncidentStore
from flows.scenarios.db_pool_exhaustion import SCENARIO, db_pool_exhaustion
from incident.models import Alert, AlertSource, new_incident_id
from incident.policy import IncidentPolicy
from incident.postmortem import incident_metrics
from sandbox.approver import OnCall
from sandbox.databases import ensure_database
from sandbox.injectors.base import DrillTargets
from sandbox.postgres_faults import PoolExhaustion
from sandbox.slack_stub import SlackStub

__all__ = ["DrillReport", "run_db_pool_drill"]

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
SANDBOX_DATABASE = "firebreak_drill"
RECORD_SCHEMA = "firebreak_drill_record"
DRILL_TOKEN = "xoxb-drill-sandbox-token"

DRILL_POLICY = IncidentPolicy(
    long_query_threshold=timedelta(seconds=3),
    approval_timeout=timedelta(minutes=2),
    approval_poll_interval=timedelta(seconds=1),
    verification_window=timedelta(seconds=20),
    verification_interval=timedelta(seconds=1),
    monitoring_window=timedelta(seconds=10),
    notification_max_wait=timedelta(seconds=5),
)


@dataclass
class DrillReport:
    scenario: str = SCENARIO
    incident_id: str = ""
    state: str = ""
    checks: dict[str, bool] = field(default_factory=dict)
    metrics: dict[str, float | None] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(self.checks.values())

    def render(self) -> str:
        lines = [
            f"Firebreak drill: {self.scenario}",
            f"incident {self.incident_id}, run {self.state}",
        ]
        lines += ["", f"{'check':<48} result"]
        lines += [f"{name:<48} {'PASS' if ok else 'FAIL'}" for name, ok in self.checks.items()]
        lines += ["", f"{'metric':<48} seconds"]
        lines += [
            f"{name.replace('_', ' '):<48} {'-' if v is None else f'{v:.1f}'}"
            for name, v in self.metrics.items()
        ]
        lines += [
            "",
            f"score: {sum(self.checks.values())}/{len(self.checks)} — "
            + ("PASSED" if self.passed else "FAILED"),
        ]
        return "\n".join(lines)


def sandbox_dsn(admin_dsn: str) -> str:
    """Create the sandbox database once; drills never touch any other database."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        ensure_database(conn, SANDBOX_DATABASE)
    params = conninfo_to_dict(admin_dsn)
    params["dbname"] = SANDBOX_DATABASE
    return make_conninfo(**params)


def run_db_pool_drill(
    admin_dsn: str = DEFAULT_DSN, targets: DrillTargets | None = None, approve_after: float = 1.0
) -> DrillReport:
    """Inject, respond, approve, score. Everything is undone afterwards.

    ``targets`` is the registry's runner signature; this drill needs only ``admin_dsn``.
    """
    report = DrillReport()
    sandbox = sandbox_dsn(admin_dsn)
    store = IncidentStore(dsn=admin_dsn, schema_name=RECORD_SCHEMA)
    record = store.open()
    age = DRILL_POLICY.long_query_threshold.total_seconds() + 0.3
    with (
        SlackStub(token=DRILL_TOKEN) as slack_stub,
        PoolExhaustion(sandbox, age_seconds=age) as fault,
    ):
        target = PostgresTarget(
            dsn=sandbox, name="drill-orders-db", protected_roles=[fault.protected_role]
        )
        was_exhausted = not fault.can_connect()
        # the alert fires once the pool is exhausted, as Alertmanager would
        alert = Alert(
            name="PostgresConnectionsExhausted",
            source=AlertSource.DRILL,
            severity="SEV2",
            summary="[DRILL] orders-db connection pool exhausted",
            labels={"service": "orders", "drill": "true"},
        )
        slack = SlackWorkspace(token=DRILL_TOKEN, api_base_url=slack_stub.base_url)
        own = new_incident_id()
        # meanwhile a pooled connection finishes and takes fresh work: it must be spared
        approver = OnCall(
            record, SCENARIO, own, read_seconds=approve_after, meanwhile=fault.move_on
        )
        approver.start()
        state = db_pool_exhaustion(
            alert=alert,
            database=target,
            store=store,
            slack=slack,
            policy=DRILL_POLICY,
            incident_id=own,
            return_state=True,
        )
        approver.join(timeout=5)
        outcome = state.result(raise_on_failure=False)
        report.state = state.name or ""
        report.incident_id = getattr(outcome, "incident_id", own)
        alive = fault.alive()
        texts = slack_stub.texts()
        report.checks = {
            "fault injected (pool really exhausted)": was_exhausted,
            "incident declared in the channel": any("INCIDENT DECLARED" in t for t in texts),
            "approval asked for in the channel": any("APPROVAL NEEDED" in t for t in texts),
            "approval requested and given": approver.approved,
            "offending backends terminated": not (alive & fault.offending),
            "every bystander untouched (incl. one that moved on)": not fault.untouched(),
            "headroom restored (app can connect)": fault.can_connect(),
            "resolution posted": any("INCIDENT RESOLVED" in t for t in texts),
            "run ended Resolved": state.name == "Resolved",
        }
    if report.incident_id:
        report.metrics = incident_metrics(
            record.get_incident(report.incident_id), record.timeline(report.incident_id)
        )
        timeline = record.timeline(report.incident_id)
        report.checks["post-mortem drafted"] = any(
            e.step == "postmortem" and e.status == "completed" for e in timeline
        )
    record.close()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dsn",
        default=os.environ.get("FIREBREAK_DRILL_PG_DSN", DEFAULT_DSN),
        help="admin DSN of the local PostgreSQL (a sandbox database is created on it)",
    )
    args = parser.parse_args(argv)
    report = run_db_pool_drill(args.dsn)
    print(report.render())
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
