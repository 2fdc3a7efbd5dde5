"""Fleet: the live worker invocations of a namespace - who counts (Fleet), how a worker stays
counted and retires (stay_in_fleet, retirer), and how the poller starts the workers the backlog
needs and never more than NUM_WORKERS at once, nor more for one queue's backlog than that
queue's max_workers (Scaler, scale_until).

Key: {p}:fleet  ZSET  member = worker token, score = the ms after which it no longer counts.
The poller reserves a token per invocation (short expiry: an invocation that never starts frees
its slot soon); the worker renews it while it runs (a crashed worker stops counting after
WORKER_TTL_MS) and drops it at the end. Reserving is one script, so overlapping pollers cannot
exceed the cap together. A worker with spare capacity retires through another script, which
never removes the last live one."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from boltq_core.duties.events import EventFollower
from boltq_core.jobs.queue import Queue
from boltq_core.jobs.scripts import source
from boltq_core.keys import Keys
from boltq_core.timefmt import now_ms

log = logging.getLogger("boltq.fleet")

RESERVATION_MS = 30_000  # how long an invoked worker counts before it reports in
WORKER_TTL_MS = 30_000  # how long a running worker counts after its last renewal
FLEET_KEY_TTL_MS = 3_600_000  # the fleet key itself, so an idle namespace leaves nothing

# Invoke(FunctionName=..., InvocationType="Event", Payload=...): boto3's lambda invoke
Invoke = Callable[..., Any]


class Fleet:
    def __init__(self, client: Any, keys: Keys) -> None:
        self.redis = client
        self.key = keys.fleet
        self._reserve = client.register_script(source("fleet_reserve"))

    def live(self) -> int:
        pipe = self.redis.pipeline(transaction=False)
        pipe.zremrangebyscore(self.key, "-inf", now_ms())
        pipe.zcard(self.key)
        return int(pipe.execute()[1])

    def reserve(self, want: int, cap: int, reservation_ms: int = RESERVATION_MS) -> list[str]:
        """Reserve up to `want` worker slots under `cap`; returns their tokens."""
        if want <= 0:
            return []
        tokens = [uuid.uuid4().hex for _ in range(want)]
        return list(self._reserve(keys=[self.key], args=[cap, want, reservation_ms, *tokens]))

    def join(self, token: str, until_ms: int | None = None) -> None:
        """A worker started: it counts until `until_ms` (epoch ms; default WORKER_TTL_MS from
        now) unless it renews or leaves."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.zadd(self.key, {token: until_ms or now_ms() + WORKER_TTL_MS})
        pipe.pexpire(self.key, FLEET_KEY_TTL_MS)
        pipe.execute()

    def leave(self, token: str) -> None:
        self.redis.zrem(self.key, token)


async def stay_in_fleet(client: Any, keys: Keys, token: str) -> None:
    """A running worker's renewal (an asyncio task, cancelled when it ends): every third of
    WORKER_TTL_MS. XX: a token that retired or left is not brought back. A store outage is
    ridden out, as the runner rides it out."""
    while True:
        try:
            await client.zadd(keys.fleet, {token: now_ms() + WORKER_TTL_MS}, xx=True)
        except Exception as exc:
            log.warning("fleet renewal failed: %s", exc)
        await asyncio.sleep(WORKER_TTL_MS / 3000)


def retirer(client: Any, keys: Keys, token: str) -> Callable[[], Awaitable[bool]]:
    """For Runner(retire=...) on an asyncio client: the worker `token` leaves the fleet unless
    it is the last live one (one script: concurrent retirements never empty the fleet)."""
    script = client.register_script(source("fleet_retire"))

    async def retire() -> bool:
        return bool(await script(keys=[keys.fleet], args=[token]))

    return retire


def workers_needed(backlog: int, per_worker: int, cap: int) -> int:
    """Workers the backlog needs: one per `per_worker` ready jobs, at least one for any work,
    at most `cap`."""
    if backlog <= 0:
        return 0
    return max(1, min(cap, math.ceil(backlog / max(1, per_worker))))


def workers_wanted(backlogs: dict[str, tuple[int, int | None]], per_worker: int,
                   cap: int) -> int:
    """Workers the queues' backlogs (name -> (ready jobs, max_workers or None)) need: the
    queues without a max_workers of their own share workers_needed() of their summed
    backlog, each queue with one adds workers_needed() of its own backlog but at most its
    max_workers; at most `cap` in all."""
    shared = sum(depth for depth, most in backlogs.values() if most is None)
    want = workers_needed(shared, per_worker, cap)
    for depth, most in backlogs.values():
        if most is not None:
            want += workers_needed(depth, per_worker, min(cap, most))
    return min(want, cap)


