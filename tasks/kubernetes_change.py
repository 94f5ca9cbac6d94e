"""What every Kubernetes mitigation shares: judge each planned item against the live object
first, change nothing if any item moved on since it was planned, then write each change with
the object's just-read ``resourceVersion`` as its precondition.

An action module supplies one function, ``judge(kube, item) -> Judgement``: it reads the
object, and says whether the item is already done (a recorded no-op), changed since it was
planned (stale: the engine re-plans and asks again), refused (a state we must not act on,
e.g. a paused rollout), or still to change — with the write that changes it, run once for
real or once as a server-side dry run (``dryRun=All``). `carry_out` does the rest the same
way for every action: nothing is written unless every item can be, one result per item, and
an `Action` whose status and summary a person can read.

Judging "changed since planned" is each action's business, with one shared rule for the
object's spec (`moved_on`): when the planner recorded the object's ``generation`` (which only
a spec change moves), that is compared; otherwise its ``resourceVersion``, which also moves
on every status update. Planners should record both: a crash-looping Deployment's status
changes with every restart, and an approval that takes minutes would otherwise always find
the plan stale.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kubernetes import client

from blocks.kubernetes import KubernetesTarget
from incident.errors import PermanentError
from incident.models import Action, ActionStatus, Approval, Plan
from tasks.kubernetes_api import kubernetes_api
from tasks.kubernetes_session import Gone, Kube, WriteConflict

__all__ = [
    "REFUSED",
    "STALE",
    "Judgement",
    "Verdict",
    "carry_out",
    "moved_on",
]

STALE = "changed since planned"
REFUSED = "refused"
NOT_ATTEMPTED = "not attempted"


class Verdict(enum.StrEnum):
    CHANGE = "change"
    DONE = "done"  # already in the planned end state: a recorded no-op
    STALE = "stale"  # the object moved on since the plan was made
    REFUSED = "refused"  # a state this action must not act on; says what to do instead


@dataclass(frozen=True)
class Judgement:
    """One planned item, looked at now: what it needs, in words, and the write that does it.

    ``change(dry_run)`` performs the write (``dry_run`` is ``"All"`` or None) and returns the
    detail to report; ``done``/``would`` are the outcomes of a real and of a dry write.
    ``gone_is_done``: a 404 on the write means the work is done (a pod already deleted).
    """

    name: str
    verdict: Verdict
    outcome: str = ""
    detail: str = ""
    change: Callable[[str | None], str] | None = None
    done: str = ""
    would: str = ""
    gone_is_done: bool = False

    @classmethod
    def already(cls, name: str, outcome: str, detail: str = "") -> Judgement:
        """Already in the planned end state: nothing to write, a recorded no-op."""
        return cls(name, Verdict.DONE, outcome, detail)

    @classmethod
    def stale(cls, name: str, detail: str) -> Judgement:
        """Moved on since planned: nothing of this plan is written."""
        return cls(name, Verdict.STALE, STALE, detail)

    @classmethod
    def refused(cls, name: str, detail: str) -> Judgement:
        """A state this action must not act on; ``detail`` says what to do instead."""
        return cls(name, Verdict.REFUSED, REFUSED, detail)

    @classmethod
    def to_change(
        cls,
        name: str,
        change: Callable[[str | None], str],
        *,
        done: str,
        would: str,
        detail: str = "",
        gone_is_done: bool = False,
    ) -> Judgement:
        return cls(name, Verdict.CHANGE, "", detail, change, done, would, gone_is_done)


def moved_on(item: dict[str, Any], meta: client.V1ObjectMeta) -> str | None:
    """Why the object's spec is no longer the one planned against, or None if it is the same.

    ``generation`` when the planner recorded it (spec changes only), else ``resource_version``.
    """
    if item.get("generation") is not None:
        if int(item["generation"]) != int(meta.generation or 0):
            return f"its spec changed (generation {item['generation']} → {meta.generation})"
        return None
    if str(item.get("resource_version")) != str(meta.resource_version):
        return (
            f"it changed (resourceVersion {item.get('resource_version')} → {meta.resource_version})"
        )
    return None


def _write(judgement: Judgement, dry_run: bool) -> tuple[str, str]:
    assert judgement.change is not None
    try:
        detail = judgement.change("All" if dry_run else None)
    except WriteConflict as exc:
        return STALE, f"it changed while being written, nothing was written: {exc}"
    except Gone as exc:
        if judgement.gone_is_done:
            return "already gone", str(exc)
        return STALE, f"it no longer exists: {exc}"
    except PermanentError as exc:  # 403, 422 (invalid), ...: the apiserver said no
        return REFUSED, str(exc)
    return (judgement.would if dry_run else judgement.done), detail


def _result(judgement: Judgement, outcome: str, detail: str) -> dict[str, Any]:
    return {"name": judgement.name, "outcome": outcome, "detail": detail}


def _listing(results: Iterable[dict[str, Any]]) -> str:
    by_outcome: dict[str, list[str]] = {}
    for r in results:
        by_outcome.setdefault(r["outcome"], []).append(r["name"])
    return "; ".join(f"{outcome}: {', '.join(names)}" for outcome, names in by_outcome.items())


def _status(results: list[dict[str, Any]], dry_run: bool, done: str) -> tuple[ActionStatus, str]:
    """The action's status and a one-line summary, by outcome, naming every item.

    A dry run is always ``DRY_RUN`` (the engine tells a dry run from an apply by that status);
    what it found, stale or refused items included, is in its summary and results.
    """
    outcomes = {r["outcome"] for r in results}
    listing = _listing(results)
    if dry_run:
        if STALE in outcomes:
            return ActionStatus.DRY_RUN, f"dry run: changed since planned, re-plan — {listing}"
        return ActionStatus.DRY_RUN, f"dry run: {listing}"
    stale, failed, changed = STALE in outcomes, REFUSED in outcomes, done in outcomes
    if stale and not changed:
        return ActionStatus.STALE, f"nothing was done, the target changed since planned — {listing}"
    if (stale or failed) and changed:
        return ActionStatus.PARTIAL, f"partly done — {listing}"
    if failed:
        return ActionStatus.FAILED, f"nothing was done — {listing}"
    if changed:
        return ActionStatus.APPLIED, listing
    return ActionStatus.NOOP, f"nothing to do — {listing}"


def carry_out(
    target: KubernetesTarget,
    plan: Plan,
    approval: Approval | None,
    dry_run: bool,
    judge: Callable[[Kube, dict[str, Any]], Judgement],
    *,
    done: str,
) -> Action:
    """Judge every item, then (only if none is stale) write each change, real or dry.

    ``done`` is the action's outcome for a real change ("rolled back"), used to tell applied
    from no-op. A stale item stops the whole plan before anything is written: the approver
    approved the plan as a whole.
    """
    with kubernetes_api(target) as api:
        kube = Kube(api, target)
        judged = [judge(kube, dict(item)) for item in plan.items]
        results: list[dict[str, Any]] = []
        if any(j.verdict is Verdict.STALE for j in judged):
            for j in judged:
                if j.verdict is Verdict.CHANGE:
                    detail = "another item of this plan changed since planned"
                    results.append(_result(j, NOT_ATTEMPTED, detail))
                else:
                    results.append(_result(j, j.outcome, j.detail))
        else:
            for j in judged:
                if j.verdict is Verdict.CHANGE:
                    results.append(_result(j, *_write(j, dry_run)))
                else:
                    results.append(_result(j, j.outcome, j.detail))
    status, summary = _status(results, dry_run, done)
    return Action(
        plan=plan,
        status=status,
        summary=summary,
        results=tuple(results),
        approver=approval.approver if approval else "",
    )
