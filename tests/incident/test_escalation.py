"""Runbook 002's matrix as pure functions: table-driven, every answer from timestamps alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from incident.escalation import (
    approval_stage,
    auto_approval,
    escalation_levels,
    escalations_due,
)
from incident.policy import IncidentPolicy
from incident.severity import Severity

T0 = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
M = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("severity", "contacts"),
    [
        (Severity.CRITICAL, ["On-call engineer", "DevOps Lead", "Engineering Manager", "CTO"]),
        (Severity.HIGH, ["On-call engineer", "DevOps Lead", "Engineering Manager"]),
        (Severity.MEDIUM, ["On-call engineer", "DevOps Lead"]),
        (Severity.LOW, ["On-call engineer"]),
    ],
)
def test_the_default_matrix_is_runbook_002s(severity, contacts):
    assert [lv.contact for lv in escalation_levels(IncidentPolicy(), severity)] == contacts


# (minutes since start, acknowledged?, resolved?, levels already paged) -> levels due now
SEV1_CASES = [
    (5, False, False, set(), []),
    (15, False, False, set(), [1]),
    (20, False, False, {1}, []),
    (31, False, False, {1}, [2]),
    (61, False, False, {1}, [2, 3]),  # a sweep that was down catches up, in order
    (125, False, False, {1, 2, 3}, [4]),
    (500, False, False, {1, 2, 3, 4}, []),  # nobody above the CTO
    (50, True, False, {1}, []),  # acknowledged: the climb stops ...
    (59, True, False, set(), []),
    (60, True, False, {1}, [2]),  # ... until the 1 h resolution target passes unresolved
    (90, True, False, {1, 2}, [3]),
    (61, False, True, set(), []),  # resolved: nobody
]


@pytest.mark.parametrize(("minutes", "acked", "resolved", "paged", "due"), SEV1_CASES)
def test_sev1_escalates_level_by_level_only_while_unacknowledged(
    minutes, acked, resolved, paged, due
):
    levels = escalations_due(
        IncidentPolicy(),
        Severity.CRITICAL,
        started_at=T0,
        now=T0 + minutes * M,
        acknowledged_at=T0 + 3 * M if acked else None,
        resolved=resolved,
        paged=paged,
    )
    assert [lv.level for lv in levels] == due


def test_a_compressed_matrix_from_the_policy_is_followed():
    policy = IncidentPolicy.model_validate(
        {
            "objectives": {
                "SEV2": {
                    "initial_response": "PT1S",
                    "acknowledgement": "PT1S",
                    "resolution_target": "PT1H",
                    "status_update_cadence": "PT2S",
                    "page_on_call": True,
                    "escalation": [
                        {"after": "PT1S", "contact": "alice"},
                        {"after": "PT3S", "contact": "bob"},
                    ],
                }
            }
        }
    )
    due = escalations_due(
        policy,
        Severity.HIGH,
        started_at=T0,
        now=T0 + timedelta(seconds=3),
        acknowledged_at=None,
        resolved=False,
        paged={1},
    )
    assert [lv.contact for lv in due] == ["bob"]


# (minutes since the request) -> (level asked, expired?)  with a 10 min approval timeout
APPROVAL_CASES = [(0, 1, False), (9, 1, False), (10, 2, False), (25, 3, False), (30, 3, True)]


@pytest.mark.parametrize(("minutes", "level", "expired"), APPROVAL_CASES)
def test_an_unanswered_approval_moves_one_level_per_timeout_then_expires(minutes, level, expired):
    policy = IncidentPolicy(approval_timeout=timedelta(minutes=10))

    stage = approval_stage(policy, Severity.HIGH, requested_at=T0, now=T0 + minutes * M)

    assert (stage.level, stage.expired) == (level, expired)
    assert stage.last_level is (level == 3)
    assert stage.deadline == T0 + 10 * M * level
    assert stage.deadline - stage.asked_at == 10 * M


def test_the_approval_stage_names_who_is_asked():
    policy = IncidentPolicy(approval_timeout=timedelta(minutes=10))

    stage = approval_stage(policy, Severity.HIGH, requested_at=T0, now=T0 + 12 * M)

    assert stage.contact == "DevOps Lead"
    assert stage.remaining(T0 + 12 * M) == 8 * M


@pytest.mark.parametrize(
    ("severity", "action", "drill", "drills_ok", "auto"),
    [
        (Severity.LOW, "restart_pod", False, False, True),
        (Severity.CRITICAL, "restart_pod", False, False, False),  # named for LOW only
        (Severity.LOW, "terminate_backends", False, False, False),
        (Severity.CRITICAL, "terminate_backends", True, True, True),
        (Severity.CRITICAL, "terminate_backends", True, False, False),
    ],
)
def test_only_named_actions_or_permitted_drills_are_auto_approved(
    severity, action, drill, drills_ok, auto
):
    policy = IncidentPolicy(auto_approve={"SEV4": ("restart_pod",)}, drills_auto_approve=drills_ok)

    reason = auto_approval(policy, severity, action, drill=drill)

    assert (reason is not None) is auto
    if reason:
        assert "auto-approved" in reason
