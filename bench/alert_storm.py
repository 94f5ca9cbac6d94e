"""Alert storm: 5,000 Alertmanager webhooks in ~10 s across 50 alert groups, PostgreSQL behind.

The receiver runs as its own process (``python -m receiver``), the way it is deployed, with a
real Prefect server on PostgreSQL to start runs on (an ephemeral SQLite server answers
concurrent run creations with "database is locked" and client retries, which measures SQLite).
The baselines are the same requests, same bodies, same uvicorn, against a bare endpoint that
only parses the JSON, and one that also makes one durable INSERT per request (the floor of
anything that persists before answering: on a shared machine, mostly the disk's fsync);
see ``bench/bare_endpoints.py``.

    python -m bench.alert_storm [--requests 5000] [--groups 50] [--seconds 10] [--dsn ...]

Latency is measured by the load generator from sending a request to its answer.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.utilities.callables import parameter_schema
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from bench.storm_load import Storm, cpu_seconds, free_port, run_storm, serving
from incident.models import Alert

DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
ROOT = Path(__file__).resolve().parents[1]
TOKEN = secrets.token_urlsafe(24)


@flow(name="bench-respond")
def bench_respond(alert: Alert, incident_id: str | None = None) -> None:
    """What the storm's runs are started as (no worker runs them)."""


def payloads(requests: int, groups: int) -> list[bytes]:
    """Request n carries one alert of group n % groups, each alert distinct."""
    bodies = []
    for n in range(requests):
        group = f"svc-{n % groups:02d}"
        alert = {
            "status": "firing",
            "labels": {"alertname": "HighErrorRate", "service": group, "instance": f"pod-{n}"},
            "annotations": {"summary": f"5xx above 5% on {group}"},
            "startsAt": "2025-01-02T03:04:05.000Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph",
            "fingerprint": f"{n:016x}",
        }
        body = {
            "version": "4",
            "groupKey": f'{{}}:{{alertname="HighErrorRate", service="{group}"}}',
            "status": "firing",
            "receiver": "firebreak",
            "groupLabels": {"alertname": "HighErrorRate", "service": group},
            "commonLabels": {},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093",
            "truncatedAlerts": 0,
            "alerts": [alert],
        }
        bodies.append(json.dumps(body).encode())
    return bodies


_IDLE_SERVICES = (
    "SCHEDULER",
    "LATE_RUNS",
    "FOREMAN",
    "CANCELLATION_CLEANUP",
    "PAUSE_EXPIRATIONS",
    "REPOSSESSOR",
    "CLEANUP_RECONCILER",
    "TASK_RUN_RECORDER",
    "TRIGGERS",
)


@contextmanager
def prefect_server(dsn: str) -> Iterator[tuple[str, int]]:
    """``prefect server start`` on a PostgreSQL database of its own; yields (API URL, pid)."""
    database = f"fb_storm_prefect_{secrets.token_hex(3)}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    pg = conninfo_to_dict(dsn)
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_API_URL": url,
        "PREFECT_API_DATABASE_CONNECTION_URL": (
            f"postgresql+asyncpg://{pg.get('user', 'postgres')}@{pg.get('host', '127.0.0.1')}:"
            f"{pg.get('port', 5432)}/{database}"
        ),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
        # Only what creating runs needs: the server shares this machine's cores with the
        # receiver under test, and its loop services (scheduling, triggers...) have no work
        # in this benchmark but their polling. Events are still persisted.
        **{f"PREFECT_SERVER_SERVICES_{name}_ENABLED": "false" for name in _IDLE_SERVICES},
    }
    cli = Path(sys.executable).with_name("prefect")
    command = [str(cli), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("prefect server did not start")
            time.sleep(0.5)
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield url, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )


def _deploy() -> str:
    with get_client(sync_client=True) as client:
        flow_id = client.create_flow_from_name(bench_respond.name)
        client.create_deployment(
            flow_id=flow_id,
            name="storm",
            entrypoint="bench/alert_storm.py:bench_respond",
            parameter_openapi_schema=parameter_schema(bench_respond).model_dump(),
        )
    return f"{bench_respond.name}/storm"


