"""What the machine and server can do without BoltQ: redis-benchmark against the same server,
a bare LPUSH/BRPOP drain (one round trip per job, two processes), and how long one round
trip takes right after the CPUs were idle (which is what a paced, one-job-at-a-time test
pays on each hop)."""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass

import redis

from bench import workers
from bench.common import Server, Stopwatch, percentile, spawn, stop_processes

# "SET: 123456.79 requests per second, p50=0.215 msec" (the -q line, after its \r progress)
_LINE = re.compile(r"^(?P<name>.+?): (?P<rps>[\d.]+) requests per second(?:, p50=(?P<p50>[\d.]+))?")


@dataclass
class BenchLine:
    test: str
    options: str
    rps: float
    p50_ms: float | None


def redis_benchmark(server: Server, n: int) -> list[BenchLine]:
    """SET/GET/LPUSH/LPOP with 50 clients, unpipelined and -P 16; one client alone (one
    round trip at a time); EVAL of a trivial script (a script call's fixed cost)."""
    runs = [  # (label, requests, arguments); one client is slow, so it gets fewer
        ("50 clients", n, ["-t", "set,get,lpush,lpop"]),
        ("50 clients, -P 16", n, ["-P", "16", "-t", "set,get,lpush,lpop"]),
        ("1 client", n // 5, ["-c", "1", "-t", "get,lpush"]),
        ("50 clients", n, ["eval", "return 1", "0"]),
    ]
    out = []
    for label, requests, args in runs:
        cmd = ["redis-benchmark", "-h", server.host, "-p", str(server.port), "-q",
               "-n", str(requests), *args]
        text = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
        out += _parse(text, label)
    return out


def _parse(text: str, options: str) -> list[BenchLine]:
    lines = []
    for raw in text.splitlines():
        m = _LINE.match(raw.rsplit("\r", 1)[-1].strip())
        if m:
            p50 = float(m["p50"]) if m["p50"] else None
            lines.append(BenchLine(m["name"], options, float(m["rps"]), p50))
    return lines


# --- bare LPUSH/BRPOP drain -------------------------------------------------------------------


@dataclass
class BareDrain:
    jobs: int
    workers: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds


def bare_drain(server: Server, jobs: int, n_workers: int) -> BareDrain:
    """Pre-push `jobs` items, then n processes BRPOP them one round trip each."""
    r = redis.Redis.from_url(server.url, decode_responses=True)
    key = f"bench-bare-{time.time_ns()}"
    pipe = r.pipeline(transaction=False)
    for i in range(0, jobs, 1000):
        pipe.lpush(key, *range(i, min(i + 1000, jobs)))
    pipe.execute()
    ctx = spawn()
    barrier, results = ctx.Barrier(n_workers + 1), ctx.Queue()
    procs = [
        ctx.Process(target=workers.brpop_worker, args=(server.url, key, barrier, results),
                    daemon=True)
        for _ in range(n_workers)
    ]
    try:
        for p in procs:
            p.start()
        barrier.wait(timeout=60)
        t0 = time.time()
        outs = [results.get(timeout=120) for _ in procs]
    finally:
        stop_processes(procs)
        r.delete(key)
        r.close()
    assert sum(o["popped"] for o in outs) == jobs
    return BareDrain(jobs, n_workers, max(o["last"] for o in outs) - t0)


# --- one round trip after idle ----------------------------------------------------------------


def ping_after_idle(server: Server, gaps_ms: tuple[float, ...], n: int) -> dict[float, float]:
    """p50 PING round trip (ms) when each PING follows `gap` ms of doing nothing."""
    r = redis.Redis.from_url(server.url)
    r.ping()
    out = {}
    for gap in gaps_ms:
        rtts = []
        for _ in range(n):
            time.sleep(gap / 1000)
            with Stopwatch() as sw:
                r.ping()
            rtts.append(sw.seconds)
        out[gap] = percentile(rtts, 50) * 1000
    r.close()
    return out
