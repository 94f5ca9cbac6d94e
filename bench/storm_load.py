"""The alert storm's load generator and process helpers: open-loop HTTP, CPU, memory.

Request n is due at n * seconds / len(bodies) and sent on the first free keep-alive
connection; latency is from sending it to the whole answer. Linux only (/proc).
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["Storm", "cpu_seconds", "free_port", "run_storm", "serving"]

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Storm:
    latencies: list[float]
    errors: int
    seconds: float
    rss_start: float
    rss_end: float
    cpu: float = 0.0  # the server's CPU seconds during the storm
    machine: float = 0.0  # share of all cores busy during the storm (everything running)

    def ms(self, q: int) -> float:
        return statistics.quantiles(self.latencies, n=100)[q - 1] * 1000


class _Connection:
    """A keep-alive HTTP/1.1 connection: a load generator light enough not to be the bottleneck
    (a general-purpose async client costs more CPU per request than the bare endpoint)."""

    def __init__(self, host: str, port: int, path: str, token: str) -> None:
        self._host, self._port, self._path, self._token = host, port, path, token
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        assert self._reader is not None
        head = (
            f"POST {self._path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n"
            f"Authorization: Bearer {self._token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self._writer.write(head.encode() + body)
        status_line = await self._reader.readline()
        length = 0
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        answer = await self._reader.readexactly(length)
        return int(status_line.split()[1]), answer


async def _storm(
    url: str, bodies: list[bytes], seconds: float, concurrency: int, token: str
) -> Storm:
    """Open loop: request n is due at n * seconds / len(bodies), sent on the first free
    connection (``concurrency`` of them); latency is from sending to the whole answer."""
    parts = httpx.URL(url)
    latencies: list[float] = []
    errors: list[str] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(len(bodies)):
        queue.put_nowait(n)
    began = time.perf_counter()

    async def worker() -> None:
        conn = _Connection(parts.host, parts.port or 80, parts.path, token)
        while not queue.empty():
            n = queue.get_nowait()
            due = began + n * seconds / len(bodies)
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            sent = time.perf_counter()
            try:
                status, answer = await conn.post(bodies[n])
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                status, answer = 0, repr(exc).encode()
                conn = _Connection(parts.host, parts.port or 80, parts.path, token)
            latencies.append(time.perf_counter() - sent)
            if not 200 <= status < 300:
                errors.append(f"{status} {answer[:200]!r}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    for error in errors[:5]:
        print(f"error response: {error}", file=sys.stderr)
    return Storm(latencies, len(errors), time.perf_counter() - began, 0.0, 0.0)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(args: list[str], env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{args} did not start") from None
                time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run_storm(
    proc: subprocess.Popen[bytes],
    url: str,
    bodies: list[bytes],
    *,
    seconds: float,
    concurrency: int,
    token: str,
) -> Storm:
    """The storm against the server ``proc`` at ``url``, with its CPU and memory around it."""
    start, cpu, (busy, total) = rss_mib(proc.pid), cpu_seconds(proc.pid), machine_busy()
    storm = asyncio.run(_storm(url, bodies, seconds, concurrency, token))
    storm.rss_start, storm.rss_end = start, rss_mib(proc.pid)
    storm.cpu = cpu_seconds(proc.pid) - cpu
    busy_after, total_after = machine_busy()
    storm.machine = (busy_after - busy) / max(1, total_after - total)
    return storm
