"""The one way a diagnostic is written: retried, bounded, never crashing, never leaking.

Every check in every scenario has the same needs: retry what may succeed on a second try
(timeouts, resets, 5xx, 429), give up at once on what will not (403, a missing object, a
bad DSN), end as an ``unreachable`` Finding that says what to do next when the target never
answers, and keep the target's secrets out of that Finding. Written once here, a check is
only its read:

    @diagnostic("connection_headroom")
    def measure_connection_headroom(target: PostgresTarget, min_headroom: float) -> Finding:
        ...

Only failures the project classified (`TransientError` / `PermanentError`, raised at the
client boundary) become ``unreachable`` findings. Anything else is a bug in the check: it
raises, the run fails, and the timeline says where, instead of hiding behind "unreachable".
Time is bounded by each client's own request timeouts (a Prefect timeout cannot interrupt a
blocking call in a worker thread).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec

import prefect.runtime
from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext
from prefect.tasks import exponential_backoff
from pydantic import BaseModel, SecretStr

from incident.errors import FirebreakError, PermanentError
from incident.models import Finding, FindingStatus
from incident.redact import redact
from tasks.retrying import retry_only_transient

__all__ = ["diagnostic", "secrets_of", "unreachable"]

P = ParamSpec("P")


def secrets_of(target: object) -> list[str]:
    """Every secret value a block holds (its SecretStr fields), to scrub from messages."""
    if not isinstance(target, BaseModel):
        return []
    values = []
    for name in type(target).model_fields:
        value = getattr(target, name, None)
        if isinstance(value, SecretStr):
            values.append(value.get_secret_value())
    return values


def label_of(target: object) -> str:
    return str(getattr(target, "label", None) or type(target).__name__)


def unreachable(check: str, target: object, error: BaseException, attempts: int) -> Finding:
    """The Finding of a check whose target could not be read; says what to do next."""
    summary = redact(str(error), *secrets_of(target))
    if attempts > 1:
        summary += f" (gave up after {attempts} attempts)"
    return Finding(
        check=check,
        target=label_of(target),
        status=FindingStatus.UNREACHABLE,
        summary=summary,
        evidence={
            "error": type(error).__name__,
            "transient": not isinstance(error, PermanentError),
            "attempts": attempts,
            "http_status": getattr(error, "status", None),
        },
    )


def diagnostic(
    check: str,
    *,
    retries: int = 3,
    backoff_seconds: float = 0.5,
    jitter: float = 0.5,
    tags: tuple[str, ...] = (),
) -> Callable[[Callable[..., Finding]], Task[..., Finding]]:
    """Make ``fn(target, **kwargs) -> Finding`` a Prefect task with the shared rules.

    Transient failures are retried ``retries`` times with exponential backoff and jitter;
    the last one, or any permanent failure, returns an ``unreachable`` Finding.
    """

    def decorate(fn: Callable[..., Finding]) -> Task[..., Finding]:
        @functools.wraps(fn)
        def attempt(target: Any, *args: Any, **kwargs: Any) -> Finding:
            try:
                return fn(target, *args, **kwargs)
            except FirebreakError as exc:
                run = prefect.runtime.task_run.run_count or 1
                # the retries this run really has: `.with_options(retries=n)` changes them
                context = TaskRunContext.get()
                allowed = context.task.retries if context else retries
                if isinstance(exc, PermanentError) or run > allowed:
                    return unreachable(check, target, exc, attempts=run)
                raise

        return task(
            name=fn.__name__,
            retries=retries,
            retry_delay_seconds=exponential_backoff(backoff_factor=backoff_seconds),
            retry_jitter_factor=jitter,
            retry_condition_fn=retry_only_transient,
            cache_policy=NO_CACHE,
            tags=["diagnostic", *tags],
        )(attempt)

    return decorate
