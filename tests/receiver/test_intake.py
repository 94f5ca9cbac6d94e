"""One incident per alert group, one run per incident, every alert recorded once."""

from __future__ import annotations

import concurrent.futures
import threading

import pytest
from prefect.client.orchestration import get_client
from prefect.states import Completed, Running

from blocks.store import IncidentStore
from incident.record import IncidentRecord
from receiver.run_inputs import ALERT_INPUT_PREFIX, AttachedAlerts
from tests.fixtures.receiver import RunningReceiver, ScratchDeployment, receiver_rows, wait_for
from tests.receiver.senders import (
    PAYLOADS,
    alertmanager,
    alertmanager_legacy,
    am_alert,
    grafana,
    pagerduty,
    send,
)


def alert_events(record: IncidentRecord, incident_id: str) -> list[str]:
    return [e.step for e in record.timeline(incident_id) if e.step.startswith("alert-")]


def only_run(deployment: ScratchDeployment):  # type: ignore[no-untyped-def]
    (run,) = wait_for(deployment.runs, what="the incident's flow run")
    return run


@pytest.mark.parametrize("source", sorted(PAYLOADS))
def test_a_valid_alert_from_each_source_opens_one_incident_and_starts_its_run(
    source: str,
    receiver: RunningReceiver,
    test_deployment: ScratchDeployment,
    record: IncidentRecord,
) -> None:
    answer = send(receiver, source, PAYLOADS[source]())

    assert answer.status_code == 202, answer.text
    (incident,) = answer.json()["incidents"]
    assert incident["created"] is True
    run = only_run(test_deployment)
    assert run.parameters["incident_id"] == incident["incident_id"]
    assert run.parameters["alert"]["source"] == ("manual" if source == "generic" else source)
    row = wait_for(
        lambda: (r := record.get_incident(incident["incident_id"]))["flow_run_id"] and r,
        what="the run recorded on the incident",
    )
    assert row["flow_run_id"] == str(run.id)
    assert row["closed_at"] is None


def test_the_same_delivery_twice_starts_one_run_and_records_the_alert_once(
    receiver: RunningReceiver, test_deployment: ScratchDeployment, record: IncidentRecord
) -> None:
    first = send(receiver, "alertmanager", alertmanager())
    again = send(receiver, "alertmanager", alertmanager())

    assert (first.status_code, again.status_code) == (202, 202)
    (one,), (two,) = first.json()["incidents"], again.json()["incidents"]
    assert one["incident_id"] == two["incident_id"]
    assert (two["created"], two["alerts_recorded"], two["alerts_already_recorded"]) == (
        False,
        0,
        1,
    )
    run = only_run(test_deployment)
    assert alert_events(record, one["incident_id"]) == ["alert-firing"]
    assert run.idempotency_key and one["incident_id"] in run.idempotency_key


def test_twenty_concurrent_deliveries_of_one_group_make_one_incident_and_one_run(
    receiver: RunningReceiver, test_deployment: ScratchDeployment, record: IncidentRecord
) -> None:
    barrier = threading.Barrier(20)

    def deliver(n: int):  # type: ignore[no-untyped-def]
        barrier.wait()
        return send(receiver, "alertmanager", alertmanager(am_alert(instance=f"db-{n}")))

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(deliver, range(20)))

    assert {a.status_code for a in answers} == {202}
    incidents = {a.json()["incidents"][0]["incident_id"] for a in answers}
    assert len(incidents) == 1
    assert sum(a.json()["incidents"][0]["created"] for a in answers) == 1
    run = only_run(test_deployment)
    (incident_id,) = incidents
    assert run.parameters["incident_id"] == incident_id
    assert len(alert_events(record, incident_id)) == len(answers)
    assert [r["id"] for r in record.incidents()] == [incident_id]


def test_later_alerts_are_attached_and_a_resolved_notice_is_recorded_without_closing(
    receiver: RunningReceiver, test_deployment: ScratchDeployment, record: IncidentRecord
) -> None:
    first = send(receiver, "alertmanager", alertmanager(am_alert(instance="db-1")))
    incident_id = first.json()["incidents"][0]["incident_id"]
    later = [am_alert(instance="db-1"), am_alert(instance="db-2"), am_alert(instance="db-3")]
    send(receiver, "alertmanager", alertmanager(*later))  # Alertmanager re-sends the group
    send(receiver, "alertmanager", alertmanager(am_alert(instance="db-2", status="resolved")))

    assert alert_events(record, incident_id) == [
        "alert-firing",
        "alert-firing",
        "alert-firing",
        "alert-resolved",
    ]
    only_run(test_deployment)
    assert record.get_incident(incident_id)["closed_at"] is None
    (resolved,) = [e for e in record.timeline(incident_id) if e.step == "alert-resolved"]
    assert "closes only after its own verification" in resolved.message


