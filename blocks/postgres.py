"""The PostgreSQL database being diagnosed (not the incident record's database)."""

from __future__ import annotations

import psycopg
from prefect.blocks.core import Block
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from pydantic import Field, SecretStr

from incident.errors import PermanentError, TransientError
from incident.pool_planning import TerminationScope
from incident.redact import describe_dsn, redact

__all__ = ["PostgresTarget"]


class PostgresTarget(Block):
    """A PostgreSQL server Firebreak diagnoses and, with approval, acts on.

    The DSN's role needs ``pg_read_all_stats`` to see every backend's query, and
    ``pg_signal_backend`` (or superuser) to terminate backends. When the *server's*
    max_connections is what ran out, only reserved slots remain: use a superuser (or, from
    PostgreSQL 16, a member of ``pg_use_reserved_connections``); diagnostics that still find
    no slot retry with backoff and end as ``unreachable`` findings.

    Example:
        ```python
        from blocks import PostgresTarget

        target = PostgresTarget.load("BLOCK_NAME")
        with target.connect() as conn:
            conn.execute("SELECT 1")
        ```
    """

    _block_type_name = "PostgreSQL Target"
    _description = "A PostgreSQL server that Firebreak diagnoses and, with approval, acts on."
    _documentation_url = "https://www.postgresql.org/docs/current/monitoring-stats.html"

    dsn: SecretStr = Field(
        description="Connection string (postgresql://user:password@host:port/db); kept secret."
    )
    name: str = Field("", description="Human name shown in messages, e.g. orders-db.")
    connect_timeout_seconds: int = Field(5, ge=1, description="Seconds to wait for a connection.")
    statement_timeout_ms: int = Field(
        10_000, ge=100, description="Longest any diagnostic statement may run, in milliseconds."
    )
    only_own_database: bool = Field(
        True,
        description="Plan actions only on backends of the DSN's database, not the whole server.",
    )
    protected_roles: list[str] = Field(
        default_factory=list,
        description="Roles whose backends are never proposed for termination.",
    )
    include_superusers: bool = Field(
        False,
        description=(
            "Also propose superusers' backends for termination (off: a superuser session is "
            "usually a person or a migration, reported but never planned)."
        ),
    )
    application_roles: list[str] = Field(
        default_factory=list,
        description=(
            "Roles the application connects as; their connection limits count toward "
            "headroom even while none of their sessions is connected."
        ),
    )
    auth_log_path: str = Field(
        "",
        description=(
            "The server's log file, as the worker sees it, to count failed logins in "
            "(its log_line_prefix must start with %m or %t); empty: not read."
        ),
    )
    auth_failures_query: str = Field(
        "",
        description=(
            "A query returning username and failed_attempts (and optionally last_attempt) "
            "for failed logins since %(since)s, e.g. over an application's auth_logs table."
        ),
    )

    @property
    def identity(self) -> str:
        """The database itself (``postgresql://host:port/db``), whichever role or block name
        reaches it: plans are bound to it and mitigations on it are serialised by it."""
        dsn = self.dsn.get_secret_value()
        params = conninfo_to_dict(dsn)
        host = params.get("host") or params.get("hostaddr") or "localhost"
        port = params.get("port") or "5432"
        database = params.get("dbname") or params.get("user") or "postgres"
        return f"postgresql://{host}:{port}/{database}"

    def termination_scope(self) -> TerminationScope:
        """Which backends plans on this target may name (and verification judges)."""
        return TerminationScope(
            target=self.identity,
            database=self.identity.rsplit("/", 1)[-1] if self.only_own_database else None,
            protected_roles=frozenset(self.protected_roles),
            include_superusers=self.include_superusers,
        )

    @property
    def label(self) -> str:
        """How the target appears in findings and messages: never with its password."""
        where = describe_dsn(self.dsn.get_secret_value())
        return f"{self.name} ({where})" if self.name else where

    def connect(self) -> psycopg.Connection:
        """A fresh autocommit connection; connection failures are classified here, once."""
        dsn = self.dsn.get_secret_value()
        try:
            return psycopg.connect(
                dsn,
                autocommit=True,
                row_factory=dict_row,
                connect_timeout=self.connect_timeout_seconds,
                application_name="firebreak",
                options=f"-c statement_timeout={self.statement_timeout_ms}",
            )
        except psycopg.OperationalError as exc:
            detail = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else "", dsn)
            message = (
                f"PostgreSQL target {self.label} refused the connection ({detail}): check the DSN "
                "in its PostgresTarget block and that the server is up"
            )
            if "password authentication failed" in detail or "does not exist" in detail:
                raise PermanentError(message) from None
            raise TransientError(message) from None