@dataclass
class Recorded:
    """What the record holds after a receiver's storm."""

    incidents: int
    alerts: int
    started: int
    wait_p50: float
    wait_max: float


def recorded(dsn: str, schema: str, groups: int, *, wait_for_starts: bool) -> Recorded:
    started = "SELECT count(*) FROM {s}.run_starts WHERE flow_run_id IS NOT NULL"
    with psycopg.connect(dsn, autocommit=True) as conn:

        def one(query: str) -> Any:
            return conn.execute(sql.SQL(query).format(s=sql.Identifier(schema))).fetchone()

        deadline = time.monotonic() + 120
        while wait_for_starts and one(started)[0] < groups and time.monotonic() < deadline:
            time.sleep(0.5)
        waits = one(
            "SELECT coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY w), 0),"
            " coalesce(max(w), 0) FROM (SELECT extract(epoch FROM started_at - created_at) AS w"
            " FROM {s}.run_starts WHERE started_at IS NOT NULL) t"
        )
        return Recorded(
            incidents=one("SELECT count(*) FROM {s}.incidents")[0],
            alerts=one("SELECT count(*) FROM {s}.received_alerts")[0],
            started=one(started)[0],
            wait_p50=float(waits[0]),
            wait_max=float(waits[1]),
        )


def receiver_env(
    args: argparse.Namespace, schema: str, api_url: str, deployment: str
) -> dict[str, str]:
    return {
        **os.environ,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "FIREBREAK_RECEIVER_RECORD_DSN": args.dsn,
        "FIREBREAK_RECEIVER_RECORD_SCHEMA": schema,
        "FIREBREAK_RECEIVER_PREFECT_API_URL": api_url,
        "FIREBREAK_RECEIVER_SOURCES__ALERTMANAGER__BEARER_TOKENS": json.dumps([TOKEN]),
        "FIREBREAK_RECEIVER_ROUTING__DEFAULT_DEPLOYMENT": deployment,
    }


def _load(args: argparse.Namespace) -> dict[str, Any]:
    return {"seconds": args.seconds, "concurrency": args.concurrency, "token": TOKEN}


def storm_receiver(
    args: argparse.Namespace, bodies: list[bytes], env: dict[str, str], prefect_pid: int
) -> tuple[Storm, float]:
    """The storm against a receiver process; (figures, Prefect server CPU seconds meanwhile)."""
    port = free_port()
    command = ["-m", "receiver", "--log-level", "warning"]
    with serving(command, {**env, "FIREBREAK_RECEIVER_PORT": str(port)}, port) as proc:
        before = cpu_seconds(prefect_pid)
        storm = run_storm(
            proc, f"http://127.0.0.1:{port}/alerts/alertmanager", bodies, **_load(args)
        )
        return storm, cpu_seconds(prefect_pid) - before


