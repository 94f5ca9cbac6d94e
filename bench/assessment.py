"""Assess phase wall time: the engine's concurrent checks against the same checks in sequence.

The runbooks promise that assessment takes about as long as its slowest check, not the sum of
them: an on-call reads the findings while the incident is young. This runs the engine's own
``assess`` phase (the subflow `flows.engine` calls, over `flows.phases.assess.run_checks`,
with shared sessions held once per target) on a real ``prefect server`` against ``--checks``
diagnostics written with `tasks.diagnostic.diagnostic` that each sleep a known, varied time,
then the same tasks called one after the other in the same run (the baseline). Figures:
wall times, the slowest check, and concurrent/slowest (the target is at most 1.3).

    python -m bench.assessment [--checks 12] [--repeats 3] [--dsn postgresql://...]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from prefect import flow
from prefect.logging.handlers import APILogWorker
from psycopg import sql

from bench.trigger_latency import DSN, SMALL_POOL, _client_settings, prefect_server
from flows.phases.assess import Check, assess, held_sessions, run_checks
from flows.response import Response
from incident.models import Alert, Finding, FindingStatus, Incident
from incident.policy import IncidentPolicy
from incident.record import IncidentRecord
from tasks.diagnostic import diagnostic

__all__ = ["LATENCIES", "main", "sleep_checks"]

# 0.2-1.0 s, varied, in no particular order: the slowest is not the last one submitted
LATENCIES = (0.2, 0.7, 0.3, 1.0, 0.45, 0.25, 0.8, 0.55, 0.35, 0.9, 0.6, 0.4)


@dataclass(frozen=True)
class SleepTarget:
    """A stand-in target: a label for the findings, nothing to connect to."""

    label: str


@diagnostic("sleep")
def sleep_check(target: SleepTarget, seconds: float) -> Finding:
    """A diagnostic whose read takes exactly ``seconds`` (a blocking call, as real reads are)."""
    time.sleep(seconds)
    return Finding(
        check=f"sleep-{seconds}",
        target=target.label,
        status=FindingStatus.OK,
        summary=f"slept {seconds} s",
    )


class Sessions:
    """Counts how often each shared session is opened, to check the phase opens each once."""

    def __init__(self) -> None:
        self.opened: Counter[str] = Counter()
        self._lock = threading.Lock()

    def factory(self, key: str):  # type: ignore[no-untyped-def]
        @contextmanager
        def session() -> Iterator[None]:
            with self._lock:
                self.opened[key] += 1
            yield

        return session


def sleep_checks(count: int, sessions: Sessions) -> list[Check]:
    """``count`` checks over two targets, each target's checks sharing one session."""
    checks = []
    for n in range(count):
        key = f"target-{n % 2}"
        checks.append(
            Check(
                name=f"sleep-{n}",
                target=key,
                task=sleep_check,
                kwargs={"target": SleepTarget(key), "seconds": LATENCIES[n % len(LATENCIES)]},
                session=sessions.factory(key),
                session_key=key,
            )
        )
    return checks


@flow(name="bench-assess-concurrent", validate_parameters=False)
def concurrent_assess(response: Response, checks: Sequence[Check]) -> float:
    """The engine's path: the ``assess`` phase subflow; returns its wall time."""
    began = time.perf_counter()
    findings = assess(response, checks)
    elapsed = time.perf_counter() - began
    assert len(findings) == len(checks), findings
    return elapsed


@flow(name="bench-run-checks", validate_parameters=False)
def concurrent_checks(checks: Sequence[Check]) -> float:
    """The phase's check-running machinery alone (no subflow, record or artifact)."""
    began = time.perf_counter()
    findings = run_checks(checks)
    elapsed = time.perf_counter() - began
    assert len(findings) == len(checks), findings
    return elapsed


@flow(name="bench-assess-sequential", validate_parameters=False)
def sequential_checks(checks: Sequence[Check]) -> float:
    """The baseline: the same tasks, same sessions, one after the other."""
    began = time.perf_counter()
    with held_sessions(checks):
        findings = [check.task(**check.kwargs) for check in checks]
    elapsed = time.perf_counter() - began
    assert len(findings) == len(checks), findings
    return elapsed


def _response(record: IncidentRecord) -> Response:
    incident = record.open_incident(
        Incident(title="bench", severity="P2", scenario="bench", alert=Alert(name="bench"))
    )
    return Response(record, incident, IncidentPolicy(), None)


def _measure(record: IncidentRecord, count: int) -> dict[str, float]:
    """One run of each way over fresh checks; each shared session must open exactly once."""
    times: dict[str, float] = {}
    sessions = Sessions()
    checks = sleep_checks(count, sessions)
    for way, run in (
        (SEQUENTIAL, lambda: sequential_checks(checks)),
        (RUN_CHECKS, lambda: concurrent_checks(checks)),
        (PHASE, lambda: concurrent_assess(_response(record), checks)),
    ):
        sessions.opened.clear()
        times[way] = run()
        assert set(sessions.opened.values()) == {1}, (way, sessions.opened)
    return times


SEQUENTIAL = "sequential, one after the other (baseline)"
RUN_CHECKS = "concurrent: run_checks (the machinery)"
PHASE = "concurrent: engine assess phase (subflow)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=12, help="diagnostics in the phase")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each way (median)")
    parser.add_argument("--dsn", default=DSN, help="PostgreSQL admin DSN (server, record)")
    args = parser.parse_args(argv)
    schema = f"fb_bench_{secrets.token_hex(3)}"
    runs: list[dict[str, float]] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        prefect_server(args.dsn, Path(tmp), SMALL_POOL) as env,
    ):
        record = IncidentRecord(args.dsn, schema)
        try:
            with _client_settings(env):
                _measure(record, args.checks)  # warm-up: flows registered, clients connected
                runs = [_measure(record, args.checks) for _ in range(args.repeats)]
                APILogWorker.drain_all(timeout=10)  # the runs' logs reach the server first
        finally:
            record.close()
            with psycopg.connect(args.dsn, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                )
    report(args.checks, runs)
    return 0


def report(count: int, runs: list[dict[str, float]]) -> None:
    latencies = [LATENCIES[n % len(LATENCIES)] for n in range(count)]
    slowest, total = max(latencies), sum(latencies)
    medians = {way: statistics.median(r[way] for r in runs) for way in runs[0]}
    print(
        f"\nassess, {count} diagnostics ({min(latencies)}-{slowest} s each, sum {total:.2f} s);"
        f" real prefect server (PostgreSQL); median of {len(runs)} runs each, same run"
    )
    print(f"{'way':<44} {'wall s':>8} {'min s':>7} {'max s':>7} {'/ slowest':>10}")
    for way, mid in medians.items():
        values = [r[way] for r in runs]
        print(
            f"{way:<44} {mid:>8.2f} {min(values):>7.2f} {max(values):>7.2f} {mid / slowest:>10.2f}"
        )
    print(
        f"slowest check {slowest:.2f} s; concurrent/slowest: run_checks "
        f"{medians[RUN_CHECKS] / slowest:.2f}, whole phase {medians[PHASE] / slowest:.2f}"
        f" (target <= 1.3); sequential/run_checks {medians[SEQUENTIAL] / medians[RUN_CHECKS]:.1f}x"
    )


if __name__ == "__main__":
    sys.exit(main())
