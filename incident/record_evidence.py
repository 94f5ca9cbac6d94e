"""What an incident's record holds besides its timeline: findings, plans, approvals, actions.

A mixin over `IncidentRecord`'s two primitives (``_execute`` and ``_fetch``), kept apart so
each module stays about one thing. Plans are stored as proposed, so a re-run of a flow
(after a suspend, a crash, a retry) can find the plan a person was asked about.
"""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from incident.models import Action, Approval, Finding, Plan

__all__ = ["EvidenceRows"]


class EvidenceRows:
    """Findings, plans, approvals and actions of incidents; see `IncidentRecord`."""

    def _execute(self, query: str, params: tuple[Any, ...] = ()) -> int:
        raise NotImplementedError

    def _fetch(self, query: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        raise NotImplementedError

    def add_finding(self, incident_id: str, finding: Finding) -> None:
        self._execute(
            "INSERT INTO {s}.findings (incident_id, check_name, target, status, summary, evidence,"
            " observed_at) VALUES (%s,%s,%s,%s,%s,%s,%s)",
            (
                incident_id,
                finding.check,
                finding.target,
                finding.status.value,
                finding.summary,
                Jsonb(finding.model_dump(mode="json")["evidence"]),
                finding.observed_at,
            ),
        )

    def findings(self, incident_id: str) -> list[Finding]:
        rows = self._fetch(
            "SELECT * FROM {s}.findings WHERE incident_id = %s ORDER BY id", (incident_id,)
        )
        return [
            Finding(
                check=r["check_name"],
                target=r["target"],
                status=r["status"],
                summary=r["summary"],
                evidence=r["evidence"],
                observed_at=r["observed_at"],
            )
            for r in rows
        ]

    def record_plan(self, incident_id: str, plan: Plan) -> None:
        """Store a proposed plan once (by digest); proposing it again changes nothing."""
        self._execute(
            "INSERT INTO {s}.plans (incident_id, digest, action, target, plan)"
            " VALUES (%s,%s,%s,%s,%s) ON CONFLICT (incident_id, digest) DO NOTHING",
            (
                incident_id,
                plan.digest,
                plan.action,
                plan.target,
                Jsonb(plan.model_dump(mode="json")),
            ),
        )

    def plans(self, incident_id: str) -> list[Plan]:
        rows = self._fetch(
            "SELECT plan FROM {s}.plans WHERE incident_id = %s ORDER BY id", (incident_id,)
        )
        return [Plan.model_validate(r["plan"]) for r in rows]

    def record_approval(self, incident_id: str, plan: Plan, approval: Approval) -> None:
        self._execute(
            "INSERT INTO {s}.approvals (incident_id, plan_digest, plan, decision, approver, reason,"
            " requested_at, decided_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)",
            (
                incident_id,
                approval.plan_digest,
                Jsonb(plan.model_dump(mode="json")),
                approval.decision.value,
                approval.approver,
                approval.reason,
                approval.requested_at,
                approval.decided_at,
            ),
        )

    def approvals(self, incident_id: str) -> list[dict[str, Any]]:
        return self._fetch(
            "SELECT * FROM {s}.approvals WHERE incident_id = %s ORDER BY id", (incident_id,)
        )

    def record_action(self, incident_id: str, action: Action) -> None:
        self._execute(
            "INSERT INTO {s}.actions (incident_id, action, target, plan_digest, status, summary,"
            " results, approver, at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            (
                incident_id,
                action.plan.action,
                action.plan.target,
                action.plan.digest,
                action.status.value,
                action.summary,
                Jsonb(list(action.model_dump(mode="json")["results"])),
                action.approver,
                action.at,
            ),
        )

    def actions(self, incident_id: str) -> list[dict[str, Any]]:
        return self._fetch(
            "SELECT * FROM {s}.actions WHERE incident_id = %s ORDER BY id", (incident_id,)
        )