class Scaler:
    """Starts the workers the backlog needs, never more than the cap counting live ones (nor,
    for a queue's own backlog, more than its max_workers setting). A queue's cap bounds the
    workers started for its backlog; a worker still serves every queue of WORKER_QUEUES."""

    def __init__(self, q: Queue, invoke: Invoke, function_name: str) -> None:
        self.q = q
        self.fleet = Fleet(q.redis, q.keys)
        self.invoke = invoke
        self.function_name = function_name
        self.cap = q.settings.num_workers
        self.per_worker = q.settings.jobs_per_worker or q.settings.worker_concurrency
        self.invoked = 0
        self.failed = 0
        self.backlog: int | None = None  # ready jobs at the last check (None: none yet)
        self._last: dict[str, int] = {}  # each queue's ready jobs at the last check

    def scale(self) -> int:
        now = self.q.backlogs()
        depth = sum(d for d, _ in now.values())
        # with workers running, only a backlog that outlived one check (POLLER_COALESCE_MS)
        # asks for more: a burst the live workers clear meanwhile starts none; the first
        # worker starts at once
        first = self.backlog is None
        lasting = {name: (d if first else min(d, self._last.get(name, 0)), most)
                   for name, (d, most) in now.items()}
        self.backlog = depth
        self._last = {name: d for name, (d, _) in now.items()}
        if depth <= 0:
            return 0
        live = self.fleet.live()
        need = workers_wanted(lasting if live else now, self.per_worker, self.cap)
        if need <= live:
            return 0
        tokens = self.fleet.reserve(need - live, self.cap)
        if not tokens:
            return 0
        with ThreadPoolExecutor(min(16, len(tokens))) as pool:
            results = list(pool.map(self._start, tokens))
        started = sum(results)
        self.invoked += started
        return started

    def _start(self, token: str) -> bool:
        payload = json.dumps({"source": "boltq.poller", "token": token}).encode()
        try:
            self.invoke(FunctionName=self.function_name, InvocationType="Event", Payload=payload)
            return True
        except Exception as exc:
            self.failed += 1
            self.fleet.leave(token)  # frees the slot at once
            log.warning("worker invoke failed: %s", exc)
            return False


WAKE_ON = frozenset({"pending"})  # a job became ready: submitted, promoted, requeued, retried
RESCAN_SECONDS = 1.0  # look at the backlog at least this often anyway
READ_COUNT = 500  # events read per wake


def scale_until(q: Queue, deadline: float, invoke: Invoke, function_name: str) -> dict[str, Any]:
    """The poller's loop until time.monotonic() reaches `deadline`: blocked on the events
    stream, so new ready work is seen within milliseconds; each wake (paced by
    POLLER_COALESCE_MS) checks the backlog and starts what it needs. While work waits (deferred,
    or its worker is on the way out) it looks again every interval even with no event. One
    failed pass is logged and the loop goes on."""
    scaler = Scaler(q, invoke, function_name)
    coalesce = q.settings.poller_coalesce_ms / 1000
    follower = EventFollower(q, READ_COUNT, coalesce)
    wakes = failures = 0
    fresh = True
    while (left := deadline - time.monotonic()) > 0:
        try:
            if fresh:  # the first pass, or the first after a failed one
                follower.cursor = None
                scaler.scale()
                fresh = False
            batch = follower.next(min(max(coalesce, 0.001) if scaler.backlog else RESCAN_SECONDS,
                                      left))
            if batch.events and not batch.skipped and not batch.any_status(WAKE_ON):
                continue
            wakes += bool(batch.events)
            scaler.scale()
            failures = 0
        except Exception as exc:  # one failed pass must not end the loop
            failures += 1
            fresh = True
            log.warning("poller pass failed; trying again: %s: %s", type(exc).__name__, exc)
            time.sleep(min(max(0.0, deadline - time.monotonic()), 0.05 * 2 ** min(failures, 6)))
    return {"invoked": scaler.invoked, "invoke_failures": scaler.failed, "wakes": wakes,
            "reads": follower.reads, "failed_passes": failures}
