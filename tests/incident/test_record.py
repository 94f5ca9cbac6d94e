"""The PostgreSQL incident record: created on first use, written as things happen."""

from __future__ import annotations

import threading

import psycopg
import pytest
from psycopg import sql

from incident.errors import PermanentError, TransientError
from incident.models import Alert, Incident, IncidentStatus, TimelineEvent
from incident.record import IncidentRecord


def new_incident() -> Incident:
    return Incident(title="pool exhausted", severity="P2", scenario="s", alert=Alert(name="a"))


def event(incident_id: str, n: int) -> TimelineEvent:
    return TimelineEvent(
        incident_id=incident_id, phase="assess", step=f"s{n}", status="completed", message=str(n)
    )


def test_schema_is_created_once_even_by_concurrent_first_uses(incident_store):
    dsn, schema = incident_store.dsn.get_secret_value(), incident_store.schema_name
    errors: list[BaseException] = []

    def first_use() -> None:
        try:
            IncidentRecord(dsn, schema).ensure_schema()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first_use) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with psycopg.connect(dsn) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,),
        ).fetchall()
    assert {t[0] for t in tables} == {
        "incidents",
        "timeline",
        "findings",
        "plans",
        "approvals",
        "actions",
        "schema_version",
    }


def test_an_event_is_visible_to_other_connections_the_moment_it_is_appended(record, incident_store):
    incident = record.open_incident(new_incident())
    record.append(event(incident.id, 1))
    with psycopg.connect(incident_store.dsn.get_secret_value()) as other:
        count = other.execute(
            sql.SQL("SELECT count(*) FROM {}.timeline WHERE incident_id = %s").format(
                sql.Identifier(incident_store.schema_name)
            ),
            (incident.id,),
        ).fetchone()[0]
    assert count == 1


def test_concurrent_writers_get_a_gapless_order(incident_store):
    writer = incident_store.open()
    incident = writer.open_incident(new_incident())
    records = [incident_store.open() for _ in range(4)]

    def write(rec: IncidentRecord, start: int) -> None:
        for n in range(start, start + 10):
            rec.append(event(incident.id, n))

    threads = [threading.Thread(target=write, args=(r, i * 10)) for i, r in enumerate(records)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    timeline = writer.timeline(incident.id)
    assert [e.seq for e in timeline] == list(range(1, 41))
    assert sorted(int(e.message) for e in timeline) == list(range(40))


def test_a_milestone_is_stamped_once_and_keeps_its_first_time(record):
    incident = record.open_incident(new_incident())
    record.set_status(incident.id, IncidentStatus.IDENTIFIED, milestone="acknowledged_at")
    first = record.get_incident(incident.id)["acknowledged_at"]
    record.set_status(incident.id, IncidentStatus.MONITORING, milestone="acknowledged_at")
    row = record.get_incident(incident.id)
    assert row["acknowledged_at"] == first and row["status"] == "monitoring"


def test_an_unknown_incident_or_milestone_is_a_clear_error(record):
    with pytest.raises(PermanentError, match="not in the record"):
        record.append(event("INC-nope", 1))
    incident = record.open_incident(new_incident())
    with pytest.raises(PermanentError, match="unknown milestone"):
        record.set_status(incident.id, IncidentStatus.RESOLVED, milestone="done_at")


def test_a_dropped_connection_is_reopened_and_the_write_goes_through(record, admin_dsn):
    incident = record.open_incident(new_incident())
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = %s AND pid <> pg_backend_pid()",
            (record.application_name,),
        )
    record.append(event(incident.id, 1))
    assert [e.message for e in record.timeline(incident.id)] == ["1"]


def test_an_unreachable_record_database_says_so_without_its_password():
    rec = IncidentRecord("postgresql://firebreak:hunter2@127.0.0.1:1/record", write_attempts=1)
    with pytest.raises(TransientError) as caught:
        rec.ensure_schema()
    assert "hunter2" not in str(caught.value)
    assert "127.0.0.1:1" in str(caught.value)


def test_concurrent_claims_of_one_alert_group_make_exactly_one_open_incident(incident_store):
    records = [incident_store.open() for _ in range(8)]
    claims: list[tuple[str, bool]] = []
    barrier = threading.Barrier(len(records))

    def claim(rec: IncidentRecord) -> None:
        barrier.wait()
        claims.append(rec.claim(new_incident(), "group-a"))

    threads = [threading.Thread(target=claim, args=(r,)) for r in records]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({incident_id for incident_id, _ in claims}) == 1
    assert [created for _, created in claims].count(True) == 1
    other, created = records[0].claim(new_incident(), "group-b")
    assert created and other != claims[0][0]


def test_a_closed_incident_lets_its_group_open_a_new_one(record):
    first, _ = record.claim(new_incident(), "group-a")
    assert record.claim(new_incident(), "group-a") == (first, False)
    record.close_incident(first)
    second, created = record.claim(new_incident(), "group-a")
    assert created and second != first
    assert record.open_incident_for("group-a") == second


def test_opening_an_incident_twice_keeps_the_first_and_fills_in_its_run(record):
    incident = new_incident()
    record.open_incident(incident)
    record.open_incident(incident.model_copy(update={"flow_run_id": "run-1", "title": "other"}))
    row = record.get_incident(incident.id)
    assert (row["title"], row["flow_run_id"]) == ("pool exhausted", "run-1")


def test_an_older_record_is_migrated_in_place_keeping_its_history(admin_dsn, incident_store):
    schema = incident_store.schema_name
    with psycopg.connect(admin_dsn, autocommit=True) as conn:  # the record as version 0 made it
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(
            sql.SQL(
                "CREATE TABLE {}.incidents (id text PRIMARY KEY, title text NOT NULL,"
                " severity text NOT NULL, status text NOT NULL, scenario text NOT NULL,"
                " dedup_key text NOT NULL, alert jsonb NOT NULL, commander text NOT NULL,"
                " channel text NOT NULL, flow_run_id text, dry_run boolean NOT NULL DEFAULT"
                " false, started_at timestamptz NOT NULL, declared_at timestamptz NOT NULL,"
                " acknowledged_at timestamptz, mitigated_at timestamptz, resolved_at"
                " timestamptz, last_seq integer NOT NULL DEFAULT 0, updated_at timestamptz NOT"
                " NULL DEFAULT now())"
            ).format(sql.Identifier(schema))
        )
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.incidents (id, title, severity, status, scenario, dedup_key,"
                " alert, commander, channel, started_at, declared_at, resolved_at) VALUES"
                " ('INC-old', 'old', 'high', 'resolved', 's', 'k', '{{}}', 'c', '#c', now(),"
                " now(), now())"
            ).format(sql.Identifier(schema))
        )
    rec = incident_store.open()
    try:
        old = rec.get_incident("INC-old")
        assert old["title"] == "old" and old["closed_at"] is not None and old["drill"] is False
        incident_id, created = rec.claim(new_incident(), "group-a")
        assert created and rec.get_incident(incident_id)["closed_at"] is None
    finally:
        rec.close()
