"""A small local service with a health endpoint: the sandbox's application to break and heal.

``GET /health`` answers 200 ``{"status": "ok"}`` while healthy. A drill's fault injector
makes it fail through the admin endpoint (``POST /admin/fault`` with the admin token):
``{"mode": "fail", "status": 503}`` answers that status, ``{"mode": "slow", "seconds": 3}``
delays each answer, ``{"mode": "clear"}`` heals it. ``GET /admin/fault`` says what is set.
The admin token is compared in constant time and never echoed.

    python -m sandbox.demo_service --port 8598 --admin-token-env DEMO_ADMIN_TOKEN
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["DemoService", "FaultMode"]

_MAX_BODY = 4096


@dataclass
class FaultMode:
    mode: str = "clear"  # clear | fail | slow
    status: int = 503
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "status": self.status, "seconds": self.seconds}


class DemoService:
    """The demo service on a local port, served from a daemon thread."""

    def __init__(self, admin_token: str, *, host: str = "127.0.0.1", port: int = 0) -> None:
        if not admin_token:
            raise ValueError("the demo service needs an admin token for its fault endpoint")
        self._token = admin_token.encode()
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self.fault = FaultMode()
        self.health_requests = 0
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> DemoService:
        self._server = ThreadingHTTPServer((self._host, self._port), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> DemoService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("DemoService is not started")
        return f"http://{self._host}:{self._server.server_address[1]}"

    def authorised(self, header: str | None) -> bool:
        presented = (header or "").removeprefix("Bearer ").encode()
        return hmac.compare_digest(presented, self._token)

    def set_fault(self, body: dict[str, Any]) -> FaultMode:
        mode = body.get("mode")
        if mode not in ("clear", "fail", "slow"):
            raise ValueError("mode must be one of clear, fail, slow")
        status = int(body.get("status", 503))
        if not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        seconds = float(body.get("seconds", 0))
        if not 0 <= seconds <= 60:
            raise ValueError("seconds must be between 0 and 60")
        with self._lock:
            self.fault = FaultMode(str(mode), status, seconds)
            return self.fault


def _handler(service: DemoService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet by default
            pass

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/health":
                with service._lock:
                    fault = service.fault
                    service.health_requests += 1
                if fault.mode == "slow":
                    time.sleep(fault.seconds)
                if fault.mode == "fail":
                    self._send(fault.status, {"status": "failing", "injected": True})
                else:
                    self._send(200, {"status": "ok"})
            elif self.path == "/admin/fault":
                if not service.authorised(self.headers.get("Authorization")):
                    self._send(401, {"error": "admin token required"})
                    return
                self._send(200, service.fault.as_dict())
            else:
                self._send(404, {"error": f"no route {self.path}"})

        def do_POST(self) -> None:
            if self.path != "/admin/fault":
                self._send(404, {"error": f"no route {self.path}"})
                return
            if not service.authorised(self.headers.get("Authorization")):
                self._send(401, {"error": "admin token required"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > _MAX_BODY:
                self._send(413, {"error": f"body over {_MAX_BODY} bytes"})
                return
            try:
                fault = service.set_fault(json.loads(self.rfile.read(length) or b"{}"))
            except (ValueError, TypeError) as exc:
                self._send(400, {"error": str(exc)})
                return
            self._send(200, fault.as_dict())

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.demo_service", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8598)
    parser.add_argument(
        "--admin-token-env",
        default="FIREBREAK_DEMO_ADMIN_TOKEN",
        help="environment variable holding the admin token (never pass it as an argument)",
    )
    args = parser.parse_args(argv)
    token = os.environ.get(args.admin_token_env, "")
    if not token:
        parser.error(f"set {args.admin_token_env} to the admin token")
    service = DemoService(token, host=args.host, port=args.port).start()
    print(service.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        service.stop()


if __name__ == "__main__":
    sys.exit(main())
