"""Running the receiver: ``serve`` for a process (the CLI's ``firebreak serve`` calls it),
``running`` for a thread inside tests and benchmarks."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from receiver.app import create_app
from receiver.settings import ReceiverSettings

__all__ = ["build_server", "running", "serve"]


def build_server(settings: ReceiverSettings, *, log_level: str = "info") -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        access_log=False,  # refusals are logged by reason; headers and bodies never are
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    return uvicorn.Server(config)


def serve(settings: ReceiverSettings, *, log_level: str = "info") -> None:
    """Serve until SIGINT/SIGTERM; pending starts stay in the record for the next start."""
    build_server(settings, log_level=log_level).run()


@contextmanager
def running(
    settings: ReceiverSettings, *, startup_timeout: float = 60, log_level: str = "warning"
) -> Iterator[str]:
    """The receiver served from a background thread; yields its base URL (``http://h:p``)."""
    server = build_server(settings, log_level=log_level)
    thread = threading.Thread(target=server.run, name="firebreak-receiver", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the receiver stopped while starting: see its log above")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise TimeoutError(f"the receiver did not start within {startup_timeout} s")
        time.sleep(0.02)
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
