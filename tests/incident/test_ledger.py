"""The sweep's memory is the timeline: what was sent, what is due, what is news."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from incident.ledger import (
    STATUS_UPDATE,
    changes_since,
    customer_impact,
    paged_levels,
    public_status,
    sent,
    status_update_due,
)
from incident.models import TimelineEvent

T0 = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


def ev(seq: int, step: str, status: str = "completed", minutes: float = 0) -> TimelineEvent:
    return TimelineEvent(
        incident_id="INC-1",
        phase="p",
        step=step,
        status=status,
        message=f"{step} {status}",
        at=T0 + timedelta(minutes=minutes),
        seq=seq,
    )


def test_an_update_is_due_a_cadence_after_the_last_attempt_or_the_declaration() -> None:
    cadence = timedelta(minutes=15)
    timeline = [ev(1, "declared")]
    due = lambda t, m: status_update_due(  # noqa: E731
        t, cadence=cadence, declared_at=T0, now=T0 + timedelta(minutes=m)
    )

    assert not due(timeline, 14)
    assert due(timeline, 15)
    failed_attempt = [*timeline, ev(2, STATUS_UPDATE, "failed", minutes=15)]
    assert not due(failed_attempt, 20)  # a Slack outage is retried at the cadence, not per sweep
    assert due(failed_attempt, 30)


def test_no_cadence_means_no_timed_update() -> None:
    assert not status_update_due([], cadence=None, declared_at=T0, now=T0 + timedelta(days=9))


def test_the_latest_attempt_decides_whether_something_was_sent() -> None:
    assert not sent([ev(1, "page:trigger", "failed")], "page:trigger")
    assert sent([ev(1, "page:trigger", "failed"), ev(2, "page:trigger", "started")], "page:trigger")
    assert not sent([ev(1, "page:acknowledge")], "page:trigger")


def test_deliveries_and_step_starts_are_not_news() -> None:
    timeline = [
        ev(1, "declared"),
        ev(2, "assess", "started"),
        ev(3, STATUS_UPDATE),
        ev(4, "assess"),
        ev(5, "page:trigger"),
        ev(6, "escalated", "escalated"),
    ]

    assert [e.seq for e in changes_since(timeline, 3)] == [4, 6]
    assert [e.seq for e in changes_since(timeline, None)] == [1, 4, 6]


def test_paged_levels_and_customer_impact_are_read_back() -> None:
    timeline = [
        ev(1, "escalate:level-1"),
        ev(2, "escalate:level-2", "failed"),
        ev(3, "impact:customer", "confirmed"),
    ]

    assert paged_levels(timeline) == {1}  # a failed page is tried again
    assert customer_impact(timeline) is not None
    assert customer_impact([*timeline, ev(4, "impact:customer", "none")]) is None


def test_a_crashed_incident_still_reads_investigating_on_the_status_page() -> None:
    assert public_status("crashed") == "investigating"
    assert public_status("mitigating") == "identified"
    assert public_status("resolved") == "resolved"
