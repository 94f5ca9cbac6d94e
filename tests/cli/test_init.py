"""``firebreak init`` creates the local blocks once, keeps existing ones, and doctor agrees."""

from __future__ import annotations

import secrets

import pytest
from prefect.blocks.core import Block
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings
from psycopg.conninfo import conninfo_to_dict

import blocks
from blocks import KubernetesTarget, PostgresTarget, SlackWorkspace
from sandbox.demo_service import DemoService
from tests.fixtures.postgres import ADMIN_DSN
from tests.fixtures.redis import REDIS_URL
from tests.fixtures.slack import SLACK_TEST_TOKEN

pytestmark = pytest.mark.prefect


def block_classes() -> list[type[Block]]:
    """Every Block subclass the blocks package defines, found by walking its modules."""
    import importlib
    import pkgutil

    found: set[type[Block]] = set()
    for mod in pkgutil.iter_modules(blocks.__path__):
        module = importlib.import_module(f"blocks.{mod.name}")
        found |= {
            v
            for v in vars(module).values()
            if isinstance(v, type) and issubclass(v, Block) and v.__module__ == module.__name__
        }
    assert PostgresTarget in found, "the walk found the blocks package's classes"
    return sorted(found, key=lambda c: c.__name__)


def test_init_creates_blocks_that_doctor_finds_reachable_and_keeps_them_on_a_second_run(
    firebreak, block_names, slack_stub, incident_store
):
    with DemoService(secrets.token_hex(8)) as demo:
        env = {
            "FIREBREAK_ADMIN_DSN": ADMIN_DSN,
            "FIREBREAK_REDIS_URL": REDIS_URL,
            "FIREBREAK_SLACK_API_URL": slack_stub.base_url,
            "FIREBREAK_SLACK_TOKEN": SLACK_TEST_TOKEN,
            "FIREBREAK_DEMO_SERVICE_URL": demo.base_url,
        }
        first = firebreak("init", env=env)
        assert first.code == 0, first.output
        for name in (
            block_names.store,
            block_names.policy,
            block_names.slack,
            block_names.database,
            block_names.redis,
            block_names.health,
        ):
            line = next(x for x in first.stdout.splitlines() if f"/{name} " in x)
            assert "created" in line, line

        with temporary_settings({PREFECT_API_URL: PREFECT_API_URL.value()}):
            target = PostgresTarget.load(block_names.database)
            # the diagnosed target is the sandbox database, never one with real data
            assert conninfo_to_dict(target.dsn.get_secret_value())["dbname"] == "firebreak_sandbox"
            assert SlackWorkspace.load(block_names.slack).api_base_url == slack_stub.base_url
            with get_client(sync_client=True) as client:
                for cls in block_classes():  # every form is offered in the UI
                    client.read_block_type_by_slug(cls.get_block_type_slug())

        second = firebreak(
            "init", env={**env, "FIREBREAK_SLACK_API_URL": "http://127.0.0.1:9/api/"}
        )
        assert second.code == 0, second.output
        slack_line = next(x for x in second.stdout.splitlines() if f"/{block_names.slack} " in x)
        assert "kept" in slack_line
        with temporary_settings({PREFECT_API_URL: PREFECT_API_URL.value()}):
            assert SlackWorkspace.load(block_names.slack).api_base_url == slack_stub.base_url

        checked = firebreak("doctor", env=env)
        assert checked.code == 0, checked.output
        assert "FAIL" not in checked.stdout
        assert SLACK_TEST_TOKEN not in checked.output


def test_init_with_a_kubeconfig_creates_the_drill_namespace_block_the_drills_schedule_names(
    firebreak, block_names, tmp_path
):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")  # init saves it; doctor reads it
    result = firebreak(
        "init",
        "--kubeconfig",
        str(kubeconfig),
        "--namespace",
        "payments",
        env={"FIREBREAK_ADMIN_DSN": ADMIN_DSN, "FIREBREAK_DRILL_NAMESPACE": "fb-drills"},
    )
    assert result.code == 0, result.output
    drills = KubernetesTarget.load(block_names.drill_cluster)
    assert (drills.kubeconfig_path, drills.namespace) == (str(kubeconfig), "fb-drills")
