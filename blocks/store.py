"""Where the durable incident record lives: its own database, apart from any target."""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from incident.record import IncidentRecord

__all__ = ["IncidentStore"]


class IncidentStore(Block):
    """The PostgreSQL database that holds incidents, timelines, approvals and actions.

    Example:
        ```python
        from blocks import IncidentStore

        record = IncidentStore.load("BLOCK_NAME").open()
        print(record.incidents())
        ```
    """

    _block_type_name = "Incident Store"
    _description = "The PostgreSQL database holding the durable incident record."
    _documentation_url = "https://docs.prefect.io/v3/concepts/blocks"

    dsn: SecretStr = Field(description="Connection string of the record database; kept secret.")
    schema_name: str = Field("firebreak", description="Schema the record tables live in.")

    def open(self) -> IncidentRecord:
        return IncidentRecord(self.dsn.get_secret_value(), self.schema_name)
