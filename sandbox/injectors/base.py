"""What every drill fault is, and the session that guarantees each one is removed.

A `Fault` names what it will create before creating it (`resource`), injects a real fault,
can tell from the system itself that the fault is there (`present`), and can remove it —
both from its own handles and, after a crash, from its ledger row alone (`remove_orphan`).
`FaultSession` ties them to the ledger: entering a session cleans what dead sessions left
behind; `session.injected(fault)` removes the fault however the block ends.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import SecretStr

from blocks.kubernetes import KubernetesTarget
from sandbox.injectors.ledger import FaultLedger, LedgerEntry

__all__ = ["INJECTORS", "DrillTargets", "Fault", "FaultSession", "SweepOutcome"]

log = logging.getLogger("firebreak.drill")


@dataclass(frozen=True)
class DrillTargets:
    """Where drills may inject faults; a fault kind whose target is missing is refused."""

    postgres_dsn: SecretStr | None = None  # admin DSN of the sandbox PostgreSQL server
    redis_url: SecretStr | None = None
    kubernetes: KubernetesTarget | None = None  # the drill namespace
    demo_admin_token: SecretStr | None = None  # the demo service's fault endpoint


class Fault(ABC):
    """One real fault, injected into a drill target and always removable."""

    kind: ClassVar[str]

    def __init__(self, targets: DrillTargets) -> None:
        self.targets = targets

    @property
    @abstractmethod
    def target(self) -> str:
        """What is faulted, for people (no credentials)."""

    @property
    @abstractmethod
    def resource(self) -> dict[str, Any]:
        """Everything `remove_orphan` needs, decided before anything is created."""

    @abstractmethod
    def inject(self) -> None: ...

    @abstractmethod
    def present(self) -> bool:
        """Whether the fault is really there, read from the system (not from memory)."""

    def wait_until_present(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not self.present():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.kind} on {self.target} not in effect after {timeout}s")
            time.sleep(0.3)

    def remove(self) -> str:
        """Undo everything this fault created; idempotent. Returns what was done."""
        return self.remove_orphan(self.resource, self.targets)

    @classmethod
    @abstractmethod
    def remove_orphan(cls, resource: dict[str, Any], targets: DrillTargets) -> str:
        """Undo a fault from its ledger row alone (its process is gone); idempotent."""


INJECTORS: dict[str, type[Fault]] = {}


def register(cls: type[Fault]) -> type[Fault]:
    INJECTORS[cls.kind] = cls
    return cls


@dataclass(frozen=True)
class SweepOutcome:
    kind: str
    target: str
    removed: bool
    detail: str


class FaultSession:
    """A drill's hold on the ledger; ``with FaultSession(...) as s`` sweeps dead sessions."""

    def __init__(self, ledger_dsn: str, schema: str, targets: DrillTargets) -> None:
        self._dsn, self._schema, self.targets = ledger_dsn, schema, targets
        self.ledger: FaultLedger | None = None
        self.swept: list[SweepOutcome] = []

    def __enter__(self) -> FaultSession:
        self.ledger = FaultLedger(self._dsn, self._schema)
        self.swept = self.sweep()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.ledger is not None
        for entry in self.ledger.open_entries(mine=True):  # injected outside `injected()`
            self._undo(entry)
        self.ledger.close()

    def sweep(self) -> list[SweepOutcome]:
        """Remove every fault whose drill process is gone (its lock is free)."""
        assert self.ledger is not None
        outcomes: list[SweepOutcome] = []
        by_session: dict[int, list[LedgerEntry]] = {}
        for entry in self.ledger.open_entries(mine=False):
            by_session.setdefault(entry.lock_key, []).append(entry)
        for lock_key, entries in by_session.items():
            if not self.ledger.claim_dead(lock_key):
                continue  # a drill still running elsewhere: its faults are its own
            try:
                outcomes += [self._undo(entry) for entry in reversed(entries)]
            finally:
                self.ledger.release(lock_key)
        return outcomes

    def _undo(self, entry: LedgerEntry) -> SweepOutcome:
        assert self.ledger is not None
        cls = INJECTORS.get(entry.kind)
        try:
            if cls is None:
                raise LookupError(f"no injector {entry.kind!r} in this version")
            detail = cls.remove_orphan(entry.resource, self.targets)
        except Exception as exc:  # stays open: the next start tries again
            detail = f"not removed: {type(exc).__name__}: {exc}"
            log.warning("drill fault %s on %s %s", entry.kind, entry.target, detail)
            self.ledger.note(entry, detail)
            return SweepOutcome(entry.kind, entry.target, False, detail)
        self.ledger.mark_removed(entry, detail)
        return SweepOutcome(entry.kind, entry.target, True, detail)

    @contextmanager
    def injected(self, fault: Fault, *, wait: float = 90) -> Iterator[Fault]:
        """Inject ``fault`` (recorded first) and remove it when the block ends, however."""
        assert self.ledger is not None
        entry = self.ledger.record(fault.kind, fault.target, fault.resource)
        try:
            fault.inject()
            fault.wait_until_present(wait)
            yield fault
        finally:
            try:
                self.ledger.mark_removed(entry, fault.remove())
            except Exception as exc:
                self.ledger.note(entry, f"not removed: {type(exc).__name__}: {exc}")
                raise
