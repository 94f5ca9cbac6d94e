"""A small JSON-over-HTTP stub server: what the status page and PagerDuty stubs share.

Those services are out of reach from tests and drills, and mocking their clients would test
nothing of the wire. A stub records every request as it arrives, answers through its
subclass's ``route``, and fails on demand (an HTTP status, 429 with ``Retry-After``, a hang)
so a caller's outage handling is exercised over real sockets.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

__all__ = ["HttpStub", "StubCall", "StubReply"]


@dataclass
class StubCall:
    """One request: recorded on arrival; ``status`` once answered."""

    method: str
    path: str
    headers: dict[str, str] = field(repr=False)  # credentials: keep out of repr
    body: Any
    fault: str | None = None
    status: int | None = None
    received_at: float = field(default_factory=time.monotonic)


@dataclass
class StubReply:
    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Fault:
    kind: str  # "status", "ratelimit", "hang"
    remaining: int | None
    status: int = 500
    retry_after: int = 1
    seconds: float = 0.0


class HttpStub:
    """Serve ``route`` on a local port from a daemon thread; use as a context manager."""

    name = "stub"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host, self._port = host, port
        self.lock = threading.RLock()
        self._calls: list[StubCall] = []
        self._faults: collections.deque[_Fault] = collections.deque()
        self._always: _Fault | None = None
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> HttpStub:
        if self._server is None:
            self._stopping.clear()
            self._server = ThreadingHTTPServer((self._host, self._port), _handler_for(self))
            self._server.daemon_threads = True
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=self.name,
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; held (hanging) requests are released at once."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> HttpStub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started: use it as `with`")
        return f"http://{self._host}:{self._server.server_address[1]}"

    # -- faults -----------------------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        self._queue(_Fault("status", n, status=status))

    def rate_limit_next(self, n: int = 1, retry_after: int = 1) -> None:
        self._queue(_Fault("ratelimit", n, status=429, retry_after=retry_after))

    def hang_next(self, n: int = 1, seconds: float = 5.0) -> None:
        """Hold the next ``n`` requests ``seconds`` before answering (and then carry them out)."""
        self._queue(_Fault("hang", n, seconds=seconds))

    def fail_always(self, status: int = 503) -> None:
        with self.lock:
            self._always = _Fault("status", None, status=status)

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()
            self._always = None

    def _queue(self, fault: _Fault) -> None:
        if fault.remaining is not None and fault.remaining < 1:
            raise ValueError("a fault must apply to at least one request")
        with self.lock:
            self._faults.append(fault)

    def _take_fault(self) -> _Fault | None:
        with self.lock:
            if self._faults:
                fault = self._faults[0]
                assert fault.remaining is not None
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.popleft()
                return fault
            return self._always

    # -- what was received ------------------------------------------------------------------

    @property
    def calls(self) -> list[StubCall]:
        with self.lock:
            return list(self._calls)

    def route(self, method: str, path: str, headers: dict[str, str], body: Any) -> StubReply:
        """Answer one request that no fault intercepted; subclasses implement the API."""
        raise NotImplementedError

    def _handle(self, method: str, path: str, headers: dict[str, str], body: Any) -> StubReply:
        call = StubCall(method=method, path=path, headers=headers, body=body)
        with self.lock:
            self._calls.append(call)
        fault = self._take_fault()
        if fault is not None and fault.kind == "hang":
            call.fault = "hang"
            self._stopping.wait(fault.seconds)
            fault = None
        if fault is None:
            reply = self.route(method, path, headers, body)
        elif fault.kind == "ratelimit":
            call.fault = "ratelimited"
            reply = StubReply(
                429, {"error": "rate limited"}, {"Retry-After": str(fault.retry_after)}
            )
        else:
            call.fault = f"http_{fault.status}"
            reply = StubReply(fault.status, {"error": "injected failure"})
        call.status = reply.status
        return reply


def _handler_for(stub: HttpStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = f"{type(stub).__name__}/1"

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_PATCH(self) -> None:
            self._serve()

        def do_PUT(self) -> None:
            self._serve()

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except json.JSONDecodeError:
                self._send(StubReply(400, {"error": "body is not JSON"}))
                return
            path = urlsplit(self.path).path
            self._send(stub._handle(self.command, path, dict(self.headers.items()), body))

        def _send(self, reply: StubReply) -> None:
            data = json.dumps(reply.payload).encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up before the answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
