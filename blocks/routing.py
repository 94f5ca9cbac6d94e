"""The routing rules, editable in the Prefect UI: which scenario answers which alert."""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field

from incident.routing import RoutingRules

__all__ = ["RoutingRulesBlock"]


class RoutingRulesBlock(Block):
    """Alert name and labels → scenario and its parameters (see `incident.routing`).

    Example:
        ```python
        from blocks import RoutingRulesBlock
        from incident.routing import load_routes

        RoutingRulesBlock(rules=load_routes("deployments/routing.yaml")).save("routing")
        rules = RoutingRulesBlock.load("BLOCK_NAME").rules
        ```
    """

    _block_type_name = "Routing Rules"
    _description = "Which Firebreak scenario answers which alert, by name and labels."
    _documentation_url = "https://docs.prefect.io/v3/concepts/blocks"

    rules: RoutingRules = Field(
        default_factory=RoutingRules,
        description="Routes tried in order; an alert none matches goes to triage.",
    )
