"""Message templates: runbook content by default, overrides without code, broken ones refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from incident import templates
from incident.models import Alert, Incident, Plan
from incident.policy import IncidentPolicy
from incident.template_loader import TEMPLATE_NAMES, TemplateConfigError

STARTED = datetime(2026, 12, 2, 3, 4, 5, tzinfo=UTC)


def incident() -> Incident:
    alert = Alert(
        name="PaymentsDown",
        severity="SEV1",
        summary="all card payments failing",
        service="payments",
        starts_at=STARTED,
    )
    return Incident(
        title="Payment processing down",
        severity=alert.severity,
        scenario="outage",
        alert=alert,
        commander="U0JANE",
        channel="#incident-2026-12-02-payments",
    )


def test_declaration_carries_every_field_of_the_runbook_templates() -> None:
    text = templates.declaration(incident(), IncidentPolicy())

    assert text.splitlines()[0] == "🚨 INCIDENT DECLARED - SEV1 🚨"
    for line in (
        "Issue: Payment processing down",
        "Impact: all card payments failing",
        "Severity: SEV1",
        "Status: Investigating",
        "Commander: <@U0JANE>",
        "Started: 2026-12-02 03:04:05 UTC",
        "Next Update: 15 minutes",
        "Channel: #incident-2026-12-02-payments",
    ):
        assert line in text.splitlines()


def test_the_policy_scheme_names_the_severity() -> None:
    text = templates.declaration(incident(), IncidentPolicy.from_runbook("003"))

    assert "Severity: SEV-0" in text


def test_block_kit_says_what_the_plain_text_fallback_says() -> None:
    declared = incident()
    message = templates.declaration_message(declared, IncidentPolicy())

    header, *sections, context = message.blocks
    assert header["type"] == "header"
    assert header["text"]["text"] == message.text.splitlines()[0]
    body = "\n".join(s["text"]["text"] for s in sections)
    assert "Issue: Payment processing down" in body and "━" not in body
    assert (
        context["elements"][0]["text"] == incident().id or "INC-" in context["elements"][0]["text"]
    )


def test_resolution_says_duration_root_cause_fix_impact_and_follow_ups() -> None:
    text = templates.resolution(
        incident(),
        resolved_at=STARTED + timedelta(hours=1, minutes=30),
        root_cause="connection pool exhausted",
        fix="terminated 6 idle sessions",
        monitoring="watching for 30 min",
        follow_ups=["Add pooling", "Alert on idle-in-transaction"],
    )

    assert "Total Duration: 1h 30m 0s" in text
    assert "Root Cause: connection pool exhausted" in text
    assert "Fix Applied: terminated 6 idle sessions" in text
    assert "Impact: all card payments failing" in text
    assert "- Add pooling" in text and "- Alert on idle-in-transaction" in text


def test_a_customer_notice_uses_runbook_003s_words_and_the_policy_signature() -> None:
    policy = IncidentPolicy(customer_signature="Payments Operations")

    text = templates.customer_notification(incident(), policy, status="investigating")

    assert text.startswith("Subject: Service Disruption Notice")
    assert "Incident reference: " + incident().id[:4] in text
    assert "Estimated resolution time: within 1 hour" in text
    assert text.endswith("Payments Operations")


def test_an_override_replaces_one_template_and_the_others_stay(tmp_path: Path) -> None:
    (tmp_path / "declaration.txt.j2").write_text("SEV! {{ label }} {{ incident.title }}\n")
    policy = IncidentPolicy(message_templates=str(tmp_path))

    assert templates.declaration(incident(), policy) == "SEV! SEV1 Payment processing down"
    plan = Plan(action="terminate_backends", target="db", reason="pool exhausted")
    asked = templates.approval_needed(
        incident(), plan, policy, deadline=STARTED, where="the Prefect UI"
    )
    assert asked.startswith("⏸ APPROVAL NEEDED - SEV1")


def test_an_override_with_a_syntax_error_is_refused_at_load_with_its_path_and_line(
    tmp_path: Path,
) -> None:
    broken = tmp_path / "status_update.txt.j2"
    broken.write_text("UPDATE {{ label }}\nStatus: {{ status }\nNext: {{ next_update }}\n")

    with pytest.raises(TemplateConfigError) as refused:
        templates.templates_for(IncidentPolicy(message_templates=str(tmp_path)))

    assert str(refused.value).startswith(f"{broken}:2: syntax error")
    assert refused.value.path == str(broken)
    assert refused.value.line == 2


def test_an_override_using_a_variable_nobody_passes_is_refused_at_load(tmp_path: Path) -> None:
    broken = tmp_path / "resolution.txt.j2"
    broken.write_text("RESOLVED {{ incident.id }}\nCustomers: {{ customers_affected }}\n")

    with pytest.raises(TemplateConfigError) as refused:
        templates.templates_for(IncidentPolicy(message_templates=str(tmp_path)))

    assert str(refused.value).startswith(f"{broken}:2: ")
    assert "customers_affected" in str(refused.value)


def test_an_override_including_a_missing_file_is_refused_at_load(tmp_path: Path) -> None:
    broken = tmp_path / "escalation.txt.j2"
    broken.write_text("ESCALATED\n{% include '_footer.txt' %}\n")

    with pytest.raises(TemplateConfigError) as refused:
        templates.templates_for(IncidentPolicy(message_templates=str(tmp_path)))

    assert str(refused.value).startswith(f"{broken}:2: ")
    assert "_footer.txt" in str(refused.value)


def test_an_included_helper_file_is_allowed(tmp_path: Path) -> None:
    (tmp_path / "_footer.txt").write_text("-- the payments team")
    (tmp_path / "escalation.txt.j2").write_text(
        "ESCALATED {{ contact }}\n{% include '_footer.txt' %}"
    )
    policy = IncidentPolicy(message_templates=str(tmp_path))

    text = templates.escalation(incident(), policy, "nobody answered", "DevOps Lead")

    assert text == "ESCALATED DevOps Lead\n-- the payments team"


def test_a_misnamed_override_is_refused_instead_of_silently_ignored(tmp_path: Path) -> None:
    typo = tmp_path / "declaraton.txt.j2"
    typo.write_text("never used")

    with pytest.raises(TemplateConfigError) as refused:
        templates.templates_for(IncidentPolicy(message_templates=str(tmp_path)))

    assert str(refused.value).startswith(f"{typo}: ")
    assert "declaration.txt.j2" in str(refused.value)


def test_a_missing_override_directory_is_refused_naming_it(tmp_path: Path) -> None:
    gone = tmp_path / "not-there"

    with pytest.raises(TemplateConfigError) as refused:
        templates.templates_for(IncidentPolicy(message_templates=str(gone)))

    assert str(gone) in str(refused.value)
    assert "does not exist" in str(refused.value)


def test_every_message_the_runbooks_name_has_a_template() -> None:
    assert {
        "declaration",
        "roles",
        "status_update",
        "resolution",
        "escalation",
        "approval_needed",
        "stakeholder_notice",
        "customer_notification",
        "customer_resolution",
        "statuspage",
    } <= set(TEMPLATE_NAMES)
