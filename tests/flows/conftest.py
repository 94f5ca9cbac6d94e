"""Start the DB-pool flow in the background with this test's real components as defaults."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.fixtures.prefect_api import Background
from tests.flows.support import fast_policy, run_flow


@pytest.fixture
def respond(
    prefect_api: None, background: type[Background], postgres_target: Any, incident_store: Any
) -> Callable[..., Background]:
    """respond(**overrides) -> the running flow; defaults: this test's database and record,
    no Slack, the compressed policy."""

    def start(**overrides: Any) -> Background:
        params: dict[str, Any] = {
            "database": postgres_target,
            "store": incident_store,
            "slack": None,
            "policy": fast_policy(),
        }
        params.update(overrides)
        return run_flow(background, **params)

    return start
