"""What running a phase as a Prefect subflow costs, against a plain call doing the same work.

Every runbook phase is a subflow (`flows.phases`) so that the UI shows each one under the
scenario's run, with its own state, logs and artifacts; a happy-path response runs seven of
them (declare, assess, investigate, mitigate, apply, resolve, post-incident), and a
suspended run that resumes runs them again from the top. This measures that price: the
same trivial work as a plain function (the baseline), as a task, and as a subflow declared
exactly as the engine's phases are, ``--calls`` times each inside one parent flow on a real
``prefect server`` (PostgreSQL), per-call medians side by side, same run. A fourth row runs
the subflow with flow-run heartbeats off: Prefect 3.9 starts a heartbeat thread per flow run,
subflows included, and joins it on exit while it sleeps in 1 s steps, which is most of the
subflow's price on an idle server.

    python -m bench.phase_overhead [--calls 30] [--dsn postgresql://...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.logging.handlers import APILogWorker
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from bench.trigger_latency import DSN, SMALL_POOL, _client_settings, prefect_server
from incident.models import Alert, Finding, FindingStatus, Incident

__all__ = ["main"]

PHASES_PER_RESPONSE = 7  # declare, assess, investigate, mitigate, apply, resolve, post-incident


@dataclass
class Work:
    """What a phase is handed: the incident and what earlier phases found (as `Response`)."""

    incident: Incident
    findings: list[Finding] = field(default_factory=list)


def _trivial(work: Work) -> int:
    """The phase's own work, kept trivial so that only the way it is run is measured."""
    return sum(1 for f in work.findings if f.is_problem) + len(work.incident.title)


def plain(work: Work) -> int:
    return _trivial(work)


@task(name="phase-as-task", cache_policy=NO_CACHE)
def as_task(work: Work) -> int:
    return _trivial(work)


@flow(name="phase-as-subflow", validate_parameters=False)  # as flows/phases/* declare them
def as_subflow(work: Work) -> int:
    return _trivial(work)


def without_heartbeats(work: Work) -> int:
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        return as_subflow(work)


def _time(call: Callable[[Work], Any], work: Work, calls: int) -> list[float]:
    call(work)  # warm-up: the flow or task registered, clients connected
    times = []
    for _ in range(calls):
        began = time.perf_counter()
        call(work)
        times.append(time.perf_counter() - began)
    return times


WAYS: tuple[tuple[str, Callable[[Work], Any]], ...] = (
    ("plain function call (baseline)", plain),
    ("@task, called in the flow", as_task),
    ("@flow subflow (how phases run)", as_subflow),
    ("@flow subflow, heartbeats off", without_heartbeats),
)


@flow(name="bench-phase-overhead", validate_parameters=False)
def measure(calls: int) -> dict[str, list[float]]:
    work = Work(
        incident=Incident(title="bench", severity="P2", scenario="bench", alert=Alert(name="x")),
        findings=[
            Finding(check=f"c{n}", target="t", status=FindingStatus.OK, summary="ok")
            for n in range(6)
        ],
    )
    return {label: _time(call, work, calls) for label, call in WAYS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30, help="calls of each way (per-call median)")
    parser.add_argument("--dsn", default=DSN, help="PostgreSQL admin DSN for the server's database")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory() as tmp,
        prefect_server(args.dsn, Path(tmp), SMALL_POOL) as env,
        _client_settings(env),
    ):
        times = measure(args.calls)
        APILogWorker.drain_all(timeout=10)  # the runs' logs reach the server before it stops
    base = statistics.median(times[WAYS[0][0]])
    print(
        f"\none phase, trivial work, {args.calls} calls each inside one parent flow;"
        " real prefect server (PostgreSQL), same run"
    )
    print(f"{'way':<34} {'p50 ms':>9} {'p90 ms':>9} {'max ms':>9} {'+ vs plain ms':>14}")
    for label, values in times.items():
        p50, ordered = statistics.median(values), sorted(values)
        p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
        print(
            f"{label:<34} {p50 * 1000:>9.3f} {p90 * 1000:>9.3f} {ordered[-1] * 1000:>9.3f}"
            f" {(p50 - base) * 1000:>14.3f}"
        )
    sub = statistics.median(times[WAYS[2][0]]) - base
    print(
        f"subflow overhead x {PHASES_PER_RESPONSE} phases of a happy-path response: "
        f"{sub * PHASES_PER_RESPONSE:.2f} s per run (again on each resume from suspension)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
