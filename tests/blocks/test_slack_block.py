"""``SlackWorkspace``: Prefect's block standards, a secret token, a client that reaches Slack."""

from __future__ import annotations

import uuid

import pytest
from prefect.client.orchestration import get_client
from pydantic import ValidationError

from blocks.slack import SlackWorkspace
from sandbox.slack_stub import SlackStub
from tests.fixtures.slack import SLACK_TEST_TOKEN


def test_token_is_hidden_in_repr_and_str(slack_workspace: SlackWorkspace) -> None:
    assert SLACK_TEST_TOKEN not in repr(slack_workspace)
    assert SLACK_TEST_TOKEN not in str(slack_workspace)
    assert slack_workspace.token.get_secret_value() == SLACK_TEST_TOKEN


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_api")
def test_saved_document_returns_the_token_only_obfuscated(
    slack_workspace: SlackWorkspace,
) -> None:
    name = f"slack-{uuid.uuid4().hex[:8]}"
    slack_workspace.save(name)
    slug = SlackWorkspace.get_block_type_slug()

    with get_client(sync_client=True) as client:
        shown = client.read_block_document_by_name(name, slug, include_secrets=False)
        stored = client.read_block_document_by_name(name, slug, include_secrets=True)

    assert SLACK_TEST_TOKEN not in shown.model_dump_json()
    assert shown.data["token"] != SLACK_TEST_TOKEN
    assert set(shown.data["token"]) == {"*"}
    assert stored.data["token"] == SLACK_TEST_TOKEN  # kept, only never shown


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_api")
def test_saved_workspace_loads_back_with_every_field(slack_stub: SlackStub) -> None:
    name = f"slack-{uuid.uuid4().hex[:8]}"
    SlackWorkspace(
        token=SLACK_TEST_TOKEN,
        api_base_url=slack_stub.base_url,
        incident_channel="#inc-war-room",
        timeout_seconds=2.5,
    ).save(name)

    loaded = SlackWorkspace.load(name)

    assert loaded.token.get_secret_value() == SLACK_TEST_TOKEN
    assert loaded.api_base_url == slack_stub.base_url
    assert loaded.incident_channel == "#inc-war-room"
    assert loaded.timeout_seconds == 2.5
    assert loaded.label == f"SlackWorkspace block '{name}'"
    assert loaded.client().auth_test()["ok"] is True


def test_client_reaches_the_configured_api_without_sdk_retries(
    slack_stub: SlackStub, slack_workspace: SlackWorkspace
) -> None:
    client = slack_workspace.client()

    assert client.auth_test()["ok"] is True
    assert client.base_url == slack_stub.base_url
    assert client.timeout == slack_workspace.timeout_seconds
    assert client.retry_handlers == []


def test_api_base_url_without_trailing_slash_still_reaches_the_api(
    slack_stub: SlackStub,
) -> None:
    slack = SlackWorkspace(token=SLACK_TEST_TOKEN, api_base_url=slack_stub.base_url.rstrip("/"))

    assert slack.api_base_url == slack_stub.base_url
    assert slack.client().auth_test()["ok"] is True


def test_api_base_url_must_be_http() -> None:
    with pytest.raises(ValidationError, match="http"):
        SlackWorkspace(token=SLACK_TEST_TOKEN, api_base_url="file:///etc/passwd")
