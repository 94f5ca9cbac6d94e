"""A local Slack Web API that the real ``slack_sdk.WebClient`` can talk to.

Slack is unreachable from tests and sandboxed drills, and mocking the client would test
nothing of how it behaves on the wire. The stub speaks just enough of the Web API for
Firebreak (``auth.test``, ``chat.postMessage``, ``chat.update``, ``conversations.create``,
``conversations.join``, ``conversations.setTopic``, ``conversations.invite``,
``users.lookupByEmail``), records every call, and fails on demand (5xx, 429 with
``Retry-After``, hangs, Slack-level ``ok: false`` errors) so the retry rules can be exercised.

Example:
    with SlackStub(token="xoxb-test") as stub:
        WebClient(token="xoxb-test", base_url=stub.base_url).chat_postMessage(
            channel="#incident-response", text="hello"
        )
        assert stub.texts("#incident-response") == ["hello"]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import hmac
import itertools
import json
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

__all__ = ["RecordedCall", "SlackStub", "send_interaction"]

_API_PREFIX = "/api/"
_BOT_ID = "B00FIREBREAK"


@dataclass
class RecordedCall:
    """One request the stub received, and how it was answered.

    Recorded on arrival, so a call whose answer is being delayed (``hang_next``) is already
    visible; ``status`` and ``response`` are filled in once the answer is decided.
    """

    method: str
    headers: dict[str, str] = field(repr=False)  # carries the bearer token: keep out of repr
    body: dict[str, Any]
    fault: str | None = None  # "http_500", "ratelimited", "hang", "error:<code>"; None if clean
    status: int | None = None
    response: dict[str, Any] | None = None
    received_at: float = field(default_factory=time.monotonic)  # time.monotonic() on arrival

    @property
    def ok(self) -> bool:
        """Whether Slack's answer was ``ok: true`` (the call took effect)."""
        return bool(self.response and self.response.get("ok"))


@dataclass
class _Fault:
    kind: str  # "status", "ratelimit", "hang", "error"
    remaining: int | None  # None: until clear_faults()
    status: int = 500
    retry_after: int = 1
    seconds: float = 0.0
    error: str = ""


