"""The post-mortem draft and incident metrics, computed from the record alone.

Runbook 001's metrics (time to detect / acknowledge / resolve, plus time to mitigate) and
runbook 004's post-mortem template; a person finishes the draft, the facts are already in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from incident.models import Finding, TimelineEvent

__all__ = ["incident_metrics", "postmortem_markdown"]


def _seconds(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return round((later - earlier).total_seconds(), 3)


def incident_metrics(incident: dict[str, Any]) -> dict[str, float | None]:
    """TTD, TTA, TTM, TTR in seconds; None where the incident never reached that milestone."""
    started = incident["started_at"]
    return {
        "time_to_detect": _seconds(incident["declared_at"], started),
        "time_to_acknowledge": _seconds(incident["acknowledged_at"], incident["declared_at"]),
        "time_to_mitigate": _seconds(incident["mitigated_at"], started),
        "time_to_resolve": _seconds(incident["resolved_at"], started),
    }


def _fmt(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds:.1f} s"


def postmortem_markdown(
    incident: dict[str, Any],
    timeline: list[TimelineEvent],
    findings: list[Finding],
    actions: list[dict[str, Any]],
    approvals: list[dict[str, Any]],
    *,
    root_cause: str,
    follow_ups: list[str],
) -> str:
    metrics = incident_metrics(incident)
    failed_notifications = [
        e for e in timeline if e.step.startswith("notify:") and e.status == "failed"
    ]
    went_well = []
    went_wrong = []
    if metrics["time_to_mitigate"] is not None:
        went_well.append(f"mitigated {_fmt(metrics['time_to_mitigate'])} after the alert began")
    if any(a["decision"] == "approved" for a in approvals):
        went_well.append("the destructive action ran only after explicit approval")
    for approval in approvals:
        if approval["decision"] in ("rejected", "timed_out"):
            went_wrong.append(
                f"approval {approval['decision']}: {approval['reason'] or 'no reason given'}"
            )
    if failed_notifications:
        went_wrong.append(f"{len(failed_notifications)} notification(s) were not delivered")
    if any(f.status.value == "unreachable" for f in findings):
        went_wrong.append("some diagnostics could not reach their target")

    lines = [
        f"# Post-Mortem: {incident['title']}",
        "",
        "## Summary",
        f"- **Incident:** {incident['id']}",
        f"- **Date:** {incident['started_at']:%Y-%m-%d %H:%M:%S} UTC",
        f"- **Severity:** {incident['severity']}",
        f"- **Status:** {incident['status']}",
        f"- **Root Cause:** {root_cause}",
        "",
        "## Metrics",
        "| metric | value |",
        "|---|---|",
        *[f"| {name.replace('_', ' ')} | {_fmt(value)} |" for name, value in metrics.items()],
        "",
        "## Timeline",
        "| # | time (UTC) | phase | step | status | what happened |",
        "|---|---|---|---|---|---|",
        *[
            f"| {e.seq} | {e.at:%H:%M:%S} | {e.phase} | {e.step} | {e.status} | "
            f"{e.message.replace('|', '/')} |"
            for e in timeline
        ],
        "",
        "## Root Cause Analysis",
        *[f"- **{f.check}** ({f.status.value}, {f.target}): {f.summary}" for f in findings],
        "",
        "## Resolution Steps",
        *(
            [f"1. {a['action']} on {a['target']}: {a['summary']}" for a in actions]
            or ["No action was applied."]
        ),
        "",
        "## What Went Well",
        *([f"- {w}" for w in went_well] or ["- (to discuss)"]),
        "",
        "## What Didn't Go Well",
        *([f"- {w}" for w in went_wrong] or ["- (to discuss)"]),
        "",
        "## Action Items",
        *[f"- [ ] {item}" for item in follow_ups],
        "",
        "## Lessons Learned",
        "- (to be completed at the post-mortem meeting, within 48 hours)",
    ]
    return "\n".join(lines)
