"""The sweep's timers: escalation only while unacknowledged, approvals re-sent level by level,
outages of the status page and PagerDuty survived, one sweep per incident at a time."""

from __future__ import annotations

import itertools
import time
from datetime import timedelta
from pathlib import Path

import pytest

from flows.notify_due import IncidentLocks, notify_due, react_now
from flows.reactions import Channels
from incident.models import Plan
from incident.severity import Severity
from incident.template_loader import TemplateConfigError
from tests.flows import comms_support as engine

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]


@pytest.fixture
def sweep(incident_store, slack_workspace, status_page, pager):
    def run(now=None, **overrides):
        params = {
            "store": incident_store,
            "slack": slack_workspace,
            "status_page": status_page,
            "pager": pager,
            "policy": engine.compressed_policy(),
            "now": now,
        }
        params.update(overrides)
        return notify_due(**params)

    return run


def steps(record, incident_id, prefix):
    return [e.step for e in record.timeline(incident_id) if e.step.startswith(prefix)]


def test_an_acknowledged_incident_does_not_escalate(record, sweep, pagerduty_stub, slack_stub):
    scribe = engine.declare(record)
    engine.acknowledge(scribe)

    for seconds in (11, 22, 33, 44):
        sweep(engine.at(scribe, seconds))

    assert steps(record, scribe.incident.id, "escalate:") == []
    assert not any(t.startswith("⏫ ESCALATION") for t in slack_stub.texts())
    assert pagerduty_stub.actions() == ["trigger", "acknowledge"]


