"""Connectivity, round trip and failed logins, on real servers and the server's real log."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from blocks.postgres import PostgresTarget
from incident.models import FindingStatus
from tasks.postgres_auth import count_auth_failures, failures_in_log
from tasks.postgres_health import measure_round_trip
from tests.fixtures.postgres_cluster import small_database
from tests.fixtures.receiver import wait_for

pytestmark = pytest.mark.prefect

SECRET = "Hunter2-wrong-secret"


def _as(dsn: str, **changes: object) -> str:
    return make_conninfo(**{**conninfo_to_dict(dsn), **changes})


@pytest.fixture
def logins(diagnosed_postgres):
    """Two password roles of this test's own (one scram-, one md5-hashed); their names."""
    suffix = secrets.token_hex(3)
    alice, bob = f"fb_alice_{suffix}", f"fb_bob_{suffix}"
    with psycopg.connect(diagnosed_postgres.dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'alice-right-pw'").format(sql.Identifier(alice))
        )
        conn.execute("SET password_encryption = 'md5'")
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'bob-right-pw'").format(sql.Identifier(bob))
        )
    yield alice, bob
    with psycopg.connect(diagnosed_postgres.dsn, autocommit=True) as conn:
        for role in (alice, bob):
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def fail_login(dsn: str, user: str, times: int) -> None:
    for _ in range(times):
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(_as(dsn, user=user, password=SECRET), connect_timeout=10)


def test_a_healthy_server_answers_quickly_and_is_not_flagged(prefect_api, postgres_target):
    finding = measure_round_trip(postgres_target)
    assert finding.status is FindingStatus.OK, finding.summary
    assert finding.evidence["round_trip_ms"] < 50 and len(finding.evidence["samples_ms"]) == 3
    assert "SELECT 1 answers in" in finding.summary


def test_a_round_trip_above_the_threshold_is_a_warning(prefect_api, postgres_target):
    finding = measure_round_trip(postgres_target, max_round_trip_ms=0.0)
    assert finding.status is FindingStatus.WARNING
    assert "above 0 ms" in finding.summary


def test_a_wrong_password_is_unreachable_at_once_without_the_password(
    prefect_api, diagnosed_postgres, logins
):
    alice, _ = logins
    target = PostgresTarget(dsn=_as(diagnosed_postgres.dsn, user=alice, password=SECRET))
    finding = measure_round_trip(target)
    assert finding.status is FindingStatus.UNREACHABLE
    assert finding.evidence["attempts"] == 1, "a wrong password is permanent: never retried"
    assert finding.evidence == {**finding.evidence, "transient": False, "attempts": 1}
    assert "password authentication failed" in finding.summary
    assert SECRET not in finding.model_dump_json() and "PostgresTarget block" in finding.summary
    assert _as(diagnosed_postgres.dsn, user=alice, password=SECRET) not in finding.summary


@pytest.mark.parametrize("port", ["closed_port", "silent_port"])
def test_a_closed_or_silent_port_is_unreachable_after_retries(prefect_api, request, port):
    number = request.getfixturevalue(port)
    target = PostgresTarget(
        dsn=f"postgresql://fb:{SECRET}@127.0.0.1:{number}/orders", connect_timeout_seconds=1
    )
    finding = measure_round_trip(target)
    assert finding.status is FindingStatus.UNREACHABLE
    assert finding.evidence["transient"] is True and finding.evidence["attempts"] == 4
    assert f"fb@127.0.0.1:{number}/orders" in finding.summary
    assert SECRET not in finding.model_dump_json()


def test_failed_logins_are_counted_per_user_from_the_servers_own_log(
    prefect_api, diagnosed_postgres, logins
):
    alice, bob = logins
    mallory = f"fb_mallory_{secrets.token_hex(3)}"  # no such role: still a failed login
    fail_login(diagnosed_postgres.dsn, alice, 12)
    fail_login(diagnosed_postgres.dsn, bob, 2)
    fail_login(diagnosed_postgres.dsn, mallory, 1)
    for user, password in ((alice, "alice-right-pw"), (bob, "bob-right-pw")):  # not counted
        psycopg.connect(_as(diagnosed_postgres.dsn, user=user, password=password)).close()
    wait_for(
        lambda: diagnosed_postgres.log.read_text().count(f'for user "{mallory}"'),
        what="the server to log the last failure",
    )
    target = PostgresTarget(
        dsn=diagnosed_postgres.dsn, name="orders-db", auth_log_path=str(diagnosed_postgres.log)
    )
    finding = count_auth_failures(target, window=timedelta(minutes=10), max_failures=10)
    assert finding.status is FindingStatus.WARNING, finding.summary
    counts = {u["user"]: u["failed_attempts"] for u in finding.evidence["per_user"]}
    assert (counts[alice], counts[bob], counts[mallory]) == (12, 2, 1)
    assert f"{alice} 12" in finding.summary and "above 10" in finding.summary
    assert finding.evidence["methods"]["password"] >= 15
    evidence = str(finding.evidence)
    assert "127.0.0.1" not in evidence and SECRET not in evidence and "right-pw" not in evidence
    # the same failures under a higher threshold, and none in a window that ends before them
    calm = count_auth_failures(target, window=timedelta(minutes=10), max_failures=1000)
    assert calm.status is FindingStatus.OK and f"{alice} 12" in calm.summary
    none = count_auth_failures(target, window=timedelta(microseconds=1), max_failures=10)
    assert none.status is FindingStatus.OK, none.summary
    assert none.evidence["total"] == 0 and "no failed logins" in none.summary


