"""Load a configured block by name, or say exactly how to create it.

Flows take block *names* as parameters (so a run launched from the UI or a webhook carries
no secret); this is the one place a name becomes a configured object.
"""

from __future__ import annotations

from typing import TypeVar

from prefect.blocks.core import Block

from incident.errors import PermanentError

__all__ = ["BlockNotFound", "load_block", "resolve_block"]

B = TypeVar("B", bound=Block)


class BlockNotFound(PermanentError):
    """The named block document does not exist on this Prefect API."""


def load_block(cls: type[B], name: str) -> B:
    """Load block ``name`` of type ``cls``; a missing one names itself and how to create it."""
    try:
        return cls.load(name)
    except ValueError as exc:
        if "Unable to find block document" not in str(exc) and "not found" not in str(exc):
            raise
        slug = cls.get_block_type_slug()
        raise BlockNotFound(
            f"{cls.__name__} block '{name}' ({slug}/{name}) does not exist: create it in the "
            f"Prefect UI under Blocks > {cls.get_block_type_name()}, or in Python with "
            f"`from blocks import {cls.__name__}; {cls.__name__}(...).save({name!r})` "
            "(`prefect block register -m blocks` first makes the type known to the UI)"
        ) from None


def resolve_block(cls: type[B], value: B | str) -> B:
    """Accept either a ready block (tests, drills) or a block name (deployments, the UI)."""
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        return load_block(cls, value)
    raise TypeError(f"expected a {cls.__name__} or the name of one, got {type(value).__name__}")
