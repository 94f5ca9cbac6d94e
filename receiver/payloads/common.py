"""What every source's payload becomes: normalised alerts with the identity dedup needs.

The per-source models accept what real senders send (unknown fields ignored, legacy fields
missing, Go's zero time for "not ended", any time-zone offset) and refuse what is broken.
Normalising here means intake, routing and the record never look at a source's shape.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from incident.models import Alert, AlertSource
from incident.severity import Severity

__all__ = [
    "Lenient",
    "Normaliser",
    "OptionalTime",
    "ParsedDelivery",
    "ReceivedAlert",
    "StrMap",
    "label_fingerprint",
]


class Lenient(BaseModel):
    """Senders add fields over time; unknown ones are ignored, never a refusal."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


def _utc_or_none(value: datetime | None) -> datetime | None:
    """Go's zero time (0001-01-01) means "not set"; naive times are taken as UTC."""
    if value is None or value.year <= 1:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _none_to_empty(value: object) -> object:
    return {} if value is None else value


OptionalTime = Annotated[datetime | None, AfterValidator(_utc_or_none)]
StrMap = Annotated[dict[str, str], BeforeValidator(_none_to_empty)]


def label_fingerprint(labels: Mapping[str, str]) -> str:
    """An alert's identity when the sender gives none (legacy Alertmanager): its label set."""
    body = json.dumps(sorted(labels.items()), separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ReceivedAlert:
    """One alert as delivered: the normalised `Alert` plus what deduplicates its deliveries.

    A fingerprint (which alert), a status, and an episode (the sender's start time, empty
    when it gives none): a re-sent notification repeats all three; a resolved or re-fired
    alert changes one of them. The episode never comes from our clock, or every re-send
    would look new.
    """

    alert: Alert
    fingerprint: str
    episode: str = ""
    ends_at: datetime | None = None

    @property
    def identity(self) -> tuple[str, str, str]:
        return (self.fingerprint, self.alert.status, self.episode)


@dataclass
class ParsedDelivery:
    """A request's alerts, or why it carries none that can open an incident."""

    source: AlertSource
    alerts: list[ReceivedAlert] = field(default_factory=list)
    ignored: str = ""  # a well-formed delivery that is not an alert (e.g. a PagerDuty ping)


class Normaliser:
    """Turns a source's fields into an `Alert`, with the receiver's limits and aliases."""

    def __init__(self, *, max_field_chars: int, severity_aliases: Mapping[str, Severity]) -> None:
        self.max_field_chars = max_field_chars
        self.severity_aliases = dict(severity_aliases)

    def clip(self, text: str) -> str:
        if len(text) <= self.max_field_chars:
            return text
        return text[: self.max_field_chars] + " …[clipped]"

    def clip_map(self, values: Mapping[str, str]) -> dict[str, str]:
        return {self.clip(k): self.clip(v) for k, v in values.items()}

    def severity(self, *candidates: object) -> Severity | None:
        """The first candidate we can read as a level; unreadable ones are not refusals."""
        for value in candidates:
            if value is None or value == "":
                continue
            alias = self.severity_aliases.get(str(value).strip().lower())
            if alias is not None:
                return alias
            try:
                return Severity.parse(value)
            except ValueError:
                continue
        return None

    def received(
        self, *, fingerprint: str | None, ends_at: datetime | None = None, **fields: Any
    ) -> ReceivedAlert:
        """Normalise one alert; ``starts_at`` (if the sender gave it) is also its episode."""
        alert = self.alert(**fields)
        started = fields.get("starts_at")
        return ReceivedAlert(
            alert=alert,
            fingerprint=(fingerprint or label_fingerprint({**alert.labels, "": alert.name}))[:128],
            episode=started.isoformat() if isinstance(started, datetime) else "",
            ends_at=ends_at,
        )

    def alert(self, **fields: Any) -> Alert:
        labels = self.clip_map(fields.pop("labels", {}))
        annotations = self.clip_map(fields.pop("annotations", {}))
        for name in ("summary", "description", "service", "generator_url"):
            fields[name] = self.clip(str(fields.get(name) or ""))
        fields["name"] = self.clip(str(fields.get("name") or "")) or "unnamed-alert"
        if fields.get("starts_at") is None:
            fields.pop("starts_at", None)
        return Alert(labels=labels, annotations=annotations, **fields)
