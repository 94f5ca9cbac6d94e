"""Trigger → Running: how long an alert's run waits for its process, per way of running it.

A real `prefect server` on PostgreSQL; a do-nothing flow deployed four ways, each triggered
``--runs`` times one after the other through the API (as the receiver will):

- a process worker at its defaults (polls every 10 s) — the baseline;
- the same worker tuned, ``PREFECT_WORKER_QUERY_SECONDS=1``;
- ``serve()`` at its default poll, and with ``PREFECT_RUNNER_POLL_FREQUENCY=1``.

Latency is the Running state's server timestamp minus the moment before the trigger call.
Most of what is left after tuning is starting a new Python process for the run, which is
why the receiver records and announces the incident itself, before the run starts.

    python -m bench.trigger_latency [--runs 5] [--dsn postgresql://postgres@127.0.0.1/postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

__all__ = ["SMALL_POOL", "main", "measure", "prefect_server"]

ROOT = Path(__file__).resolve().parents[1]
PREFECT = Path(sys.executable).with_name("prefect")
DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
# a server pool of a few connections: one benchmark's client needs no more, and PostgreSQL's
# max_connections is shared with whatever else runs on the machine (CI, sandbox faults)
SMALL_POOL = {
    "PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE": "3",
    "PREFECT_SERVER_DATABASE_SQLALCHEMY_MAX_OVERFLOW": "5",
}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def prefect_server(
    dsn: str, home: Path, settings: dict[str, str] | None = None
) -> Iterator[dict[str, str]]:
    """A server on a fresh PostgreSQL database; yields the client environment.

    ``settings`` are extra ``PREFECT_SERVER_*`` settings for the server process only."""
    database = f"fb_bench_{secrets.token_hex(3)}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    pg, port = conninfo_to_dict(dsn), _port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")},
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    server_env = {
        **env,
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_API_DATABASE_CONNECTION_URL": (
            f"postgresql+asyncpg://{pg.get('user', 'postgres')}@{pg.get('host', '127.0.0.1')}:"
            f"{pg.get('port', 5432)}/{database}"
        ),
        **(settings or {}),
    }
    log = open(home / "server.log", "wb")  # noqa: SIM115  # the child keeps it open
    server = subprocess.Popen(
        [str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=server_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{env['PREFECT_API_URL']}/health", timeout=2).status_code == 200:
                    break
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"prefect server did not start: see {home / 'server.log'}")
            time.sleep(0.5)
        yield env
    finally:
        _stop(server)
        log.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )


def _client_settings(env: dict[str, str]) -> contextlib.AbstractContextManager[None]:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    return temporary_settings({PREFECT_API_URL: env["PREFECT_API_URL"]})


def _running_at(run_id: object, timeout: float = 120) -> datetime:
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            for state in client.read_flow_run_states(run_id):  # type: ignore[arg-type]
                if state.type.value == "RUNNING":
                    return state.timestamp
            time.sleep(0.05)
    raise TimeoutError(f"flow run {run_id} did not start within {timeout}s")


def measure(deployment: str, runs: int) -> list[float]:
    from prefect.deployments import run_deployment

    latencies = []
    for _ in range(runs):
        before = datetime.now().astimezone()
        run = run_deployment(deployment, timeout=0)
        latencies.append((_running_at(run.id) - before).total_seconds())
    return latencies


def _wait_for_deployment(name: str, timeout: float = 120) -> None:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(ObjectNotFound):
                client.read_deployment_by_name(name)
                return
            time.sleep(0.3)
    raise TimeoutError(f"deployment {name} never appeared")


def wait_for_worker(pool: str, timeout: float = 120) -> None:
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while not client.read_workers_for_work_pool(pool):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no worker joined pool {pool}")
            time.sleep(0.3)


def with_worker(env: dict[str, str], home: Path, extra: dict[str, str], runs: int) -> list[float]:
    from prefect import flow

    pool, name = f"bench-{secrets.token_hex(3)}", "bench-noop"
    subprocess.run(
        [str(PREFECT), "work-pool", "create", pool, "--type", "process"],
        env=env,
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    flow.from_source(source=str(ROOT), entrypoint="bench/latency_flow.py:noop").deploy(
        name=pool, work_pool_name=pool, print_next_steps=False
    )
    with open(home / f"{pool}.log", "wb") as log:
        worker = subprocess.Popen(
            [str(PREFECT), "worker", "start", "--pool", pool],
            env={**env, **extra},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    try:
        wait_for_worker(pool)
        return measure(f"{name}/{pool}", runs)
    finally:
        _stop(worker)


def with_serve(env: dict[str, str], home: Path, extra: dict[str, str], runs: int) -> list[float]:
    name = f"serve-{secrets.token_hex(3)}"
    with open(home / f"{name}.log", "wb") as log:
        runner = subprocess.Popen(
            [sys.executable, "-m", "bench.latency_flow", name],
            env={**env, **extra},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    try:
        _wait_for_deployment(f"bench-noop/{name}")
        return measure(f"bench-noop/{name}", runs)
    finally:
        _stop(runner)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="triggers per setting")
    parser.add_argument("--dsn", default=DSN, help="PostgreSQL admin DSN for the server's database")
    args = parser.parse_args(argv)
    rows: list[tuple[str, list[float]]] = []
    with tempfile.TemporaryDirectory() as tmp, prefect_server(args.dsn, Path(tmp)) as env:
        home = Path(tmp)
        with _client_settings(env):
            setups = [
                ("process worker, defaults (baseline)", with_worker, {}),
                (
                    "process worker, WORKER_QUERY_SECONDS=1",
                    with_worker,
                    {"PREFECT_WORKER_QUERY_SECONDS": "1"},
                ),
                ("serve(), default poll", with_serve, {}),
                (
                    "serve(), RUNNER_POLL_FREQUENCY=1",
                    with_serve,
                    {"PREFECT_RUNNER_POLL_FREQUENCY": "1"},
                ),
            ]
            for label, run, extra in setups:
                rows.append((label, run(env, home, extra, args.runs)))
                print(f"measured: {label}", file=sys.stderr, flush=True)
    baseline = statistics.median(rows[0][1])
    print(f"\ntrigger → Running, {args.runs} runs each, same server (PostgreSQL), same run")
    print(f"{'setting':<42} {'p50 s':>7} {'min s':>7} {'max s':>7} {'x baseline':>11}")
    for label, values in rows:
        p50 = statistics.median(values)
        print(
            f"{label:<42} {p50:>7.2f} {min(values):>7.2f} {max(values):>7.2f}"
            f" {p50 / baseline:>11.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
