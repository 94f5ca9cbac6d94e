"""Firebreak's domain: incidents, severities, policy and the durable record.

Pure Python and pydantic; imports nothing from flows, tasks or blocks.
"""
