"""An open-loop load client: requests leave at a fixed rate whatever the server does.

Each request is due at `start + i / rate`; its latency is counted from that moment, so time a
request spends waiting for a free connection (because the server is behind) is in the number,
not hidden (no coordinated omission). Requests are pre-signed distinct Sentry webhooks
(`bodies.py`), sent over a fixed pool of keep-alive connections with uvloop.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import uvloop

from bench.webhooks.bodies import Bodies


@dataclass
class Result:
    """What one open-loop run measured."""

    offered: float
    sent: int = 0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: int = 0
    seconds: float = 0.0

    def percentile(self, q: float) -> float:
        """The q-th percentile latency in milliseconds (nan when nothing completed)."""
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return 1000 * ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def _request(bodies: Bodies, signature: str, event_id: str, timestamp: str, host: str) -> bytes:
    body = bodies.body(event_id)
    head = (f"POST /hooks/sentry HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Sentry-Hook-Resource: event_alert\r\nSentry-Hook-Timestamp: {timestamp}\r\n"
            f"Sentry-Hook-Signature: {signature}\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    request: bytes) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


async def _run(host: str, port: int, bodies: Bodies, rate: float, seconds: float,
               connections: int, timestamp: str) -> Result:
    lines = bodies.lines()
    total = int(rate * seconds)
    if total > len(lines):
        raise SystemExit(f"{total} requests need as many bodies; only {len(lines)} written")
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection(host, port))
    result = Result(offered=rate)

    async def one(index: int, due: float) -> None:
        signature, event_id = lines[index]
        request = _request(bodies, signature, event_id, timestamp, f"{host}:{port}")
        reader, writer = await pool.get()
        try:
            status = await _exchange(reader, writer, request)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            result.failures += 1
            writer.close()
            pool.put_nowait(await asyncio.open_connection(host, port))
            return
        result.latencies.append(time.perf_counter() - due)
        result.statuses[status] += 1
        pool.put_nowait((reader, writer))

    # perf_counter, not loop.time(): uvloop's clock ticks in whole milliseconds
    start = time.perf_counter() + 0.05
    tasks = []
    for index in range(total):
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(index, due)))
        result.sent += 1
    await asyncio.wait(tasks, timeout=30)
    result.seconds = time.perf_counter() - start
    while not pool.empty():
        pool.get_nowait()[1].close()
    return result


def open_loop(host: str, port: int, bodies: Bodies, rate: float, seconds: float,
              connections: int = 64) -> Result:
    """Offer `rate` requests per second for `seconds`; what came back, and how fast."""
    timestamp = str(int(time.time()))
    return uvloop.run(_run(host, port, bodies, rate, seconds, connections, timestamp))
