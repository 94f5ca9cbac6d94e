"""When a flow run fails or crashes, its timeline says where it stopped.

Steps are recorded as they start and complete, so even a killed process leaves the last
completed step in the record; these hooks add the ending itself when the process survives.
"""

from __future__ import annotations

import logging
from typing import Any

from flows.scribe import Scribe
from incident.models import IncidentStatus

__all__ = ["OPEN_INCIDENTS", "record_abnormal_end", "release_incident"]

# flow run id -> the scribe of the incident it is handling, for this process's hooks only
OPEN_INCIDENTS: dict[str, Scribe] = {}

log = logging.getLogger("firebreak")


def record_abnormal_end(flow: Any, flow_run: Any, state: Any) -> None:
    """on_failure / on_crashed hook: write the ending and the step it interrupted."""
    scribe = OPEN_INCIDENTS.pop(str(flow_run.id), None)
    if scribe is None:
        return
    try:
        scribe.settle(timeout=30)
        timeline = scribe.record.timeline(scribe.incident.id)
        latest: dict[tuple[str, str], str] = {}
        order: list[tuple[str, str]] = []
        for e in timeline:
            latest[(e.phase, e.step)] = e.status
            order.append((e.phase, e.step))
        interrupted = [k for k in order if latest[k] in ("started", "failed")]
        where = "/".join(interrupted[-1]) if interrupted else "between steps"
        last_done = next((e for e in reversed(timeline) if e.status == "completed"), None)
        scribe.event(
            "flow",
            state.name.lower(),
            "failed",
            f"flow run {state.name.lower()} during {where}: {state.message or 'no message'}"
            + (f"; last completed step: {last_done.phase}/{last_done.step}" if last_done else ""),
            state=state.name,
        )
        scribe.record.set_status(scribe.incident.id, IncidentStatus.CRASHED)
    except Exception:  # a hook must never mask the original failure
        log.exception("could not record the end of flow run %s", flow_run.id)
    finally:
        scribe.record.close()


def release_incident(flow: Any, flow_run: Any, state: Any) -> None:
    """on_completion hook: the run is over; let go of its record connection."""
    scribe = OPEN_INCIDENTS.pop(str(flow_run.id), None)
    if scribe is not None:
        scribe.record.close()