def storm_bare(
    args: argparse.Namespace, bodies: list[bytes], app: str, env: dict[str, str]
) -> Storm:
    port = free_port()
    command = ["-m", "uvicorn", f"bench.bare_endpoints:{app}", "--port", str(port)]
    with serving([*command, "--log-level", "warning", "--no-access-log"], env, port) as proc:
        return run_storm(proc, f"http://127.0.0.1:{port}/", bodies, **_load(args))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--dsn", default=DSN)
    args = parser.parse_args()
    live, down = f"fb_storm_{secrets.token_hex(3)}", f"fb_storm_{secrets.token_hex(3)}"
    bodies = payloads(args.requests, args.groups)
    print(f"alert storm: {args.requests} requests, {args.groups} groups, {args.seconds:g} s")
    try:
        with prefect_server(args.dsn) as (api_url, prefect_pid):
            deployment = _deploy()
            env = receiver_env(args, live, api_url, deployment)
            storm, prefect_cpu = storm_receiver(args, bodies, env, prefect_pid)
            figures = recorded(args.dsn, live, args.groups, wait_for_starts=True)
            closed = f"http://127.0.0.1:{free_port()}/api"  # nothing listens there
            env = receiver_env(args, down, closed, deployment)
            outage, _ = storm_receiver(args, bodies, env, prefect_pid)
            deferred = recorded(args.dsn, down, args.groups, wait_for_starts=False)
        with psycopg.connect(args.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE TABLE {}.bare (body text)").format(sql.Identifier(live)))
        bare = storm_bare(args, bodies, "bare_json", env)
        insert_env = {**env, "BARE_INSERT_DSN": args.dsn, "BARE_INSERT_TABLE": f"{live}.bare"}
        insert = storm_bare(args, bodies, "bare_insert", insert_env)
    finally:
        with psycopg.connect(args.dsn, autocommit=True) as conn:
            for schema in (live, down):
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                )
    report(args, (storm, outage, bare, insert), (figures, deferred), prefect_cpu)


def report(
    args: argparse.Namespace,
    runs: tuple[Storm, ...],
    figures: tuple[Recorded, Recorded],
    prefect_cpu: float,
) -> None:
    def each(fn: Callable[[Storm], str]) -> tuple[str, ...]:
        return tuple(fn(run) for run in runs)

    def receivers(fn: Callable[[Recorded], str]) -> tuple[str, ...]:
        return (*(fn(f) for f in figures), "-", "-")

    rows: list[tuple[str, tuple[str, ...]]] = [
        ("duration (s)", each(lambda r: f"{r.seconds:.2f}")),
        ("requests/s", each(lambda r: f"{len(r.latencies) / r.seconds:.0f}")),
        ("error responses", each(lambda r: str(r.errors))),
        ("p50 latency (ms)", each(lambda r: f"{r.ms(50):.1f}")),
        ("p99 latency (ms)", each(lambda r: f"{r.ms(99):.1f}")),
        ("server CPU (ms/request)", each(lambda r: f"{r.cpu / len(r.latencies) * 1000:.2f}")),
        ("all cores busy", each(lambda r: f"{r.machine:.0%}")),
        ("RSS at start (MiB)", each(lambda r: f"{r.rss_start:.1f}")),
        ("RSS at end (MiB)", each(lambda r: f"{r.rss_end:.1f}")),
        ("incidents created", receivers(lambda f: str(f.incidents))),
        ("alerts recorded", receivers(lambda f: str(f.alerts))),
        ("runs started", receivers(lambda f: str(f.started))),
        ("alert to run: p50 (s)", receivers(lambda f: f"{f.wait_p50:.2f}")),
        ("alert to run: max (s)", receivers(lambda f: f"{f.wait_max:.2f}")),
    ]
    heads = ("receiver", "API down", "bare JSON", "+1 INSERT")
    print(f"{'':<24}" + "".join(f" {h:>10}" for h in heads))
    for name, values in rows:
        print(f"{name:<24}" + "".join(f" {v:>10}" for v in values))
    print(
        f"receiver: runs started during the storm (the Prefect server on the same cores used "
        f"{prefect_cpu:.1f} CPU-s meanwhile); API down: the same receiver with the Prefect API "
        "unreachable, its starts kept pending in the record"
    )
    storm, outage = runs[0], runs[1]
    live, deferred = figures
    checks = [
        (
            f"incidents created == {args.groups}",
            live.incidents == deferred.incidents == args.groups,
        ),
        (f"alerts recorded == {args.requests}", live.alerts == deferred.alerts == args.requests),
        ("error responses == 0", storm.errors == outage.errors == 0),
        ("p99 <= 50 ms (receiver)", storm.ms(99) <= 50),
        ("p99 <= 50 ms (API down)", outage.ms(99) <= 50),
    ]
    for what, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {what}")


if __name__ == "__main__":
    main()
