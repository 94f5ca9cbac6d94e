"""Which drills exist: scenario name → the fault it injects and the runner that scores it.

The command line (``firebreak drill``), the scheduled ``drill`` deployment and the engine's
drill flow all look scenarios up here, so a new scenario becomes drillable by one
`register_drill` call. Runners are named as ``"module:function"`` and imported only when a
drill runs: listing drills (``--help``, the deployment form) imports no flow.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from incident.errors import PermanentError

if TYPE_CHECKING:  # the injectors (and their clients) load only when a drill runs
    from sandbox.injectors.base import DrillTargets

__all__ = ["DRILLS", "DrillSpec", "Scorecard", "UnknownDrill", "drill_spec", "register_drill"]


class Scorecard(Protocol):
    """What a drill runner returns (``flows.drill.DrillReport`` is one)."""

    incident_id: str
    state: str
    checks: dict[str, bool]
    metrics: dict[str, float | None]

    @property
    def passed(self) -> bool: ...

    def render(self) -> str: ...


class UnknownDrill(PermanentError):
    """No drill is registered under that scenario name."""


@dataclass(frozen=True)
class DrillSpec:
    scenario: str  # the drill's name (`firebreak drill NAME`, the deployment's dropdown)
    title: str
    injector: str  # kind in sandbox.injectors.INJECTORS
    runner: str | None = None  # "module:function(admin_dsn, targets) -> Scorecard"; None: not yet
    runbook: str = "003"
    record_schema: str = "firebreak_drill_record"
    response: str = ""  # the scenario that answers it, as the record names it; "": `scenario`

    @property
    def responder(self) -> str:
        return self.response or self.scenario

    @property
    def needs_kubernetes(self) -> bool:
        return self.injector in KUBERNETES_INJECTORS

    def load_runner(self) -> Callable[[str, DrillTargets], Scorecard]:
        if self.runner is None:
            raise PermanentError(
                f"drill {self.scenario!r} has a fault injector ({self.injector}) but no response "
                "flow yet: the scenario engine adds it; `firebreak drill "
                f"{self.scenario} --inject-only` injects and removes the fault on its own"
            )
        module, _, name = self.runner.partition(":")
        runner: Callable[[str, DrillTargets], Scorecard] = getattr(
            importlib.import_module(module), name
        )
        return runner


KUBERNETES_INJECTORS = frozenset({"bad-rollout", "crash-loop", "oom-kill"})
DRILLS: dict[str, DrillSpec] = {}


def register_drill(spec: DrillSpec) -> DrillSpec:
    """Add (or replace) the drill for ``spec.scenario``."""
    DRILLS[spec.scenario] = spec
    return spec


def drill_spec(scenario: str) -> DrillSpec:
    try:
        return DRILLS[scenario]
    except KeyError:
        known = ", ".join(sorted(DRILLS))
        raise UnknownDrill(f"no drill named {scenario!r}: choose one of {known}") from None


for _spec in (
    DrillSpec(
        "db-pool-exhaustion",
        "Database connection pool exhausted (runbook 000 sc. 2)",
        injector="pool-exhaustion",
        runner="flows.drill:run_db_pool_drill",
    ),
    DrillSpec(
        "lock-contention",
        "Lock contention on a hot row (runbooks 000, 001, 004)",
        injector="lock-contention",
        runner="flows.lock_drill:run_lock_contention_drill",
    ),
    DrillSpec(
        "bad-rollout",
        "Bad rollout, rolled back (runbook 003 monthly)",
        injector="bad-rollout",
        runner="flows.kube_drill:run_bad_rollout_drill",
        response="service-outage",
    ),
    DrillSpec(
        "crash-loop",
        "A deployment in CrashLoopBackOff after a rollout (runbook 002)",
        injector="crash-loop",
        runner="flows.kube_drill:run_crash_loop_drill",
    ),
    DrillSpec(
        "oom-kill",
        "Containers OOMKilled at their memory limit (runbook 000 sc. 3, 004)",
        injector="oom-kill",
        runner="flows.kube_drill:run_oom_kill_drill",
        response="high-memory",
    ),
    DrillSpec("failing-health", "Health endpoint failing (runbook 000 sc. 1)", "failing-health"),
    DrillSpec(
        "redis-client-flood",
        "Redis flooded with a leaking client's connections (runbooks 000, 001)",
        injector="redis-flood",
        runner="flows.redis_drill:run_redis_flood_drill",
    ),
):
    register_drill(_spec)
