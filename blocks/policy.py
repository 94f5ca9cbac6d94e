"""The team's incident policy, editable in the Prefect UI."""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field

from incident.policy import IncidentPolicy

__all__ = ["IncidentPolicyBlock"]


class IncidentPolicyBlock(Block):
    """Severity scheme, objectives, approval timeout and thresholds, from the runbooks by default.

    Example:
        ```python
        from blocks import IncidentPolicyBlock

        policy = IncidentPolicyBlock.load("BLOCK_NAME").policy
        ```
    """

    _block_type_name = "Incident Policy"
    _description = "Severity objectives, approval timeout and thresholds for incident flows."
    _documentation_url = "https://docs.prefect.io/v3/concepts/blocks"

    policy: IncidentPolicy = Field(
        default_factory=IncidentPolicy,
        description="Objectives per severity and every threshold the flows consult.",
    )
