"""The scheduled ``drill`` flow: runs the registered drill, publishes its scorecard, and
fails clearly for a scenario whose response does not exist yet."""

from __future__ import annotations

import secrets

import pytest

from blocks import PostgresTarget
from flows.drill_schedule import drill
from tests.flows.support import artifact_markdown
from tests.xdist_groups import SHARED_POSTGRES

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group(SHARED_POSTGRES)]


def test_the_drill_flow_scores_the_db_pool_drill_and_publishes_the_scorecard(
    prefect_api, admin_dsn
):
    name = f"drill-sandbox-{secrets.token_hex(3)}"
    PostgresTarget(dsn=admin_dsn, name="drill sandbox").save(name)
    state = drill(scenario="db-pool-exhaustion", sandbox=name, return_state=True)
    assert (state.type.value, state.name) == ("COMPLETED", "DrillPassed"), state.message
    scorecard = artifact_markdown("drill-scorecard-db-pool-exhaustion")
    assert "PASSED" in scorecard and "FAIL" not in scorecard


def test_a_scenario_without_a_response_fails_the_run_saying_why(prefect_api):
    state = drill(scenario="failing-health", return_state=True)
    assert state.is_failed()
    assert "no response flow yet" in str(state.message) + repr(state.result(raise_on_failure=False))


def test_a_kubernetes_drill_without_its_cluster_block_fails_naming_it(prefect_api, admin_dsn):
    name = f"drill-sandbox-{secrets.token_hex(3)}"
    PostgresTarget(dsn=admin_dsn, name="drill sandbox").save(name)
    state = drill(scenario="crash-loop", sandbox=name, return_state=True)
    assert state.is_failed()
    said = str(state.message) + repr(state.result(raise_on_failure=False))
    assert "need a cluster" in said and "`cluster` block" in said
