"""The shipped configurations work as shipped: Grafana's contact point, Alertmanager's config,
and the receiver started by its one command."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from blocks.store import IncidentStore
from incident.record import IncidentRecord
from tests.fixtures.receiver import (
    GRAFANA_TOKEN,
    RunningReceiver,
    ScratchDeployment,
    wait_for,
)
from tests.receiver.senders import encode, grafana

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENTS = ROOT / "deployments"


def grafana_request(contact_point: Path, token: str) -> tuple[str, dict[str, str]]:
    """The path and headers Grafana sends for this contact point, its $VARIABLES expanded."""
    config = yaml.safe_load(os.path.expandvars(contact_point.read_text()))
    (point,) = config["contactPoints"]
    (webhook,) = point["receivers"]
    assert webhook["type"] == "webhook" and webhook["disableResolveMessage"] is False
    settings = webhook["settings"]
    assert settings["httpMethod"] == "POST"
    header = f"{settings['authorization_scheme']} {settings['authorization_credentials']}"
    assert token in header
    return httpx.URL(settings["url"]).path, {"Authorization": header}


def test_grafanas_contact_point_as_shipped_authenticates_to_the_receiver(
    receiver: RunningReceiver,
    test_deployment: ScratchDeployment,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FIREBREAK_GRAFANA_TOKEN", GRAFANA_TOKEN)
    path, headers = grafana_request(DEPLOYMENTS / "grafana-contact-point.yaml", GRAFANA_TOKEN)

    firing = receiver.post(path, content=encode(grafana()), headers=headers)
    resolved = receiver.post(path, content=encode(grafana(status="resolved")), headers=headers)

    assert (firing.status_code, resolved.status_code) == (202, 202)
    (run,) = wait_for(test_deployment.runs, what="the run Grafana's alert started")
    assert run.parameters["alert"]["source"] == "grafana"


@pytest.mark.skipif(shutil.which("amtool") is None, reason="amtool comes with Alertmanager")
def test_the_shipped_alertmanager_config_is_valid_for_alertmanager() -> None:
    checked = subprocess.run(
        ["amtool", "check-config", str(DEPLOYMENTS / "alertmanager.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_python_m_receiver_serves_the_shipped_settings_with_secrets_from_the_environment(
    incident_store: IncidentStore, prefect_api_url: str, record: IncidentRecord
) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "FIREBREAK_RECEIVER_HOST": "127.0.0.1",
        "FIREBREAK_RECEIVER_PORT": str(port),
        "FIREBREAK_RECEIVER_RECORD_DSN": incident_store.dsn.get_secret_value(),
        "FIREBREAK_RECEIVER_RECORD_SCHEMA": incident_store.schema_name,
        "FIREBREAK_RECEIVER_PREFECT_API_URL": prefect_api_url,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "receiver", "--config", str(DEPLOYMENTS / "receiver.yaml")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        health = wait_for(lambda: _health(port, proc), timeout=90, what="the receiver up")
        assert health["record"]["status"] == "ok"
        disabled = httpx.post(f"http://127.0.0.1:{port}/alerts/alertmanager", json={})
        assert disabled.status_code == 404  # no token configured in the shipped file
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=30)
    # uvicorn shuts down cleanly, then re-raises SIGTERM so the exit says why it stopped
    assert proc.returncode in (0, -15) and b"Application shutdown complete" in output
    assert record.incidents() == []


def _health(port: int, proc: subprocess.Popen[bytes]) -> dict[str, object] | None:
    if proc.poll() is not None:
        raise AssertionError(f"the receiver exited: {proc.stdout.read().decode()[-2000:]}")  # type: ignore[union-attr]
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    except httpx.HTTPError:
        time.sleep(0.2)
        return None
    return answer.json() if answer.status_code == 200 else None