def test_an_unacknowledged_incident_escalates_one_level_per_step_of_the_matrix(
    record, sweep, pagerduty_stub
):
    scribe = engine.declare(record)

    seen = []
    for seconds in (5, 11, 15, 21, 31, 41, 60):
        sweep(engine.at(scribe, seconds))
        seen.append(len(steps(record, scribe.incident.id, "escalate:level-")) // 2)

    assert seen == [0, 1, 1, 2, 3, 4, 4]  # started + completed per level; none above the CTO
    contacts = [e["payload"]["custom_details"].get("contact") for e in pagerduty_stub.events]
    assert contacts == [None, "On-call engineer", "DevOps Lead", "Engineering Manager", "CTO"]


def test_an_unanswered_approval_is_re_sent_to_each_level_then_left_to_expire(
    record, sweep, slack_stub, pagerduty_stub
):
    policy = engine.compressed_policy(approval_timeout="PT10S")
    scribe = engine.declare(record)
    plan = Plan(action="terminate_backends", target="orders-db", reason="pool exhausted")
    record.record_plan(scribe.incident.id, plan)
    asked = scribe.event(
        "mitigate", "approval", "started", "approval requested", plan_digest=plan.digest
    )  # fmt: skip
    at = lambda s: asked.at + timedelta(seconds=s)  # noqa: E731

    for seconds in (5, 11, 12, 21, 31, 45):
        sweep(at(seconds), policy=policy)

    resent = [t for t in slack_stub.texts() if t.startswith("⏸ APPROVAL NEEDED")]
    assert [t.split("Asking: ")[1].split(" (")[0] for t in resent] == [
        "DevOps Lead",
        "Engineering Manager",
        "CTO",
    ]
    assert "then the request goes to the next escalation level" in resent[0]
    assert "then nothing is done and the approval expires" in resent[-1]
    assert all(plan.digest in t for t in resent)
    paged = [e["payload"]["custom_details"]["contact"] for e in pagerduty_stub.events[1:]]
    assert "DevOps Lead" in paged and "CTO" in paged


def test_an_answered_approval_is_not_re_sent(record, sweep, slack_stub):
    policy = engine.compressed_policy(approval_timeout="PT10S")
    scribe = engine.declare(record)
    plan = Plan(action="terminate_backends", target="orders-db", reason="pool exhausted")
    record.record_plan(scribe.incident.id, plan)
    asked = scribe.event("mitigate", "approval", "started", "asked", plan_digest=plan.digest)
    scribe.event("mitigate", "approval", "completed", "approval approved by jane")

    sweep(asked.at + timedelta(seconds=15), policy=policy)

    assert not any(t.startswith("⏸ APPROVAL NEEDED") for t in slack_stub.texts())


def test_status_page_and_pager_outages_never_stop_the_slack_updates(
    record, sweep, slack_stub, statuspage_stub, pagerduty_stub
):
    statuspage_stub.fail_always(503)
    pagerduty_stub.fail_always(503)
    scribe = engine.declare(record)
    engine.assess_and_ask(scribe)  # customer impact confirmed: the status page is due

    started = time.monotonic()
    sweep(engine.at(scribe, 11))
    assert time.monotonic() - started < 60  # bounded by the policy's 2 s per delivery

    timeline = record.timeline(scribe.incident.id)
    failed = {e.step for e in timeline if e.status == "failed"}
    assert {"page:trigger", "statuspage:create", "page:level-1"} <= failed
    assert any(t.startswith("⏰ INCIDENT UPDATE") for t in slack_stub.texts())

    statuspage_stub.clear_faults()
    pagerduty_stub.clear_faults()
    sweep(engine.at(scribe, 12))
    assert pagerduty_stub.actions() == ["trigger"]
    assert len(statuspage_stub.incidents) == 1


def test_an_incident_another_sweep_is_handling_is_skipped(
    record, sweep, incident_store, slack_stub
):
    scribe = engine.declare(record)

    locks = IncidentLocks(incident_store.dsn.get_secret_value(), incident_store.schema_name)
    with locks as other, other.hold(scribe.incident.id) as got:
        assert got
        assert sweep(engine.at(scribe, 11)) == {}
    assert slack_stub.calls == []
    assert scribe.incident.id in sweep(engine.at(scribe, 11))


def test_the_engine_reacts_at_once_unless_a_sweep_holds_the_incident(
    record, incident_store, slack_workspace, slack_stub
):
    scribe = engine.declare(record)
    channels = Channels(slack=slack_workspace)
    policy = engine.compressed_policy()
    locks = IncidentLocks(incident_store.dsn.get_secret_value(), incident_store.schema_name)

    with locks as sweeping, sweeping.hold(scribe.incident.id):
        assert react_now(incident_store, scribe.incident.id, channels, policy) is None
    assert slack_stub.calls == []

    done = react_now(incident_store, scribe.incident.id, channels, policy)
    assert "slack:channel" in done and "notify:roles" in done


def test_updates_follow_the_cadence_on_the_real_clock(record, sweep, slack_stub):
    policy = engine.compressed_policy()
    sev1 = policy.objectives[Severity.CRITICAL]
    every_2s = sev1.model_copy(update={"status_update_cadence": timedelta(seconds=2)})
    fast = policy.model_copy(
        update={"objectives": {**policy.objectives, Severity.CRITICAL: every_2s}}
    )
    engine.declare(record)

    def updates():
        posted = [c for c in slack_stub.calls_to("chat.postMessage") if c.ok]
        return [c for c in posted if str(c.body.get("text", "")).startswith("⏰")]

    deadline = time.monotonic() + 120
    while len(updates()) < 3 and time.monotonic() < deadline:
        sweep(policy=fast)  # as often as the machine allows: most sweeps find nothing due

    posted = updates()
    assert len(posted) >= 3, "three updates were not posted within 120 s"
    gaps = [b.received_at - a.received_at for a, b in itertools.pairwise(posted)]
    assert all(gap >= 1.9 for gap in gaps)


def test_a_broken_template_override_stops_the_sweep_before_anything_is_sent(
    record, sweep, slack_stub, tmp_path: Path
):
    (tmp_path / "status_update.txt.j2").write_text("{% if %}\n")
    engine.declare(record)

    with pytest.raises(TemplateConfigError, match=r"status_update\.txt\.j2:1"):
        sweep(policy=engine.compressed_policy(message_templates=str(tmp_path)))
    assert slack_stub.calls == []


def test_a_drill_talks_in_slack_but_pages_nobody_and_leaves_the_status_page_alone(
    record, sweep, slack_stub, statuspage_stub, pagerduty_stub
):
    scribe = engine.declare(record, drill=True)
    engine.assess_and_ask(scribe)  # customer impact "confirmed" in the drill

    for seconds in (11, 22):
        sweep(engine.at(scribe, seconds))

    assert any(t.startswith("⏰ INCIDENT UPDATE") for t in slack_stub.texts())
    assert any(t.startswith("⏫ ESCALATION") for t in slack_stub.texts())
    assert not any(t.startswith("Subject: Service Disruption") for t in slack_stub.texts())
    assert pagerduty_stub.calls == [] and statuspage_stub.calls == []
