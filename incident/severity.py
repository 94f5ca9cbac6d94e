"""One canonical severity scale that reads every scheme the runbooks use.

The five runbooks disagree on names: ``P1``-``P4`` (000), ``SEV1``-``SEV4`` (001, 002,
004, also written ``SEV 1``) and the zero-based ``SEV-0``-``SEV-3`` (003). They agree on
four levels, so Firebreak stores the level and renders it in whichever scheme the team's
policy names. A hyphen marks the zero-based scheme, as runbook 003 writes it: ``SEV-1``
is *high*, ``SEV1`` is *critical*.
"""

from __future__ import annotations

import enum
import re
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

__all__ = ["ACCEPTED_FORMS", "Severity", "SeverityScheme"]


class SeverityScheme(enum.StrEnum):
    """How a team writes its severities."""

    P = "P"  # P1..P4, runbook 000
    SEV = "SEV"  # SEV1..SEV4, runbooks 001, 002, 004
    SEV_ZERO = "SEV-0"  # SEV-0..SEV-3, runbook 003

    def label(self, severity: Severity) -> str:
        if self is SeverityScheme.P:
            return f"P{severity.rank}"
        if self is SeverityScheme.SEV:
            return f"SEV{severity.rank}"
        return f"SEV-{severity.rank - 1}"


ACCEPTED_FORMS = (
    "P1-P4 (runbook 000), SEV1-SEV4 or 'SEV 1'-'SEV 4' (runbooks 001/002/004), "
    "SEV-0-SEV-3 (runbook 003), critical/high/medium/low, or the rank 1-4"
)

_PATTERNS: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"^P([1-4])$"), 0),
    (re.compile(r"^SEV ?([1-4])$"), 0),
    (re.compile(r"^SEV-([0-3])$"), 1),
    (re.compile(r"^([1-4])$"), 0),
)


class Severity(enum.IntEnum):
    """Canonical levels; a lower rank is more severe (1 = critical)."""

    CRITICAL = 1
    HIGH = 2
    MEDIUM = 3
    LOW = 4

    @property
    def rank(self) -> int:
        return int(self.value)

    @classmethod
    def parse(cls, value: object) -> Severity:
        """Read any runbook's notation; a wrong one names the accepted forms."""
        if isinstance(value, Severity):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            if 1 <= value <= 4:
                return cls(value)
            raise ValueError(f"severity {value!r} is not a level: use {ACCEPTED_FORMS}")
        if not isinstance(value, str):
            raise ValueError(
                f"severity must be a string, got {type(value).__name__}: use {ACCEPTED_FORMS}"
            )
        text = value.strip().upper()
        if text.lower() in {m.name.lower() for m in cls}:
            return cls[text]
        for pattern, offset in _PATTERNS:
            match = pattern.match(text)
            if match:
                return cls(int(match.group(1)) + offset)
        raise ValueError(f"severity {value!r} is not recognised: use {ACCEPTED_FORMS}")

    def label(self, scheme: SeverityScheme = SeverityScheme.SEV) -> str:
        return scheme.label(self)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls.parse,
            json_schema_input_schema=core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda s: s.name.lower()
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        return {
            "type": "string",
            "description": f"Severity: {ACCEPTED_FORMS}",
            "examples": ["SEV1", "P2", "SEV-0", "critical"],
        }
