"""The one way to write a destructive action, and the registry that lists them all.

A destructive task is registered under its action name, tagged ``destructive`` (visible in
the Prefect UI and filterable by concurrency limits), and wrapped so that it cannot run
unless it was handed an approval for exactly its plan, on exactly the target the plan names
(its ``identity``), or is a dry run. The check lives here, not in each task, so no action
can forget it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from prefect import Task, task

from incident.errors import ApprovalMismatch
from incident.models import ActionStatus, Approval, Plan

__all__ = ["DESTRUCTIVE_ACTIONS", "destructive", "settled"]

P = ParamSpec("P")
R = TypeVar("R")

DESTRUCTIVE_ACTIONS: dict[str, Task[Any, Any]] = {}


def check_approval(plan: Plan, approval: Approval | None, dry_run: bool) -> None:
    if dry_run:
        return
    if approval is None or not approval.approved:
        raise ApprovalMismatch(f"{plan.action} on {plan.target} was not approved: nothing was done")
    if approval.plan_digest != plan.digest:
        raise ApprovalMismatch(
            f"the approval given was for plan {approval.plan_digest}, not for this plan "
            f"{plan.digest}: nothing was done; request approval for the current plan"
        )


def destructive(action: str, **task_options: Any) -> Callable[[Callable[..., R]], Task[..., R]]:
    """Register ``fn(target, plan, approval, *, dry_run)`` as the task for ``action``."""

    def decorate(fn: Callable[..., R]) -> Task[..., R]:
        @functools.wraps(fn)
        def guarded(
            target: Any, plan: Plan, approval: Approval | None, *, dry_run: bool = False
        ) -> R:
            if plan.action != action:
                raise ApprovalMismatch(f"plan is for {plan.action!r}, this task does {action!r}")
            identity = getattr(target, "identity", None)
            if plan.target != identity:
                raise ApprovalMismatch(
                    f"plan is for {plan.target}, but this task was handed {identity}: nothing "
                    "was done; an approval covers only the target it was given for"
                )
            check_approval(plan, approval, dry_run)
            return fn(target, plan, approval, dry_run=dry_run)

        tags = set(task_options.pop("tags", ())) | {"destructive"}
        registered = task(name=action, tags=tags, **task_options)(guarded)
        if action in DESTRUCTIVE_ACTIONS:
            raise ValueError(f"destructive action {action!r} is registered twice")
        DESTRUCTIVE_ACTIONS[action] = registered
        return registered

    return decorate


def settled(done: int, failed: int, text: str, nothing_done: str) -> tuple[ActionStatus, str]:
    """How an applied (not dry) action ended, from its items: done, failed, both or neither.

    A partial or failed action is what the engine escalates, saying ``text`` exactly.
    """
    if failed and done:
        return ActionStatus.PARTIAL, "partly done, " + text
    if failed:
        return ActionStatus.FAILED, f"{nothing_done}, " + text
    if done:
        return ActionStatus.APPLIED, text
    return ActionStatus.NOOP, "nothing to do, " + text
