"""A worker process for the multi-process tests:
`python -m tests.support.worker_proc URL PREFIX [LEASE] [--concurrency N] [--record-url URL]`.

It runs a Runner on namespace PREFIX of the store at URL until SIGTERM, with these job types
(besides the built-in ones); the lists they write live in the same namespace ("{PREFIX}:test:…",
so the tests' cleanup drops them) on the store at --record-url (default URL):

- `record`: sleeps data.seconds, then appends "<job id>:<pid>" to "{PREFIX}:test:ran" and
  returns its pid.
- `nap`: sleeps data.seconds and returns {"pid": pid, "i": data.i}; writes nothing (for tests
  where the store itself is failing over).
- `long`: appends "<job id>:<pid>:<attempt>:<epoch ms>" to "{PREFIX}:test:started", then
  behaves like `record`.
- `crash`: SIGKILLs its own worker process, every time it runs.
- `overrun`: a sync processor that ignores its timeout: appends
  "<job id>:<attempt>:<pid>:start:<epoch ms>" to "{PREFIX}:test:runs", sleeps data.seconds in
  its thread, then appends the same with "end" (also when the runner interrupts it)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import time

import redis
import redis.asyncio as aredis

from boltq_core import Settings
from boltq_core.running.async_queue import AsyncQueue
from boltq_core.running.attempt import JobContext
from boltq_core.running.processors import default_registry
from boltq_core.running.runner import Runner


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("prefix")
    ap.add_argument("lease", nargs="?", type=float, default=1.0)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--record-url")
    opts = ap.parse_args()
    url, prefix = opts.url, opts.prefix
    record_url = opts.record_url or url
    settings = Settings(redis_url=url, key_prefix=prefix, lease_seconds=opts.lease,
                        worker_concurrency=opts.concurrency, claim_batch=opts.concurrency)
    registry = default_registry.copy()
    tag = "{" + prefix + "}"
    ran_key, started_key, runs_key = f"{tag}:test:ran", f"{tag}:test:started", f"{tag}:test:runs"
    pid = os.getpid()

    async def run() -> None:
        log = aredis.Redis.from_url(record_url, decode_responses=True)
        sync_log = redis.Redis.from_url(record_url, decode_responses=True)

        async def record(ctx: JobContext) -> int:
            await asyncio.sleep(float(ctx.data.get("seconds", 0)))
            await log.rpush(ran_key, f"{ctx.job_id}:{pid}")
            return pid

        async def nap(ctx: JobContext) -> dict[str, int]:
            await asyncio.sleep(float(ctx.data.get("seconds", 0)))
            return {"pid": pid, "i": int(ctx.data.get("i", 0))}

        async def long(ctx: JobContext) -> int:
            await log.rpush(started_key, f"{ctx.job_id}:{pid}:{ctx.attempt}:{_ms()}")
            return await record(ctx)

        def crash(ctx: JobContext) -> None:
            os.kill(pid, signal.SIGKILL)

        def overrun(ctx: JobContext) -> int:
            entry = f"{ctx.job_id}:{ctx.attempt}:{pid}"
            sync_log.rpush(runs_key, f"{entry}:start:{_ms()}")
            try:
                time.sleep(float(ctx.data.get("seconds", 0)))
            finally:  # "end" is when the thread stops running it, interrupted or not
                sync_log.rpush(runs_key, f"{entry}:end:{_ms()}")
            return pid

        for fn in (record, nap, long, crash, overrun):
            registry.register(fn.__name__, fn)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        aq = AsyncQueue(settings)
        print("ready", flush=True)
        await Runner(aq, registry).run(stop)
        await aq.aclose()
        await log.aclose()
        sync_log.close()

    asyncio.run(run())


def _ms() -> int:
    return int(time.time() * 1000)


if __name__ == "__main__":
    main()
