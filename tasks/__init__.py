"""Prefect tasks, one module per external system: one read or one effect each."""
