"""Many incidents waiting for approval on one worker: what the wait costs while nobody answers.

A paused run keeps its Python process and its worker slot for as long as the approver takes;
a deployment run *suspends* instead (`flows.phases.approval`), so N incidents waiting should
cost nothing beyond the idle worker. This deploys the real ``db-pool-exhaustion`` scenario
from ``prefect.yaml`` to a real ``prefect server`` (PostgreSQL), starts ONE process worker,
triggers ``--incidents`` runs, each against its own sandboxed pool exhaustion
(`bench.sandbox_fleet`), and once every run waits on its approval measures the live
flow-run processes under the worker and their RSS against the idle worker (the baseline,
same run). Then it approves every plan through `flows.answer.submit_decision` and checks
that each run resolved its own incident with its own plan: the approved digest, the applied
digest and the terminated backend are that incident's and nobody else's.

    python -m bench.paused_incidents [--incidents 50] [--limit 4] [--dsn postgresql://...]
    FIREBREAK_BENCH_INCIDENTS=10 python -m bench.paused_incidents
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from bench.proc_tree import Sampler, tree_rss
from bench.sandbox_fleet import Sandbox, fleet, headroom
from bench.trigger_latency import (
    DSN,
    PREFECT,
    ROOT,
    SMALL_POOL,
    _client_settings,
    _stop,
    prefect_server,
)
from blocks import IncidentPolicyBlock
from blocks.store import IncidentStore
from incident.models import Alert, AlertSource
from incident.policy import IncidentPolicy
from incident.record import IncidentRecord

__all__ = ["main"]

DEPLOYMENT = "db-pool-exhaustion/db-pool-exhaustion"
THRESHOLD = timedelta(seconds=2)  # offenders are aged past it before the runs start


def _policy(count: int) -> IncidentPolicy:
    """Windows short enough for a benchmark; approval open long enough for all to wait."""
    return IncidentPolicy(
        long_query_threshold=THRESHOLD,
        approval_timeout=timedelta(seconds=600 + 20 * count),
        approval_poll_interval=timedelta(seconds=1),
        verification_window=timedelta(seconds=30),
        verification_interval=timedelta(seconds=1),
        monitoring_window=timedelta(seconds=2),
        notification_max_wait=timedelta(seconds=3),
    )


def _cli(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [str(PREFECT), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        raise SystemExit(f"prefect {' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr}")


def _trigger(sandboxes: list[Sandbox], store: str, policy: str) -> dict[UUID, Sandbox]:
    from prefect.deployments import run_deployment

    runs = {}
    for box in sandboxes:
        alert = Alert(
            name="PostgresConnectionsExhausted",
            source=AlertSource.ALERTMANAGER,
            severity="SEV2",
            summary=f"{box.block} connection pool exhausted",
            labels={"service": box.block},
        )
        run = run_deployment(
            DEPLOYMENT,
            parameters={
                "alert": alert.model_dump(mode="json"),
                "database": box.block,
                "store": store,
                "slack": None,
                "policy": policy,
            },
            timeout=0,
        )
        runs[run.id] = box
    return runs


def _states(ids: list[UUID]) -> dict[UUID, Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)), limit=len(ids)
        )
    return {r.id: r.state for r in runs}


def _wait(ids: list[UUID], done: Any, what: str, timeout: float, sampler: Sampler) -> None:
    deadline = time.monotonic() + timeout
    while True:
        states = _states(ids)
        ready = [i for i in ids if states.get(i) is not None and done(states[i])]
        sampler.sample()
        if len(ready) == len(ids):
            return
        if time.monotonic() > deadline:
            names = sorted({s.name for s in states.values() if s is not None})
            raise SystemExit(f"{len(ready)}/{len(ids)} runs {what} after {timeout:.0f}s: {names}")
        print(f"  {len(ready)}/{len(ids)} {what}", file=sys.stderr, flush=True)
        time.sleep(2)


def _awaited(record: IncidentRecord, run_id: UUID) -> tuple[str, str]:
    """(incident id, plan digest) a run asked approval for, from its record."""
    incident = record.incident_for_run(str(run_id))
    assert incident is not None, f"run {run_id} recorded no incident"
    asked = [
        e for e in record.timeline(incident["id"]) if e.step == "approval" and e.status == "started"
    ]
    assert len(asked) == 1, (incident["id"], asked)
    return incident["id"], asked[0].data["plan_digest"]


def _approve_all(record: IncidentRecord, runs: dict[UUID, Sandbox]) -> dict[UUID, tuple[str, str]]:
    from flows.answer import submit_decision

    asked = {}
    for run_id in runs:
        incident_id, digest = asked[run_id] = _awaited(record, run_id)
        given = submit_decision(
            run_id, plan_digest=digest, decision="approve", approver="bench", reason="bench"
        )
        assert given.accepted, (incident_id, given.message)
    return asked


def _check_own_plan(
    record: IncidentRecord, runs: dict[UUID, Sandbox], asked: dict[UUID, tuple[str, str]]
) -> None:
    """Each run resolved; approved and applied exactly its own plan, on its own backends."""
    states = _states(list(runs))
    digests = [digest for _, digest in asked.values()]
    assert len(set(digests)) == len(digests), "two incidents were asked to approve one plan"
    for run_id, box in runs.items():
        incident_id, digest = asked[run_id]
        state = states[run_id]
        assert state.name == "Resolved", (incident_id, state.name, state.message)
        approvals = [a["plan_digest"] for a in record.approvals(incident_id)]
        applied = [a for a in record.actions(incident_id) if a["status"] != "dry_run"]
        assert approvals == [digest], (incident_id, approvals, digest)
        assert [a["plan_digest"] for a in applied] == [digest], (incident_id, applied, digest)
        plan = next(p for p in record.plans(incident_id) if p.digest == digest)
        planned = {int(item["pid"]) for item in plan.items}
        assert planned == box.fault.offending, (incident_id, planned, box.fault.offending)
        assert not box.fault.alive(), (incident_id, "its offender survived")
        assert box.fault.can_connect(), (incident_id, "its pool is still exhausted")


def run(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    free = headroom(args.dsn)
    # a fault each, up to three per running flow (record, session, action), the server, this
    needed = args.incidents + 3 * args.limit + 8 + 4
    if free < needed:
        raise SystemExit(f"PostgreSQL has {free} free connections; {needed} needed: lower -n")
    figures: dict[str, Any] = {}
    suffix = secrets.token_hex(3)
    schema = f"fb_bench_pi_rec_{suffix}"
    with (
        prefect_server(args.dsn, home, SMALL_POOL) as env,
        _client_settings(env),
        fleet(args.dsn, args.incidents, THRESHOLD.total_seconds() + 0.3) as sandboxes,
    ):
        env = {**env, "FIREBREAK_HOME": str(ROOT)}
        _cli(env, "work-pool", "create", "firebreak", "--type", "process", "--overwrite")
        _cli(env, "--no-prompt", "deploy", "--name", "db-pool-exhaustion")
        store = IncidentStore(dsn=args.dsn, schema_name=schema)
        store.save(f"bench-store-{suffix}")
        IncidentPolicyBlock(policy=_policy(args.incidents)).save(f"bench-policy-{suffix}")
        for box in sandboxes:
            box.target().save(box.block, overwrite=True)
        record = store.open()
        worker_env = {**env, "PREFECT_WORKER_QUERY_SECONDS": "1"}
        with open(home / "worker.log", "wb") as log:
            worker = subprocess.Popen(
                [
                    str(PREFECT),
                    "worker",
                    "start",
                    "--pool",
                    "firebreak",
                    "--limit",
                    str(args.limit),
                ],
                env=worker_env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            time.sleep(10)  # the worker's imports and first poll done: it idles
            sampler = Sampler(worker.pid)
            figures["idle"] = tree_rss(worker.pid)
            began = time.monotonic()
            runs = _trigger(sandboxes, f"bench-store-{suffix}", f"bench-policy-{suffix}")
            ids = list(runs)
            _wait(ids, lambda s: s.is_paused(), "waiting", 120 + 15 * args.incidents, sampler)
            figures["all_waiting_after"] = time.monotonic() - began
            time.sleep(5)  # the last suspended processes exit
            figures["waiting"] = tree_rss(worker.pid)
            figures["paused_states"] = sorted({s.name for s in _states(ids).values()})
            figures["peak"] = sampler.peak
            began = time.monotonic()
            asked = _approve_all(record, runs)
            _wait(ids, lambda s: s.is_final(), "done", 120 + 15 * args.incidents, sampler)
            figures["all_done_after"] = time.monotonic() - began
            _check_own_plan(record, runs, asked)
        finally:
            _stop(worker)
            record.close()
            with psycopg.connect(args.dsn, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                )
    return figures


def report(args: argparse.Namespace, f: dict[str, Any]) -> None:
    idle, waiting, peak = f["idle"], f["waiting"], f["peak"]
    print(
        f"\n{args.incidents} db-pool-exhaustion incidents, one process worker (--limit "
        f"{args.limit}), real prefect server (PostgreSQL), same run"
    )
    print(f"{'':<46} {'flow-run procs':>14} {'RSS MB':>9} {'worker+runs MB':>15}")
    print(
        f"{'one worker idle (baseline)':<46} {idle.children:>14} {idle.children_mb:>9.1f}"
        f" {idle.total_mb:>15.1f}"
    )
    print(
        f"{f'all {args.incidents} waiting for approval (suspended)':<46} {waiting.children:>14}"
        f" {waiting.children_mb:>9.1f} {waiting.total_mb:>15.1f}"
    )
    print(
        f"{'peak while starting (limit-bound)':<46} {peak.children:>14} {peak.children_mb:>9.1f}"
        f" {peak.total_mb:>15.1f}"
    )
    per_run = peak.largest_child_mb
    print(
        f"run states while waiting: {', '.join(f['paused_states'])}; all waiting after "
        f"{f['all_waiting_after']:.0f} s; worker+runs while waiting = "
        f"{waiting.total_mb / idle.total_mb:.2f}x idle"
    )
    print(
        f"a paused (not suspended) run would keep its process: largest flow-run process seen "
        f"{per_run:.0f} MB, x {args.incidents} = {per_run * args.incidents:.0f} MB held"
    )
    print(
        f"approved all: {args.incidents}/{args.incidents} Resolved in {f['all_done_after']:.0f} s,"
        " each applied only its own plan (approved digest = applied digest, own backend only)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "-n",
        "--incidents",
        type=int,
        default=int(os.environ.get("FIREBREAK_BENCH_INCIDENTS", "50")),
        help="concurrent incidents (env FIREBREAK_BENCH_INCIDENTS; default 50)",
    )
    parser.add_argument("--limit", type=int, default=3, help="the worker's concurrent runs")
    parser.add_argument("--dsn", default=DSN, help="PostgreSQL admin DSN")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        figures = run(args, Path(tmp))
    report(args, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
