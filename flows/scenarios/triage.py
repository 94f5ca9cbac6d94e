"""Triage: an alert no routing rule explains (runbook 002, phases 2-4).

Whatever targets are configured are assessed; the investigation ranks the runbooks' causes
and follows runbook 002's decision tree; the incident then goes to a person with the
findings, the hypotheses and the tree's recommendation — never a crash, never a guess
applied without a scenario that knows how.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prefect import flow

from blocks.kubernetes import KubernetesTarget
from blocks.loading import resolve_block
from blocks.policy import IncidentPolicyBlock
from blocks.postgres import PostgresTarget
from blocks.slack import SlackWorkspace
from blocks.store import IncidentStore
from flows.engine import respond_with
from flows.hooks import record_abnormal_end, release_incident
from flows.phases.assess import Check
from flows.scenario import Scenario, Setting
from incident.decision import Decision
from incident.investigation import decide_mitigation, rank_hypotheses
from incident.models import Alert, Finding, Incident
from incident.policy import IncidentPolicy
from incident.severity import Severity
from tasks.kubernetes import get_deployment_status
from tasks.postgres import measure_connection_headroom
from tasks.postgres_session import hold, session_key

__all__ = ["TRIAGE", "triage"]


@dataclass(frozen=True)
class Targets:
    cluster: KubernetesTarget | None = None
    database: PostgresTarget | None = None

    @classmethod
    def of(cls, p: Mapping[str, Any]) -> Targets:
        cluster, database = p.get("cluster"), p.get("database")
        return cls(
            cluster=resolve_block(KubernetesTarget, cluster) if cluster is not None else None,
            database=resolve_block(PostgresTarget, database) if database is not None else None,
        )


def _checks(t: Targets, policy: IncidentPolicy) -> list[Check]:
    checks = []
    if t.cluster is not None:
        checks.append(
            Check(
                "deployment_status", t.cluster.label, get_deployment_status, {"target": t.cluster}
            )
        )
    if t.database is not None:
        db = t.database
        checks.append(
            Check(
                "connection_headroom",
                db.label,
                measure_connection_headroom,
                {"target": db, "min_headroom": policy.min_connection_headroom},
                lambda: hold(db),
                session_key(db),
            )
        )
    return checks


def _decide(
    findings: list[Finding], t: Targets, policy: IncidentPolicy, incident: Incident
) -> Decision:
    if not findings:
        return Decision.escalate("no target is configured for triage: nothing could be checked")
    advice = decide_mitigation(rank_hypotheses(findings))
    return Decision.escalate(
        f"no scenario answers this alert; runbook 002's decision tree says: "
        f"{advice.remedy.value} — because " + "; ".join(advice.because)
    )


TRIAGE: Scenario[Targets] = Scenario(
    name="triage",
    title="Alert under triage",
    runbooks=("002 phases 2-4", "000 Identify Root Cause"),
    default_severity=Severity.MEDIUM,
    targets=Targets.of,
    checks=_checks,
    decide=_decide,
    actuators=lambda t: {},
    verification=(),
    follow_ups=("Add a routing rule and a scenario for this alert, or tune the alert",),
)


@flow(
    name="triage",
    flow_run_name="triage-{alert.name}",
    on_completion=[release_incident],
    on_failure=[record_abnormal_end],
    on_crashed=[record_abnormal_end],
)
def triage(
    alert: Alert,
    cluster: str | KubernetesTarget | None = None,
    database: str | PostgresTarget | None = None,
    store: str | IncidentStore = "incident-store",
    slack: str | SlackWorkspace | None = "incident-slack",
    policy: str | IncidentPolicyBlock | IncidentPolicy = "incident-policy",
    dry_run: bool = False,
    incident_id: str | None = None,
):  # type: ignore[no-untyped-def]
    """Assess what is configured, weigh the causes, and hand over with the evidence."""
    return respond_with(
        TRIAGE,
        {"cluster": cluster, "database": database},
        alert,
        Setting.resolve(store, slack, policy, dry_run),
        incident_id=incident_id,
    )
