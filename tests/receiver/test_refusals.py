"""What the receiver refuses: the right 4xx, words that say what is wrong, and no flow."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from blocks.store import IncidentStore
from incident.record import IncidentRecord
from receiver.settings import ReceiverSettings
from tests.fixtures.receiver import (
    ALL_SECRETS,
    AM_TOKEN,
    GENERIC_HMAC,
    PD_SECRET,
    RunningReceiver,
    ScratchDeployment,
    receiver_settings,
    wait_for,
)
from tests.receiver.senders import PAYLOADS, alertmanager, pagerduty, send


def nothing_started(
    receiver: RunningReceiver, deployment: ScratchDeployment, record: IncidentRecord
) -> None:
    """No incident and no run came of what was refused: a valid alert sent last is the only one.

    The valid alert is a barrier: once its run exists, any start a refused request had
    queued would have been taken in the same or an earlier round.
    """
    answer = send(receiver, "alertmanager", alertmanager(group="barrier"))
    incident_id = answer.json()["incidents"][0]["incident_id"]
    (run,) = wait_for(deployment.runs, what="the barrier alert's run")
    assert run.parameters["incident_id"] == incident_id
    assert [r["id"] for r in record.incidents()] == [incident_id]


@dataclass(frozen=True)
class Refused:
    """A request the receiver must refuse, and how: status, reason, words in the message."""

    name: str
    source: str
    raw: bytes
    status: int
    reason: str
    words: str
    headers: dict[str, str] = field(default_factory=dict)


def _am(change: Callable[[dict[str, Any]], None]) -> bytes:
    body = alertmanager()
    change(body)
    return json.dumps(body).encode()


def _refusals() -> list[Refused]:
    valid = json.dumps(alertmanager()).encode()
    pd = json.dumps(pagerduty()).encode()
    wrong = hmac.new(b"other-secret", pd, hashlib.sha256).hexdigest()
    basic = base64.b64encode(b"alertmanager:wrong").decode()
    unauthenticated = "unauthenticated"
    return [
        Refused("no credentials", "alertmanager", valid, 401, unauthenticated, "no credentials",
                {"Authorization": ""}),
        Refused("wrong bearer token", "alertmanager", valid, 401, unauthenticated, "not valid",
                {"Authorization": "Bearer nope"}),
        Refused("wrong basic auth", "grafana", valid, 401, unauthenticated, "not valid",
                {"Authorization": f"Basic {basic}"}),
        Refused("unsigned PagerDuty", "pagerduty", pd, 401, unauthenticated,
                "X-PagerDuty-Signature", {"X-PagerDuty-Signature": ""}),
        Refused("wrongly signed PagerDuty", "pagerduty", pd, 401, unauthenticated,
                "does not match", {"X-PagerDuty-Signature": f"v1={wrong}"}),
        Refused("wrong generic HMAC", "generic", valid, 401, unauthenticated, "does not match",
                {"Authorization": "", "X-Firebreak-Signature": f"sha256={wrong}"}),
        Refused("invalid JSON", "alertmanager", b'{"alerts": [', 400, "invalid_json",
                "not valid JSON"),
        Refused("NaN is not JSON", "alertmanager", b'{"alerts": NaN}', 400, "invalid_json",
                "NaN"),
        Refused("not UTF-8", "alertmanager", '{"alerts": ["é"]}'.encode("latin-1"), 400,
                "not_utf8", "not UTF-8"),
        Refused("empty body", "alertmanager", b"", 400, "empty_body", "empty"),
        Refused("too deep", "alertmanager", b'{"alerts": ' + b"[" * 200 + b"]" * 200 + b"}",
                400, "too_deep", "deeper than 32"),
        Refused("not an object", "alertmanager", b"[1, 2]", 422, "not_an_object",
                "got an array"),
        Refused("missing alerts", "alertmanager", _am(lambda b: b.pop("alerts")), 422,
                "invalid_payload", "alerts"),
        Refused("no alerts", "alertmanager", _am(lambda b: b.update(alerts=[])), 422,
                "invalid_payload", "alerts"),
        Refused("labels of the wrong type", "alertmanager",
                _am(lambda b: b["alerts"][0].update(labels=["alertname", "x"])), 422,
                "invalid_payload", "alerts.0.labels"),
        Refused("a time that is no time", "alertmanager",
                _am(lambda b: b["alerts"][0].update(startsAt="yesterday-ish")), 422,
                "invalid_payload", "startsAt"),
        Refused("an unknown status", "alertmanager",
                _am(lambda b: b["alerts"][0].update(status="exploded")), 422,
                "invalid_payload", "status"),
        Refused("PagerDuty without an event", "pagerduty", b'{"events": []}', 422,
                "invalid_payload", "event"),
    ]  # fmt: skip


CASES = _refusals()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_broken_or_unauthenticated_request_is_refused_clearly_and_starts_nothing(
    case: Refused,
    receiver: RunningReceiver,
    test_deployment: ScratchDeployment,
    record: IncidentRecord,
) -> None:
    headers = case.headers
    if case.source == "pagerduty" and "X-PagerDuty-Signature" not in headers:
        signature = hmac.new(PD_SECRET.encode(), case.raw, hashlib.sha256).hexdigest()
        headers = {"X-PagerDuty-Signature": f"v1={signature}"}

    answer = send(receiver, case.source, case.raw, **headers)

    assert answer.status_code == case.status, answer.text
    assert answer.json()["error"] == case.reason
    assert case.words in answer.text
    nothing_started(receiver, test_deployment, record)
    rejects = f'firebreak_receiver_rejects_total{{reason="{case.reason}",source="{case.source}"}}'
    assert f"{rejects} 1.0" in receiver.get("/metrics").text


def test_a_body_over_the_limit_is_refused_before_it_is_read(
    start_receiver: Callable[[ReceiverSettings], RunningReceiver],
    incident_store: IncidentStore,
    prefect_api_url: str,
    test_deployment: ScratchDeployment,
    record: IncidentRecord,
) -> None:
    settings = receiver_settings(incident_store, prefect_api_url, test_deployment.name)
    receiver = start_receiver(settings.model_copy(update={"max_body_bytes": 4096}))
    big = json.dumps(alertmanager()).encode() + b" " * 8192
    declared = send(receiver, "alertmanager", big)

    def chunks() -> Iterator[bytes]:  # chunked transfer: no Content-Length at all
        for _ in range(64):
            yield b" " * 1024

    streamed = httpx.post(
        receiver.url + "/alerts/alertmanager",
        content=chunks(),
        headers={"Authorization": f"Bearer {AM_TOKEN}", "Content-Type": "application/json"},
        timeout=30,
    )

    assert declared.status_code == 413
    assert f"({len(big)} bytes declared)" in declared.json()["message"]
    assert streamed.status_code == 413, streamed.text
    assert "4096-byte limit" in streamed.json()["message"]
    nothing_started(receiver, test_deployment, record)


def test_a_source_without_credentials_is_switched_off(
    start_receiver: Callable[[ReceiverSettings], RunningReceiver],
    incident_store: IncidentStore,
    prefect_api_url: str,
    test_deployment: ScratchDeployment,
) -> None:
    settings = receiver_settings(incident_store, prefect_api_url, test_deployment.name)
    settings.sources.grafana.bearer_tokens.clear()
    receiver = start_receiver(settings)

    answer = send(receiver, "grafana", PAYLOADS["grafana"]())

    assert answer.status_code == 404
    assert "sources.grafana" in answer.json()["message"]


def test_credentials_being_rotated_are_all_accepted(
    start_receiver: Callable[[ReceiverSettings], RunningReceiver],
    incident_store: IncidentStore,
    prefect_api_url: str,
    test_deployment: ScratchDeployment,
) -> None:
    settings = receiver_settings(
        incident_store,
        prefect_api_url,
        test_deployment.name,
        sources={
            "alertmanager": {"bearer_tokens": ["old-token", AM_TOKEN]},
            "pagerduty": {"signing_secrets": ["old-secret", PD_SECRET]},
            "generic": {"hmac_secrets": [GENERIC_HMAC]},
        },
    )
    receiver = start_receiver(settings)
    pd = json.dumps(pagerduty()).encode()
    theirs_old = hmac.new(b"retired-at-pagerduty", pd, hashlib.sha256).hexdigest()
    ours = hmac.new(b"old-secret", pd, hashlib.sha256).hexdigest()
    generic = json.dumps(PAYLOADS["generic"]()).encode()
    signed = hmac.new(GENERIC_HMAC.encode(), generic, hashlib.sha256).hexdigest()

    answers = [
        send(receiver, "alertmanager", alertmanager(), Authorization="Bearer old-token"),
        send(receiver, "alertmanager", alertmanager()),
        send(receiver, "pagerduty", pd, **{"X-PagerDuty-Signature": f"v1={theirs_old},v1={ours}"}),
        send(
            receiver,
            "generic",
            generic,
            Authorization="",
            **{"X-Firebreak-Signature": f"sha256={signed}"},
        ),
    ]

    assert [a.status_code for a in answers] == [202, 202, 202, 202]


def test_no_secret_reaches_a_response_or_a_log_line(
    receiver: RunningReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answers = [send(receiver, source, payload()) for source, payload in PAYLOADS.items()]
    answers += [send(receiver, case.source, case.raw, **case.headers) for case in CASES]
    answers += [receiver.get("/healthz"), receiver.get("/metrics")]

    for secret in ALL_SECRETS:
        assert all(secret not in a.text for a in answers)
        assert secret not in caplog.text
        assert secret not in repr(receiver.settings)
