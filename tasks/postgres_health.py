"""PostgreSQL connectivity and round-trip latency (runbook 004 "Database Connectivity").

The one check that opens a connection of its own on purpose, even inside a held session
(`tasks.postgres_session.hold`): how long a *new* connection takes is part of what it
measures. Connection failures are classified by `PostgresTarget.connect` (a wrong password or
a missing database is permanent, a refused or silent port transient), so they end as an
``unreachable`` finding that names the target without its password.
"""

from __future__ import annotations

import statistics
import time

import psycopg

from blocks.postgres import PostgresTarget
from incident.errors import TransientError
from incident.models import Finding, FindingStatus
from incident.redact import redact
from tasks.diagnostic import diagnostic

__all__ = ["measure_round_trip"]


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


@diagnostic("postgres_round_trip", tags=("postgres",))
def measure_round_trip(
    target: PostgresTarget,
    max_round_trip_ms: float = 50.0,
    max_connect_ms: float = 1000.0,
    samples: int = 3,
) -> Finding:
    """Connect, then time ``SELECT 1`` ``samples`` times; a warning above either threshold.

    The verdict is on the median round trip (one slow sample is a hiccup, not a trend); the
    connect time includes TCP, TLS and authentication, as an application's pool sees it.
    """
    started = time.perf_counter()
    conn = target.connect()
    connect_ms = _ms(started)
    try:
        trips = []
        for _ in range(max(1, samples)):
            sent = time.perf_counter()
            conn.execute("SELECT 1").fetchone()
            trips.append(_ms(sent))
        version = conn.info.server_version
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TransientError(
            f"PostgreSQL target {target.label} accepted a connection but did not answer "
            f"SELECT 1 ({redact(first, target.dsn.get_secret_value())}): the server is "
            "overloaded or going down; check its log"
        ) from None
    finally:
        conn.close()
    median = round(statistics.median(trips), 2)
    problems = []
    if median > max_round_trip_ms:
        problems.append(f"SELECT 1 takes {median} ms (above {max_round_trip_ms:g} ms)")
    if connect_ms > max_connect_ms:
        problems.append(f"connecting takes {connect_ms} ms (above {max_connect_ms:g} ms)")
    summary = (
        "; ".join(problems) + ": the server or the network to it is slow"
        if problems
        else f"connected in {connect_ms} ms; SELECT 1 answers in {median} ms"
    )
    return Finding(
        check="postgres_round_trip",
        target=target.label,
        status=FindingStatus.WARNING if problems else FindingStatus.OK,
        summary=summary,
        evidence={
            "connect_ms": connect_ms,
            "round_trip_ms": median,
            "samples_ms": trips,
            "server_version": f"{version // 10000}.{version % 10000}",
            "max_round_trip_ms": max_round_trip_ms,
            "max_connect_ms": max_connect_ms,
        },
    )
