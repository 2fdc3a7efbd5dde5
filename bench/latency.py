"""Pickup latency: one idle worker process (a Runner blocked on Redis); one job submitted at a
time at a steady rate. Latency = the wall time the job's processor started (noted by the
worker) minus the wall time just before `Queue.submit` was called; both processes read the
same machine clock. The bare baseline does the same with LPUSH and a BRPOP loop."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import redis

from bench import workers
from bench.common import (
    Server,
    Stopwatch,
    command_stats,
    drop_namespace,
    percentile,
    preload_scripts,
    reset,
    script_stat,
    settings_for,
    spawn,
    stop_processes,
)
from boltq_core import Queue
from boltq_core.jobs.calls import parse_specs


@dataclass
class LatencyResult:
    name: str
    rate: float  # jobs/s submitted
    samples: list[float]  # seconds, submit call -> processor start
    submit_rtt: list[float]  # seconds the submit call itself took

    def p(self, q: float) -> float:
        return percentile(self.samples, q) * 1000

    def rtt(self, q: float) -> float:
        return percentile(self.submit_rtt, q) * 1000 if self.submit_rtt else float("nan")


def paced(n: int, rate: float) -> list[float]:
    """n perf_counter instants `1/rate` apart, starting now: a steady schedule (no drift)."""
    t0 = time.perf_counter()
    return [t0 + i / rate for i in range(n)]


def sleep_until(t: float) -> None:
    left = t - time.perf_counter()
    if left > 0:
        time.sleep(left)


def run_latency(server: Server, rate: float, seconds: float, warmup: int = 10) -> LatencyResult:
    settings = settings_for(server, "latency")
    q = Queue(settings)
    reset(server, q.redis)
    preload_scripts(q.redis, ("submit", "claim", "finish", "extend"))
    ctx = spawn()
    barrier, stop = ctx.Barrier(2), ctx.Event()
    proc = ctx.Process(target=workers.latency_worker, args=(settings, barrier, stop), daemon=True)
    proc.start()
    try:
        barrier.wait(timeout=60)
        time.sleep(0.3)  # the runner finds the queue empty and blocks on Redis
        sent = _submit_paced(q, int(rate * seconds) + warmup, rate)
        _wait_done(q, len(sent))
    finally:
        stop.set()
        stop_processes([proc])
    started = _start_times(q, [job_id for job_id, _, _ in sent])
    rows = list(zip(sent, started, strict=True))[warmup:]
    result = LatencyResult(
        "BoltQ Runner (hand-off, BZMPOP returns the job)", rate,
        [s - t_call for (_, t_call, _), s in rows],
        [t_ret - t_call for (_, t_call, t_ret), _ in rows],
    )
    _cleanup(server, q)
    return result


def _submit_paced(q: Queue, n: int, rate: float) -> list[tuple[str, float, float]]:
    """Submit n stamp jobs one at a time; (id, wall time before, wall time after) each."""
    sent = []
    for due in paced(n, rate):
        sleep_until(due)
        t_call = time.time()
        job_id = q.submit({"type": "stamp"}).job_id
        sent.append((job_id, t_call, time.time()))
    return sent


def _wait_done(q: Queue, n: int, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if q.stats().totals.get("completed", 0) >= n:
            return
        time.sleep(0.02)
    raise RuntimeError(f"the latency worker did not finish {n} jobs within {timeout}s")


def _start_times(q: Queue, ids: list[str]) -> list[float]:
    pipe = q.redis.pipeline(transaction=False)
    for job_id in ids:
        pipe.hget(q.keys.job(job_id), "result")
    return [float(json.loads(r)["t"]) for r in pipe.execute()]


def _cleanup(server: Server, q: Queue) -> None:
    if not server.own:
        drop_namespace(q.redis, q.keys.tag)
    q.redis.close()


# --- the bare baseline ------------------------------------------------------------------------


def run_brpop_latency(
    server: Server, rate: float, seconds: float, warmup: int = 10
) -> LatencyResult:
    """LPUSH the current wall time; a worker BRPOPs it and notes the delay."""
    r = redis.Redis.from_url(server.url, decode_responses=True)
    key = f"bench-brpop-lat-{time.time_ns()}"
    ctx = spawn()
    barrier, results = ctx.Barrier(2), ctx.Queue()
    proc = ctx.Process(
        target=workers.brpop_latency_worker, args=(server.url, key, barrier, results), daemon=True
    )
    proc.start()
    rtt = []
    try:
        barrier.wait(timeout=60)
        time.sleep(0.3)
        for due in paced(int(rate * seconds) + warmup, rate):
            sleep_until(due)
            t_call = time.time()
            r.lpush(key, repr(t_call))
            rtt.append(time.time() - t_call)
        r.lpush(key, "stop")
        delays = results.get(timeout=30)
    finally:
        stop_processes([proc])
        r.delete(key)
        r.close()
    return LatencyResult("bare LPUSH → BRPOP (redis-py)", rate, delays[warmup:], rtt[warmup:])


# --- warm versus after a pause ----------------------------------------------------------------


@dataclass
class ColdCost:
    gap_ms: float
    build_us: float  # p50 client work of one submit (validate, id, encode): no I/O
    script_us: float  # mean server time inside the submit script
    call_ms: float  # p50 of the script call (round trip included)


def cold_submit(server: Server, gaps_ms: tuple[float, ...], n: int) -> list[ColdCost]:
    """One submit, split into its client and server parts, back to back and after a pause:
    on a VM a pause lets caches go cold and CPUs doze, and every part slows down."""
    q = Queue(settings_for(server, "cold"))
    preload_scripts(q.redis, ("submit",))
    out = []
    for gap in gaps_ms:
        builds, calls = [], []
        before = script_stat(command_stats(q.redis))
        for _ in range(n):
            time.sleep(gap / 1000)
            with Stopwatch() as build:
                call, _ = q.calls.submit(q.calls.prepare(parse_specs([{"type": "echo"}])))
            with Stopwatch() as sent:
                q.run(call)
            builds.append(build.seconds)
            calls.append(sent.seconds)
        after = script_stat(command_stats(q.redis))
        assert after is not None
        usec = after.usec - (before.usec if before else 0)
        calls_n = after.calls - (before.calls if before else 0)
        out.append(ColdCost(gap, percentile(builds, 50) * 1e6, usec / calls_n,
                            percentile(calls, 50) * 1000))
    _cleanup(server, q)
    return out
