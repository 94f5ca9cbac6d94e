"""Nothing is lost when the Prefect API is down, a deployment is missing, or the receiver dies."""

from __future__ import annotations

from collections.abc import Callable

from blocks.store import IncidentStore
from incident.models import Alert, AlertSource, Incident
from incident.record import IncidentRecord
from receiver.routing import incident_key
from receiver.server import running
from receiver.settings import ReceiverSettings
from tests.fixtures.receiver import (
    RunningReceiver,
    ScratchDeployment,
    receiver_rows,
    receiver_settings,
    register_deployment,
    wait_for,
)
from tests.fixtures.tcp_proxy import TcpProxy
from tests.receiver.senders import alertmanager, am_alert, send


def steps(record: IncidentRecord, incident_id: str) -> list[str]:
    return [e.step for e in record.timeline(incident_id)]


def test_an_alert_during_a_prefect_outage_is_kept_and_its_run_starts_when_the_api_is_back(
    start_receiver: Callable[[ReceiverSettings], RunningReceiver],
    incident_store: IncidentStore,
    prefect_api_proxy: tuple[TcpProxy, str],
    test_deployment: ScratchDeployment,
    record: IncidentRecord,
) -> None:
    proxy, through = prefect_api_proxy
    proxy.cut()
    receiver = start_receiver(receiver_settings(incident_store, through, test_deployment.name))

    answer = send(receiver, "alertmanager", alertmanager(am_alert(instance="db-1")))
    attached = send(receiver, "alertmanager", alertmanager(am_alert(instance="db-2")))

    assert (answer.status_code, attached.status_code) == (202, 202)
    incident_id = answer.json()["incidents"][0]["incident_id"]
    health = wait_for(
        lambda: (
            (h := receiver.get("/healthz").json())["prefect_api"]["status"] == "unreachable" and h
        ),
        what="/healthz to report the API unreachable",
    )
    assert health["status"] == "degraded" and health["pending_starts"] == 1
    wait_for(lambda: "run-start-deferred" in steps(record, incident_id), what="the deferral")
    assert test_deployment.runs() == []

    proxy.restore()

    (run,) = wait_for(test_deployment.runs, what="the run, once the API is back")
    assert run.parameters["incident_id"] == incident_id
    wait_for(lambda: "run-started" in steps(record, incident_id), what="the start recorded")
    assert steps(record, incident_id).count("alert-firing") == 2
    wait_for(lambda: receiver.get("/healthz").json()["status"] == "ok", what="health ok again")
    assert record.get_incident(incident_id)["flow_run_id"] == str(run.id)


def test_a_start_pending_when_the_receiver_stops_is_made_by_the_next_receiver(
    incident_store: IncidentStore,
    prefect_api_proxy: tuple[TcpProxy, str],
    test_deployment: ScratchDeployment,
    record: IncidentRecord,
) -> None:
    proxy, through = prefect_api_proxy
    proxy.cut()
    settings = receiver_settings(incident_store, through, test_deployment.name)
    with running(settings) as url:
        answer = send(RunningReceiver(url, settings), "alertmanager", alertmanager())
    incident_id = answer.json()["incidents"][0]["incident_id"]
    proxy.restore()

    with running(settings):
        (run,) = wait_for(test_deployment.runs, what="the run started by the next receiver")

    assert run.parameters["incident_id"] == incident_id


def test_a_route_to_a_missing_deployment_waits_says_what_to_do_and_starts_once_deployed(
    start_receiver: Callable[[ReceiverSettings], RunningReceiver],
    incident_store: IncidentStore,
    prefect_api_url: str,
    record: IncidentRecord,
) -> None:
    later = f"receiver-test-respond/not-yet-{incident_store.schema_name[-8:]}"
    receiver = start_receiver(receiver_settings(incident_store, prefect_api_url, later))

    incident_id = send(receiver, "alertmanager", alertmanager()).json()["incidents"][0][
        "incident_id"
    ]
    deferred = wait_for(
        lambda: [e for e in record.timeline(incident_id) if e.step == "run-start-deferred"],
        what="the deferral",
    )
    assert "does not exist" in deferred[0].message and "prefect deploy" in deferred[0].message

    deployed = register_deployment(later.split("/")[1])

    (run,) = wait_for(deployed.runs, timeout=90, what="the run once the deployment exists")
    assert run.parameters["incident_id"] == incident_id


def test_an_incident_claimed_by_a_receiver_that_crashed_before_queueing_its_run_gets_one(
    start_receiver: Callable[[ReceiverSettings], RunningReceiver],
    incident_store: IncidentStore,
    prefect_api_url: str,
    test_deployment: ScratchDeployment,
    record: IncidentRecord,
) -> None:
    settings = receiver_settings(incident_store, prefect_api_url, test_deployment.name)
    decided = settings.routing.decide(_alert())
    claimed, created = record.claim(
        Incident(title="crashed", severity="SEV2", scenario="respond", alert=_alert()),
        decided.key,
    )  # ... and the receiver died here, before writing the pending start
    assert created and decided.key == incident_key(_alert(), "default", None)

    start_receiver(settings)

    (run,) = wait_for(test_deployment.runs, what="the repaired start")
    assert run.parameters["incident_id"] == claimed
    started = "SELECT * FROM {s}.run_starts WHERE flow_run_id IS NOT NULL"
    (row,) = wait_for(lambda: receiver_rows(incident_store, started), what="the start recorded")
    assert row["flow_run_id"] == str(run.id)


def _alert() -> Alert:
    return Alert(name="DiskFull", source=AlertSource.MANUAL, group_key="disk-web")
