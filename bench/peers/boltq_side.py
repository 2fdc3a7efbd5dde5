"""BoltQ's side of bench/peers.py, run as its own process by BoltQ's .venv python (the same
commands as huey_side.py and bullmq_side.mjs, so every library is driven alike):

    boltq_side.py drain-worker URL PREFIX COUNT_KEY N CONCURRENCY BATCH [own]
    boltq_side.py latency-worker URL PREFIX LAT_KEY
    boltq_side.py submit URL PREFIX N          # one Queue.submit at a time
    boltq_side.py bulk URL PREFIX N BATCH      # Queue.submit_many(chunk=BATCH)
    boltq_side.py produce URL PREFIX N RATE    # paced submits with the wall time in the data

A worker prints "ready" once connected and starts on a line on stdin; it runs until it is
terminated. A client prints one JSON line. BoltQ's Settings are its defaults but for the
namespace (PREFIX). The job body's Redis calls go through the client the Runner lends its jobs
(JobContext.redis); with `own`, through a redis.asyncio client of the body's own."""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import signal
import sys
import time

import redis.asyncio as aredis

from boltq_core import Queue, Settings
from boltq_core.running.async_queue import AsyncQueue
from boltq_core.running.attempt import JobContext
from boltq_core.running.processors import default_registry
from boltq_core.running.runner import Runner


def settings(url: str, prefix: str) -> Settings:
    return Settings(redis_url=url, key_prefix=prefix)


async def _worker(url: str, prefix: str, kind: str, key: str, n: int,
                  concurrency: int | None, batch: int | None, own: bool = False) -> None:
    aq = AsyncQueue(settings(url, prefix))
    r = aredis.Redis.from_url(url)  # the job body's own client (with `own`), and for the ping

    def client(ctx: JobContext) -> aredis.Redis:
        return r if own else ctx.redis

    async def incr(ctx: JobContext) -> None:  # the drain job: one INCR
        t = time.time()
        c = client(ctx)
        done = await c.incr(key)
        if done == 1:
            await c.set(key + ":first", repr(t))
        if done == n:
            await c.set(key + ":last", repr(time.time()))
            await c.lpush(key + ":done", "1")

    async def stamp(ctx: JobContext) -> None:  # the latency job: start - submit, one RPUSH
        t = time.time()
        await client(ctx).rpush(key, repr(t - ctx.data["t"]))

    registry = default_registry.copy()
    registry.register("incr", incr)
    registry.register("stamp", stamp)
    await aq.redis.ping()
    await r.ping()
    runner = Runner(aq, registry, concurrency=concurrency, batch=batch)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    profile = os.environ.get("BOLTQ_PEERS_PROFILE")  # a cProfile of the run, to that path
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    await runner.run(stop)
    if profiler and profile:
        profiler.disable()
        profiler.dump_stats(f"{profile}.{os.getpid()}")
    await aq.aclose()
    await r.aclose()


def submit(url: str, prefix: str, n: int) -> dict[str, float]:
    q = Queue(settings(url, prefix))
    for _ in range(20):  # warm: scripts loaded, connection open
        q.submit({"type": "incr"})
    t0 = time.perf_counter()
    for _ in range(n):
        q.submit({"type": "incr"})
    return {"seconds": time.perf_counter() - t0}


def bulk(url: str, prefix: str, n: int, batch: int) -> dict[str, float]:
    q = Queue(settings(url, prefix))
    q.redis.ping()  # connected; the script loads on first use, as BullMQ's do
    jobs = [{"type": "incr"} for _ in range(n)]
    t0 = time.perf_counter()
    q.submit_many(jobs, chunk=batch)
    return {"seconds": time.perf_counter() - t0}


def produce(url: str, prefix: str, n: int, rate: float) -> dict[str, float]:
    q = Queue(settings(url, prefix))
    start = time.perf_counter()
    for i in range(n):
        left = start + i / rate - time.perf_counter()
        if left > 0:
            time.sleep(left)
        q.submit({"type": "stamp", "data": {"t": time.time()}})
    return {"seconds": time.perf_counter() - start}


def main(argv: list[str]) -> None:
    cmd, url, prefix, *rest = argv
    if cmd == "drain-worker":
        key, n, conc, batch = rest[0], int(rest[1]), int(rest[2]), int(rest[3])
        own = rest[4:] == ["own"]
        asyncio.run(_worker(url, prefix, "drain", key, n, conc, batch, own))
    elif cmd == "latency-worker":
        asyncio.run(_worker(url, prefix, "latency", rest[0], 0, None, None))
    elif cmd == "submit":
        print(json.dumps(submit(url, prefix, int(rest[0]))), flush=True)
    elif cmd == "bulk":
        print(json.dumps(bulk(url, prefix, int(rest[0]), int(rest[1]))), flush=True)
    elif cmd == "produce":
        print(json.dumps(produce(url, prefix, int(rest[0]), float(rest[1]))), flush=True)
    else:
        raise SystemExit(f"unknown command {cmd!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