class SlackStub:
    """A Slack Web API stand-in on a local port, served from a daemon thread.

    ``token``: if given, requests must carry it (``Authorization: Bearer`` or a ``token``
    body field) or are answered ``invalid_auth``/``not_authed`` with HTTP 200, as Slack does.
    ``channels``: if given, only these channel names (and ones made by
    ``conversations.create``) exist and anything else is ``channel_not_found``; if omitted,
    every channel exists, which is what a drill wants.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        channels: list[str] | None = None,
        echo: bool = False,
    ) -> None:
        self.expected_token = token
        self._host = host
        self._port = port
        self._echo = echo
        self._lock = threading.Lock()
        self._calls: list[RecordedCall] = []
        self._faults: collections.deque[_Fault] = collections.deque()
        self._always: _Fault | None = None
        self._open_world = channels is None
        self._channel_ids: dict[str, str] = {}  # name (no '#') -> id
        self._ids = itertools.count(1)
        self._ts_base = int(time.time())
        self._ts_seq = itertools.count(1)
        self._posted: dict[tuple[str, str], dict[str, Any]] = {}  # (channel id, ts) -> body
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        for name in channels or ():
            self._channel_id(name, create=True)
        # channel topics and members, and known users (conversations.setTopic / invite, users.*)
        self._topics: dict[str, str] = {}  # channel id -> topic
        self._members: dict[str, list[str]] = {}  # channel id -> user ids, in invite order
        self._users: dict[str, str] = {}  # e-mail -> user id

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> SlackStub:
        """Bind the port and serve in a daemon thread; returns self for chaining."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = ThreadingHTTPServer((self._host, self._port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # how soon stop() is noticed
            name="slack-stub",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; requests held by ``hang_next`` are released at once."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> SlackStub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("SlackStub is not started: call start() or use it as `with`")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """What ``WebClient(base_url=...)`` needs: the SDK joins it with the method name."""
        return f"http://{self._host}:{self.port}{_API_PREFIX}"

    # -- fault injection ---------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        """Answer the next ``n`` requests with HTTP ``status`` and ``fatal_error``."""
        self._queue(_Fault("status", n, status=status))

    def rate_limit_next(self, n: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``n`` requests with HTTP 429 and ``Retry-After: retry_after``."""
        self._queue(_Fault("ratelimit", n, status=429, retry_after=retry_after))

    def hang_next(self, n: int = 1, seconds: float = 5.0) -> None:
        """Hold the next ``n`` requests for ``seconds`` before carrying them out and answering.

        As with a slow Slack, the call still takes effect after the delay even if the client
        gave up, so a client that retries after a timeout may post twice.
        """
        self._queue(_Fault("hang", n, seconds=seconds))

    def error_next(self, n: int = 1, error: str = "not_in_channel") -> None:
        """Answer the next ``n`` requests with HTTP 200 ``{"ok": false, "error": error}``."""
        self._queue(_Fault("error", n, status=200, error=error))

    def fail_always(self, status: int = 500) -> None:
        """Answer every request with HTTP ``status`` until ``clear_faults()``."""
        with self._lock:
            self._always = _Fault("status", None, status=status)

    def clear_faults(self) -> None:
        """Drop queued and permanent faults; the stub answers normally again."""
        with self._lock:
            self._faults.clear()
            self._always = None

    def _queue(self, fault: _Fault) -> None:
        if fault.remaining is not None and fault.remaining < 1:
            raise ValueError("a fault must apply to at least one request")
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self) -> _Fault | None:
        with self._lock:
            if self._faults:
                fault = self._faults[0]
                assert fault.remaining is not None
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.popleft()
                return fault
            return self._always

    # -- what was received -------------------------------------------------------------

    @property
    def calls(self) -> list[RecordedCall]:
        """A snapshot of every request received so far, in arrival order."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[RecordedCall]:
        return [c for c in self.calls if c.method == method]

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Bodies of ``chat.postMessage`` calls that took effect, optionally for one channel
        (given as ``#name``, ``name`` or id)."""
        wanted = None if channel is None else self._lookup(channel)
        return [
            call.body
            for call in self.calls_to("chat.postMessage")
            if call.ok
            and call.response is not None
            and (channel is None or call.response.get("channel") == wanted)
        ]

    def texts(self, channel: str | None = None) -> list[str]:
        """The ``text`` of each message that took effect."""
        return [str(m.get("text", "")) for m in self.messages(channel)]

    def reset(self) -> None:
        """Forget recorded calls and faults (channels and posted messages stay)."""
        with self._lock:
            self._calls.clear()
            self._faults.clear()
            self._always = None

    # -- the Web API -------------------------------------------------------------------

    def _lookup(self, channel: str) -> str | None:
        """The id of an existing channel given as ``#name``, ``name`` or id."""
        with self._lock:
            if channel in self._channel_ids.values():
                return channel
            return self._channel_ids.get(channel.lstrip("#"))

    def _channel_id(self, channel: str, *, create: bool) -> str | None:
        """Resolve ``#name``/``name``/id to an id; in an open world unknown names appear."""
        with self._lock:
            if channel in self._channel_ids.values():
                return channel
            name = channel.lstrip("#")
            if not name:
                return None
            if name not in self._channel_ids and (create or self._open_world):
                self._channel_ids[name] = f"C{next(self._ids):08d}"
            return self._channel_ids.get(name)

    def _next_ts(self) -> str:
        return f"{self._ts_base}.{next(self._ts_seq):06d}"

    def _authorize(self, headers: dict[str, str], body: dict[str, Any]) -> str | None:
        if self.expected_token is None:
            return None
        auth = headers.get("Authorization") or headers.get("authorization") or ""
        given = auth[len("Bearer ") :] if auth.startswith("Bearer ") else str(body.get("token", ""))
        if not given:
            return "not_authed"
        return None if given == self.expected_token else "invalid_auth"

    def _answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            return {"ok": False, "error": "unknown_method", "req_method": method}
        return handler(body)

    def _api_auth_test(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://firebreak-sandbox.slack.com/",
            "team": "Firebreak Sandbox",
            "user": "firebreak",
            "team_id": "T00SANDBOX",
            "user_id": "U00FIREBREAK",
            "bot_id": _BOT_ID,
            "is_enterprise_install": False,
        }

    def _api_chat_postMessage(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        channel = self._channel_id(str(body["channel"]), create=False)
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if not (body.get("text") or body.get("blocks") or body.get("attachments")):
            return {"ok": False, "error": "no_text"}
        ts = self._next_ts()
        message = {"type": "message", "text": body.get("text", ""), "ts": ts, "bot_id": _BOT_ID}
        if body.get("blocks"):
            message["blocks"] = body["blocks"]
        with self._lock:
            self._posted[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _api_chat_update(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel_id(str(body.get("channel", "")), create=False)
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        ts = str(body.get("ts", ""))
        with self._lock:
            message = self._posted.get((channel, ts))
            if message is None:
                return {"ok": False, "error": "message_not_found"}
            message["text"] = body.get("text", message["text"])
            if body.get("blocks"):
                message["blocks"] = body["blocks"]
            text = message["text"]
        return {"ok": True, "channel": channel, "ts": ts, "text": text}

    def _api_chat_postEphemeral(self, body: dict[str, Any]) -> dict[str, Any]:
        """Seen by ``user`` only, in ``channel``; not kept as a channel message."""
        channel = self._channel_id(str(body.get("channel", "")), create=False)
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if not body.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        if not (body.get("text") or body.get("blocks")):
            return {"ok": False, "error": "no_text"}
        return {"ok": True, "message_ts": self._next_ts()}

    def ephemerals(self, user: str | None = None) -> list[dict[str, Any]]:
        """Bodies of ``chat.postEphemeral`` calls that took effect, optionally to one user."""
        return [
            call.body
            for call in self.calls_to("chat.postEphemeral")
            if call.ok and (user is None or call.body.get("user") == user)
        ]

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """A posted message as it reads now (after any ``chat.update``)."""
        channel_id = self._lookup(channel)
        with self._lock:
            message = self._posted.get((channel_id or "", ts))
            return None if message is None else dict(message)

    # -- interactivity: Slack calling the app ------------------------------------------------

    def click(
        self,
        url: str,
        signing_secret: str,
        *,
        channel: str,
        ts: str,
        action_id: str,
        user_id: str,
        username: str = "",
        timestamp: int | None = None,
    ) -> tuple[int, Any]:
        """Click the button ``action_id`` of a posted message, as Slack would tell the app.

        Sends a signed ``block_actions`` interaction (form field ``payload``) to ``url``;
        returns the app's (HTTP status, body). ``timestamp`` forges the request time (a
        replay); a wrong ``signing_secret`` forges the signature.
        """
        message = self.message(channel, ts)
        if message is None:
            raise ValueError(f"no message {ts} in {channel}")
        button = next(
            (
                element
                for block in message.get("blocks", [])
                if block.get("type") == "actions"
                for element in block.get("elements", [])
                if element.get("action_id") == action_id
            ),
            None,
        )
        if button is None:
            raise ValueError(f"message {ts} has no button {action_id!r}")
        channel_id = self._lookup(channel)
        with self._lock:
            name = next((n for n, i in self._channel_ids.items() if i == channel_id), "")
        payload = {
            "type": "block_actions",
            "user": {
                "id": user_id,
                "username": username,
                "name": username,
                "team_id": "T00SANDBOX",
            },
            "api_app_id": "A00FIREBREAK",
            "token": "deprecated-verification-token",
            "container": {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel_id,
                "is_ephemeral": False,
            },
            "trigger_id": f"{int(time.time())}.{next(self._ids)}",
            "team": {"id": "T00SANDBOX", "domain": "firebreak-sandbox"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel_id, "name": name},
            "message": message,
            "state": {"values": {}},
            "response_url": "https://hooks.slack.invalid/actions/T00SANDBOX/1/x",
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": next(
                        (
                            b.get("block_id", "")
                            for b in message.get("blocks", [])
                            if button in b.get("elements", [])
                        ),
                        "",
                    ),
                    "text": button.get("text"),
                    "value": button.get("value", ""),
                    "style": button.get("style"),
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        return send_interaction(url, signing_secret, payload, timestamp=timestamp)

    def _api_conversations_create(self, body: dict[str, Any]) -> dict[str, Any]:
        name = str(body.get("name", "")).lstrip("#")
        if not name:
            return {"ok": False, "error": "invalid_name_required"}
        with self._lock:
            if name in self._channel_ids:
                return {"ok": False, "error": "name_taken"}
        channel = self._channel_id(name, create=True)
        return {"ok": True, "channel": _channel_info(channel, name, body)}

    def _api_conversations_join(self, body: dict[str, Any]) -> dict[str, Any]:
        given = str(body.get("channel", ""))
        channel = self._channel_id(given, create=False)
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        with self._lock:
            name = next(n for n, i in self._channel_ids.items() if i == channel)
        return {"ok": True, "channel": _channel_info(channel, name, body)}

    # -- channel topics, invitations and users (incident channels, issue 10) ---------------

    def add_user(self, email: str, user_id: str) -> None:
        """Make a user known, so ``users.lookupByEmail`` finds them and invites succeed."""
        with self._lock:
            self._users[email.lower()] = user_id

    def topic(self, channel: str) -> str:
        """The topic last set on ``channel`` (``#name``, name or id); "" if none."""
        channel_id = self._lookup(channel)
        with self._lock:
            return self._topics.get(channel_id or "", "")

    def members(self, channel: str) -> list[str]:
        """User ids invited to ``channel``, in the order they were invited."""
        channel_id = self._lookup(channel)
        with self._lock:
            return list(self._members.get(channel_id or "", []))

    def channel_names(self) -> list[str]:
        """Every channel that exists, by name."""
        with self._lock:
            return list(self._channel_ids)

    def _api_conversations_setTopic(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel_id(str(body.get("channel", "")), create=False)
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        topic = str(body.get("topic", ""))
        if len(topic) > 250:
            return {"ok": False, "error": "too_long"}
        with self._lock:
            self._topics[channel] = topic
        return {"ok": True, "channel": {"id": channel, "topic": {"value": topic}}}

    def _api_conversations_invite(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel_id(str(body.get("channel", "")), create=False)
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        users = [u for u in str(body.get("users", "")).split(",") if u]
        if not users:
            return {"ok": False, "error": "no_user"}
        with self._lock:
            known = set(self._users.values())
            unknown = [u for u in users if u not in known]
            if unknown:
                return {"ok": False, "error": "user_not_found", "errors": unknown}
            members = self._members.setdefault(channel, [])
            new = [u for u in users if u not in members]
            if not new:
                return {"ok": False, "error": "already_in_channel"}
            members.extend(new)
        return {"ok": True, "channel": {"id": channel}}

    def _api_users_lookupByEmail(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            user_id = self._users.get(str(body.get("email", "")).lower())
        if user_id is None:
            return {"ok": False, "error": "users_not_found"}
        return {"ok": True, "user": {"id": user_id, "profile": {"email": body.get("email")}}}

    def _handle(self, method: str, headers: dict[str, str], body: dict[str, Any]) -> _Reply:
        call = RecordedCall(method=method, headers=headers, body=body)
        with self._lock:
            self._calls.append(call)
        fault = self._take_fault()
        reply: _Reply
        if fault is not None and fault.kind == "hang":
            call.fault = "hang"
            self._stopping.wait(fault.seconds)
            fault = None
        if fault is None:
            error = self._authorize(headers, body)
            payload = {"ok": False, "error": error} if error else self._answer(method, body)
            reply = _Reply(200, payload)
        elif fault.kind == "ratelimit":
            call.fault = "ratelimited"
            reply = _Reply(
                429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(fault.retry_after)}
            )
        elif fault.kind == "error":
            call.fault = f"error:{fault.error}"
            reply = _Reply(200, {"ok": False, "error": fault.error})
        else:
            call.fault = f"http_{fault.status}"
            reply = _Reply(fault.status, {"ok": False, "error": "fatal_error"})
        with self._lock:
            call.status, call.response = reply.status, reply.payload
        if self._echo:
            outcome = "ok" if reply.payload.get("ok") else reply.payload.get("error")
            print(f"{method} {reply.status} {outcome} {json.dumps(body)[:200]}", file=sys.stderr)
        return reply


def send_interaction(
    url: str, signing_secret: str, payload: dict[str, Any], *, timestamp: int | None = None
) -> tuple[int, Any]:
    """POST an interaction payload to an app, signed as Slack signs it (v0, HMAC-SHA256)."""
    body = urlencode({"payload": json.dumps(payload)}).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(signing_secret.encode(), b"v0:" + stamp.encode() + b":" + body, "sha256")
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": f"v0={digest.hexdigest()}",
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as refused:
        status, raw = refused.code, refused.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


@dataclass
class _Reply:
    status: int
    payload: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def _channel_info(channel_id: str | None, name: str, body: dict[str, Any]) -> dict[str, Any]:
    private = str(body.get("is_private", "")).lower() in ("1", "true")
    return {
        "id": channel_id,
        "name": name,
        "is_channel": True,
        "is_private": private,
        "is_member": True,
        "created": int(time.time()),
    }


def _parse_body(content_type: str, raw: bytes) -> dict[str, Any] | None:
    """JSON or form-encoded, as the SDK sends them; None if neither could be read."""
    if not raw:
        return {}
    text = raw.decode("utf-8", errors="replace")
    if content_type.startswith("application/json"):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, dict) else None
    if content_type.startswith("application/x-www-form-urlencoded") or not content_type:
        body: dict[str, Any] = dict(parse_qsl(text, keep_blank_values=True))
        for key in ("blocks", "attachments"):  # the SDK JSON-encodes these in form bodies
            if isinstance(body.get(key), str):
                with contextlib.suppress(json.JSONDecodeError):
                    body[key] = json.loads(body[key])
        return body
    return None


def _handler_for(stub: SlackStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "SlackStub/1"

        def do_POST(self) -> None:
            self._serve()

        def do_GET(self) -> None:
            self._serve()

        def _serve(self) -> None:
            url = urlsplit(self.path)
            if not url.path.startswith(_API_PREFIX):
                self._send(_Reply(404, {"ok": False, "error": "not_found"}))
                return
            method = url.path[len(_API_PREFIX) :].strip("/")
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            content_type = (self.headers.get("Content-Type") or "").lower()
            body = _parse_body(content_type, raw)
            if body is None:
                self._send(_Reply(200, {"ok": False, "error": "invalid_form_data"}))
                return
            for key, value in parse_qsl(url.query, keep_blank_values=True):
                body.setdefault(key, value)
            self._send(stub._handle(method, dict(self.headers.items()), body))

        def _send(self, reply: _Reply) -> None:
            data = json.dumps(reply.payload).encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout) before the answer came

        def log_message(self, format: str, *args: Any) -> None:
            pass  # calls are recorded; stderr noise would bury test output

    return Handler


def main(argv: list[str] | None = None) -> None:
    """Serve the stub for local demos until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m sandbox.slack_stub", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8599)
    parser.add_argument("--token", default=None, help="require this bot token (default: any)")
    parser.add_argument("--quiet", action="store_true", help="do not print each call")
    args = parser.parse_args(argv)
    with SlackStub(args.token, host=args.host, port=args.port, echo=not args.quiet) as stub:
        print(stub.base_url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