def test_failed_logins_from_the_applications_own_table(prefect_api, diagnosed_postgres):
    dsn = small_database(diagnosed_postgres.dsn, f"fb_auth_{secrets.token_hex(3)}")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE auth_logs (username text, status text, created_at timestamptz)")
        conn.execute(
            "INSERT INTO auth_logs SELECT 'carol', 'failed', now() FROM generate_series(1, 3);"
            "INSERT INTO auth_logs SELECT 'carol', 'ok', now() FROM generate_series(1, 9);"
            "INSERT INTO auth_logs SELECT 'dave', 'failed', now() - interval '2 hours'"
            " FROM generate_series(1, 50)"
        )
    runbook_query = (  # runbook 004's, with the window as a parameter
        "SELECT username, COUNT(*) AS failed_attempts, MAX(created_at) AS last_attempt"
        " FROM auth_logs WHERE status = 'failed' AND created_at > %(since)s"
        " GROUP BY username ORDER BY failed_attempts DESC"
    )
    target = PostgresTarget(dsn=dsn, auth_failures_query=runbook_query)
    finding = count_auth_failures(target, max_failures=2)
    assert finding.status is FindingStatus.WARNING, finding.summary
    assert [(u["user"], u["failed_attempts"]) for u in finding.evidence["per_user"]] == [
        ("carol", 3)
    ]
    broken = PostgresTarget(dsn=dsn, auth_failures_query="SELECT username FROM auth_logs")
    refused = count_auth_failures(broken)
    assert refused.status is FindingStatus.UNREACHABLE
    assert "must return username and failed_attempts" in refused.summary


def test_without_a_source_the_check_says_what_to_set(prefect_api, postgres_target, tmp_path):
    finding = count_auth_failures(postgres_target)
    assert finding.status is FindingStatus.SKIPPED
    assert "auth_log_path" in finding.summary and "auth_failures_query" in finding.summary
    missing = count_auth_failures(postgres_target, log_path=str(tmp_path / "nowhere.log"))
    assert missing.status is FindingStatus.UNREACHABLE and missing.evidence["attempts"] == 1
    assert "auth_log_path" in missing.summary


def test_log_times_are_read_in_the_zone_the_server_wrote_them_in(tmp_path):
    """log_timezone is the server's: 12:30 at +02 is 10:30 UTC; unknown zones are not guessed."""
    log = tmp_path / "postgresql.log"
    fatal = 'FATAL:  password authentication failed for user "{}"'
    log.write_text(
        "\n".join(
            [
                "2026-01-05 12:30:00.001 +02 [11] " + fatal.format("erin"),  # 10:30 UTC: in
                "2026-01-05 12:29:00 CET [12] " + fatal.format("erin"),  # 11:29 UTC: in
                "2026-01-05 10:29:59.999 UTC [13] " + fatal.format("frank"),  # before: out
                "2026-01-05 10:45:00.000 XYZT [14] " + fatal.format("gina"),  # unknown zone
                "2026-01-05 10:46:00.000 UTC [15] LOG:  connection authorized: user=erin",
                "2026-01-05 10:47:00.000 UTC [16] "
                + fatal.format("ivan").replace("password", "Ident"),
            ]
        )
        + "\n"
    )
    counted = failures_in_log(log, datetime(2026, 1, 5, 10, 30, tzinfo=UTC), 1 << 20)
    assert {u: c["failed_attempts"] for u, c in counted["per_user"].items()} == {
        "erin": 2,
        "ivan": 1,
    }
    assert counted["methods"] == {"password": 2, "Ident": 1} and counted["undated"] == 1
    assert counted["per_user"]["erin"]["last_attempt"] == datetime(2026, 1, 5, 11, 29, tzinfo=UTC)
    # only the file's tail is read when it is large: the cut first line is dropped
    tail = failures_in_log(log, datetime(2026, 1, 1, tzinfo=UTC), len(log.read_bytes()) - 5)
    assert "erin" in tail["per_user"] and tail["per_user"]["erin"]["failed_attempts"] == 1
