"""What a running flow receives when a later alert of its incident arrives.

The receiver sends each attached alert to the incident's flow run as a flow run input under
a key derived from the alert's identity (incident, fingerprint, status, episode), so a
second delivery of the same alert is refused by the Prefect API as a duplicate key instead
of arriving twice. Prefect never deletes inputs and tracks "seen" only in the receiving
process, so a re-run reads them all again: dedup by ``fingerprint`` (and ``status``).

A flow listens with::

    async for attached in AttachedAlert.receive(key_prefix=ALERT_INPUT_PREFIX, timeout=None,
                                                poll_interval=0.5):
        ...
"""

from __future__ import annotations

import hashlib

from prefect.input import RunInput
from pydantic import Field

from incident.models import Alert

__all__ = ["ALERT_INPUT_PREFIX", "AttachedAlert", "alert_input_key"]

ALERT_INPUT_PREFIX = "firebreak-alert"


class AttachedAlert(RunInput):
    """A later alert of the incident this run answers (firing, or its resolved notice)."""

    incident_id: str
    fingerprint: str = Field(description="Which alert; dedup on it with status")
    status: str = Field(description="firing or resolved")
    alert: Alert


def alert_input_key(incident_id: str, fingerprint: str, status: str, episode: str) -> str:
    digest = hashlib.sha256(f"{incident_id}|{fingerprint}|{status}|{episode}".encode())
    return f"{ALERT_INPUT_PREFIX}-{digest.hexdigest()[:32]}"
