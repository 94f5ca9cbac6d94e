"""Which scenario answers an alert: rules in configuration (YAML or a block), never in code.

A rule matches the alert's name and labels (regular expressions, anchored) and names the
scenario and its parameters (target block names). The first matching rule wins; an alert
no rule matches goes to triage (assessment, investigation and runbook 002's decision tree).
A file is checked when it loads: an unknown key, a bad pattern or a missing scenario fails
there, with the rule's position, not when the alert comes.

    routes:
      - alert: "Postgres.*Connections.*"
        labels: {service: "orders|payments"}
        scenario: db-pool-exhaustion
        parameters: {database: orders-db}
    triage:
      parameters: {cluster: production}
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from incident.errors import PermanentError
from incident.models import Alert

__all__ = ["Route", "RoutingError", "RoutingRules", "load_routes"]

TRIAGE = "triage"


class RoutingError(PermanentError):
    """The routing configuration cannot be used; the message says where and why."""


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    alert: str = Field(".*", description="Regular expression the alert's name must match")
    labels: dict[str, str] = Field(
        default_factory=dict, description="Label name → regular expression its value must match"
    )
    scenario: str = Field(description="Scenario flow name, e.g. db-pool-exhaustion")
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="Parameters for the scenario (block names)"
    )

    @field_validator("alert")
    @classmethod
    def _compiles(cls, value: str) -> str:
        re.compile(value)
        return value

    @field_validator("labels")
    @classmethod
    def _label_patterns_compile(cls, value: dict[str, str]) -> dict[str, str]:
        for pattern in value.values():
            re.compile(pattern)
        return value

    def matches(self, alert: Alert) -> bool:
        if not re.fullmatch(self.alert, alert.name):
            return False
        return all(
            re.fullmatch(pattern, alert.labels.get(name, ""))
            for name, pattern in self.labels.items()
        )


class Triage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    parameters: dict[str, Any] = Field(default_factory=dict)


class RoutingRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    routes: tuple[Route, ...] = ()
    triage: Triage = Field(default_factory=Triage)

    def route(self, alert: Alert) -> Route:
        """The first rule that matches, else triage with its parameters."""
        for rule in self.routes:
            if rule.matches(alert):
                return rule
        return Route(scenario=TRIAGE, parameters=dict(self.triage.parameters))

    def with_parameter(self, name: str, value: Any) -> RoutingRules:
        """These rules with ``name`` set to ``value`` wherever a route passes it: the shipped
        rules pointed at a drill's or a test's own target, everything else as shipped."""
        routes = tuple(
            r.model_copy(update={"parameters": {**r.parameters, name: value}})
            if name in r.parameters
            else r
            for r in self.routes
        )
        return self.model_copy(update={"routes": routes})

    def check(self, scenarios: Collection[str]) -> RoutingRules:
        """Every rule names a scenario that exists (``scenarios``); raises `RoutingError`."""
        for n, rule in enumerate(self.routes, 1):
            if rule.scenario not in scenarios:
                raise RoutingError(
                    f"route {n} names scenario {rule.scenario!r}, which does not exist: use one "
                    f"of {sorted(scenarios)}"
                )
        return self


def load_routes(source: str | Path | dict[str, Any]) -> RoutingRules:
    """Rules from a YAML file path or an already-parsed mapping; errors say where."""
    where = "routing rules"
    if isinstance(source, str | Path):
        where = str(source)
        try:
            data = yaml.safe_load(Path(source).read_text()) or {}
        except OSError as exc:
            raise RoutingError(f"cannot read routing rules {where}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise RoutingError(f"{where} is not valid YAML: {exc}") from None
    else:
        data = source
    try:
        return RoutingRules.model_validate(data)
    except (ValidationError, re.error) as exc:
        raise RoutingError(f"{where}: {exc}") from None
