"""A worker process for the multi-process tests: `python -m tests.core.worker_proc URL PREFIX`.

It registers `record`, which sleeps data.seconds and then appends "<job id>:<pid>" to the list
"{PREFIX}:test:ran" (same namespace, so the test's cleanup drops it)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import redis.asyncio as aredis

from boltq_core import Settings
from boltq_core.aqueue import AsyncQueue
from boltq_core.processors import JobContext, default_registry
from boltq_core.runner import Runner


def main() -> None:
    url, prefix = sys.argv[1], sys.argv[2]
    lease = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
    settings = Settings(redis_url=url, key_prefix=prefix, lease_seconds=lease,
                        worker_concurrency=20, claim_batch=20)
    registry = default_registry.copy()
    ran_key = "{" + prefix + "}:test:ran"

    async def run() -> None:
        log = aredis.Redis.from_url(url, decode_responses=True)

        async def record(ctx: JobContext) -> int:
            await asyncio.sleep(float(ctx.data.get("seconds", 0)))
            await log.rpush(ran_key, f"{ctx.job_id}:{os.getpid()}")
            return os.getpid()

        registry.register("record", record)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        aq = AsyncQueue(settings)
        print("ready", flush=True)
        await Runner(aq, registry).run(stop)
        await aq.aclose()
        await log.aclose()

    asyncio.run(run())


if __name__ == "__main__":
    main()
