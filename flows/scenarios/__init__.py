"""One module per runbook scenario, and the registries routing rules and phases use."""

from __future__ import annotations

from typing import Any

from prefect import Flow

from flows.scenario import Scenario
from flows.scenarios.bad_rollout import BAD_ROLLOUT, bad_rollout
from flows.scenarios.crash_loop import CRASH_LOOP, crash_loop
from flows.scenarios.db_pool_exhaustion import DB_POOL, db_pool_exhaustion
from flows.scenarios.high_memory import HIGH_MEMORY, high_memory
from flows.scenarios.lock_contention import LOCK_CONTENTION, lock_contention
from flows.scenarios.redis_client_flood import REDIS_FLOOD, redis_client_flood
from flows.scenarios.triage import TRIAGE, triage

__all__ = ["SCENARIOS", "SCENARIO_DEFINITIONS"]

SCENARIOS: dict[str, Flow[..., Any]] = {
    f.name: f
    for f in (
        db_pool_exhaustion,
        lock_contention,
        redis_client_flood,
        bad_rollout,
        high_memory,
        crash_loop,
        triage,
    )
}
"""Scenario flows by name: what a routing rule starts."""

SCENARIO_DEFINITIONS: dict[str, Scenario[Any]] = {
    s.name: s
    for s in (DB_POOL, LOCK_CONTENTION, REDIS_FLOOD, BAD_ROLLOUT, HIGH_MEMORY, CRASH_LOOP, TRIAGE)
}
"""What each scenario adds to the engine: what a phase run alone needs."""
