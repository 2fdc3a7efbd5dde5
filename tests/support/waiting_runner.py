"""A Runner in a thread of its own that has registered as waiting for work (a submit may hand
it jobs, lua/includes/lease.lua), for the hand-off tests. Its one job type, `note`, records
the ids it ran, in order."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from boltq_core import Queue
from boltq_core.running.async_queue import AsyncQueue
from boltq_core.running.attempt import JobContext
from boltq_core.running.runner import Runner
from tests.conftest import wait_for
from tests.support.queue_calls import registry_with


@contextmanager
def waiting_runner(queue: Queue, queues: Sequence[tuple[str, int]] | None = None,
                   **kw: Any) -> Iterator[dict[str, Any]]:
    """A Runner in a thread of its own, registered as waiting before the block is entered;
    yields a dict that holds its RunStats under "stats" once it has stopped."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    out: dict[str, Any] = {"started": []}

    async def note(ctx: JobContext) -> str:
        out["started"].append(ctx.job_id)
        return "ok"

    async def main() -> None:
        aq = AsyncQueue(queue.settings, queues=queues)
        runner = Runner(aq, registry_with(note=note), **kw)
        out["stats"] = await runner.run(stop)
        await aq.aclose()

    t = threading.Thread(target=loop.run_until_complete, args=(main(),))
    t.start()
    try:
        for name, _ in queues or [("default", 1)]:
            idle = queue.of(name).keys.named("idle")
            wait_for(lambda idle=idle: queue.redis.zcard(idle) == 1)
        yield out
    finally:
        loop.call_soon_threadsafe(stop.set)
        t.join(10)
        loop.close()
