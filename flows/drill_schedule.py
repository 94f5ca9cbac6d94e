"""The ``drill`` deployment's flow: run one registered drill and publish its scorecard.

Runbook 003 asks for quarterly incident-response drills and monthly rollback tests;
``prefect.yaml`` schedules this flow once per scenario. Each scenario's runner comes from
`sandbox.drill_registry`, the same table ``firebreak drill`` reads.
"""

from __future__ import annotations

import enum

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.states import Completed, Failed, State

from blocks.kubernetes import KubernetesTarget
from blocks.loading import load_block
from blocks.postgres import PostgresTarget
from blocks.redis import RedisTarget
from sandbox.drill_registry import DRILLS, drill_spec
from sandbox.injectors.base import DrillTargets

__all__ = ["DrillScenario", "drill"]

DrillScenario = enum.StrEnum(  # type: ignore[misc]  # built from the registry: one dropdown entry each
    "DrillScenario", {name.upper().replace("-", "_"): name for name in DRILLS}
)
DEFAULT_SCENARIO = DrillScenario("db-pool-exhaustion")


@flow(name="drill", flow_run_name="drill-{scenario}")
def drill(
    scenario: DrillScenario = DEFAULT_SCENARIO,  # type: ignore[valid-type]
    sandbox: str = "drill-sandbox",
    cluster: str | None = None,
    redis: str | None = None,
) -> State:
    """Inject the scenario's fault, run the response, score it; the fault is always removed.

    Args:
        scenario: which scenario to rehearse; its fault is injected and always removed.
        sandbox: PostgresTarget block (name) holding an admin DSN of the PostgreSQL server the
            drill builds its sandbox database and record on (`firebreak init` creates it).
        cluster: KubernetesTarget block (name) of the drill namespace, for the bad-rollout,
            crash-loop and oom-kill drills; none: those drills fail saying so, the others run.
        redis: RedisTarget block (name) of the Redis the redis-client-flood drill floods.
    """
    spec = drill_spec(str(scenario.value if isinstance(scenario, enum.Enum) else scenario))
    runner = spec.load_runner()
    admin = load_block(PostgresTarget, sandbox)
    targets = DrillTargets(
        postgres_dsn=admin.dsn,
        kubernetes=load_block(KubernetesTarget, cluster) if cluster else None,
        redis_url=load_block(RedisTarget, redis).url if redis else None,
    )
    report = runner(admin.dsn.get_secret_value(), targets)
    create_markdown_artifact(
        key=f"drill-scorecard-{spec.scenario}",
        markdown="```\n" + report.render() + "\n```",
        description=f"Drill scorecard: {spec.title}",
    )
    if report.passed:
        return Completed(message=f"drill {spec.scenario} passed", name="DrillPassed")
    return Failed(message=f"drill {spec.scenario} failed: see the scorecard artifact")
