"""``firebreak serve`` serves the deployments from its own process until it is stopped."""

from __future__ import annotations

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
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(FIREBREAK), "serve"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 120
        with get_client(sync_client=True) as client:
            while True:
                assert proc.poll() is None, log.read_text()
                try:
                    served = client.read_deployment_by_name("db-pool-exhaustion/db-pool-exhaustion")
                    if served.parameters.get("database") == block_names.database:
                        break
                except ObjectNotFound:
                    pass
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.5)
            assert served.work_pool_name is None  # served by this process, not a worker
            assert served.parameters["store"] == block_names.store
            client.read_deployment_by_name("drill/drill")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "receiver" in log.read_text() and "not installed" in log.read_text()