def test_attached_alerts_reach_the_running_flow_once_each(
    receiver: RunningReceiver, test_deployment: ScratchDeployment, incident_store: IncidentStore
) -> None:
    send(receiver, "alertmanager", alertmanager(am_alert(instance="db-1")))
    run = only_run(test_deployment)
    attached = alertmanager(am_alert(instance="db-1"), am_alert(instance="db-2"))
    send(receiver, "alertmanager", attached)
    send(receiver, "alertmanager", attached)
    with get_client(sync_client=True) as client:  # a worker picked the run up: it listens
        client.set_flow_run_state(run.id, Running(), force=True)

    def inputs():  # type: ignore[no-untyped-def]
        with get_client(sync_client=True) as client:
            return client.filter_flow_run_input(run.id, ALERT_INPUT_PREFIX, 100, set())

    undelivered = "SELECT id FROM {s}.received_alerts WHERE delivered IS NULL"
    wait_for(lambda: not receiver_rows(incident_store, undelivered), what="alerts handed over")
    (received,) = inputs()
    batch = AttachedAlerts.model_validate_json(received.value)
    assert [(a.alert.labels["instance"], a.status) for a in batch.alerts] == [("db-2", "firing")]


def test_alerts_for_a_run_that_has_finished_are_kept_in_the_record_only(
    receiver: RunningReceiver, test_deployment: ScratchDeployment, incident_store: IncidentStore
) -> None:
    send(receiver, "alertmanager", alertmanager(am_alert(instance="db-1")))
    run = only_run(test_deployment)
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(run.id, Completed(), force=True)
    send(receiver, "alertmanager", alertmanager(am_alert(instance="db-2")))

    kept = "SELECT delivered FROM {s}.received_alerts WHERE delivered = 'run-finished'"
    wait_for(lambda: receiver_rows(incident_store, kept), what="the alert kept, not handed over")
    with get_client(sync_client=True) as client:
        assert client.filter_flow_run_input(run.id, ALERT_INPUT_PREFIX, 10, set()) == []


def test_a_second_alert_group_makes_a_second_incident_with_its_own_run(
    receiver: RunningReceiver, test_deployment: ScratchDeployment
) -> None:
    orders = send(receiver, "alertmanager", alertmanager(group="orders"))
    payments = send(receiver, "alertmanager", alertmanager(group="payments"))

    ids = {a.json()["incidents"][0]["incident_id"] for a in (orders, payments)}
    assert len(ids) == 2
    runs = wait_for(lambda: len(test_deployment.runs()) == 2 and test_deployment.runs())
    assert {r.parameters["incident_id"] for r in runs} == ids


def test_legacy_alertmanager_payloads_without_status_or_fingerprint_are_accepted(
    receiver: RunningReceiver, test_deployment: ScratchDeployment, record: IncidentRecord
) -> None:
    first = send(receiver, "alertmanager", alertmanager_legacy())
    again = send(receiver, "alertmanager", alertmanager_legacy())

    assert first.status_code == 202, first.text
    assert again.json()["incidents"][0]["alerts_already_recorded"] == 1
    run = only_run(test_deployment)
    assert run.parameters["alert"]["starts_at"].startswith("2018-08-03T07:52:26")
    assert run.parameters["alert"]["status"] == "firing"


@pytest.mark.parametrize("values", [None, {"B": 44.2, "C": 1}])
def test_grafana_alerts_are_accepted_with_or_without_values(
    values: dict[str, float] | None, receiver: RunningReceiver, test_deployment: ScratchDeployment
) -> None:
    assert send(receiver, "grafana", grafana(values)).status_code == 202
    assert only_run(test_deployment).parameters["alert"]["name"] == "High memory usage"


def test_a_resolved_notice_for_a_group_with_no_open_incident_opens_nothing(
    receiver: RunningReceiver, record: IncidentRecord
) -> None:
    answer = send(receiver, "alertmanager", alertmanager(am_alert(status="resolved")))

    assert answer.status_code == 202
    assert "no open incident" in answer.json()["incidents"][0]["ignored"]
    assert record.incidents() == []


def test_pagerduty_events_that_are_not_alerts_are_accepted_and_start_nothing(
    receiver: RunningReceiver, record: IncidentRecord
) -> None:
    for event_type in ("pagey.ping", "incident.acknowledged"):
        answer = send(receiver, "pagerduty", pagerduty(event_type))
        assert answer.status_code == 202
        assert answer.json()["status"] == "ignored"
    assert record.incidents() == []


def test_a_pagerduty_incident_is_one_incident_across_its_events(
    receiver: RunningReceiver, test_deployment: ScratchDeployment, record: IncidentRecord
) -> None:
    opened = send(receiver, "pagerduty", pagerduty("incident.triggered", event_id="e1"))
    resolved = send(receiver, "pagerduty", pagerduty("incident.resolved", event_id="e2"))

    incident_id = opened.json()["incidents"][0]["incident_id"]
    assert resolved.json()["incidents"][0]["incident_id"] == incident_id
    assert alert_events(record, incident_id) == ["alert-firing", "alert-resolved"]
    assert only_run(test_deployment).parameters["alert"]["severity"] == "critical"  # P1


def test_a_closed_incident_lets_its_group_open_a_new_one_with_a_new_run(
    receiver: RunningReceiver, test_deployment: ScratchDeployment, record: IncidentRecord
) -> None:
    first = send(receiver, "alertmanager", alertmanager()).json()["incidents"][0]["incident_id"]
    only_run(test_deployment)
    record.close_incident(first)  # what the flow does after its own verification

    second = send(receiver, "alertmanager", alertmanager()).json()["incidents"][0]

    assert second["created"] and second["incident_id"] != first
    runs = wait_for(lambda: len(test_deployment.runs()) == 2 and test_deployment.runs())
    assert {r.parameters["incident_id"] for r in runs} == {first, second["incident_id"]}
