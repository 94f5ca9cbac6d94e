"""Message templates as Jinja2 files a team overrides by configuration, checked when loaded.

The defaults live in ``incident/messages/``; a team points ``IncidentPolicy.message_templates``
at a directory holding any of the same file names, and those win. Everything is checked
when the set is loaded (a flow's start, the sweep's start), never mid-incident: a directory
that does not exist, a file name that is not a template (a typo would otherwise be ignored
silently), a syntax error, an undefined variable, an include of a missing file: each is a
`TemplateConfigError` naming the file and the line. Every template is rendered once against
a sample incident to find the errors Jinja only raises when rendering.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2

from incident.errors import PermanentError

__all__ = [
    "DEFAULTS_DIR",
    "TEMPLATE_NAMES",
    "Message",
    "MessageTemplates",
    "TemplateConfigError",
    "duration_text",
    "load_templates",
]

DEFAULTS_DIR = Path(__file__).with_name("messages")
_SUFFIXES = (".txt.j2", ".md.j2")


def _names() -> tuple[str, ...]:
    found = []
    for path in sorted(DEFAULTS_DIR.iterdir()):
        for suffix in _SUFFIXES:
            if path.name.endswith(suffix):
                found.append(path.name[: -len(suffix)])
    return tuple(found)


TEMPLATE_NAMES: tuple[str, ...] = _names()
"""Every message Firebreak sends, by template name (file name without ``.txt.j2``)."""


class TemplateConfigError(PermanentError):
    """A template override cannot be used; the message names its file and line."""

    def __init__(self, message: str, *, path: str = "", line: int | None = None) -> None:
        where = f"{path}:{line}: " if path and line else (f"{path}: " if path else "")
        super().__init__(f"{where}{message}")
        self.path = path
        self.line = line


def _utc(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S} UTC"


def _hm(at: datetime) -> str:
    return f"{at:%H:%M:%S} UTC"


def duration_text(seconds: float) -> str:
    """``1h 2m 3s`` / ``4m 5s``: how the runbooks write durations."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m {secs}s" if hours else f"{minutes}m {secs}s"


@dataclass(frozen=True)
class Message:
    """One rendered message: plain text (the fallback every client shows) and Block Kit."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


def _blocks(text: str, footer: str) -> list[dict[str, Any]]:
    """Block Kit for a rendered text: its first line as header, the rest as sections."""
    lines = text.strip("\n").split("\n")
    head = lines[0].strip()[:150] or "Firebreak"
    body = "\n".join(line for line in lines[1:] if set(line.strip()) != {"━"}).strip()
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": head, "emoji": True}}
    ]
    while body:  # a section holds at most 3000 characters
        chunk, body = body[:3000], body[3000:]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": chunk}})
    if footer:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]})
    return blocks


class MessageTemplates:
    """A checked set of templates (defaults plus overrides); render by name."""

    def __init__(self, environment: jinja2.Environment, overrides: Path | None) -> None:
        self._env = environment
        self.overrides = overrides

    def render(self, name: str, **context: Any) -> str:
        """The template's text; surrounding blank lines are trimmed."""
        return self._env.get_template(_file_of(name)).render(**context).strip("\n")

    def message(self, name: str, *, footer: str = "", **context: Any) -> Message:
        """Text plus Block Kit built from it, so both say the same thing."""
        text = self.render(name, **context)
        return Message(text=text, blocks=_blocks(text, footer))


def _file_of(name: str) -> str:
    for suffix in _SUFFIXES:
        candidate = name + suffix
        if (DEFAULTS_DIR / candidate).exists():
            return candidate
    raise TemplateConfigError(f"no template named {name!r}: known ones are {TEMPLATE_NAMES}")


def _environment(overrides: Path | None) -> jinja2.Environment:
    search = [str(overrides)] if overrides is not None else []
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([*search, str(DEFAULTS_DIR)]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,
    )
    env.filters["utc"] = _utc
    env.filters["hm"] = _hm
    env.filters["duration"] = duration_text
    return env


def _template_frame(exc: BaseException) -> tuple[str, int | None]:
    """The innermost template file and line in a render error's traceback."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith(_SUFFIXES):
            return frame.filename, frame.lineno
    return "", None


def _check(env: jinja2.Environment, overrides: Path | None, samples: Mapping[str, Any]) -> None:
    if overrides is not None:
        if not overrides.is_dir():
            raise TemplateConfigError(
                "the message_templates directory does not exist: create it, or unset "
                "IncidentPolicy.message_templates to use the built-in templates",
                path=str(overrides),
            )
        known = {name + suffix for name in TEMPLATE_NAMES for suffix in _SUFFIXES}
        for path in sorted(overrides.iterdir()):
            if path.is_file() and path.name not in known and not path.name.startswith("_"):
                raise TemplateConfigError(
                    f"{path.name!r} overrides no template: name it after one of "
                    f"{sorted(known)} (files starting with '_' are kept for includes)",
                    path=str(path),
                )
    for name in TEMPLATE_NAMES:
        filename = _file_of(name)
        try:
            template = env.get_template(filename)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateConfigError(
                f"syntax error: {exc.message}", path=str(exc.filename or filename), line=exc.lineno
            ) from None
        try:
            template.render(**samples[name]())
        except jinja2.TemplateSyntaxError as exc:  # in an included file
            raise TemplateConfigError(
                f"syntax error: {exc.message}", path=str(exc.filename or filename), line=exc.lineno
            ) from None
        except jinja2.TemplateNotFound as exc:
            path, line = _template_frame(exc)
            raise TemplateConfigError(
                f"includes {exc.name!r}, which is in neither the overrides nor the defaults",
                path=path or str(template.filename),
                line=line,
            ) from None
        except Exception as exc:
            path, line = _template_frame(exc)
            raise TemplateConfigError(
                f"fails when rendered ({type(exc).__name__}: {exc}); template variables are "
                "listed in the README's Templates section",
                path=path or str(template.filename),
                line=line,
            ) from None


def load_templates(
    overrides: str | Path | None, samples: Mapping[str, Callable[[], dict[str, Any]]]
) -> MessageTemplates:
    """Load and check the defaults plus ``overrides`` (a directory); raise on any problem."""
    directory = Path(overrides).expanduser().resolve() if overrides else None
    env = _environment(directory)
    _check(env, directory, samples)
    return MessageTemplates(env, directory)
