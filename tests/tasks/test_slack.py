"""``post_message`` through the real WebClient against the Slack stub.

The rule under test: a Slack failure is retried and recorded, never raised, and never
leaks the bot token.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from prefect import flow
from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings

from blocks.slack import SlackWorkspace
from sandbox.slack_stub import SlackStub
from tasks.slack import post_message
from tests.fixtures.slack import SLACK_TEST_TOKEN

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]


def test_message_is_delivered_on_the_first_try(
    slack_stub: SlackStub, slack_workspace: SlackWorkspace
) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*SEV2* declared"}}]

    delivery = post_message(slack_workspace, "SEV2 declared", kind="declaration", blocks=blocks)

    assert delivery.delivered is True
    assert delivery.attempts == 1
    assert delivery.kind == "declaration"
    assert delivery.error == ""
    posted = slack_stub.calls[0].response
    assert posted is not None
    assert (delivery.channel, delivery.ts) == (posted["channel"], posted["ts"])
    assert slack_stub.messages("#incident-response")[0]["blocks"] == blocks


def test_channel_argument_overrides_the_workspace_incident_channel(
    slack_stub: SlackStub, slack_workspace: SlackWorkspace
) -> None:
    post_message(slack_workspace, "to the war room", channel="#inc-payments")

    assert slack_stub.texts("#inc-payments") == ["to the war room"]
    assert slack_stub.texts("#incident-response") == []


def test_rate_limited_post_waits_out_retry_after_then_delivers(
    slack_stub: SlackStub, slack_workspace: SlackWorkspace
) -> None:
    slack_stub.rate_limit_next(1, retry_after=1)

    delivery = post_message(slack_workspace, "update")

    assert delivery.delivered is True
    assert delivery.attempts == 2
    first, second = slack_stub.calls
    assert second.received_at - first.received_at >= 0.95
    assert slack_stub.texts() == ["update"]


def test_server_errors_are_retried_until_delivered(
    slack_stub: SlackStub, slack_workspace: SlackWorkspace
) -> None:
    slack_stub.fail_next(2, status=500)

    delivery = post_message(slack_workspace, "update")

    assert delivery.delivered is True
    assert delivery.attempts == 3
    assert [c.fault for c in slack_stub.calls] == ["http_500", "http_500", None]


def test_persistent_server_errors_end_undelivered_after_every_attempt(
    slack_stub: SlackStub, slack_workspace: SlackWorkspace
) -> None:
    slack_stub.fail_always(500)

    delivery = post_message(slack_workspace, "update", attempts=3, max_wait_seconds=5)

    assert delivery.delivered is False
    assert delivery.attempts == 3
    assert len(slack_stub.calls) == 3
    assert "HTTP 500" in delivery.error
    assert delivery.channel == "#incident-response"


def test_deadline_ends_retries_even_with_attempts_to_spare(
    slack_stub: SlackStub, slack_workspace: SlackWorkspace
) -> None:
    slack_stub.fail_always(503)

    delivery = post_message(slack_workspace, "update", attempts=50, max_wait_seconds=1)

    assert delivery.delivered is False
    assert 1 < delivery.attempts < 50
    assert "deadline" in delivery.error


def test_request_that_hangs_past_the_timeout_is_retried(
    slack_stub: SlackStub, slack_workspace: SlackWorkspace
) -> None:
    slack_workspace.timeout_seconds = 0.3
    slack_stub.hang_next(1, seconds=1)

    delivery = post_message(slack_workspace, "update")

    assert delivery.delivered is True
    assert delivery.attempts == 2
    assert slack_stub.calls[0].fault == "hang"


def test_slack_that_never_answers_ends_undelivered_within_the_deadline(
    slack_stub: SlackStub, slack_workspace: SlackWorkspace
) -> None:
    slack_workspace.timeout_seconds = 0.3
    slack_stub.hang_next(20, seconds=3)

    delivery = post_message(slack_workspace, "update", attempts=20, max_wait_seconds=1)

    assert delivery.delivered is False
    assert 2 <= delivery.attempts < 20, "the deadline, not the attempts, ended it"
    assert len(slack_stub.calls) == delivery.attempts
    assert "did not answer" in delivery.error


def test_unreachable_slack_ends_undelivered_and_says_what_to_check(
    slack_workspace: SlackWorkspace,
) -> None:
    with SlackStub() as gone:
        closed_url = gone.base_url  # nothing listens here once the stub stops
    slack_workspace.api_base_url = closed_url

    delivery = post_message(slack_workspace, "update", attempts=2)

    assert delivery.delivered is False
    assert delivery.attempts == 2
    assert "could not reach Slack" in delivery.error
    assert "api_base_url" in delivery.error


def test_retry_after_beyond_max_wait_gives_up_at_once(
    slack_stub: SlackStub, slack_workspace: SlackWorkspace
) -> None:
    slack_stub.rate_limit_next(1, retry_after=120)

    started = time.monotonic()
    delivery = post_message(slack_workspace, "update", max_wait_seconds=5)

    assert time.monotonic() - started < 60, "it must not sleep the 120 s it was asked to"
    assert delivery.delivered is False
    assert delivery.attempts == 1
    assert "rate limited for 120 s" in delivery.error
    assert len(slack_stub.calls) == 1


def test_unknown_channel_is_not_retried_and_says_what_to_check() -> None:
    with SlackStub(SLACK_TEST_TOKEN, channels=["incident-response"]) as stub:
        slack = SlackWorkspace(token=SLACK_TEST_TOKEN, api_base_url=stub.base_url)
        delivery = post_message(slack, "update", channel="#no-such-channel")

    assert delivery.delivered is False
    assert delivery.attempts == 1
    assert len(stub.calls) == 1
    assert "channel_not_found" in delivery.error
    assert "check the channel name" in delivery.error


def test_bot_outside_the_channel_is_told_to_be_invited(
    slack_stub: SlackStub, slack_workspace: SlackWorkspace
) -> None:
    slack_stub.error_next(1, "not_in_channel")

    delivery = post_message(slack_workspace, "update", channel="#inc-payments")

    assert delivery.delivered is False
    assert delivery.attempts == 1
    assert "invite the bot to #inc-payments" in delivery.error


def test_rejected_token_is_not_retried_and_names_the_block(slack_stub: SlackStub) -> None:
    name = f"slack-wrong-token-{uuid.uuid4().hex[:8]}"
    SlackWorkspace(token="xoxb-wrong-0000", api_base_url=slack_stub.base_url).save(name)
    slack = SlackWorkspace.load(name)

    delivery = post_message(slack, "update")

    assert delivery.delivered is False
    assert delivery.attempts == 1
    assert "invalid_auth" in delivery.error
    assert f"check the token in SlackWorkspace block '{name}'" in delivery.error


def test_same_message_posted_twice_in_a_flow_is_posted_twice(
    slack_stub: SlackStub, slack_workspace: SlackWorkspace, tmp_path: Path
) -> None:
    @flow(persist_result=True)  # with results persisted, a cached result could replace a post
    def two_updates() -> None:
        post_message(slack_workspace, "still investigating")
        post_message(slack_workspace, "still investigating")

    with temporary_settings({PREFECT_LOCAL_STORAGE_PATH: tmp_path}):
        two_updates()

    assert slack_stub.texts() == ["still investigating", "still investigating"]


def test_failed_post_never_fails_the_flow_that_sent_it(
    slack_stub: SlackStub, slack_workspace: SlackWorkspace
) -> None:
    slack_stub.fail_always(500)

    @flow
    def mitigation() -> tuple[bool, str]:
        delivery = post_message(slack_workspace, "rolling back", attempts=2)
        return delivery.delivered, "rolled back"

    assert mitigation() == (False, "rolled back")


def test_failure_outside_a_run_is_logged_not_raised(
    slack_stub: SlackStub, slack_workspace: SlackWorkspace, caplog: pytest.LogCaptureFixture
) -> None:
    slack_stub.fail_always(500)

    with caplog.at_level(logging.INFO):
        delivery = post_message.fn(slack_workspace, "update", attempts=2)

    assert delivery.delivered is False
    warnings = [r for r in caplog.records if r.name == "firebreak" and r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "not delivered after 2 attempt(s)" in warnings[0].getMessage()


def _wrong_token(stub: SlackStub) -> SlackWorkspace:
    return SlackWorkspace(token=SLACK_TEST_TOKEN + "-revoked", api_base_url=stub.base_url)


FAILURES: dict[str, Callable[[SlackStub], None]] = {
    "server_error": lambda stub: stub.fail_always(500),
    "rate_limited_too_long": lambda stub: stub.rate_limit_next(1, retry_after=60),
    "hang": lambda stub: stub.hang_next(5, seconds=2),
    "channel_not_found": lambda stub: stub.error_next(1, "channel_not_found"),
    "error_quoting_the_token": lambda stub: stub.error_next(1, f"bad_token_{SLACK_TEST_TOKEN}"),
    "unreachable": lambda stub: stub.stop(),
}


@pytest.mark.parametrize("failure", FAILURES)
def test_bot_token_never_appears_in_the_error_or_the_logs(
    failure: str,
    slack_stub: SlackStub,
    slack_workspace: SlackWorkspace,
    caplog: pytest.LogCaptureFixture,
) -> None:
    slack_workspace.timeout_seconds = 0.3
    FAILURES[failure](slack_stub)

    with caplog.at_level(logging.DEBUG):
        delivery = post_message(slack_workspace, "update", attempts=2, max_wait_seconds=1)

    assert delivery.delivered is False
    assert "not delivered" in caplog.text  # the failure was logged ...
    assert SLACK_TEST_TOKEN not in delivery.error  # ... and nowhere with the token
    assert SLACK_TEST_TOKEN not in caplog.text
    assert SLACK_TEST_TOKEN not in delivery.model_dump_json()


def test_slack_side_error_code_on_http_200_is_retried_until_delivered(
    slack_stub: SlackStub, slack_workspace: SlackWorkspace
) -> None:
    slack_stub.error_next(1, "internal_error")

    delivery = post_message(slack_workspace, "update")

    assert delivery.delivered is True
    assert delivery.attempts == 2
    assert [c.fault for c in slack_stub.calls] == ["error:internal_error", None]
