"""Timeline writes: Firebreak's ordered append against a bare INSERT, in the same run.

Every step of every incident is one committed append, so under an alert storm this is the
write path. The baseline is the cheapest durable write PostgreSQL offers (autocommit INSERT
with no ordering); the difference is the cost of a gapless per-incident order.

    python -m bench.record_append [--events 500] [--writers 4] [--dsn ...]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import threading
import time
from collections.abc import Callable

import psycopg
from psycopg import sql

from incident.models import Alert, Incident, TimelineEvent
from incident.record import IncidentRecord

DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def measure(
    writers: int, events: int, write: Callable[[int, int], None]
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()

    def run(w: int) -> None:
        mine = []
        for n in range(events // writers):
            start = time.perf_counter()
            write(w, n)
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(writers)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - began, latencies


def row(name: str, elapsed: float, latencies: list[float]) -> str:
    q = statistics.quantiles(latencies, n=100)
    return f"{name:<34} {len(latencies) / elapsed:>10.0f} {q[49] * 1000:>9.2f} {q[94] * 1000:>9.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--dsn", default=DSN)
    args = parser.parse_args()
    schema = f"fb_bench_{secrets.token_hex(3)}"
    records = [IncidentRecord(args.dsn, schema) for _ in range(args.writers)]
    incident = records[0].open_incident(
        Incident(title="bench", severity="P2", scenario="bench", alert=Alert(name="bench"))
    )
    baseline_conns = [psycopg.connect(args.dsn, autocommit=True) for _ in range(args.writers)]
    baseline_conns[0].execute(
        sql.SQL("CREATE TABLE {}.baseline (incident_id text, at timestamptz, message text)").format(
            sql.Identifier(schema)
        )
    )
    insert = sql.SQL("INSERT INTO {}.baseline VALUES (%s, now(), %s)").format(
        sql.Identifier(schema)
    )

    def baseline(w: int, n: int) -> None:
        baseline_conns[w].execute(insert, (incident.id, f"{w}-{n}"))

    def firebreak(w: int, n: int) -> None:
        records[w].append(
            TimelineEvent(
                incident_id=incident.id,
                phase="bench",
                step="append",
                status="info",
                message=f"{w}-{n}",
            )
        )

    try:
        print(f"{args.events} events, {args.writers} concurrent writers, one incident")
        print(f"{'write path':<34} {'events/s':>10} {'p50 ms':>9} {'p95 ms':>9}")
        for writers in sorted({1, args.writers}):
            print(
                row(
                    f"baseline INSERT ({writers} writer(s))",
                    *measure(writers, args.events, baseline),
                )
            )
            print(
                row(f"IncidentRecord.append ({writers})", *measure(writers, args.events, firebreak))
            )
        seqs = [e.seq for e in records[0].timeline(incident.id)]
        assert seqs == list(range(1, len(seqs) + 1)), "timeline order has a gap"
        print(f"timeline: {len(seqs)} events, gapless order checked")
    finally:
        for conn in baseline_conns:
            conn.close()
        for rec in records:
            rec.close()
        with psycopg.connect(args.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


if __name__ == "__main__":
    main()
