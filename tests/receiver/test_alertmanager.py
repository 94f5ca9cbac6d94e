"""End to end with a real Alertmanager: alerts pushed to its API reach the receiver as incidents.

Alertmanager runs the shipped ``deployments/alertmanager.yml`` (bearer token from a file,
``group_by: [alertname, service]``, resolved notifications on), with compressed timers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from incident.record import IncidentRecord
from tests.fixtures.alertmanager import Alertmanager
from tests.fixtures.receiver import AM_TOKEN, RunningReceiver, ScratchDeployment, wait_for


def alert(service: str, instance: str, *, ends_at: datetime | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "labels": {
            "alertname": "PostgresConnectionsExhausted",
            "service": service,
            "instance": instance,
            "severity": "critical",
        },
        "annotations": {"summary": f"{service}: connection pool exhausted on {instance}"},
        "generatorURL": "http://prometheus:9090/graph?g0.expr=pg_stat_activity_count",
    }
    if ends_at is not None:
        body["endsAt"] = ends_at.isoformat()
    return body


def alert_steps(record: IncidentRecord, incident_id: str, step: str) -> int:
    return sum(1 for e in record.timeline(incident_id) if e.step == step)


def test_alerts_through_a_real_alertmanager_make_one_incident_per_group_with_one_run(
    receiver: RunningReceiver,
    start_alertmanager: Callable[[str, str], Alertmanager],
    test_deployment: ScratchDeployment,
    record: IncidentRecord,
) -> None:
    manager = start_alertmanager(receiver.url + "/alerts/alertmanager", AM_TOKEN)

    manager.post_alerts([alert("orders", "db-0")])

    (run,) = wait_for(test_deployment.runs, timeout=90, what="the run for the first alert")
    incident_id = run.parameters["incident_id"]
    assert run.parameters["alert"]["group_key"].startswith("alertmanager:")
    assert run.parameters["alert"]["labels"]["service"] == "orders"

    more = [alert("orders", f"db-{n}") for n in range(1, 51)]
    manager.post_alerts(more)

    wait_for(
        lambda: alert_steps(record, incident_id, "alert-firing") == 1 + len(more),
        timeout=90,
        what="all 51 alerts of the group in the incident's timeline",
    )
    assert [r.id for r in test_deployment.runs()] == [run.id]
    assert [i["id"] for i in record.incidents()] == [incident_id]

    ended = datetime.now(UTC) - timedelta(seconds=1)
    manager.post_alerts([alert("orders", f"db-{n}", ends_at=ended) for n in range(51)])

    wait_for(
        lambda: alert_steps(record, incident_id, "alert-resolved") == 51,
        timeout=90,
        what="the resolved notification recorded",
    )
    assert record.get_incident(incident_id)["closed_at"] is None

    manager.post_alerts([alert("payments", "db-0")])

    runs = wait_for(
        lambda: len(test_deployment.runs()) == 2 and test_deployment.runs(),
        timeout=90,
        what="a second incident's run for the second group",
    )
    second = {r.parameters["incident_id"] for r in runs} - {incident_id}
    assert len(second) == 1 and len(record.incidents()) == 2
    metrics = receiver.get("/metrics").text
    assert 'firebreak_receiver_rejects_total{reason="unauthenticated"' not in metrics
    assert 'firebreak_receiver_incidents_started_total{source="alertmanager"} 2.0' in metrics
