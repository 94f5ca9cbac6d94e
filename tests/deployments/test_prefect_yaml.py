"""prefect.yaml deploys: `prefect deploy --all` registers the scenario with a typed form."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import ObjectAlreadyExists
from prefect.settings import PREFECT_API_URL

pytestmark = pytest.mark.prefect

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def deployed(prefect_api: None) -> None:
    """`prefect deploy --all` once, as an operator runs it, against the session's API."""
    with get_client(sync_client=True) as client, contextlib.suppress(ObjectAlreadyExists):
        client.create_work_pool(WorkPoolCreate(name="firebreak", type="process"))
    env = {
        **os.environ,
        "PREFECT_API_URL": PREFECT_API_URL.value(),
        "FIREBREAK_HOME": str(ROOT),
    }
    done = subprocess.run(
        [str(Path(sys.executable).with_name("prefect")), "--no-prompt", "deploy", "--all"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_prefect_deploy_registers_the_db_pool_deployment_with_its_parameters(deployed):
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("db-pool-exhaustion/db-pool-exhaustion")
    assert deployment.parameters["database"] == "orders-db"
    assert deployment.parameters["dry_run"] is False
    assert deployment.work_pool_name == "firebreak"
    properties = deployment.parameter_openapi_schema["properties"]
    assert {"alert", "database", "store", "slack", "cluster", "policy", "dry_run"} <= set(
        properties
    )
    assert "alert" in deployment.parameter_openapi_schema["required"]


def test_every_deployment_the_receiver_routes_to_is_deployed(deployed):
    """An alert routed to a deployment that does not exist is lost at 3 a.m.: after
    `prefect deploy --all`, every name in deployments/routing.yaml resolves."""
    routing = yaml.safe_load((ROOT / "deployments" / "routing.yaml").read_text())
    names = {r["deployment"] for r in routing["routes"]} | {routing["default_deployment"]}
    names |= {f"{n}/{n}" for n in ("service-outage", "high-memory", "crash-loop")}
    with get_client(sync_client=True) as client:
        for name in sorted(names):
            deployment = client.read_deployment_by_name(name)
            assert deployment.work_pool_name == "firebreak", name
            assert "alert" in deployment.parameter_openapi_schema["required"], name
