"""Health endpoints the runbooks curl: what "the service answers" means for a team."""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field

__all__ = ["HealthEndpoints"]


class HealthEndpoints(Block):
    """URLs whose answers say whether users are served (runbook 000: curl .../health).

    Example:
        ```python
        from blocks import HealthEndpoints

        endpoints = HealthEndpoints.load("BLOCK_NAME")
        print(endpoints.urls)
        ```
    """

    _block_type_name = "Health Endpoints"
    _description = "HTTP health endpoints that say whether users are served."
    _documentation_url = "https://docs.prefect.io/v3/concepts/blocks"

    urls: list[str] = Field(
        description="Health URLs to check, e.g. https://api.example.com/health."
    )
    expected_status: int = Field(200, description="HTTP status a healthy endpoint answers.")
    timeout_seconds: float = Field(5.0, gt=0, description="Seconds to wait for each answer.")
