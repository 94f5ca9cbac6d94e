"""Output and failure for every command: Rich on stdout, errors on stderr, exit codes.

Errors are turned into one red line saying what to do next, once, here; a traceback is for
bugs only. Every message passes through `redact` so a DSN or token in an exception never
reaches the terminal.
"""

from __future__ import annotations

import enum
import sys
from typing import NoReturn

import httpx
from prefect.exceptions import PrefectHTTPStatusError
from rich.console import Console
from rich.markup import escape

from incident.errors import FirebreakError
from incident.redact import redact

__all__ = ["CliFailure", "ExitCode", "err", "explain", "fail", "out", "report_and_exit"]

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1  # the command ran and something is wrong (unreachable, refused, failed check)
    USAGE = 2  # bad arguments (typer's own code for usage errors)


class CliFailure(Exception):
    """A failure whose message is already fit for the operator."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILED) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: ExitCode = ExitCode.FAILED) -> NoReturn:
    raise CliFailure(message, code)


def explain(exc: BaseException, *secrets: str | None) -> str | None:
    """The operator's sentence for an expected failure; None for a bug (let it raise)."""
    if isinstance(exc, CliFailure | FirebreakError):
        text = str(exc)
    elif isinstance(exc, httpx.ConnectError | httpx.TimeoutException):
        url = str(exc.request.url) if _has_request(exc) else "the configured URL"
        text = (
            f"cannot reach the Prefect API at {url} ({type(exc).__name__}): start it "
            "(`prefect server start`) or set FIREBREAK_PREFECT_API_URL / PREFECT_API_URL"
        )
    elif isinstance(exc, PrefectHTTPStatusError):
        text = f"the Prefect API refused the request: {exc}"
    else:
        return None
    return redact(text, *secrets)


def _has_request(exc: httpx.HTTPError) -> bool:
    try:
        exc.request  # noqa: B018  # raises RuntimeError when the error carries no request
    except RuntimeError:
        return False
    return True


def report_and_exit(exc: BaseException, *secrets: str | None) -> NoReturn:
    """Print an expected failure and exit the process non-zero; re-raise anything else."""
    message = explain(exc, *secrets)
    if message is None:
        raise exc
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    code = exc.code if isinstance(exc, CliFailure) else ExitCode.FAILED
    sys.exit(int(code))
