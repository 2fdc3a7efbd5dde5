"""Worker-process entry points. Each runs in its own (spawned) process, gets ready, waits on a
barrier so that start-up never counts, then works and reports a plain dict on a result queue."""

from __future__ import annotations

import asyncio
import cProfile
import threading
import time
from typing import Any

import redis
from redis.asyncio.connection import AbstractConnection

from boltq_core import Settings
from boltq_core.running.async_queue import AsyncQueue
from boltq_core.running.attempt import JobContext
from boltq_core.running.processors import default_registry
from boltq_core.running.runner import Runner

# Anything with .wait()/.put()/.is_set(): multiprocessing objects, typed loosely on purpose.
Barrier = Any
ResultQueue = Any
Event = Any


def count_round_trips() -> list[int]:
    """Count every request the asyncio client writes (a single command or a whole pipeline
    is one write, then one wait for the reply): that is a round trip. Returns the counter."""
    counter = [0]
    original = AbstractConnection.send_packed_command

    async def counted(self: AbstractConnection, command: Any, check_health: bool = True) -> None:
        counter[0] += 1
        await original(self, command, check_health)

    AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]
    return counter


# --- drain: run a Runner until the queue stays empty ------------------------------------------


def drain_worker(
    settings: Settings,
    concurrency: int,
    batch: int,
    barrier: Barrier,
    results: ResultQueue,
    profile_path: str | None = None,
) -> None:
    results.put(asyncio.run(_drain(settings, concurrency, batch, barrier, profile_path)))


async def _drain(
    settings: Settings, concurrency: int, batch: int, barrier: Barrier, profile_path: str | None
) -> dict[str, Any]:
    aq = AsyncQueue(settings)
    await aq.redis.ping()  # connect before the clock starts
    trips = count_round_trips()
    runner = Runner(aq, concurrency=concurrency, batch=batch, idle_timeout=0.3)
    barrier.wait()
    profiler = cProfile.Profile() if profile_path else None
    cpu0, t0 = time.process_time(), time.time()
    if profiler:
        profiler.enable()
    stats = await runner.run()
    if profiler and profile_path:
        profiler.disable()
        profiler.dump_stats(profile_path)
    cpu = time.process_time() - cpu0
    await aq.aclose()
    return {"claimed": stats.claimed, "round_trips": trips[0], "cpu": cpu, "t0": t0,
            "recorded": stats.recorded}


# --- latency: one idle Runner; a processor that notes when it starts --------------------------


async def stamp(ctx: JobContext) -> dict[str, float]:
    """Returns the wall time at which the job started running in the worker."""
    return {"t": time.time()}


def latency_worker(settings: Settings, barrier: Barrier, stop: Event) -> None:
    asyncio.run(_latency(settings, barrier, stop))


async def _latency(settings: Settings, barrier: Barrier, stop: Event) -> None:
    registry = default_registry.copy()
    registry.register("stamp", stamp)
    aq = AsyncQueue(settings)
    await aq.redis.ping()
    runner = Runner(aq, registry)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    # the parent's stop is a multiprocessing Event: a thread turns it into an asyncio one
    threading.Thread(
        target=lambda: (stop.wait(), loop.call_soon_threadsafe(done.set)), daemon=True
    ).start()
    barrier.wait()
    await runner.run(done)
    await aq.aclose()


# --- the bare baseline: BRPOP one item per round trip -----------------------------------------


def brpop_worker(url: str, key: str, barrier: Barrier, results: ResultQueue) -> None:
    """Pop until the list stays empty; report how many and when the last one came."""
    r = redis.Redis.from_url(url, decode_responses=True)
    r.ping()
    barrier.wait()
    n, last = 0, time.time()
    while r.brpop([key], timeout=0.2) is not None:
        n += 1
        last = time.time()
    results.put({"popped": n, "last": last})
    r.close()


def brpop_latency_worker(url: str, key: str, barrier: Barrier, results: ResultQueue) -> None:
    """Pop items (each the wall time it was pushed) until 'stop'; report the pickup delays."""
    r = redis.Redis.from_url(url, decode_responses=True)
    r.ping()
    barrier.wait()
    delays = []
    while True:
        _, item = r.brpop([key], timeout=0)  # type: ignore[misc]
        now = time.time()
        if item == "stop":
            break
        delays.append(now - float(item))
    results.put(delays)
    r.close()
