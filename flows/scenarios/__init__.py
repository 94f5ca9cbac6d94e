"""One module per runbook scenario, and the registry routing rules name them by."""

from __future__ import annotations

from typing import Any

from prefect import Flow

from flows.scenarios.db_pool_exhaustion import db_pool_exhaustion
from flows.scenarios.triage import triage

__all__ = ["SCENARIOS"]

SCENARIOS: dict[str, Flow[..., Any]] = {f.name: f for f in (db_pool_exhaustion, triage)}
