"""When a flow run fails or crashes, its timeline — and its channel — say where it stopped.

Steps are recorded as they start and complete, so even a killed process leaves the last
completed step in the record; these hooks add the ending itself when the process survives,
and tell the incident channel, so an "APPROVAL NEEDED" is never its last word.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from incident.models import IncidentStatus

if TYPE_CHECKING:
    from flows.response import Response

__all__ = ["OPEN_INCIDENTS", "record_abnormal_end", "release_incident"]

# flow run id -> the response it is running, for this process's hooks only
OPEN_INCIDENTS: dict[str, Response] = {}

log = logging.getLogger("firebreak")


def _where(response: Response) -> tuple[str, str]:
    timeline = response.record.timeline(response.id)
    latest: dict[tuple[str, str], str] = {}
    order: list[tuple[str, str]] = []
    for e in timeline:
        latest[(e.phase, e.step)] = e.status
        order.append((e.phase, e.step))
    interrupted = [k for k in order if latest[k] in ("started", "failed")]
    where = "/".join(interrupted[-1]) if interrupted else "between steps"
    last_done = next((e for e in reversed(timeline) if e.status == "completed"), None)
    return where, f"{last_done.phase}/{last_done.step}" if last_done else ""


def _tell_channel(response: Response, text: str) -> None:
    """Synchronously, bounded: the run is ending and the side channel with it."""
    if response.slack is None:
        return
    from tasks.slack import post_message

    delivery = post_message.fn(
        response.slack,
        text,
        channel=response.incident.channel,
        kind="abnormal-end",
        attempts=2,
        max_wait_seconds=10,
    )
    response.event(
        "flow",
        "notify:abnormal-end",
        "completed" if delivery.delivered else "failed",
        "the channel was told the run stopped"
        if delivery.delivered
        else f"could not tell the channel: {delivery.error}",
    )


def record_abnormal_end(flow: Any, flow_run: Any, state: Any) -> None:
    """on_failure / on_crashed hook: write the ending and the step it interrupted."""
    response = OPEN_INCIDENTS.pop(str(flow_run.id), None)
    if response is None:
        return
    try:
        response.settle(timeout=30)
        where, last_done = _where(response)
        ending = state.name.lower()
        response.event(
            "flow",
            ending,
            "failed",
            f"flow run {ending} during {where}: {state.message or 'no message'}"
            + (f"; last completed step: {last_done}" if last_done else ""),
            state=state.name,
        )
        response.set_status(IncidentStatus.CRASHED)
        _tell_channel(
            response,
            f"⛔ RESPONSE STOPPED - {response.id}\n{'━' * 22}\n"
            f"Issue: {response.incident.title}\n"
            f"The automated response {ending} during {where}"
            + (f" (last completed: {last_done})" if last_done else "")
            + ".\nA person must take over; the timeline in the record shows what was done.",
        )
    except Exception:  # a hook must never mask the original failure
        log.exception("could not record the end of flow run %s", flow_run.id)
    finally:
        response.record.close()


def release_incident(flow: Any, flow_run: Any, state: Any) -> None:
    """on_completion hook: the run is over; let go of its record connection."""
    response = OPEN_INCIDENTS.pop(str(flow_run.id), None)
    if response is not None:
        response.record.close()
