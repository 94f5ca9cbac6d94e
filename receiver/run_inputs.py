"""What a running flow receives when later alerts of its incident arrive.

The receiver hands attached alerts to the incident's flow run as flow run inputs, a batch
per round (an alert storm would otherwise be thousands of API calls). A batch's key is
derived from the alerts in it, so re-sending the same batch is refused by the Prefect API
as a duplicate key instead of arriving twice. Prefect never deletes inputs and tracks
"seen" only in the receiving process, so a re-run reads them all again, and a batch re-sent
after a crash may overlap an earlier one: dedup by ``fingerprint`` and ``status``.

A flow listens with::

    async for batch in AttachedAlerts.receive(key_prefix=ALERT_INPUT_PREFIX, timeout=None,
                                              poll_interval=0.5):
        for attached in batch.alerts: ...
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from prefect.input import RunInput
from pydantic import BaseModel, Field

from incident.models import Alert

__all__ = ["ALERT_INPUT_PREFIX", "AttachedAlert", "AttachedAlerts", "alerts_input_key"]

ALERT_INPUT_PREFIX = "firebreak-alerts"


class AttachedAlert(BaseModel):
    """A later alert of the incident this run answers (firing, or its resolved notice)."""

    fingerprint: str = Field(description="Which alert; dedup on it with status")
    status: str = Field(description="firing or resolved")
    episode: str = Field("", description="The sender's start time of this firing, if given")
    alert: Alert


class AttachedAlerts(RunInput):
    incident_id: str
    alerts: list[AttachedAlert]


def alerts_input_key(incident_id: str, identities: Iterable[tuple[str, str, str]]) -> str:
    """One key per batch content: (fingerprint, status, episode) of every alert in it."""
    digest = hashlib.sha256(incident_id.encode())
    for identity in sorted(identities):
        digest.update("\0".join(identity).encode() + b"\n")
    return f"{ALERT_INPUT_PREFIX}-{digest.hexdigest()[:32]}"
