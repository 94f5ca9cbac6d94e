"""One mitigation at a time per target, whichever incident, deployment or worker it comes from.

A deployment-level concurrency limit is the wrong tool: it queues an incident on
``payments-db`` behind one on ``orders-db``, and (measured on Prefect 3.9.1) a run's slot is
released when it pauses for approval and not taken back on resume, so two approved runs of a
limit-1 deployment can act on one database at once. Instead the apply step holds a global
concurrency limit named after the target's identity: two incidents on one database apply one
after the other; two on two databases at once. The limit is created (upserted) before use —
Prefect's auto-creation is deprecated and a missing limit only warns — and held ``strict``ly,
so a missing limit is an error, never a silent free-for-all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from datetime import timedelta

from prefect.client.orchestration import get_client
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists

from incident.errors import TransientError

__all__ = ["hold_target", "lock_name"]

_BANNED = re.compile(r"[/%&><]+")  # characters Prefect refuses in limit names


def lock_name(identity: str) -> str:
    """``postgresql://db:5432/orders`` → ``mitigate-postgresql:-db:5432-orders``."""
    return "mitigate-" + _BANNED.sub("-", identity)


def _ensure_limit(name: str) -> None:
    # another run may create it between the upsert's read and its create
    with get_client(sync_client=True) as client, suppress(ObjectAlreadyExists):
        client.upsert_global_concurrency_limit_by_name(name, limit=1)


@contextmanager
def hold_target(identity: str, *, timeout: timedelta) -> Iterator[None]:
    """Hold the target's mitigation slot; `TransientError` if it stays taken past ``timeout``."""
    name = lock_name(identity)
    _ensure_limit(name)
    stack = ExitStack()
    try:
        stack.enter_context(
            concurrency(name, occupy=1, timeout_seconds=timeout.total_seconds(), strict=True)
        )
    except TimeoutError:
        raise TransientError(
            f"another mitigation on {identity} held it for more than "
            f"{int(timeout.total_seconds())} s: nothing was done; see the other incident "
            f"(concurrency limit {name}) before trying again"
        ) from None
    with stack:
        yield
