"""``firebreak serve`` serves the deployments from its own process until it is stopped."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import time

import pytest
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL

from tests.fixtures.cli import FIREBREAK, ROOT

pytestmark = pytest.mark.prefect


def test_serve_registers_the_deployments_with_the_settings_block_names_and_stops_on_sigterm(
    prefect_api, block_names, tmp_path
):
    env = {
        **os.environ,
        "PREFECT_API_URL": PREFECT_API_URL.value(),
        "FIREBREAK_RECEIVER_MODULE": f"no_receiver_{secrets.token_hex(3)}",
        **block_names.env(),
    }
    with get_client(sync_client=True) as client:
        # a deployment of the same name made by an earlier test's `prefect deploy` keeps its
        # work pool when serve() updates it: start from none, as on a fresh server
        for name in ("db-pool-exhaustion/db-pool-exhaustion", "drill/drill"):
            with contextlib.suppress(ObjectNotFound):
                client.delete_deployment(client.read_deployment_by_name(name).id)
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(FIREBREAK), "serve"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 120
        with get_client(sync_client=True) as client:

            def served(name: str):
                try:
                    deployment = client.read_deployment_by_name(name)
                except ObjectNotFound:
                    return None
                return deployment if deployment.work_pool_name is None else None

            while True:  # serve() registers its deployments one after the other
                assert proc.poll() is None, log.read_text()
                scenario, drill = (
                    served("db-pool-exhaustion/db-pool-exhaustion"),
                    served("drill/drill"),
                )
                if (
                    scenario
                    and drill
                    and scenario.parameters.get("database") == block_names.database
                ):
                    break
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.5)
        assert scenario.parameters["store"] == block_names.store  # the settings' block names
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "receiver" in log.read_text() and "not installed" in log.read_text()
