"""A lean HTTP/1.1 load generator for the `boltq dev` benchmarks: N keep-alive connections, each
sending one request at a time (no pipelining), the request bytes built once. It runs on the
same 2 cores as the server it measures, so it must cost little: an aiohttp client spent about
0.25 ms of CPU per request, this one about a fifth of that (asyncio Protocol, responses framed
by Content-Length, no header parsing beyond the status line), the way wrk keeps out of the way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Tally:
    ok: int = 0
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    record: bool = False


class _Client(asyncio.Protocol):
    """One connection: send the request, read one response, send again until `until`."""

    def __init__(self, request: bytes, tally: Tally, done: asyncio.Future[None]) -> None:
        self.request = request
        self.tally = tally
        self.done = done
        self.buf = bytearray()
        self.until = 0.0
        self.sent_at = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def start(self, until: float) -> None:
        self.until = until
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        self.sent_at = time.perf_counter()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end])
            length = _content_length(head)
            if length < 0:
                self._fail(ValueError("a response without Content-Length"))
                return
            if len(self.buf) < end + 4 + length:
                return
            del self.buf[: end + 4 + length]
            self._completed(int(head[9:12]))

    def _completed(self, status: int) -> None:
        t = self.tally
        if t.record:
            t.statuses[status] = t.statuses.get(status, 0) + 1
            if 200 <= status < 300:
                t.ok += 1
                t.latencies_ms.append((time.perf_counter() - self.sent_at) * 1000)
            else:
                t.errors += 1
        if time.monotonic() < self.until:
            self._send()
        elif not self.done.done():
            self.done.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        if not self.done.done():
            self.done.set_exception(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc or ConnectionError("the server closed the connection"))


def _content_length(head: bytes) -> int:
    i = head.lower().find(b"\r\ncontent-length:")
    if i < 0:
        return -1
    j = head.find(b"\r\n", i + 2)
    return int(head[i + 17 : j if j >= 0 else len(head)])


def build_request(url: str, method: str = "GET", body: bytes | None = None,
                  headers: dict[str, str] | None = None) -> tuple[str, int, bytes]:
    u = urlsplit(url)
    host, port = u.hostname or "127.0.0.1", u.port or 80
    lines = [f"{method} {u.path or '/'}{'?' + u.query if u.query else ''} HTTP/1.1",
             f"Host: {host}:{port}", "Connection: keep-alive"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return host, port, ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


async def run(url: str, clients: int, seconds: float, method: str = "GET",
              body: bytes | None = None, headers: dict[str, str] | None = None,
              warmup: float = 1.0, mark: Callable[[], None] | None = None) -> dict[str, float]:
    """Requests/s over `seconds` after `warmup`; `mark()` is called as the measured part starts
    and as it ends (for CPU snapshots)."""
    host, port, request = build_request(url, method, body, headers)
    loop = asyncio.get_running_loop()
    tally = Tally()
    conns: list[tuple[asyncio.BaseTransport, _Client]] = []
    try:
        for _ in range(clients):
            done: asyncio.Future[None] = loop.create_future()
            conns.append(await loop.create_connection(
                lambda d=done: _Client(request, tally, d), host, port))
        for phase, length in (("warm-up", warmup), ("measured", seconds)):
            for _, c in conns:
                c.done = loop.create_future()
            if phase == "measured":
                tally.record = True
                if mark:
                    mark()
            t0 = time.monotonic()
            for _, c in conns:
                c.start(t0 + length)
            await asyncio.gather(*(c.done for _, c in conns))
            took = time.monotonic() - t0
        if mark:
            mark()
    finally:
        for t, _ in conns:
            t.close()
    lat = sorted(tally.latencies_ms)
    return {"jobs": tally.ok, "seconds": took, "rate": tally.ok / took, "errors": tally.errors,
            "p50_ms": _pct(lat, 50), "p99_ms": _pct(lat, 99)}


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]
