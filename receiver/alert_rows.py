"""Recording a delivery's alerts and their timeline entries in one statement, one commit.

This is the receiver's hot path (an alert storm is thousands of these a second), so each
alert row and the timeline entry it becomes are written together: either both exist or
neither, and a re-sent alert (same fingerprint, status and episode) writes nothing.

The timeline entries follow ``IncidentRecord.append``'s ordering protocol exactly: the
incident row's ``last_seq`` counter is bumped in the same statement that inserts the
entries, so entries from concurrent writers (the receiver, the flow) stay gapless and in
order. ``IncidentRecord`` has no batch append yet; if it grows one, this should call it.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from receiver.async_db import AsyncCursor
from receiver.payloads.common import ReceivedAlert

__all__ = ["PHASE", "describe_alert", "record_alerts"]

PHASE = "alerts"

_ROW = sql.SQL("(%s, %s, %s, %s, %s::jsonb, %s::timestamptz, %s, %s, %s, %s::jsonb, %s::int)")

_STATEMENT = """
WITH target AS (
    SELECT id FROM {s}.incidents WHERE open_key = %s AND closed_at IS NULL
),
input (fingerprint, status, episode, source, alert, ends_at, delivered, step, message,
            data, ord) AS (VALUES {rows}),
new AS (
    INSERT INTO {s}.received_alerts
        (incident_id, fingerprint, status, episode, source, alert, ends_at, delivered)
    SELECT target.id, fingerprint, status, episode, source, alert, ends_at, delivered
    FROM input CROSS JOIN target ORDER BY ord
    ON CONFLICT (incident_id, fingerprint, status, episode) DO NOTHING
    RETURNING fingerprint, status, episode
),
told AS (
    SELECT input.step, input.message, input.data,
           row_number() OVER (ORDER BY input.ord) AS k, count(*) OVER () AS n
    FROM new JOIN input USING (fingerprint, status, episode)
),
bump AS (
    UPDATE {s}.incidents SET last_seq = last_seq + (SELECT count(*) FROM told),
        updated_at = now()
    WHERE id = (SELECT id FROM target) AND EXISTS (SELECT 1 FROM told)
    RETURNING last_seq
),
entries AS (
    INSERT INTO {s}.timeline (incident_id, seq, at, phase, step, status, message, data)
    SELECT (SELECT id FROM target), bump.last_seq - told.n + told.k, clock_timestamp(), {phase},
           told.step, 'info', told.message, told.data
    FROM told CROSS JOIN bump
    RETURNING seq
)
SELECT (SELECT id FROM target) AS incident_id, (SELECT count(*) FROM told) AS new,
       (SELECT count(*) FROM entries) AS told
"""


def _statement(schema: str, rows: int, cur: AsyncCursor) -> str:
    """The statement for ``rows`` alerts as text, rendered once per (schema, rows): psycopg
    then reuses its parse of the placeholders, and PostgreSQL its prepared plan."""
    key = (schema, rows)
    cached = _STATEMENTS.get(key)
    if cached is None:
        composed = sql.SQL(_STATEMENT).format(
            rows=sql.SQL(", ").join([_ROW] * rows),
            s=sql.Identifier(schema),
            phase=sql.Literal(PHASE),
        )
        cached = _STATEMENTS[key] = composed.as_string(cur.connection)
        if len(_STATEMENTS) > 256:
            _STATEMENTS.pop(next(iter(_STATEMENTS)))
    return cached


_STATEMENTS: dict[tuple[str, int], str] = {}


def describe_alert(
    received: ReceivedAlert, *, opened: bool, opening: str = ""
) -> tuple[str, str, dict[str, Any]]:
    """(step, message, data) of the timeline entry an alert becomes; the alert that opened
    the incident says so (``opening``), which is the incident's first entry."""
    alert = received.alert
    labels = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()) if k != "alertname")
    what = alert.name + (f" {{{labels[:300]}}}" if labels else "")
    source = alert.source.value
    if alert.status == "resolved":
        message = (
            f"resolved notification from {source}: {what}; recorded, the incident closes only "
            "after its own verification"
        )
    else:
        message = f"{'alert' if opened else 'alert attached'} from {source}: {what}"
        if alert.summary:
            message += f" - {alert.summary[:300]}"
        if opened:
            message += opening
    data = {
        "fingerprint": received.fingerprint,
        "source": source,
        "status": alert.status,
        "name": alert.name,
        "labels": alert.labels,
        "starts_at": alert.starts_at.isoformat(),
        "ends_at": received.ends_at.isoformat() if received.ends_at else None,
    }
    return f"alert-{alert.status}", message, data


async def record_alerts(
    cur: AsyncCursor,
    schema: str,
    key: str,
    alerts: list[ReceivedAlert],
    first: ReceivedAlert | None,
    *,
    opening: str = "",
) -> tuple[str | None, int]:
    """Record the alerts into the open incident of ``key``: (its id, how many were new).

    No open incident: (None, 0), nothing written, and the caller claims one. ``first`` is
    the alert the run is started with (it travels in the run's parameters, so it is never
    handed to the run again). One statement, so alerts and entries commit together.
    """
    unique: dict[tuple[str, str, str], ReceivedAlert] = {}
    for received in alerts:
        unique.setdefault(received.identity, received)
    params: list[Any] = [key]  # the first placeholder: the incident key
    for ord_, received in enumerate(unique.values()):
        opened = received is first
        step, message, data = describe_alert(received, opened=opened, opening=opening)
        params += [
            *received.identity,
            received.alert.source.value,
            Jsonb(received.alert.model_dump(mode="json")),
            received.ends_at,
            "parameters" if opened else None,
            step,
            message,
            Jsonb(data),
            ord_,
        ]
    await cur.execute(_statement(schema, len(unique), cur), params)
    row = await cur.fetchone()
    assert row is not None and row["new"] == row["told"], "an alert recorded without its entry"
    return row["incident_id"], int(row["new"])
