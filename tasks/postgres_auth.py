"""Failed logins per user in a time window (runbook 004 "Check authentication failures").

Two sources, whichever the target names (a task parameter overrides its block):

- ``auth_log_path``: the server's own log, read by the worker (on the database's machine, or
  a mounted copy). Lines ``FATAL:  <method> authentication failed for user "<name>"`` are
  counted (md5 and scram both log ``password``); the line must start with the time
  (``log_line_prefix`` beginning ``%m`` or ``%t``, the default) and messages must be in
  English (``lc_messages``). Only the last ``max_bytes`` of the file are read.
- ``auth_failures_query``: an application's own table, e.g. the runbook's ``auth_logs``;
  it returns ``username`` and ``failed_attempts`` (and optionally ``last_attempt``) and may
  use ``%(since)s`` for the window's start.

Evidence holds counts per user and the last attempt's time: no client addresses, nothing
of the log line but the user name.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from blocks.postgres import PostgresTarget
from incident.errors import FirebreakError, PermanentError
from incident.models import Finding, FindingStatus, utcnow
from tasks.diagnostic import diagnostic
from tasks.postgres_session import query

__all__ = ["count_auth_failures", "failures_in_log"]

_LINE = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)"
    r"(?: (?P<tz>[A-Za-z][\w/+-]*|[+-]\d\d(?::?\d\d)?))?"
    r".*?FATAL:\s+(?P<method>[\w-]+) authentication failed for user \"(?P<user>[^\"]{0,128})\""
)
_MAX_USERS = 20


def _zone(name: str | None) -> timezone | ZoneInfo | None:
    if name in (None, "UTC", "GMT", "Z"):
        return UTC
    if name[0] in "+-":
        digits = name[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        return timezone(-offset if name[0] == "-" else offset)
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return None


def _tail(path: Path, max_bytes: int) -> list[str]:
    with path.open("rb") as log:
        size = log.seek(0, 2)
        log.seek(max(0, size - max_bytes))
        lines = log.read().decode("utf-8", "replace").splitlines()
    return lines[1:] if size > max_bytes else lines  # the first one may be cut


def failures_in_log(path: Path, since: datetime, max_bytes: int) -> dict[str, Any]:
    """Failed logins per user since ``since`` in the server log at ``path``."""
    per_user: dict[str, dict[str, Any]] = {}
    methods: dict[str, int] = {}
    undated = 0
    for line in _tail(path, max_bytes):
        match = _LINE.match(line)
        if match is None:
            continue
        zone = _zone(match["tz"])
        if zone is None:
            undated += 1
            continue
        at = datetime.fromisoformat(match["ts"]).replace(tzinfo=zone)
        if at < since:
            continue
        user = per_user.setdefault(match["user"], {"failed_attempts": 0, "last_attempt": at})
        user["failed_attempts"] += 1
        user["last_attempt"] = max(user["last_attempt"], at)
        methods[match["method"]] = methods.get(match["method"], 0) + 1
    return {"per_user": per_user, "methods": methods, "undated": undated}


def _from_query(target: PostgresTarget, text: str, since: datetime) -> dict[str, Any]:
    try:
        rows = query(target, text, {"since": since} if "%(since)s" in text else None)
    except FirebreakError:
        raise
    except psycopg.Error as exc:
        raise PermanentError(
            f"the auth_failures_query of {target.label} failed ({type(exc).__name__}: "
            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}): fix it in its "
            "PostgresTarget block"
        ) from None
    if rows and not {"username", "failed_attempts"} <= set(rows[0]):
        raise PermanentError(
            f"the auth_failures_query of {target.label} returns {sorted(rows[0])}: it must "
            "return username and failed_attempts (and optionally last_attempt)"
        )
    return {
        "per_user": {
            str(r["username"]): {
                "failed_attempts": int(r["failed_attempts"]),
                "last_attempt": r.get("last_attempt"),
            }
            for r in rows
        }
    }


@diagnostic("auth_failures", tags=("postgres", "security"))
def count_auth_failures(
    target: PostgresTarget,
    window: timedelta = timedelta(hours=1),
    max_failures: int = 10,
    log_path: str | None = None,
    failures_query: str | None = None,
    max_bytes: int = 32 * 1024 * 1024,
) -> Finding:
    """Failed logins per user in the last ``window``; a warning above ``max_failures``."""
    path = log_path if log_path is not None else target.auth_log_path
    text = failures_query if failures_query is not None else target.auth_failures_query
    since = utcnow() - window
    if path:
        try:
            counted = failures_in_log(Path(path), since, max_bytes)
        except OSError as exc:
            raise PermanentError(
                f"cannot read the log of {target.label} at {path} ({exc.strerror}): set "
                "auth_log_path in its PostgresTarget block to the server's log as this worker "
                "sees it, readable by the worker's user"
            ) from None
        source = {"source": "log", "log_path": path}
    elif text:
        counted = _from_query(target, text, since)
        source = {"source": "query"}
    else:
        return Finding(
            check="auth_failures",
            target=target.label,
            status=FindingStatus.SKIPPED,
            summary=(
                "no source of failed logins: set auth_log_path (the server log) or "
                "auth_failures_query in the PostgresTarget block"
            ),
            evidence={"source": None},
        )
    ranked = sorted(counted["per_user"].items(), key=lambda kv: -kv[1]["failed_attempts"])
    total = sum(u["failed_attempts"] for _, u in ranked)
    per_user = [
        {
            "user": name,
            "failed_attempts": u["failed_attempts"],
            "last_attempt": u["last_attempt"].isoformat()
            if isinstance(u["last_attempt"], datetime)
            else u["last_attempt"],
        }
        for name, u in ranked[:_MAX_USERS]
    ]
    minutes = f"{window.total_seconds() / 60:g} min"
    who = ", ".join(f"{u['user']} {u['failed_attempts']}" for u in per_user[:5])
    if not total:
        summary = f"no failed logins in the last {minutes}"
    else:
        summary = f"{total} failed login(s) in the last {minutes} ({who})" + (
            f", above {max_failures}: check for password guessing or a client with a stale password"
            if total > max_failures
            else ""
        )
    return Finding(
        check="auth_failures",
        target=target.label,
        status=FindingStatus.WARNING if total > max_failures else FindingStatus.OK,
        summary=summary,
        evidence={
            **source,
            "total": total,
            "per_user": per_user,
            "users": len(ranked),
            "methods": counted.get("methods", {}),
            "undated_lines": counted.get("undated", 0),
            "since": since.isoformat(),
            "max_failures": max_failures,
        },
    )
