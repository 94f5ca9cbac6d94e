"""Targets, store and policy blocks: block standards, secrets, clear missing-block errors."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from prefect.blocks.core import Block
from prefect.client.orchestration import get_client
from prefect.testing.standard_test_suites import BlockStandardTestSuite

import blocks
from blocks import (
    BlockNotFound,
    HealthEndpoints,
    HttpEndpoint,
    IncidentPolicyBlock,
    IncidentStore,
    KubernetesTarget,
    PagerDutyService,
    PostgresTarget,
    PrometheusTarget,
    RedisTarget,
    RoutingRulesBlock,
    SlackWorkspace,
    StatusPage,
    load_block,
    resolve_block,
)
from incident.errors import PermanentError, TransientError
from incident.policy import IncidentPolicy

ALL_BLOCKS = {
    HealthEndpoints,
    HttpEndpoint,
    IncidentPolicyBlock,
    IncidentStore,
    KubernetesTarget,
    PagerDutyService,
    PostgresTarget,
    PrometheusTarget,
    RedisTarget,
    RoutingRulesBlock,
    SlackWorkspace,
    StatusPage,
}

SECRET_DSN = "postgresql://app:Hunter2-secret@127.0.0.1:5432/orders"


class TestBlockStandards(BlockStandardTestSuite):
    """Prefect's standard block checks, once, for every block Firebreak ships."""

    @pytest.fixture(params=sorted(ALL_BLOCKS, key=lambda c: c.__name__), ids=lambda c: c.__name__)
    def block(self, request: pytest.FixtureRequest) -> type[Block]:
        return request.param

    def test_has_a_valid_image(self, block: type[Block]) -> None:
        """The suite's version downloads the logo; offline, a logo must be an https image."""
        if block._logo_url is not None:
            assert str(block._logo_url).startswith("https://")
            assert str(block._logo_url).endswith((".png", ".svg"))


def test_the_standards_suite_covers_every_block_the_package_exports():
    exported = {getattr(blocks, name) for name in blocks.__all__}
    assert {b for b in exported if isinstance(b, type) and issubclass(b, Block)} == ALL_BLOCKS


@pytest.mark.parametrize(
    "block",
    [
        PostgresTarget(dsn=SECRET_DSN, name="orders-db"),
        IncidentStore(dsn=SECRET_DSN),
        RedisTarget(url="redis://:Hunter2-secret@127.0.0.1:6379/0"),
        HttpEndpoint(url="https://api.example.com/health", bearer_token="Hunter2-secret"),
        PrometheusTarget(url="https://prometheus.example.com", bearer_token="Hunter2-secret"),
    ],
    ids=["postgres", "store", "redis", "http", "prometheus"],
)
def test_a_secret_never_shows_in_repr_or_label(block):
    assert "Hunter2-secret" not in repr(block)
    assert "Hunter2-secret" not in str(block)
    assert "Hunter2-secret" not in getattr(block, "label", "")


@pytest.mark.prefect
def test_a_saved_dsn_comes_back_from_the_api_only_obfuscated(prefect_api):
    name = f"orders-{uuid.uuid4().hex[:8]}"
    PostgresTarget(dsn=SECRET_DSN, name="orders-db").save(name)
    with get_client(sync_client=True) as client:
        shown = client.read_block_document_by_name(
            name, PostgresTarget.get_block_type_slug(), include_secrets=False
        )
    assert "Hunter2-secret" not in shown.model_dump_json()
    assert PostgresTarget.load(name).dsn.get_secret_value() == SECRET_DSN


@pytest.mark.prefect
@pytest.mark.parametrize("cls", [HttpEndpoint, PrometheusTarget])
def test_a_saved_optional_bearer_token_comes_back_only_obfuscated(prefect_api, cls):
    name = f"token-{uuid.uuid4().hex[:8]}"
    cls(url="https://example.com/health", bearer_token="Hunter2-secret").save(name)
    with get_client(sync_client=True) as client:
        shown = client.read_block_document_by_name(
            name, cls.get_block_type_slug(), include_secrets=False
        )
    assert "Hunter2-secret" not in shown.model_dump_json()
    assert cls.load(name).bearer_token.get_secret_value() == "Hunter2-secret"
    with cls(url="https://example.com/health", bearer_token="Hunter2-secret").client() as http:
        assert http.headers["Authorization"] == "Bearer Hunter2-secret"


@pytest.mark.prefect
def test_a_missing_block_names_itself_and_how_to_create_it(prefect_api):
    with pytest.raises(BlockNotFound) as caught:
        load_block(PostgresTarget, "no-such-db")
    message = str(caught.value)
    assert "no-such-db" in message
    assert "PostgresTarget(...).save('no-such-db')" in message
    assert "prefect block register -m blocks" in message


@pytest.mark.prefect
def test_a_policy_saved_as_a_block_loads_back_with_its_overrides(prefect_api):
    name = f"policy-{uuid.uuid4().hex[:8]}"
    IncidentPolicyBlock(policy=IncidentPolicy(approval_timeout=timedelta(seconds=42))).save(name)
    loaded = resolve_block(IncidentPolicyBlock, name).policy
    assert loaded.approval_timeout == timedelta(seconds=42)
    assert loaded == IncidentPolicy(approval_timeout=timedelta(seconds=42))


def test_resolve_accepts_a_block_or_a_name_and_nothing_else():
    target = PostgresTarget(dsn=SECRET_DSN)
    assert resolve_block(PostgresTarget, target) is target
    with pytest.raises(TypeError, match="PostgresTarget"):
        resolve_block(PostgresTarget, 42)


def test_a_closed_port_is_transient_and_a_wrong_database_is_permanent(scratch_database):
    closed = PostgresTarget(dsn="postgresql://app:Hunter2-secret@127.0.0.1:1/orders")
    with pytest.raises(TransientError) as caught:
        closed.connect()
    assert "Hunter2-secret" not in str(caught.value) and "check the DSN" in str(caught.value)
    missing = PostgresTarget(dsn=scratch_database.replace("fb_t_", "fb_missing_"))
    with pytest.raises(PermanentError, match="does not exist"):
        missing.connect()
