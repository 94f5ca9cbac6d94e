"""What a worker and the flow-run processes it started hold in memory, read from /proc.

A process worker starts each flow run as a child process; counting the worker's live
descendants and summing their resident set sizes is what a waiting incident costs the
machine (psutil is not a dependency: Linux's /proc says the same).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Sampler", "Usage", "tree_rss"]

PROC = Path("/proc")


@dataclass(frozen=True)
class Usage:
    """The worker's own RSS and its descendants' (the flow runs), in MB."""

    worker_mb: float
    children: int
    children_mb: float
    largest_child_mb: float

    @property
    def total_mb(self) -> float:
        return self.worker_mb + self.children_mb


def _rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _parents() -> dict[int, int]:
    """pid → parent pid of every live process."""
    parents = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            # the command name may hold spaces and parentheses: fields follow the last ')'
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def descendants(pid: int) -> list[int]:
    parents = _parents()
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        found += kids
        frontier += kids
    return found


def tree_rss(pid: int) -> Usage:
    sizes = [_rss_mb(p) for p in descendants(pid)]
    sizes = [s for s in sizes if s > 0]  # a process that exited between the two reads
    return Usage(
        worker_mb=_rss_mb(pid),
        children=len(sizes),
        children_mb=sum(sizes),
        largest_child_mb=max(sizes, default=0.0),
    )


class Sampler:
    """Keeps the sample with the most live flow-run processes (and the largest one seen)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = Usage(0.0, 0, 0.0, 0.0)
        self._largest = 0.0

    def sample(self) -> Usage:
        now = tree_rss(self.pid)
        self._largest = max(self._largest, now.largest_child_mb)
        best = now if now.children > self.peak.children else self.peak
        self.peak = Usage(best.worker_mb, best.children, best.children_mb, self._largest)
        return now
