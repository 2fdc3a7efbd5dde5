"""Fleet: counts the live worker invocations of a namespace, so the poller fans out only the
workers the backlog needs and never more than NUM_WORKERS at once.

Key: {p}:fleet  ZSET  member = worker token, score = the ms after which it no longer counts.
The poller reserves a token per invocation (short expiry: an invocation that never starts frees
its slot soon); the worker renews it to its own deadline when it starts and drops it at the end.
Reserving is one script, so overlapping pollers cannot exceed the cap together. A worker with
spare capacity retires through another (`retirer`), which never removes the last live one."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from boltq_core.jobs.scripts import source

RESERVATION_MS = 30_000  # how long an invoked worker counts before it reports in


class Fleet:
    def __init__(self, client: Any, tag: str) -> None:
        self.redis = client
        self.key = f"{tag}:fleet"
        self._reserve = client.register_script(source("fleet_reserve"))

    def live(self) -> int:
        now = int(time.time() * 1000)
        pipe = self.redis.pipeline(transaction=False)
        pipe.zremrangebyscore(self.key, "-inf", now)
        pipe.zcard(self.key)
        return int(pipe.execute()[1])

    def reserve(self, want: int, cap: int, reservation_ms: int = RESERVATION_MS) -> list[str]:
        """Reserve up to `want` worker slots under `cap`; returns their tokens."""
        if want <= 0:
            return []
        tokens = [uuid.uuid4().hex for _ in range(want)]
        return list(self._reserve(keys=[self.key], args=[cap, want, reservation_ms, *tokens]))

    def join(self, token: str, until_ms: int) -> None:
        """A worker started: it counts until `until_ms` (epoch ms) unless it leaves first."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.zadd(self.key, {token: until_ms})
        pipe.pexpire(self.key, 3600000)
        pipe.execute()

    def leave(self, token: str) -> None:
        self.redis.zrem(self.key, token)


def retirer(client: Any, key: str, token: str) -> Callable[[], Awaitable[bool]]:
    """For Runner(retire=...) on an asyncio client: the worker `token` leaves the fleet at
    `key` (Fleet.key) unless it is the last live one (one script: concurrent retirements never
    empty the fleet)."""
    script = client.register_script(source("fleet_retire"))

    async def retire() -> bool:
        return bool(await script(keys=[key], args=[token]))

    return retire


def workers_needed(backlog: int, per_worker: int, cap: int) -> int:
    """Workers the backlog needs: one per `per_worker` ready jobs, at least one for any work,
    at most `cap`."""
    if backlog <= 0:
        return 0
    return max(1, min(cap, math.ceil(backlog / max(1, per_worker))))
