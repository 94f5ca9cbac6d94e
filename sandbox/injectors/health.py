"""A failing health endpoint: the sandbox demo service answers 503 until the fault is removed.

The demo service runs on its own (``python -m sandbox.demo_service``), so a killed drill
leaves it failing; the ledger row holds its URL and the next start heals it. Only a fault
this injector set is cleared: if someone set another mode meanwhile, it is left alone.
"""

from __future__ import annotations

from typing import Any

import httpx

from incident.errors import PermanentError
from sandbox.injectors.base import DrillTargets, Fault, register

__all__ = ["FailingHealthEndpoint"]

_STATUS = 503


def _admin(targets: DrillTargets) -> dict[str, str]:
    if targets.demo_admin_token is None:
        raise PermanentError("no demo service admin token configured for the health fault")
    return {"Authorization": f"Bearer {targets.demo_admin_token.get_secret_value()}"}


@register
class FailingHealthEndpoint(Fault):
    kind = "failing-health"

    def __init__(self, targets: DrillTargets, url: str) -> None:
        super().__init__(targets)
        self.url = url.rstrip("/")

    @property
    def target(self) -> str:
        return f"{self.url}/health"

    @property
    def resource(self) -> dict[str, Any]:
        return {"url": self.url, "status": _STATUS}

    def inject(self) -> None:
        answer = httpx.post(
            f"{self.url}/admin/fault",
            json={"mode": "fail", "status": _STATUS},
            headers=_admin(self.targets),
            timeout=5,
        )
        answer.raise_for_status()

    def present(self) -> bool:
        return httpx.get(f"{self.url}/health", timeout=5).status_code == _STATUS

    @classmethod
    def remove_orphan(cls, resource: dict[str, Any], targets: DrillTargets) -> str:
        url, headers = resource["url"], _admin(targets)
        try:
            current = httpx.get(f"{url}/admin/fault", headers=headers, timeout=5).json()
        except httpx.ConnectError:
            return f"{url} is not running: nothing to heal"
        if current.get("mode") != "fail" or current.get("status") != resource["status"]:
            return f"{url} no longer has this fault ({current.get('mode')}): left alone"
        httpx.post(
            f"{url}/admin/fault", json={"mode": "clear"}, headers=headers, timeout=5
        ).raise_for_status()
        return f"{url}/health healed"
