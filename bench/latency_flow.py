"""The flow whose start the trigger-latency benchmark times: it does nothing else.

``python -m bench.latency_flow NAME`` serves it (``serve()``) as deployment ``NAME``.
"""

from __future__ import annotations

import sys

from prefect import flow

__all__ = ["noop"]


@flow(name="bench-noop", log_prints=False)
def noop() -> int:
    return 1


if __name__ == "__main__":
    noop.serve(name=sys.argv[1])
