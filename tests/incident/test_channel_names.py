"""Incident channel names follow Slack's rules, whatever the service is called."""

from __future__ import annotations

import re
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from incident.channel_names import MAX_CHANNEL_NAME, channel_name

DAY = date(2026, 12, 2)


def test_the_runbook_form_is_kept() -> None:
    assert channel_name(DAY, "payments") == "incident-2026-12-02-payments"


def test_a_collision_gets_a_numbered_suffix() -> None:
    assert channel_name(DAY, "payments", 2) == "incident-2026-12-02-payments-2"


def test_capitals_spaces_and_punctuation_become_single_hyphens() -> None:
    assert (
        channel_name(DAY, "Orders DB (EU) / primary") == "incident-2026-12-02-orders-db-eu-primary"
    )


@given(st.text(), st.integers(min_value=1, max_value=999))
def test_every_name_is_one_slack_accepts_and_keeps_its_suffix(service: str, attempt: int) -> None:
    name = channel_name(DAY, service, attempt)

    assert len(name) <= MAX_CHANNEL_NAME
    assert re.fullmatch(r"[a-z0-9_-]+", name)
    assert name.startswith("incident-2026-12-02-")
    if attempt > 1:
        assert name.endswith(f"-{attempt}")
