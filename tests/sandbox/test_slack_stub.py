"""The stub speaks enough Slack for the real ``slack_sdk.WebClient``, and fails on demand."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sandbox.slack_stub import SlackStub
from tests.fixtures.slack import SLACK_TEST_TOKEN


def web_client(stub: SlackStub, token: str = SLACK_TEST_TOKEN, timeout: float = 5) -> WebClient:
    return WebClient(token=token, base_url=stub.base_url, timeout=timeout, retry_handlers=[])  # type: ignore[arg-type]


def test_base_url_ends_in_api_slash_so_the_sdk_appends_the_method(slack_stub: SlackStub) -> None:
    assert slack_stub.base_url == f"http://127.0.0.1:{slack_stub.port}/api/"


def test_posted_message_is_answered_like_slack_and_recorded(slack_stub: SlackStub) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*SEV2* declared"}}]

    answer = web_client(slack_stub).chat_postMessage(
        channel="#incident-response", text="SEV2 declared", blocks=blocks
    )

    assert answer["ok"] is True
    assert answer["channel"].startswith("C")
    assert answer["ts"]
    assert slack_stub.texts("#incident-response") == ["SEV2 declared"]
    assert slack_stub.messages(answer["channel"])[0]["blocks"] == blocks
    (call,) = slack_stub.calls
    assert call.method == "chat.postMessage"
    assert call.headers["Authorization"] == f"Bearer {SLACK_TEST_TOKEN}"
    assert call.fault is None
    assert SLACK_TEST_TOKEN not in repr(call)


def test_each_post_gets_a_later_timestamp(slack_stub: SlackStub) -> None:
    client = web_client(slack_stub)
    stamps = [client.chat_postMessage(channel="#a", text=str(i))["ts"] for i in range(3)]

    assert stamps == sorted(stamps, key=float)
    assert len(set(stamps)) == 3


def test_messages_are_kept_per_channel(slack_stub: SlackStub) -> None:
    client = web_client(slack_stub)
    client.chat_postMessage(channel="#a", text="to a")
    client.chat_postMessage(channel="#b", text="to b")

    assert slack_stub.texts("#a") == ["to a"]
    assert slack_stub.texts("b") == ["to b"]
    assert slack_stub.texts("#never-used") == []
    assert slack_stub.texts() == ["to a", "to b"]


def test_form_encoded_calls_create_join_and_update(slack_stub: SlackStub) -> None:
    client = web_client(slack_stub)

    created = client.conversations_create(name="inc-2024-payments")  # the SDK sends a form
    channel_id = created["channel"]["id"]
    joined = client.conversations_join(channel=channel_id)
    posted = client.chat_postMessage(channel=channel_id, text="investigating")
    updated = client.chat_update(channel=channel_id, ts=posted["ts"], text="identified")

    assert created["channel"]["name"] == "inc-2024-payments"
    assert joined["channel"]["id"] == channel_id
    assert updated["text"] == "identified"
    assert slack_stub.calls_to("conversations.create")[0].body == {"name": "inc-2024-payments"}
    with pytest.raises(SlackApiError) as taken:
        client.conversations_create(name="inc-2024-payments")
    assert taken.value.response["error"] == "name_taken"


def test_updating_an_unknown_message_is_message_not_found(slack_stub: SlackStub) -> None:
    with pytest.raises(SlackApiError) as refused:
        web_client(slack_stub).chat_update(channel="#a", ts="1.000001", text="x")

    assert refused.value.response["error"] == "message_not_found"


def test_auth_test_answers_for_the_expected_token(slack_stub: SlackStub) -> None:
    answer = web_client(slack_stub).auth_test()

    assert answer["ok"] is True
    assert answer["bot_id"]


def test_wrong_token_is_invalid_auth_with_http_200(slack_stub: SlackStub) -> None:
    with pytest.raises(SlackApiError) as refused:
        web_client(slack_stub, token="xoxb-wrong").chat_postMessage(channel="#a", text="hi")

    assert refused.value.response.status_code == 200
    assert refused.value.response["error"] == "invalid_auth"
    assert slack_stub.messages() == []


def test_missing_token_is_not_authed(slack_stub: SlackStub) -> None:
    client = WebClient(base_url=slack_stub.base_url, retry_handlers=[])

    with pytest.raises(SlackApiError) as refused:
        client.api_call("auth.test")

    assert refused.value.response["error"] == "not_authed"


def test_unknown_method_is_answered_unknown_method(slack_stub: SlackStub) -> None:
    with pytest.raises(SlackApiError) as refused:
        web_client(slack_stub).api_call("pins.add", json={"channel": "#a"})

    assert refused.value.response["error"] == "unknown_method"
    assert slack_stub.calls[0].method == "pins.add"


def test_restricted_stub_knows_only_its_channels() -> None:
    with SlackStub(SLACK_TEST_TOKEN, channels=["incident-response"]) as stub:
        client = web_client(stub)
        client.chat_postMessage(channel="#incident-response", text="ok")
        with pytest.raises(SlackApiError) as refused:
            client.chat_postMessage(channel="#nowhere", text="lost")

    assert refused.value.response["error"] == "channel_not_found"
    assert stub.texts() == ["ok"]


def test_fail_next_answers_5xx_then_recovers_and_is_recorded(slack_stub: SlackStub) -> None:
    client = web_client(slack_stub)
    slack_stub.fail_next(2, status=503)

    statuses = []
    for _ in range(2):
        with pytest.raises(SlackApiError) as failed:
            client.chat_postMessage(channel="#a", text="retry me")
        statuses.append(failed.value.response.status_code)
    client.chat_postMessage(channel="#a", text="retry me")

    assert statuses == [503, 503]
    assert [c.fault for c in slack_stub.calls] == ["http_503", "http_503", None]
    assert slack_stub.texts() == ["retry me"]


def test_rate_limit_is_http_429_with_retry_after(slack_stub: SlackStub) -> None:
    slack_stub.rate_limit_next(1, retry_after=7)

    with pytest.raises(SlackApiError) as limited:
        web_client(slack_stub).chat_postMessage(channel="#a", text="hi")

    response = limited.value.response
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response["error"] == "ratelimited"
    assert slack_stub.calls[0].fault == "ratelimited"
    assert slack_stub.messages() == []


def test_error_next_answers_a_slack_error_with_http_200(slack_stub: SlackStub) -> None:
    slack_stub.error_next(1, "not_in_channel")

    with pytest.raises(SlackApiError) as refused:
        web_client(slack_stub).chat_postMessage(channel="#a", text="hi")

    assert refused.value.response.status_code == 200
    assert refused.value.response["error"] == "not_in_channel"


def test_fail_always_lasts_until_clear_faults(slack_stub: SlackStub) -> None:
    client = web_client(slack_stub)
    slack_stub.fail_always(502)
    for _ in range(3):
        with pytest.raises(SlackApiError):
            client.auth_test()

    slack_stub.clear_faults()

    assert client.auth_test()["ok"] is True
    assert [c.fault for c in slack_stub.calls] == ["http_502"] * 3 + [None]


def test_hung_request_times_the_client_out_and_still_takes_effect(slack_stub: SlackStub) -> None:
    slack_stub.hang_next(1, seconds=0.6)

    with pytest.raises((TimeoutError, urllib.error.URLError)):
        web_client(slack_stub, timeout=0.2).chat_postMessage(channel="#a", text="slow")

    assert slack_stub.calls[0].fault == "hang"
    assert slack_stub.texts() == []
    deadline = time.monotonic() + 30
    while not slack_stub.texts() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert slack_stub.texts() == ["slow"]  # as with Slack, a timed-out post may have landed


def test_stop_releases_hung_requests_at_once() -> None:
    stub = SlackStub().start()
    stub.hang_next(1, seconds=60)
    client = web_client(stub, timeout=30)
    worker = threading.Thread(target=lambda: client.auth_test(), daemon=True)
    worker.start()
    while not stub.calls:
        time.sleep(0.01)

    stub.stop()
    worker.join(timeout=40)  # well before the 60 s the request was told to hang

    assert not worker.is_alive(), "stop() left a hung request hanging"


def test_module_runs_as_a_server_printing_its_base_url() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.slack_stub", "--port", "0", "--quiet"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        answer = WebClient(token="xoxb-any", base_url=base_url, retry_handlers=[]).auth_test()
        assert base_url.startswith("http://127.0.0.1:")
        assert answer["ok"] is True
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0  # a loaded machine may take a while to get there
