"""The run's logger where there is a run, a plain one where there is not (tests, scripts)."""

from __future__ import annotations

import logging

from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger

__all__ = ["run_logger"]

_fallback = logging.getLogger("firebreak")


def run_logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        return get_run_logger()
    except MissingContextError:
        return _fallback
