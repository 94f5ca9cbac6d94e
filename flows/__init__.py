"""Prefect flows: runbook phases, scenarios, and the drill."""
