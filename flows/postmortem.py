"""Post-incident: metrics and the post-mortem draft, published as artifacts of the record."""

from __future__ import annotations

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows.scribe import Scribe
from incident.postmortem import incident_metrics, postmortem_markdown

__all__ = ["publish_record"]


def publish_record(scribe: Scribe, *, root_cause: str, follow_ups: list[str]) -> str:
    """Timeline, findings and post-mortem as artifacts; returns the post-mortem markdown."""
    record, incident_id = scribe.record, scribe.incident.id
    if not scribe.settle():  # the post-mortem tells what became of every message it can
        scribe.event(
            "post-incident",
            "notify",
            "info",
            "some messages were still being sent when the post-mortem was drafted; their "
            "outcome follows in the timeline",
        )
    scribe.event("post-incident", "postmortem", "started", "drafting the post-mortem")
    row = record.get_incident(incident_id)
    timeline = record.timeline(incident_id)
    findings = record.findings(incident_id)
    markdown = postmortem_markdown(
        row,
        timeline,
        findings,
        record.actions(incident_id),
        record.approvals(incident_id),
        root_cause=root_cause,
        follow_ups=follow_ups,
    )
    key = incident_id.lower()
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
    create_table_artifact(
        key=f"{key}-findings",
        table=[
            {"check": f.check, "target": f.target, "status": f.status.value, "summary": f.summary}
            for f in findings
        ],
        description=f"Findings of {incident_id}",
    )
    create_markdown_artifact(
        key=f"{key}-postmortem", markdown=markdown, description=f"Post-mortem draft {incident_id}"
    )
    scribe.event(
        "post-incident",
        "postmortem",
        "completed",
        "post-mortem draft published",
        metrics=incident_metrics(row),
    )
    return markdown
