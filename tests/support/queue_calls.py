"""Small helpers the core tests share: claim and finish by hand, read raw state."""

from __future__ import annotations

from boltq_core import Queue
from boltq_core.running.attempt import Claimed, Outcome
from boltq_core.running.processors import ProcessorRegistry, default_registry


def claim(queue: Queue, count: int = 10, lease: float | None = None,
          max_timeout: float = 0) -> list[Claimed]:
    call, parse = queue.calls.claim(count, lease or queue.settings.lease_seconds, max_timeout)
    return [Claimed(fields) for fields in parse(queue.run(call))[2]]


def finish(queue: Queue, *outcomes: Outcome) -> list[str]:
    return list(queue.run(queue.calls.finish(outcomes)))


def complete(queue: Queue, job: Claimed, result: str = '{"ok":true}') -> str:
    return finish(queue, Outcome.completed(job.id, job.attempt, result))[0]


def ready_ids(queue: Queue) -> list[str]:
    return [i for p in range(3) for i in queue.redis.lrange(queue.keys.ready(p), 0, -1)]


def events(queue: Queue) -> list[dict[str, str]]:
    return [fields for _, fields in queue.events(count=100000)]


def registry_with(**processors) -> ProcessorRegistry:
    reg = default_registry.copy()
    for name, fn in processors.items():
        reg.register(name, fn)
    return reg
