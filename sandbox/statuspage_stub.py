"""A local Atlassian-Statuspage-compatible API: incidents, their updates, component status.

Speaks the part of the Statuspage REST API (v1) that Firebreak uses: create an incident
(``POST /v1/pages/{page}/incidents``), move it on (``PATCH .../incidents/{id}``), set a
component's status (``PATCH .../components/{id}``), and read both back. Requests must carry
``Authorization: OAuth <api key>``. Every request is recorded; faults come from `HttpStub`.

Example:
    with StatuspageStub(api_key="k", page_id="p", components={"cmp1": "API"}) as stub:
        ...  # point the StatusPage block's api_base_url at stub.base_url
        assert stub.incident_statuses(incident_id) == ["investigating", "identified"]
"""

from __future__ import annotations

import hmac
import itertools
import re
from datetime import UTC, datetime
from typing import Any

from sandbox.http_stub import HttpStub, StubReply

__all__ = ["COMPONENT_STATES", "INCIDENT_STATES", "StatuspageStub"]

INCIDENT_STATES = ("investigating", "identified", "monitoring", "resolved")
COMPONENT_STATES = (
    "operational",
    "under_maintenance",
    "degraded_performance",
    "partial_outage",
    "major_outage",
)
_INCIDENTS = re.compile(r"^/v1/pages/(?P<page>[^/]+)/incidents(?:/(?P<id>[^/]+))?$")
_COMPONENTS = re.compile(r"^/v1/pages/(?P<page>[^/]+)/components(?:/(?P<id>[^/]+))?$")


def _now() -> str:
    return datetime.now(UTC).isoformat()


class StatuspageStub(HttpStub):
    """One status page (``page_id``) with the given components (id -> name), all operational."""

    name = "statuspage-stub"

    def __init__(
        self,
        *,
        api_key: str,
        page_id: str = "page1",
        components: dict[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.api_key, self.page_id = api_key, page_id
        self.components: dict[str, dict[str, Any]] = {
            cid: {"id": cid, "name": name, "status": "operational"}
            for cid, name in (components or {}).items()
        }
        self.component_history: dict[str, list[str]] = {cid: [] for cid in self.components}
        self.incidents: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)

    def incident_statuses(self, incident_id: str) -> list[str]:
        """Each status the incident was given, in order (one per update)."""
        with self.lock:
            updates = self.incidents[incident_id]["incident_updates"]
            return [u["status"] for u in reversed(updates)]  # newest first, as Statuspage

    def route(self, method: str, path: str, headers: dict[str, str], body: Any) -> StubReply:
        given = headers.get("Authorization") or headers.get("authorization") or ""
        if not hmac.compare_digest(given.encode(), f"OAuth {self.api_key}".encode()):
            return StubReply(401, {"error": "Could not authenticate"})
        for pattern, handler in ((_INCIDENTS, self._incidents), (_COMPONENTS, self._components)):
            match = pattern.match(path)
            if match:
                if match["page"] != self.page_id:
                    return StubReply(404, {"error": "The requested page could not be found."})
                with self.lock:
                    return handler(method, match["id"], body if isinstance(body, dict) else {})
        return StubReply(404, {"error": "not found"})

    def _incidents(self, method: str, incident_id: str | None, body: dict[str, Any]) -> StubReply:
        if method == "GET":
            if incident_id is None:
                return StubReply(200, list(self.incidents.values()))
            found = self.incidents.get(incident_id)
            return StubReply(200, found) if found else StubReply(404, {"error": "not found"})
        fields = body.get("incident")
        if not isinstance(fields, dict):
            return StubReply(422, {"error": "incident is missing"})
        status = fields.get("status", "investigating")
        if status not in INCIDENT_STATES:
            return StubReply(422, {"error": f"status {status!r} is not one of {INCIDENT_STATES}"})
        bad = self._apply_components(fields.get("components") or {})
        if bad:
            return StubReply(422, {"error": bad})
        if method == "POST" and incident_id is None:
            if not fields.get("name"):
                return StubReply(422, {"error": "name can't be blank"})
            new_id = f"inc{next(self._ids):04d}"
            incident = {
                "id": new_id,
                "page_id": self.page_id,
                "name": fields["name"],
                "status": status,
                "created_at": _now(),
                "resolved_at": None,
                "component_ids": list(fields.get("component_ids") or []),
                "incident_updates": [],
            }
            self.incidents[new_id] = incident
            self._update(incident, status, fields.get("body", ""))
            return StubReply(201, incident)
        if method in ("PATCH", "PUT") and incident_id is not None:
            incident = self.incidents.get(incident_id)
            if incident is None:
                return StubReply(404, {"error": "not found"})
            incident["status"] = status
            if status == "resolved":
                incident["resolved_at"] = _now()
            self._update(incident, status, fields.get("body", ""))
            return StubReply(200, incident)
        return StubReply(405, {"error": "method not allowed"})

    def _update(self, incident: dict[str, Any], status: str, body: str) -> None:
        update = {"id": f"upd{next(self._ids):04d}", "status": status, "body": body}
        incident["incident_updates"].insert(0, update | {"created_at": _now()})

    def _apply_components(self, wanted: dict[str, str]) -> str:
        for cid, status in wanted.items():
            if cid not in self.components:
                return f"component {cid!r} does not exist on page {self.page_id}"
            if status not in COMPONENT_STATES:
                return f"component status {status!r} is not one of {COMPONENT_STATES}"
        for cid, status in wanted.items():
            self.components[cid]["status"] = status
            self.component_history[cid].append(status)
        return ""

    def _components(self, method: str, component_id: str | None, body: dict[str, Any]) -> StubReply:
        if method == "GET":
            if component_id is None:
                return StubReply(200, list(self.components.values()))
            found = self.components.get(component_id)
            return StubReply(200, found) if found else StubReply(404, {"error": "not found"})
        if method in ("PATCH", "PUT") and component_id is not None:
            status = (body.get("component") or {}).get("status")
            bad = self._apply_components({component_id: status})
            if bad:
                return StubReply(
                    404 if component_id not in self.components else 422, {"error": bad}
                )
            return StubReply(200, self.components[component_id])
        return StubReply(405, {"error": "method not allowed"})
