"""Routing rules: which deployment answers an alert, and which alerts share one incident.

Rules live in configuration (the receiver's YAML, see ``deployments/routing.yaml``), never
in code, and are checked when the receiver starts: a broken regular expression or a
deployment name without its flow fails at load, not when the first alert arrives at 3 a.m.
The first matching rule wins; an alert no rule matches goes to ``default_deployment``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from incident.models import Alert, AlertSource

__all__ = ["Match", "Route", "RouteDecision", "RoutingRules", "incident_key"]

_DEPLOYMENT = r"^[^/\s]+/[^/\s]+$"


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from None
    return pattern


class Match(BaseModel):
    """What an alert must look like for a rule to apply; regexes match the whole value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alertname: str | None = Field(None, description="Regex the alert name must match")
    source: AlertSource | None = Field(None, description="Only alerts from this source")
    labels: dict[str, str] = Field(
        default_factory=dict, description="label -> regex; every one must match"
    )

    @field_validator("alertname")
    @classmethod
    def _alertname_compiles(cls, value: str | None) -> str | None:
        return None if value is None else _compiles(value)

    @field_validator("labels")
    @classmethod
    def _labels_compile(cls, value: dict[str, str]) -> dict[str, str]:
        for pattern in value.values():
            _compiles(pattern)
        return value

    def matches(self, alert: Alert) -> bool:
        if self.source is not None and alert.source is not self.source:
            return False
        if self.alertname is not None and not re.fullmatch(self.alertname, alert.name):
            return False
        return all(
            name in alert.labels and re.fullmatch(pattern, alert.labels[name])
            for name, pattern in self.labels.items()
        )


class Route(BaseModel):
    """One rule: alerts matching ``match`` start ``deployment`` with ``parameters``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    match: Match = Field(default_factory=Match)
    deployment: str = Field(pattern=_DEPLOYMENT, description="<flow name>/<deployment name>")
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="Extra flow parameters, e.g. block names"
    )
    group_by: tuple[str, ...] | None = Field(
        None,
        description=(
            "Labels whose values make the incident key; unset: the source's own grouping "
            "(Alertmanager groupKey, Grafana's group, the PagerDuty incident)"
        ),
    )


@dataclass(frozen=True)
class RouteDecision:
    route: str
    deployment: str
    parameters: dict[str, Any]
    key: str


class RoutingRules(BaseModel):
    """The ordered rules, and where an alert goes when none of them matches."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    routes: tuple[Route, ...] = ()
    default_deployment: str = Field("respond/respond", pattern=_DEPLOYMENT)
    default_parameters: dict[str, Any] = Field(default_factory=dict)

    @field_validator("routes")
    @classmethod
    def _names_unique(cls, routes: tuple[Route, ...]) -> tuple[Route, ...]:
        names = [r.name for r in routes]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"route names must be unique; repeated: {duplicates}")
        return routes

    def decide(self, alert: Alert) -> RouteDecision:
        """The first matching rule's deployment and the incident key this alert belongs to."""
        for route in self.routes:
            if route.match.matches(alert):
                return RouteDecision(
                    route.name,
                    route.deployment,
                    dict(route.parameters),
                    incident_key(alert, route.name, route.group_by),
                )
        return RouteDecision(
            "default",
            self.default_deployment,
            dict(self.default_parameters),
            incident_key(alert, "default", None),
        )


def incident_key(alert: Alert, route: str, group_by: tuple[str, ...] | None) -> str:
    """The alert group an incident answers: a rule's labels, else the source's grouping.

    Prefixed so that a rule's group and a source's group never collide; long source keys
    (an Alertmanager groupKey carries the whole route path) are hashed to a fixed length.
    """
    if group_by is not None:
        values = json.dumps([[name, alert.labels.get(name, "")] for name in group_by])
        return f"route:{route}:{_short(values)}"
    return f"{alert.source.value}:{_short(alert.dedup_key())}"


def _short(text: str) -> str:
    if len(text) <= 64:
        return text
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:32]
