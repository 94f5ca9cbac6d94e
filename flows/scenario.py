"""What a scenario hands the engine (`Scenario`) and what every run shares (`Setting`).

Kept apart from the engine's loop so a scenario module imports only its contract, and the
contract reads in one screen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from blocks.loading import resolve_block
from blocks.policy import IncidentPolicyBlock
from blocks.slack import SlackWorkspace
from blocks.store import IncidentStore
from flows.phases.assess import Check
from flows.phases.mitigate import Actuator
from incident.decision import Decision
from incident.models import Finding, Incident, Plan
from incident.policy import IncidentPolicy
from incident.severity import Severity

__all__ = ["Scenario", "Setting"]

T = TypeVar("T")


@dataclass(frozen=True)
class Scenario(Generic[T]):
    """What one runbook scenario adds to the engine; ``T`` is its targets (blocks)."""

    name: str
    title: str
    runbooks: tuple[str, ...]
    default_severity: Severity
    targets: Callable[[Mapping[str, Any]], T]
    """Its targets from the flow's parameters: block names (resolved) or blocks."""
    checks: Callable[[T, IncidentPolicy], Sequence[Check]]
    decide: Callable[[list[Finding], T, IncidentPolicy, Incident], Decision]
    actuators: Callable[[T], Mapping[str, Actuator]]
    verification: tuple[str, ...]
    """Names of its checks that verify a mitigation (when ``verify`` is not given)."""
    follow_ups: tuple[str, ...]
    skipped: Callable[[T], Sequence[Finding]] = field(default=lambda targets: ())
    verify: Callable[[T, Plan, IncidentPolicy, datetime], Sequence[Check]] | None = None
    """Checks that verify one applied plan (they may need the plan: deployments, revision,
    the time it was applied); default: the ``verification`` checks by name."""


@dataclass(frozen=True)
class Setting:
    """The run's common configuration: where the record is, the channel, the policy."""

    store: IncidentStore
    slack: SlackWorkspace | None
    policy: IncidentPolicy
    dry_run: bool = False

    @classmethod
    def resolve(
        cls,
        store: str | IncidentStore,
        slack: str | SlackWorkspace | None,
        policy: str | IncidentPolicyBlock | IncidentPolicy,
        dry_run: bool,
    ) -> Setting:
        rules = (
            policy
            if isinstance(policy, IncidentPolicy)
            else resolve_block(IncidentPolicyBlock, policy).policy
        )
        return cls(
            store=resolve_block(IncidentStore, store),
            slack=resolve_block(SlackWorkspace, slack) if slack is not None else None,
            policy=rules,
            dry_run=dry_run,
        )
