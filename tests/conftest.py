"""Fixtures: a real Redis-compatible server (an embedded Valkey, or REDIS_URL when set) and a
fresh key namespace per test, so tests never see each other's jobs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from boltq_core import Queue, Settings
from boltq_core.running.async_queue import AsyncQueue
from boltq_core.running.processors import ProcessorRegistry
from boltq_core.running.runner import Runner, RunStats
from boltq_local.valkey import ValkeyServer


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    with ValkeyServer() as server:
        yield server.url


def _drop_namespace(queue: Queue) -> None:
    # "{prefix" covers the default queue's tag "{prefix}" and every named queue's "{prefix:name}"
    keys = list(queue.redis.scan_iter(match="{" + queue.settings.key_prefix + "*", count=1000))
    for i in range(0, len(keys), 500):
        queue.redis.unlink(*keys[i : i + 500])


@pytest.fixture
def make_queue(redis_url: str) -> Iterator[Callable[..., Queue]]:
    """make_queue(**settings) -> a Queue on its own namespace (dropped after the test)."""
    made: list[Queue] = []

    def make(**overrides: Any) -> Queue:
        values: dict[str, Any] = {
            "redis_url": redis_url,
            "key_prefix": f"t-{uuid.uuid4().hex[:12]}",
            "lease_seconds": 2.0,
            "retry_base_seconds": 0.05,
            "retry_max_seconds": 0.2,
        }
        values.update(overrides)
        q = Queue(Settings(**values))
        made.append(q)
        return q

    yield make
    for q in made:
        _drop_namespace(q)
        q.redis.close()


@pytest.fixture
def queue(make_queue: Callable[..., Queue]) -> Queue:
    return make_queue()


def run_worker(
    queue: Queue,
    registry: ProcessorRegistry | None = None,
    *,
    until: Callable[[], bool] | None = None,
    timeout: float = 20.0,
    idle_timeout: float | None = None,
    **runner_kwargs: Any,
) -> RunStats:
    """Run a Runner on `queue`'s namespace until `until()` holds (checked every 10 ms), or
    until it has been idle for `idle_timeout` seconds. Fails the test on `timeout`."""

    async def main() -> RunStats:
        aq = AsyncQueue(queue.settings)
        stop = asyncio.Event()
        runner = Runner(aq, registry, idle_timeout=idle_timeout, **runner_kwargs)
        task = asyncio.create_task(runner.run(stop))
        end = time.monotonic() + timeout
        try:
            while not task.done():
                if until is not None and await asyncio.to_thread(until):
                    stop.set()
                    break
                if time.monotonic() > end:
                    stop.set()
                    await task
                    raise AssertionError(f"worker did not reach the condition in {timeout}s")
                await asyncio.sleep(0.01)
            return await task
        finally:
            if not task.done():  # `until` raised: stop the runner, or asyncio.run waits on it
                stop.set()
                with contextlib.suppress(Exception):  # the test's own failure is reported
                    await asyncio.wait_for(task, timeout=10)
            await aq.aclose()

    return asyncio.run(main())


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, every: float = 0.01) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout}s")
