"""Alert → declaration: from a webhook accepted by the receiver to the declaration message
accepted by Slack (the local stub), over N incidents, beside the same Slack call made directly.

The whole path, as deployed: the receiver as its own process (``python -m receiver``), a
real ``prefect server`` on PostgreSQL, a process worker polling every second
(``PREFECT_WORKER_QUERY_SECONDS=1``, the tuned setting of `bench.trigger_latency`), and a
deployment whose run does what every scenario run does first: the engine's ``declare``
(record, then the declaration message). One webhook per alert group, one after another;
latency is the stub's arrival time of the message naming that group minus the moment the
receiver answered the webhook. Twice: one incident at a time, and a burst (``--gap`` apart),
where every run's own process competes for the machine's cores. The baseline is
``post_message`` (the same client, retries and templates) called directly, N times, in the
same run.

    python -m bench.declaration_latency [--incidents 50] [--dsn postgresql://...]

Target (issue 9): p50 ≤ 1.5 s, p99 ≤ 3 s. A run's own process has to start first, so this
bench shows what the receiver would have to announce itself to meet it.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prefect import flow, runtime
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate

from bench.alert_storm import TOKEN, prefect_server, receiver_env
from bench.storm_load import free_port, serving
from bench.trigger_latency import wait_for_worker
from blocks.loading import load_block
from blocks.slack import SlackWorkspace
from blocks.store import IncidentStore
from flows.phases.declare import declare
from incident.models import Alert
from incident.policy import IncidentPolicy
from incident.severity import Severity
from sandbox.slack_stub import SlackStub
from tasks.slack import post_message

__all__ = ["bench_declare", "main"]

ROOT = Path(__file__).resolve().parents[1]
PREFECT = Path(sys.executable).with_name("prefect")


@flow(name="bench-declare")
def bench_declare(
    alert: Alert,
    incident_id: str | None = None,
    store: str = "bench-store",
    slack: str = "bench-slack",
) -> None:
    """What a scenario run does first, and nothing else: declare, and post it."""
    record = load_block(IncidentStore, store).open()
    response = declare(
        alert,
        scenario="bench",
        title=alert.summary or alert.name,
        default_severity=Severity.HIGH,
        record=record,
        policy=IncidentPolicy(),
        slack=load_block(SlackWorkspace, slack),
        run_id=str(runtime.flow_run.id),
        incident_id=incident_id,
    )
    response.settle()
    record.close()


def _body(group: str) -> bytes:
    labels = {"alertname": "HighErrorRate", "service": group}
    alert = {
        "status": "firing",
        "labels": labels,
        "annotations": {"summary": f"bench group {group}"},
        "startsAt": "2026-12-04T03:04:05Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": secrets.token_hex(8),
    }
    return json.dumps(
        {
            "version": "4",
            "groupKey": f'{{}}:{{service="{group}"}}',
            "status": "firing",
            "receiver": "firebreak",
            "groupLabels": labels,
            "commonLabels": labels,
            "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093",
            "alerts": [alert],
        }
    ).encode()


def _arrivals(stub: SlackStub, prefix: str) -> dict[str, float]:
    """group → when the stub received the message naming it (monotonic, this process)."""
    found = {}
    for call in stub.calls:
        text = str(call.body.get("text", ""))
        if call.method == "chat.postMessage" and f"bench group {prefix}" in text:
            group = text.split(f"bench group {prefix}", 1)[1].split()[0].strip("*_`.,")
            found.setdefault(prefix + group, call.received_at)
    return found


def _deploy(pool: str) -> str:
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
    bench_declare.from_source(
        source=str(ROOT), entrypoint="bench/declaration_latency.py:bench_declare"
    ).deploy(name=pool, work_pool_name=pool, print_next_steps=False)
    return f"bench-declare/{pool}"


def through_receiver(
    args: argparse.Namespace, stub: SlackStub, api_url: str, *, one_at_a_time: bool
) -> list[float]:
    """``one_at_a_time``: each webhook waits for the previous declaration (an unloaded
    machine); else they come ``--gap`` apart and their runs compete for the cores."""
    pool = f"bench-decl-{secrets.token_hex(3)}"
    schema = f"fb_decl_{secrets.token_hex(3)}"
    IncidentStore(dsn=args.dsn, schema_name=schema).save("bench-store", overwrite=True)
    SlackWorkspace(token="xoxb-bench", api_base_url=stub.base_url).save(
        "bench-slack", overwrite=True
    )
    deployment = _deploy(pool)
    env = receiver_env(args, schema, api_url, deployment)
    worker_env = {**env, "PREFECT_API_URL": api_url, "PREFECT_WORKER_QUERY_SECONDS": "1"}
    worker = subprocess.Popen(
        [str(PREFECT), "worker", "start", "--pool", pool, "--limit", "100"],
        env=worker_env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    port = free_port()
    prefix = secrets.token_hex(2)
    accepted: dict[str, float] = {}
    try:
        command = ["-m", "receiver", "--log-level", "warning"]
        with serving(command, {**env, "FIREBREAK_RECEIVER_PORT": str(port)}, port):
            wait_for_worker(pool)  # the worker's own start-up is not the alert's latency
            url = f"http://127.0.0.1:{port}/alerts/alertmanager"
            headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
            with httpx.Client(timeout=30) as http:
                for n in range(args.incidents):
                    group = f"{prefix}{n:03d}"
                    answer = http.post(url, content=_body(group), headers=headers)
                    answer.raise_for_status()
                    accepted[group] = time.monotonic()
                    if one_at_a_time:
                        until = time.monotonic() + 120
                        while group not in _arrivals(stub, prefix) and time.monotonic() < until:
                            time.sleep(0.05)
                    else:
                        time.sleep(args.gap)
            deadline = time.monotonic() + 600
            while len(_arrivals(stub, prefix)) < args.incidents and time.monotonic() < deadline:
                time.sleep(0.5)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    arrived = _arrivals(stub, prefix)
    missing = set(accepted) - set(arrived)
    if missing:
        print(f"{len(missing)} declaration(s) never arrived", file=sys.stderr)
    return [arrived[g] - accepted[g] for g in accepted if g in arrived]


def direct(stub: SlackStub, n: int) -> list[float]:
    workspace = SlackWorkspace(token="xoxb-bench", api_base_url=stub.base_url)
    latencies = []
    for i in range(n):
        before = time.monotonic()
        post_message.fn(workspace, f"direct baseline {i}")
        latencies.append(stub.calls[-1].received_at - before)
    return latencies


def _row(label: str, values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return (
        f"{label:<52} {len(values):>4} {statistics.median(values):>8.3f} {p99:>8.3f}"
        f" {max(values):>8.3f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=50)
    parser.add_argument("--gap", type=float, default=0.5, help="seconds between webhooks")
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args(argv)
    with SlackStub(token="xoxb-bench") as stub, prefect_server(args.dsn) as (api_url, _):
        baseline = direct(stub, args.incidents)
        alone = through_receiver(args, stub, api_url, one_at_a_time=True)
        burst = through_receiver(args, stub, api_url, one_at_a_time=False)
    print(f"\nalert → declaration, {args.incidents} incidents, same run (seconds)")
    print(f"{'path':<52} {'n':>4} {'p50':>8} {'p99':>8} {'max':>8}")
    print(_row("post_message directly (baseline)", baseline))
    print(_row("webhook → receiver → run → declare, one at a time", alone))
    print(_row(f"the same, a webhook every {args.gap:g} s", burst))
    print("target: p50 ≤ 1.5 s, p99 ≤ 3 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
