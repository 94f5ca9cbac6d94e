"""Post-incident: metrics and the post-mortem draft, published as artifacts of the record.

Also a flow of its own (`redraft_postmortem`), to rebuild the draft from the record of an
incident whose run is long gone.
"""

from __future__ import annotations

from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
)

from flows.phases.phase import phase
from flows.response import Response
from incident.checklists import (
    checklist_markdown,
    commander_checklist,
    follow_up_checklist,
    progress,
)
from incident.incident_yaml import export_incident, to_yaml
from incident.models import IncidentStatus
from incident.postmortem import incident_metrics, postmortem_markdown

__all__ = ["post_incident"]


@phase("post-incident")
def post_incident(response: Response, *, root_cause: str, follow_ups: list[str]) -> str:
    """Timeline, findings and post-mortem as artifacts; returns the post-mortem markdown."""
    record, incident_id = response.record, response.id
    if not response.settle():  # the post-mortem tells what became of every message it can
        response.event(
            "post-incident",
            "notify",
            "info",
            "some messages were still being sent when the post-mortem was drafted; their "
            "outcome follows in the timeline",
        )
    response.event("post-incident", "postmortem", "started", "drafting the post-mortem")
    row = record.get_incident(incident_id)
    timeline = record.timeline(incident_id)
    findings = record.findings(incident_id)
    key = incident_id.lower()
    markdown = postmortem_markdown(
        row,
        timeline,
        findings,
        record.actions(incident_id),
        record.approvals(incident_id),
        root_cause=root_cause,
        follow_ups=follow_ups,
        evidence={
            "findings": f"artifact {key}-findings",
            "timeline": f"artifact {key}-timeline",
            "approval request": f"artifact {key}-approval-request",
        },
        policy=response.policy,
    )
    create_table_artifact(
        key=f"{key}-timeline",
        table=[
            {
                "seq": e.seq,
                "at": e.at.isoformat(),
                "phase": e.phase,
                "step": e.step,
                "status": e.status,
                "message": e.message,
            }
            for e in timeline
        ],
        description=f"Timeline of {incident_id}",
    )
    create_markdown_artifact(
        key=f"{key}-postmortem", markdown=markdown, description=f"Post-mortem draft {incident_id}"
    )
    export = export_incident(row, timeline, policy=response.policy, action_items=follow_ups)
    create_markdown_artifact(
        key=f"{key}-yaml",
        markdown=f"```yaml\n{to_yaml(export)}```",
        description=f"{incident_id} in runbook 001's incident YAML",
    )
    for what, items in (
        ("commander-checklist", commander_checklist(row, timeline)),
        ("follow-ups", follow_up_checklist(timeline, follow_ups)),
    ):
        create_progress_artifact(progress(items), key=f"{key}-{what}-progress")
        create_markdown_artifact(
            key=f"{key}-{what}", markdown=checklist_markdown(what.replace("-", " "), items)
        )
    response.event(
        "post-incident",
        "postmortem",
        "completed",
        "post-mortem draft published",
        metrics=incident_metrics(row, timeline),
    )
    if row["status"] == IncidentStatus.RESOLVED.value or row["dry_run"]:
        response.close()
    return markdown
