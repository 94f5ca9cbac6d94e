"""The one way a runbook phase becomes a Prefect flow: a subflow without its own heartbeat.

Prefect 3.9 gives every flow run a heartbeat thread (every 180 s by default) and, when the
run ends, waits for it to notice — up to a second per run, measured by
``bench/phase_overhead.py`` (1.35 s per phase subflow against 0.29 s without). A response
runs seven or more phases, again on every resume from suspension: seven seconds of an
incident spent waiting on threads. A phase always runs in its scenario run's own process,
whose heartbeat goes on, so it proves the phase alive too; a crash of that process is
caught on the scenario run, where ``flows.hooks.record_abnormal_end`` writes the timeline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import Flow
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

__all__ = ["Phase", "phase"]


class Phase(Flow[..., Any]):
    """A flow whose runs send no heartbeats of their own (see the module's docstring)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            return super().__call__(*args, **kwargs)


def phase(name: str, **options: Any) -> Callable[[Callable[..., Any]], Phase]:
    """``@phase("assess")``: the phase as a subflow of the scenario's run."""

    def decorate(fn: Callable[..., Any]) -> Phase:
        return Phase(fn, name=name, validate_parameters=False, **options)

    return decorate
