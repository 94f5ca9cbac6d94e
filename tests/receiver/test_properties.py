"""Mutated real payloads never get a 5xx, and what is refused never becomes an incident or a run.

Each example starts from a sender's real shape and breaks it one way: a field removed, a
value of the wrong type, a huge string, deep nesting, or bytes that are not UTF-8. Requests
are authenticated (signatures computed over the mutated bytes), so validation is what is
tested. A mutation may leave a payload valid, and then it may open an incident; the property
is that every incident in the record, and every run, belongs to an accepted request.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incident.record import IncidentRecord
from tests.fixtures.receiver import RunningReceiver, ScratchDeployment, wait_for
from tests.receiver.senders import PAYLOADS, send

Path = tuple[str | int, ...]


def paths(value: Any, prefix: Path = ()) -> list[Path]:
    found: list[Path] = []
    if isinstance(value, dict):
        for key, child in value.items():
            found.append((*prefix, key))
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.append((*prefix, index))
            found += paths(child, (*prefix, index))
    return found


def _parent(body: Any, path: Path) -> Any:
    for part in path[:-1]:
        body = body[part]
    return body


WRONG_TYPES = st.sampled_from([None, 0, -1, 1.5, True, "", "x", [], {}, [1, "a"], {"k": [None]}])


@st.composite
def mutated(draw: st.DrawFn, source: str) -> bytes:
    body = copy.deepcopy(PAYLOADS[source]())
    kind = draw(st.sampled_from(["remove", "retype", "huge", "deep", "encoding"]))
    path = draw(st.sampled_from(paths(body)))
    parent, last = _parent(body, path), path[-1]
    if kind == "remove":
        del parent[last]
    elif kind == "retype":
        parent[last] = draw(WRONG_TYPES)
    elif kind == "huge":
        parent[last] = "A" * draw(st.sampled_from([10_000, 200_000, 900_000]))
    elif kind == "deep":
        parent[last] = "__deep__"  # nested as text: too deep for json.dumps itself
    raw = json.dumps(body).encode()
    if kind == "deep":
        depth = draw(st.integers(min_value=20, max_value=50_000))
        raw = raw.replace(b'"__deep__"', b"[" * depth + b"1" + b"]" * depth)
    if kind == "encoding":
        at = draw(st.integers(min_value=0, max_value=len(raw) - 1))
        raw = raw[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80"])) + raw[at:]
    return raw


@pytest.mark.parametrize("source", sorted(PAYLOADS))
def test_mutated_payloads_never_get_a_5xx_and_refused_ones_start_nothing(
    source: str,
    receiver: RunningReceiver,
    test_deployment: ScratchDeployment,
    record: IncidentRecord,
) -> None:
    accepted: set[str] = set()

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        database=None,
    )
    @given(raw=mutated(source))
    def check(raw: bytes) -> None:
        answer = send(receiver, source, raw)
        assert answer.status_code < 500, answer.text
        if answer.status_code >= 400:
            assert {"error", "message"} <= set(answer.json())
            return
        assert answer.status_code == 202
        for incident in answer.json().get("incidents", []):
            if incident["incident_id"]:
                accepted.add(incident["incident_id"])

    check()

    recorded = {row["id"] for row in record.incidents()}
    assert recorded <= accepted
    if recorded:
        runs = wait_for(
            lambda: len(test_deployment.runs()) == len(recorded) and test_deployment.runs(),
            what="one run per accepted incident",
        )
        assert {r.parameters["incident_id"] for r in runs} == recorded
