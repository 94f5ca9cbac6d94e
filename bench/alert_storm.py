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
import asyncio
import json
import os
import secrets
import socket
import statistics
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


@dataclass
class Storm:
    latencies: list[float]
    errors: int
    seconds: float
    rss_start: float
    rss_end: float
    cpu: float = 0.0  # the server's CPU seconds during the storm
    machine: float = 0.0  # share of all cores busy during the storm (everything running)

    def ms(self, q: int) -> float:
        return statistics.quantiles(self.latencies, n=100)[q - 1] * 1000


class _Connection:
    """A keep-alive HTTP/1.1 connection: a load generator light enough not to be the bottleneck
    (a general-purpose async client costs more CPU per request than the bare endpoint)."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self._host, self._port, self._path = host, port, path
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        assert self._reader is not None
        head = (
            f"POST {self._path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n"
            f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self._writer.write(head.encode() + body)
        status_line = await self._reader.readline()
        length = 0
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        answer = await self._reader.readexactly(length)
        return int(status_line.split()[1]), answer


async def _storm(url: str, bodies: list[bytes], seconds: float, concurrency: int) -> Storm:
    """Open loop: request n is due at n * seconds / len(bodies), sent on the first free
    connection (``concurrency`` of them); latency is from sending to the whole answer."""
    parts = httpx.URL(url)
    latencies: list[float] = []
    errors: list[str] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(len(bodies)):
        queue.put_nowait(n)
    began = time.perf_counter()

    async def worker() -> None:
        conn = _Connection(parts.host, parts.port or 80, parts.path)
        while not queue.empty():
            n = queue.get_nowait()
            due = began + n * seconds / len(bodies)
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            sent = time.perf_counter()
            try:
                status, answer = await conn.post(bodies[n])
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                status, answer = 0, repr(exc).encode()
                conn = _Connection(parts.host, parts.port or 80, parts.path)
            latencies.append(time.perf_counter() - sent)
            if not 200 <= status < 300:
                errors.append(f"{status} {answer[:200]!r}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    for error in errors[:5]:
        print(f"error response: {error}", file=sys.stderr)
    return Storm(latencies, len(errors), time.perf_counter() - began, 0.0, 0.0)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(args: list[str], env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{args} did not start") from None
                time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run_storm(
    proc: subprocess.Popen[bytes], url: str, bodies: list[bytes], args: argparse.Namespace
) -> Storm:
    start, cpu, (busy, total) = rss_mib(proc.pid), cpu_seconds(proc.pid), machine_busy()
    storm = asyncio.run(_storm(url, bodies, args.seconds, args.concurrency))
    storm.rss_start, storm.rss_end = start, rss_mib(proc.pid)
    storm.cpu = cpu_seconds(proc.pid) - cpu
    busy_after, total_after = machine_busy()
    storm.machine = (busy_after - busy) / max(1, total_after - total)
    return storm


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
def prefect_server(dsn: str) -> Iterator[str]:
    """``prefect server start`` on a PostgreSQL database of its own; yields the API URL."""
    database = f"fb_storm_prefect_{secrets.token_hex(3)}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    pg = conninfo_to_dict(dsn)
    port = _free_port()
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
            yield url
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


def _count(conn: psycopg.Connection[Any], schema: str, query: str) -> Any:
    return conn.execute(sql.SQL(query).format(s=sql.Identifier(schema))).fetchone()[0]  # type: ignore[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--dsn", default=DSN)
    args = parser.parse_args()
    schema = f"fb_storm_{secrets.token_hex(3)}"
    bodies = payloads(args.requests, args.groups)
    print(f"alert storm: {args.requests} requests, {args.groups} groups, {args.seconds:g} s")
    with prefect_server(args.dsn) as api_url:
        deployment = _deploy()
        port, bare_port = _free_port(), _free_port()
        env = {
            **os.environ,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "FIREBREAK_RECEIVER_PORT": str(port),
            "FIREBREAK_RECEIVER_RECORD_DSN": args.dsn,
            "FIREBREAK_RECEIVER_RECORD_SCHEMA": schema,
            "FIREBREAK_RECEIVER_PREFECT_API_URL": api_url,
            "FIREBREAK_RECEIVER_SOURCES__ALERTMANAGER__BEARER_TOKENS": json.dumps([TOKEN]),
            "FIREBREAK_RECEIVER_ROUTING__DEFAULT_DEPLOYMENT": deployment,
        }
        receiver_cmd = ["-m", "receiver", "--log-level", "warning"]

        def bare_cmd(app: str, port: int) -> list[str]:
            return ["-m", "uvicorn", f"bench.bare_endpoints:{app}", "--port", str(port),
                    "--log-level", "warning", "--no-access-log"]  # fmt: skip

        insert_port = _free_port()
        env["BARE_INSERT_DSN"], env["BARE_INSERT_TABLE"] = args.dsn, f"{schema}.bare_insert"
        try:
            with serving(receiver_cmd, env, port) as proc:
                storm = run_storm(
                    proc, f"http://127.0.0.1:{port}/alerts/alertmanager", bodies, args
                )
                with psycopg.connect(args.dsn, autocommit=True) as conn:
                    deadline = time.monotonic() + 120
                    query = "SELECT count(*) FROM {s}.run_starts WHERE flow_run_id IS NOT NULL"
                    while _count(conn, schema, query) < args.groups and time.monotonic() < deadline:
                        time.sleep(0.5)
                    incidents = _count(conn, schema, "SELECT count(*) FROM {s}.incidents")
                    alerts = _count(conn, schema, "SELECT count(*) FROM {s}.received_alerts")
                    started = _count(conn, schema, query)
                    wait = conn.execute(
                        sql.SQL(
                            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY w) AS p50,"
                            " max(w) AS slowest, max(attempts) AS attempts FROM (SELECT"
                            " extract(epoch FROM started_at - created_at) AS w, attempts"
                            " FROM {s}.run_starts) t"
                        ).format(s=sql.Identifier(schema))
                    ).fetchone()
            with serving(bare_cmd("bare_json", bare_port), env, bare_port) as proc:
                bare = run_storm(proc, f"http://127.0.0.1:{bare_port}/", bodies, args)
            with psycopg.connect(args.dsn, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("CREATE TABLE {}.bare_insert (body text)").format(
                        sql.Identifier(schema)
                    )
                )
            with serving(bare_cmd("bare_insert", insert_port), env, insert_port) as proc:
                insert = run_storm(proc, f"http://127.0.0.1:{insert_port}/", bodies, args)
        finally:
            with psycopg.connect(args.dsn, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                )
    report(args, storm, bare, insert, incidents, alerts, started, wait)


def report(
    args: argparse.Namespace,
    storm: Storm,
    bare: Storm,
    insert: Storm,
    incidents: int,
    alerts: int,
    started: int,
    wait: tuple[float, float, int],
) -> None:
    runs = (storm, bare, insert)

    def each(fn: Callable[[Storm], str]) -> tuple[str, ...]:
        return tuple(fn(run) for run in runs)

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
        ("incidents created", (str(incidents), "-", "-")),
        ("alerts recorded", (str(alerts), "-", "-")),
        ("runs started", (str(started), "-", "-")),
        ("alert to run: p50 (s)", (f"{wait[0]:.2f}", "-", "-")),
        ("alert to run: max (s)", (f"{wait[1]:.2f}", "-", "-")),
        ("start attempts (max)", (str(wait[2]), "-", "-")),
    ]
    print(f"{'':<24} {'receiver':>10} {'bare JSON':>10} {'+1 INSERT':>10}")
    for name, values in rows:
        print(f"{name:<24}" + "".join(f" {v:>10}" for v in values))
    checks = [
        (f"incidents created == {args.groups}", incidents == args.groups),
        (f"alerts recorded == {args.requests}", alerts == args.requests),
        ("error responses == 0", storm.errors == 0),
        ("p99 <= 50 ms", storm.ms(99) <= 50),
    ]
    for what, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {what}")


if __name__ == "__main__":
    main()
