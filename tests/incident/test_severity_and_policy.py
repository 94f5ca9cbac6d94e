"""Severity schemes of all five runbooks, and the policy's runbook defaults and overrides."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from incident.models import Alert
from incident.objectives import DEFAULT_OBJECTIVES
from incident.policy import IncidentPolicy
from incident.severity import Severity, SeverityScheme


@pytest.mark.parametrize(
    ("written", "level"),
    [
        ("P1", Severity.CRITICAL),
        ("p4", Severity.LOW),
        ("SEV1", Severity.CRITICAL),
        ("SEV 2", Severity.HIGH),
        ("sev3", Severity.MEDIUM),
        ("SEV-0", Severity.CRITICAL),
        ("SEV-1", Severity.HIGH),
        ("SEV-3", Severity.LOW),
        ("critical", Severity.CRITICAL),
        (" Medium ", Severity.MEDIUM),
        (2, Severity.HIGH),
    ],
)
def test_every_runbook_scheme_maps_onto_the_canonical_scale(written, level):
    assert Severity.parse(written) is level


def test_hyphenated_sev_is_the_zero_based_scheme_of_runbook_003():
    assert Severity.parse("SEV-1") is not Severity.parse("SEV1")
    assert Severity.parse("SEV-1") is Severity.parse("SEV2")


@pytest.mark.parametrize("wrong", ["SEV5", "P0", "SEV-4", "urgent", "", 7, True, []])
def test_a_wrong_severity_is_a_validation_error_naming_the_accepted_forms(wrong):
    with pytest.raises(ValidationError) as caught:
        Alert(name="x", severity=wrong)
    message = str(caught.value)
    assert "P1-P4" in message and "SEV-0" in message and "SEV1" in message


@given(st.sampled_from(list(Severity)), st.sampled_from(list(SeverityScheme)))
def test_a_label_written_in_any_scheme_reads_back_as_the_same_level(level, scheme):
    assert Severity.parse(level.label(scheme)) is level


def test_severity_round_trips_through_json():
    alert = Alert(name="x", severity="SEV-0")
    again = Alert.model_validate_json(alert.model_dump_json())
    assert again.severity is Severity.CRITICAL


def test_default_objectives_are_the_runbooks_values():
    critical = DEFAULT_OBJECTIVES[Severity.CRITICAL]
    assert critical.initial_response == timedelta(minutes=5)  # runbook 000, P1
    assert critical.resolution_target == timedelta(hours=1)  # runbook 000, P1
    assert critical.acknowledgement == timedelta(minutes=15)  # runbook 003, SEV-0
    assert critical.status_update_cadence == timedelta(minutes=15)  # runbook 001, SEV1
    assert DEFAULT_OBJECTIVES[Severity.HIGH].status_update_cadence == timedelta(minutes=30)
    assert DEFAULT_OBJECTIVES[Severity.MEDIUM].status_update_cadence == timedelta(hours=1)
    assert [s.contact for s in critical.escalation] == [
        "On-call engineer",
        "DevOps Lead",
        "Engineering Manager",
        "CTO",
    ]  # runbook 002's matrix
    assert critical.page_on_call and not DEFAULT_OBJECTIVES[Severity.LOW].page_on_call


def test_overriding_one_level_keeps_the_others_at_their_defaults():
    faster = DEFAULT_OBJECTIVES[Severity.CRITICAL].model_copy(
        update={"initial_response": timedelta(minutes=2)}
    )
    policy = IncidentPolicy(objectives={"SEV-0": faster})
    assert policy.for_severity(Severity.CRITICAL).initial_response == timedelta(minutes=2)
    assert policy.for_severity(Severity.HIGH) == DEFAULT_OBJECTIVES[Severity.HIGH]


def test_policy_survives_a_json_round_trip_as_a_block_document_would():
    policy = IncidentPolicy(scheme="P", approval_timeout=timedelta(seconds=90))
    again = IncidentPolicy.model_validate_json(policy.model_dump_json())
    assert again == policy
    assert again.for_severity(Severity.LOW) == DEFAULT_OBJECTIVES[Severity.LOW]


def test_escalation_goes_one_step_up_the_matrix_with_elapsed_time():
    policy = IncidentPolicy()
    assert policy.escalation_contact(Severity.CRITICAL, timedelta(minutes=1)) == "On-call engineer"
    assert policy.escalation_contact(Severity.CRITICAL, timedelta(minutes=20)) == "DevOps Lead"
    assert policy.escalation_contact(Severity.CRITICAL, timedelta(hours=3)) == "CTO"
    assert policy.escalation_contact(Severity.LOW, timedelta(hours=3)) == "On-call engineer"


def test_messages_use_the_scheme_the_policy_names():
    assert Severity.CRITICAL.label(SeverityScheme.P) == "P1"
    assert Severity.CRITICAL.label(SeverityScheme.SEV) == "SEV1"
    assert Severity.CRITICAL.label(SeverityScheme.SEV_ZERO) == "SEV-0"


def test_each_runbook_preset_states_its_own_numbers_where_the_runbooks_disagree():
    wearforce = IncidentPolicy.from_runbook("004")
    assert wearforce.for_severity(Severity.CRITICAL).resolution_target == timedelta(hours=4)
    assert wearforce.for_severity(Severity.LOW).resolution_target == timedelta(days=5)
    assert wearforce.for_severity(Severity.HIGH).initial_response == timedelta(minutes=30)
    mgmtvibe = IncidentPolicy.from_runbook("003")
    assert mgmtvibe.scheme is SeverityScheme.SEV_ZERO
    assert mgmtvibe.for_severity(Severity.HIGH).acknowledgement == timedelta(hours=2)
    assert Severity.CRITICAL.label(mgmtvibe.scheme) == "SEV-0"
    warehouse = IncidentPolicy.from_runbook("000", approval_timeout=timedelta(minutes=3))
    assert warehouse.scheme is SeverityScheme.P
    assert warehouse.approval_timeout == timedelta(minutes=3)
    assert warehouse.for_severity(Severity.CRITICAL).resolution_target == timedelta(hours=1)
    # what a preset does not state keeps the defaults
    assert wearforce.for_severity(Severity.CRITICAL).escalation == (
        DEFAULT_OBJECTIVES[Severity.CRITICAL].escalation
    )


def test_an_unknown_preset_or_an_overlong_message_wait_is_refused():
    with pytest.raises(ValueError, match="000"):
        IncidentPolicy.from_runbook("999")
    with pytest.raises(ValidationError, match="notification_max_wait"):
        IncidentPolicy(notification_max_wait=timedelta(minutes=5))


def test_management_hears_of_the_top_two_levels_only_by_default():
    policy = IncidentPolicy()

    hears = {level: "management" in policy.stakeholders[level] for level in Severity}

    assert hears == {
        Severity.CRITICAL: True,
        Severity.HIGH: True,
        Severity.MEDIUM: False,
        Severity.LOW: False,
    }
    assert all("engineering" in policy.stakeholders[level] for level in Severity)


def test_communication_fields_default_to_saying_nothing_new():
    policy = IncidentPolicy()

    assert policy.message_templates is None
    assert policy.roles == {} and policy.responders == []
    assert policy.auto_approve == {} and policy.drills_auto_approve is False
    assert policy.status_page_components == {}
    again = IncidentPolicy.model_validate_json(
        IncidentPolicy(stakeholders={"SEV1": ("cto",)}).model_dump_json()
    )
    assert again.stakeholders[Severity.CRITICAL] == ("cto",)
