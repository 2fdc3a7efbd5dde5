"""The worker process of the reliability benchmark (bench/reliability.py):

    python -m bench.rworker URL PREFIX [--lease S] [--concurrency N] [--batch N]

It prints "ready" once its runner is built and runs until SIGTERM (or until it is killed,
which is the point). This is the one module of the reliability benchmark that imports the core
past its top-level exports (AsyncQueue, Runner): when those move, only this file changes.

Job types; what they write lives in the job's own namespace ("{PREFIX}:bench:...", see
bench.rcommon.bench_key), so dropping the namespace drops it:

- `tick`: HINCRBY "runs" <job id> 1 (after sleeping data.seconds, if given): a run counter.
- `nap`: sleeps data.seconds and returns data.i; writes nothing (for a store failing over).
- `healthy`: asyncio.sleep(data.seconds, default 0.5), then HINCRBY "runs" <job id> 1.
- `blocker`: an async job that blocks the event loop with time.sleep(data.seconds).
- `crash`: SIGKILLs its own worker process, every time it runs.
- `overrun`: a sync job that ignores its timeout: RPUSH "spans" "<id>:<attempt>:<pid>:start:<ms>",
  time.sleep(data.seconds) in its thread, then the same with "end" (also when interrupted)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import time

import redis
import redis.asyncio as aredis

from bench.rcommon import bench_key
from boltq_core import JobContext, ProcessorRegistry, Settings
from boltq_core.running.async_queue import AsyncQueue
from boltq_core.running.runner import Runner


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.rworker")
    ap.add_argument("url")
    ap.add_argument("prefix")
    ap.add_argument("--lease", type=float, default=1.0)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--batch", type=int, default=50)
    opts = ap.parse_args()
    settings = Settings(redis_url=opts.url, key_prefix=opts.prefix, lease_seconds=opts.lease,
                        worker_concurrency=opts.concurrency, claim_batch=opts.batch)
    asyncio.run(run(settings))


async def run(settings: Settings) -> None:
    aq = AsyncQueue(settings)
    tag = aq.keys.tag
    runs_key, spans_key = bench_key(tag, "runs"), bench_key(tag, "spans")
    url = settings.redis_url or ""
    log = aredis.Redis.from_url(url, decode_responses=True)
    sync_log = redis.Redis.from_url(url, decode_responses=True)
    pid = os.getpid()
    registry = ProcessorRegistry()

    async def tick(ctx: JobContext) -> None:
        seconds = float(ctx.data.get("seconds", 0))
        if seconds:
            await asyncio.sleep(seconds)
        await log.hincrby(runs_key, ctx.job_id, 1)

    async def nap(ctx: JobContext) -> int:
        await asyncio.sleep(float(ctx.data.get("seconds", 0)))
        return int(ctx.data.get("i", 0))

    async def healthy(ctx: JobContext) -> int:
        await asyncio.sleep(float(ctx.data.get("seconds", 0.5)))
        await log.hincrby(runs_key, ctx.job_id, 1)
        return ctx.attempt

    async def blocker(ctx: JobContext) -> str:
        time.sleep(float(ctx.data.get("seconds", 8)))  # the poison: the event loop stops
        return "woke"

    def crash(ctx: JobContext) -> None:
        os.kill(pid, signal.SIGKILL)

    def overrun(ctx: JobContext) -> int:
        entry = f"{ctx.job_id}:{ctx.attempt}:{pid}"
        sync_log.rpush(spans_key, f"{entry}:start:{time.time() * 1000:.0f}")
        try:
            time.sleep(float(ctx.data.get("seconds", 3)))
        finally:  # "end" is when the thread stops running it, interrupted or not
            sync_log.rpush(spans_key, f"{entry}:end:{time.time() * 1000:.0f}")
        return pid

    for fn in (tick, nap, healthy, blocker, crash, overrun):
        registry.register(fn.__name__, fn)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await Runner(aq, registry).run(stop)
    await aq.aclose()
    await log.aclose()
    sync_log.close()


if __name__ == "__main__":
    main()
