"""The incident record as the command line reaches it: through the IncidentStore block."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from blocks.loading import load_block
from blocks.store import IncidentStore
from firebreak_cli.settings import FirebreakSettings
from incident.record import IncidentRecord

__all__ = ["open_record"]


@contextmanager
def open_record(settings: FirebreakSettings, store: str | None = None) -> Iterator[IncidentRecord]:
    """The record named by ``store`` (default: the settings' store block), closed afterwards."""
    with settings.prefect():
        block = load_block(IncidentStore, store or settings.store_block)
    record = block.open()
    try:
        yield record
    finally:
        record.close()
