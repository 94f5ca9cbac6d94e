"""What the flow tests share: a compressed policy, the alert, running a flow in the background."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactCollectionFilter,
    ArtifactCollectionFilterKey,
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterParentFlowRunId,
)
from prefect.client.schemas.objects import Artifact, FlowRun
from prefect.client.schemas.sorting import FlowRunSort
from prefect.input.actions import read_flow_run_input
from prefect.input.run_input import keyset_from_paused_state

from flows.scenarios.db_pool_exhaustion import db_pool_exhaustion
from incident.models import Alert, AlertSource
from incident.policy import IncidentPolicy
from tests.fixtures.prefect_api import Background


def fast_policy(**overrides: object) -> IncidentPolicy:
    """The runbook policy with every window compressed to test speed."""
    values: dict[str, object] = {
        "long_query_threshold": timedelta(seconds=3),
        "approval_timeout": timedelta(seconds=60),
        "approval_poll_interval": timedelta(seconds=1),
        "verification_window": timedelta(seconds=20),
        "verification_interval": timedelta(seconds=0.5),
        "monitoring_window": timedelta(seconds=2),
        "notification_max_wait": timedelta(seconds=3),
        "notification_attempts": 3,
    }
    values.update(overrides)
    return IncidentPolicy.model_validate(values)


def pool_alert() -> Alert:
    return Alert(
        name="PostgresConnectionsExhausted",
        source=AlertSource.ALERTMANAGER,
        severity="SEV2",
        summary="orders-db connection pool exhausted",
        labels={"service": "orders", "severity": "SEV2"},
    )


def run_flow(background: type[Background], **kwargs: Any) -> Background:
    return background(db_pool_exhaustion, alert=pool_alert(), return_state=True, **kwargs)


def phase_runs(flow_run_id: UUID) -> list[FlowRun]:
    """The scenario run's phase subflows, as the UI lists them under it."""
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[flow_run_id])
            ),
            sort=FlowRunSort.START_TIME_ASC,
        )


def run_artifacts(flow_run_id: UUID) -> list[Artifact]:
    """Artifacts of the run and of its phase subflows."""
    runs = [flow_run_id, *(r.id for r in phase_runs(flow_run_id))]
    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=runs))
        )


def artifact_keys(flow_run_id: UUID) -> set[str]:
    return {a.key for a in run_artifacts(flow_run_id) if a.key}


def approval_form_description(flow_run_id: UUID) -> str:
    """The markdown the Prefect UI shows above the paused run's approval form."""
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(flow_run_id).state
    keyset = keyset_from_paused_state(state)
    return read_flow_run_input(keyset["description"], flow_run_id)


def artifact_markdown(key: str) -> str:
    """The latest version of a markdown artifact, as the UI renders it."""
    with get_client(sync_client=True) as client:
        artifact = client.read_latest_artifacts(
            artifact_filter=ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=[key]))
        )
    assert artifact, f"no artifact {key}"
    return str(artifact[0].data)


def steps_of(record: Any, incident_id: str) -> list[tuple[str, str, str]]:
    """The incident's timeline as (phase, step, status), in order."""
    return [(e.phase, e.step, e.status) for e in record.timeline(incident_id)]
