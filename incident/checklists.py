"""Runbook 000's incident-commander checklist and follow-up list, ticked from the record.

Each item is done when the timeline shows it: the engine publishes them as progress
artifacts (`progress` for ``create_progress_artifact``, `checklist_markdown` beside it) and
re-publishes as items are done. Items the record cannot know (a post-mortem meeting, tests
added) are ticked by a ``checklist:<key>`` event, which a person or a later flow records.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel

from incident.channel_names import slug
from incident.models import TimelineEvent

__all__ = [
    "ChecklistItem",
    "checklist_markdown",
    "commander_checklist",
    "follow_up_checklist",
    "progress",
    "tick_step",
]


class ChecklistItem(BaseModel):
    key: str
    text: str
    done: bool
    evidence: str = ""  # the timeline event that ticked it


def tick_step(key: str) -> str:
    """The timeline step that marks ``key`` done by hand (status ``completed``)."""
    return f"checklist:{key}"


Rule = Callable[[dict[str, Any], Sequence[TimelineEvent]], TimelineEvent | None]


def _step(*names: str, status: str = "completed") -> Rule:
    def rule(incident: dict[str, Any], timeline: Sequence[TimelineEvent]) -> TimelineEvent | None:
        return next((e for e in timeline if e.step in names and e.status == status), None)

    return rule


def _prefix(prefix: str) -> Rule:
    def rule(incident: dict[str, Any], timeline: Sequence[TimelineEvent]) -> TimelineEvent | None:
        return next(
            (e for e in timeline if e.step.startswith(prefix) and e.status == "completed"), None
        )

    return rule


_NEVER: Rule = lambda incident, timeline: None  # noqa: E731 - only a person can tick it

# Runbook 000 "Incident Command Checklist", in its order.
COMMANDER: tuple[tuple[str, str, Rule], ...] = (
    ("declared", "Incident declared", _step("declared")),
    ("severity", "Severity assigned", _step("declared")),
    ("roles", "Roles assigned", _step("notify:roles")),
    ("assessment", "Initial assessment complete", _step("diagnostics", "assess")),
    ("stakeholders", "Stakeholders notified", _prefix("notify:stakeholders")),
    ("mitigation", "Mitigation implemented", _step("apply")),
    ("fix", "Fix implemented", _step("apply")),
    ("verified", "Resolution verified", _step("verify")),
    (
        "communication",
        "Communication sent",
        _step("notify:resolution", "notify:channel-resolution"),
    ),
    ("postmortem", "Post-mortem scheduled", _step("postmortem")),
    ("action-items", "Action items assigned", _NEVER),
    ("documentation", "Documentation updated", _NEVER),
)

# Runbook 000 "Follow-Up Actions"; a scenario's own follow-ups are appended after these.
FOLLOW_UPS: tuple[tuple[str, str], ...] = (
    ("postmortem-meeting", "Post-mortem meeting scheduled"),
    ("action-items", "Action items assigned"),
    ("monitoring", "Monitoring updated"),
    ("runbooks", "Runbooks updated"),
    ("tests", "Tests added"),
    ("documentation", "Documentation updated"),
)


def _item(
    key: str, text: str, found: TimelineEvent | None, timeline: Sequence[TimelineEvent]
) -> ChecklistItem:
    ticked = found or next(
        (e for e in timeline if e.step == tick_step(key) and e.status == "completed"), None
    )
    evidence = f"#{ticked.seq} {ticked.phase}/{ticked.step}" if ticked else ""
    return ChecklistItem(key=key, text=text, done=ticked is not None, evidence=evidence)


def commander_checklist(
    incident: dict[str, Any], timeline: Sequence[TimelineEvent]
) -> list[ChecklistItem]:
    return [_item(key, text, rule(incident, timeline), timeline) for key, text, rule in COMMANDER]


def follow_up_checklist(
    timeline: Sequence[TimelineEvent], follow_ups: Sequence[str] = ()
) -> list[ChecklistItem]:
    items = [*FOLLOW_UPS, *((slug(text)[:60], text) for text in follow_ups)]
    return [_item(key, text, None, timeline) for key, text in items]


def progress(items: Sequence[ChecklistItem]) -> float:
    """Percent done, as ``create_progress_artifact`` takes it."""
    return round(100.0 * sum(i.done for i in items) / len(items), 1) if items else 100.0


def checklist_markdown(title: str, items: Sequence[ChecklistItem]) -> str:
    lines = [f"### {title} ({progress(items):g}% done)", ""]
    for item in items:
        mark = "x" if item.done else " "
        lines.append(f"- [{mark}] {item.text}" + (f" ({item.evidence})" if item.evidence else ""))
    return "\n".join(lines)
