"""prefect.yaml deploys: `prefect deploy --all` registers the scenario with a typed form."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import ObjectAlreadyExists
from prefect.settings import PREFECT_API_URL

pytestmark = pytest.mark.prefect

ROOT = Path(__file__).resolve().parents[2]


def test_prefect_deploy_registers_the_db_pool_deployment_with_its_parameters(prefect_api):
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
