"""What ``/healthz`` says: can alerts be persisted, and can runs be started right now.

Alerts are still accepted while the Prefect API is down (they wait in the record), so an
unreachable API makes the receiver *degraded*, not unhealthy; an unreachable record
database makes it unhealthy (503), because nothing could be persisted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

__all__ = ["Health"]


@dataclass
class Health:
    prefect_api_url: str
    prefect_ok: bool | None = None  # None: not probed yet
    prefect_error: str = ""
    prefect_checked: float = 0.0
    pending_starts: int | None = None
    record_error: str = ""

    def prefect(self, ok: bool, error: str = "") -> bool:
        """Record a probe or call outcome; True when the API has just come back."""
        came_back = ok and self.prefect_ok is False
        self.prefect_ok, self.prefect_error = ok, "" if ok else error
        self.prefect_checked = time.time()
        return came_back

    def report(self) -> tuple[int, dict[str, Any]]:
        record_ok = not self.record_error
        if self.prefect_ok is False:
            prefect = {
                "status": "unreachable",
                "url": self.prefect_api_url,
                "error": self.prefect_error,
                "meanwhile": "alerts are recorded and their runs start when the API is back",
            }
        else:
            prefect = {
                "status": "ok" if self.prefect_ok else "unknown",
                "url": self.prefect_api_url,
            }
        status = "ok" if record_ok and self.prefect_ok is not False else "degraded"
        if not record_ok:
            status = "unhealthy"
        record = (
            {"status": "ok"} if record_ok else {"status": "unreachable", "error": self.record_error}
        )
        body = {
            "status": status,
            "record": record,
            "prefect_api": prefect,
            "pending_starts": self.pending_starts,
        }
        return (200 if record_ok else 503), body
