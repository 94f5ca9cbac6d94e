"""The one retry question every task asks: is this failure worth trying again?

Boundaries raise `TransientError` (timeouts, resets, 5xx, 429) or `PermanentError` (4xx, bad
configuration); only the first is retried, so a 403 fails fast instead of burning the backoff.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from typing import Any

from prefect import Task
from prefect.client.schemas.objects import State, TaskRun

from incident.errors import is_transient

__all__ = ["retry_only_transient"]


def retry_only_transient(
    task: Task[Any, Any], task_run: TaskRun, state: State[Any]
) -> bool | Awaitable[bool]:
    """Prefect ``retry_condition_fn``: retry a failed run only if it raised a `TransientError`.

    Works for sync and async tasks: in an async run `State.result` is a coroutine, and Prefect
    awaits the awaitable this returns.
    """
    result = state.result(raise_on_failure=False)
    if inspect.isawaitable(result):

        async def check(pending: Awaitable[Any]) -> bool:
            return is_transient(await pending)

        return check(result)
    return is_transient(result)
