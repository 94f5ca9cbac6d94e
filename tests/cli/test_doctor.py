"""``firebreak doctor`` reaches each configured block's system and names what is wrong."""

from __future__ import annotations

import socket

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from blocks import IncidentPolicyBlock, PostgresTarget, RedisTarget
from tests.fixtures.redis import REDIS_URL

pytestmark = pytest.mark.prefect

PASSWORD = "pw-must-never-be-printed-7f3a"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_doctor_with_one_unreachable_block_exits_non_zero_naming_it_without_its_secret(
    firebreak, block_names, incident_store, slack_workspace
):
    with temporary_settings({PREFECT_API_URL: PREFECT_API_URL.value()}):
        incident_store.save(block_names.store)
        IncidentPolicyBlock().save(block_names.policy)
        slack_workspace.save(block_names.slack)
        RedisTarget(url=REDIS_URL).save(block_names.redis)
        PostgresTarget(
            dsn=f"postgresql://app:{PASSWORD}@127.0.0.1:{_closed_port()}/orders",
            name="orders-db",
            connect_timeout_seconds=2,
        ).save(block_names.database)

    result = firebreak("doctor")
    assert result.code == 1, result.output
    rows = {
        line.split("│")[1].strip(): line
        for line in result.stdout.splitlines()
        if line.count("│") >= 4
    }
    database_row = rows[f"postgresql-target/{block_names.database}"]
    assert "FAIL" in database_row and "refused the connection" in database_row
    for healthy in (
        f"incident-store/{block_names.store}",
        f"incident-policy/{block_names.policy}",
        f"slack-workspace/{block_names.slack}",
        f"redis-target/{block_names.redis}",
    ):
        assert " OK " in rows[healthy], rows[healthy]
    assert "SKIP" in rows[f"health-endpoints/{block_names.health}"]  # optional, not configured
    assert block_names.database in result.stdout.split("problem(s):")[-1]
    assert PASSWORD not in result.output
    assert slack_workspace.token.get_secret_value() not in result.output


def test_doctor_fails_when_a_required_block_is_missing(firebreak, block_names):
    result = firebreak("doctor")
    assert result.code == 1
    assert f"incident-store/{block_names.store}" in result.stdout
    assert "firebreak init" in result.stdout
