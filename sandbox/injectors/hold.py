"""Inject one fault in a drill session and hold it until this process is stopped.

For operators (see a fault for yourself) and for the tests that kill a drill mid-way. The
spec, secrets included, comes as JSON on standard input, never on the command line:

    {"ledger_dsn": "...", "schema": "...", "kind": "lock-contention",
     "options": {"database": "firebreak_drill"},
     "targets": {"postgres_dsn": "...", "redis_url": "...", "kubeconfig": "...",
                 "namespace": "...", "demo_admin_token": "..."}}

It prints ``INJECTED <kind> <target>`` once the fault is in effect. SIGTERM or Ctrl-C removes
the fault; SIGKILL leaves its ledger row for the next drill's start to undo.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
from typing import Any

from pydantic import SecretStr

from blocks.kubernetes import KubernetesTarget
from sandbox.injectors import INJECTORS, DrillTargets, FaultSession

__all__ = ["main", "targets_from"]


def targets_from(spec: dict[str, Any]) -> DrillTargets:
    def secret(key: str) -> SecretStr | None:
        return SecretStr(spec[key]) if spec.get(key) else None

    kube = None
    if spec.get("kubeconfig"):
        kube = KubernetesTarget(
            kubeconfig_path=spec["kubeconfig"], namespace=spec.get("namespace", "default")
        )
    return DrillTargets(
        postgres_dsn=secret("postgres_dsn"),
        redis_url=secret("redis_url"),
        kubernetes=kube,
        demo_admin_token=secret("demo_admin_token"),
    )


def main() -> int:
    spec = json.loads(sys.stdin.read())
    targets = targets_from(spec.get("targets", {}))
    fault = INJECTORS[spec["kind"]](targets, **spec.get("options", {}))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with (
        FaultSession(spec["ledger_dsn"], spec["schema"], targets) as session,
        session.injected(fault),
        contextlib.suppress(KeyboardInterrupt),
    ):
        print(f"INJECTED {fault.kind} {fault.target}", flush=True)
        stop.wait()
    print(f"REMOVED {fault.kind}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
