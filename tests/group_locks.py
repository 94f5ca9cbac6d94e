"""Tests of one ``xdist_group`` never run at the same time, whatever the scheduler does.

`make test` relies on ``--dist loadgroup`` to keep a group on one worker. That contract broke
silently once (pytest 9.2 with pytest-xdist 3.8 distributed grouped tests round-robin: two
drills exhausted the one sandbox database together and each saw the other's fault). So each
grouped test also holds an exclusive file lock named after its group for its whole run
(setup, call, teardown): with working grouping the lock is never contended; without it, the
group's tests wait for each other instead of failing at random.
"""

from __future__ import annotations

import fcntl
import tempfile
from collections.abc import Generator
from contextlib import ExitStack
from pathlib import Path

import pytest

LOCK_DIR = Path(tempfile.gettempdir())


def groups_of(item: pytest.Item) -> list[str]:
    names = {
        str(m.args[0] if m.args else m.kwargs.get("name", "default"))
        for m in item.iter_markers("xdist_group")
    }
    return sorted(names)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator:
    with ExitStack() as held:
        for group in groups_of(item):  # sorted: two groups are always taken in one order
            lock = held.enter_context((LOCK_DIR / f"firebreak-test-{group}.lock").open("a"))
            fcntl.flock(lock, fcntl.LOCK_EX)
        return (yield)
