"""Keep secrets out of every message, log line, artifact and record row."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["describe_dsn", "redact", "redact_sql"]

_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):[^@\s]*@", re.I)
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.I)


def redact(text: str, *secrets: str | None) -> str:
    """Remove the given secrets and any password embedded in a URL or key=value DSN."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _URL_PASSWORD.sub(r"\g<scheme>\g<user>:***@", text)
    return _KV_PASSWORD.sub(r"\1***", text)


# A SQL string constant ('it''s', E'\\'', $tag$ ... $tag$), perhaps cut off by a length limit;
# a backslash always escapes, which at worst masks a little more than the literal.
_SQL_LITERAL = re.compile(
    r"""(?P<dollar>\$(?P<tag>[A-Za-z_][A-Za-z0-9_]*)?\$).*?(?:(?P=dollar)|\Z)"""
    r"""|(?P<quote>[EeBbXxNnUu]&?)?'(?:\\.|[^'\\]|'')*(?:'|\Z)""",
    re.S,
)


def redact_sql(query: str | None) -> str | None:
    """A query as people may see it: every string constant masked as ``'***'``.

    ``pg_stat_activity.query`` is whatever the application sent, passwords in
    ``ALTER ROLE ... PASSWORD '...'`` and tokens in ``WHERE`` clauses included; identifiers
    and numbers stay, so the shape of the query is still readable.
    """
    if query is None:
        return None
    return _SQL_LITERAL.sub("'***'", query)


def describe_dsn(dsn: str) -> str:
    """A DSN as a person may see it: user@host:port/db, never the password."""
    if "://" in dsn:
        parts = urlsplit(dsn)
        user = f"{parts.username}@" if parts.username else ""
        port = f":{parts.port}" if parts.port else ""
        return f"{user}{parts.hostname or 'localhost'}{port}{parts.path or ''}"
    fields = dict(re.findall(r"(\w+)\s*=\s*('[^']*'|\S+)", dsn))
    user = f"{fields['user']}@" if "user" in fields else ""
    host = fields.get("host", "localhost")
    port = f":{fields['port']}" if "port" in fields else ""
    db = f"/{fields['dbname']}" if "dbname" in fields else ""
    return f"{user}{host}{port}{db}"
