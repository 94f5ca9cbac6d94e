"""Reading a request body safely: bounded in size before parsing, UTF-8, JSON, bounded depth.

The size limit is enforced while the body streams in, so a chunked request with no
Content-Length is cut off at the limit instead of being buffered whole; a declared length
over the limit is refused before a byte is read.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from receiver.refusal import Refusal

__all__ = ["decode_json", "read_body"]


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise Refusal(400, "bad_length", "Content-Length is not a number") from None
        if size > limit:
            raise _too_large(limit, f"{size} bytes declared")
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise _too_large(limit, "more arrived")
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int, seen: str) -> Refusal:
    return Refusal(
        413,
        "too_large",
        f"request body is over the receiver's {limit}-byte limit ({seen}): send fewer alerts "
        "per notification (Alertmanager max_alerts, Grafana maxAlerts) or raise max_body_bytes",
    )


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decode_json(raw: bytes, *, max_depth: int) -> Any:
    if not raw.strip():
        raise Refusal(400, "empty_body", "request body is empty: expected a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refusal(
            400,
            "not_utf8",
            f"request body is not UTF-8 (invalid byte at offset {exc.start}): send UTF-8 JSON",
        ) from None
    try:
        value = json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise Refusal(
            400,
            "invalid_json",
            f"request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
        ) from None
    except ValueError as exc:
        raise Refusal(400, "invalid_json", f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise _too_deep(max_depth) from None
    if _depth_over(value, max_depth):
        raise _too_deep(max_depth)
    if not isinstance(value, dict):
        raise Refusal(422, "not_an_object", f"expected a JSON object, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def _too_deep(max_depth: int) -> Refusal:
    return Refusal(400, "too_deep", f"request body nests deeper than {max_depth} levels")


def _depth_over(value: Any, max_depth: int) -> bool:
    """Iterative, so a pathological body cannot exhaust the stack here either."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
