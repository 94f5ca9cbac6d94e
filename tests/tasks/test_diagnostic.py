"""The shared diagnostic rules, on a real closed port: transient failures retried the number
of times the run really has, then an `unreachable` finding without the target's secrets;
permanent ones at once; a bug in a check fails the run instead of hiding as unreachable."""

from __future__ import annotations

import socket

import pytest
from pydantic import BaseModel, SecretStr

from incident.errors import PermanentError, TransientError
from incident.models import Finding, FindingStatus
from tasks.diagnostic import diagnostic

pytestmark = pytest.mark.prefect

SECRET = "s3cret-Token-42"


class Target(BaseModel):
    label: str = "probe"
    port: int
    token: SecretStr = SecretStr(SECRET)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends


attempts: list[int] = []


@diagnostic("probe", backoff_seconds=0, jitter=0)
def probe(target: Target, permanent: bool = False, bug: bool = False) -> Finding:
    attempts.append(1)
    if bug:
        raise KeyError("a bug in the check")
    try:
        socket.create_connection(("127.0.0.1", target.port), timeout=2).close()
    except OSError as exc:
        kind = PermanentError if permanent else TransientError
        raise kind(f"{exc} with token {target.token.get_secret_value()}") from None
    return Finding(check="probe", target=target.label, status=FindingStatus.OK, summary="up")


@pytest.fixture(autouse=True)
def _count() -> None:
    attempts.clear()


def test_a_transient_failure_is_retried_then_unreachable_without_the_secret(prefect_api):
    finding = probe(Target(port=closed_port()))
    assert finding.status is FindingStatus.UNREACHABLE
    assert len(attempts) == 4 and finding.evidence["attempts"] == 4
    assert SECRET not in finding.summary and "gave up after 4 attempts" in finding.summary


def test_fewer_retries_set_on_the_task_still_end_as_an_unreachable_finding(prefect_api):
    finding = probe.with_options(retries=1)(Target(port=closed_port()))
    assert finding.status is FindingStatus.UNREACHABLE
    assert len(attempts) == 2


def test_a_permanent_failure_is_not_retried(prefect_api):
    finding = probe(Target(port=closed_port()), permanent=True)
    assert finding.status is FindingStatus.UNREACHABLE and len(attempts) == 1
    assert finding.evidence["transient"] is False and SECRET not in finding.summary


def test_a_bug_in_a_check_fails_the_task_instead_of_hiding(prefect_api):
    state = probe(Target(port=closed_port()), bug=True, return_state=True)
    assert state.is_failed() and len(attempts) == 1
