"""Fault injectors for drills: real faults, recorded in a durable ledger, always removed.

with FaultSession(record_dsn, schema, targets) as session:     # sweeps dead drills' faults
    with session.injected(LockContention(targets, "firebreak_drill")):
        ...                                                    # the response runs here
# removed here, on success, on exception; a SIGKILL leaves a ledger row the next start undoes
"""

from sandbox.injectors.base import INJECTORS, DrillTargets, Fault, FaultSession, SweepOutcome
from sandbox.injectors.health import FailingHealthEndpoint
from sandbox.injectors.kubernetes import BadRollout, CrashLoop, OomKill
from sandbox.injectors.ledger import FaultLedger, LedgerEntry
from sandbox.injectors.postgres import LockContention, PoolExhaustionFault
from sandbox.injectors.redis_flood import RedisClientFlood

__all__ = [
    "INJECTORS",
    "BadRollout",
    "CrashLoop",
    "DrillTargets",
    "FailingHealthEndpoint",
    "Fault",
    "FaultLedger",
    "FaultSession",
    "LedgerEntry",
    "LockContention",
    "OomKill",
    "PoolExhaustionFault",
    "RedisClientFlood",
    "SweepOutcome",
]
