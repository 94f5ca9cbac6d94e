"""The drill schedules in prefect.yaml reach the server, and its scheduler creates the next
runs from each cron — read back from the API of a real server."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from cronsim import CronSim
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.settings import PREFECT_API_URL, temporary_settings

from sandbox.drill_registry import DRILLS
from tests.xdist_groups import SHARED_POSTGRES

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group(SHARED_POSTGRES)]

ROOT = Path(__file__).resolve().parents[2]


def _declared() -> list[dict]:
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    return next(d for d in config["deployments"] if d["name"] == "drill")["schedules"]


def test_every_scenario_has_a_quarterly_drill_and_rollback_a_monthly_one():
    schedules = _declared()
    quarterly = {s["parameters"]["scenario"] for s in schedules if s["cron"].endswith("1,4,7,10 *")}
    assert quarterly == set(DRILLS)
    monthly = [s for s in schedules if s["cron"].split()[3] == "*"]
    assert [s["parameters"]["scenario"] for s in monthly] == ["bad-rollout"]  # runbook 003


def test_the_scheduler_creates_the_next_drill_runs_from_each_cron(deployed_cluster):
    declared = {s["slug"]: s for s in _declared()}
    with (
        temporary_settings({PREFECT_API_URL: deployed_cluster.server.api_url}),
        get_client(sync_client=True) as client,
    ):
        deployment = client.read_deployment_by_name("drill/drill")
        assert {s.slug for s in deployment.schedules} == set(declared)
        for schedule in deployment.schedules:
            assert schedule.schedule.cron == declared[schedule.slug]["cron"]
            assert schedule.parameters == declared[schedule.slug]["parameters"]

        def scheduled() -> list:
            return client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(
                        type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])
                    )
                ),
                limit=200,
            )

        deadline = time.monotonic() + 120
        while len({r.parameters.get("scenario") for r in scheduled()}) < len(DRILLS):
            assert time.monotonic() < deadline, "the scheduler made no run for some drill"
            time.sleep(1)
        runs = scheduled()

    now = datetime.now(UTC)
    by_cron: dict[str, list[datetime]] = {}
    for run in runs:
        matching = [
            s
            for s in declared.values()
            if s["parameters"] == {k: run.parameters.get(k) for k in s["parameters"]}
        ]
        crons = {s["cron"] for s in matching}
        fire = run.expected_start_time.astimezone(UTC).replace(tzinfo=None)
        hits = [
            c
            for c in crons
            if next(CronSim(c, fire.replace(second=0) - timedelta(minutes=1))) == fire
        ]
        assert hits, f"{run.name} at {fire} matches none of {crons}"
        by_cron.setdefault(hits[0], []).append(fire)
    for cron, fires in by_cron.items():  # the next fire times, none skipped
        expected = CronSim(cron, now.replace(tzinfo=None))
        assert sorted(fires) == [next(expected) for _ in fires], cron
