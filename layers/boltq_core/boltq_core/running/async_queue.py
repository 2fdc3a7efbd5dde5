"""AsyncQueue: the asyncio client the runner uses (claim, finish, progress) over the queues it
serves, and the Waiter that blocks on Redis for all of them at once until new work arrives or
a precise deadline passes.

A runner serves the queues of WORKER_QUEUES (`name` or `name:weight`), or every known queue. Its
claims go to them by smooth weighted round robin; a claim that comes back short goes on to the
next queue at once, so a runner never idles while a queue it serves has ready work. Outcomes go
to each job's own queue (the job id names it): one finish per queue, all in the claim's
pipeline. Each queue is its own slot, so every script call stays in one slot.

A claim that comes back short leaves the runner registered as waiting in that queue, and a
submit there hands its new jobs straight to it (lua/includes/lease.lua): the Waiter's blocking
pop (BZMPOP over the runner's inboxes and the markers) returns them, already leased, so an idle
runner picks a job up in the submit's own round trip. The runner's next exchange takes it off
every other queue it waited in and collects what those handed it meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aredis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

from boltq_core.config import Settings
from boltq_core.jobs.calls import Call, ScriptCalls, pairs
from boltq_core.jobs.scripts import Scripts, lost
from boltq_core.keys import DEFAULT_QUEUE, queue_of
from boltq_core.running.attempt import Claimed, ClaimReply, Outcome
from boltq_core.store.connect import AsyncClient, connect_async, single_client_async

log = logging.getLogger("boltq.queue")

# a runner serving every known queue looks for new queues at most this often
REFRESH_SECONDS = 2.0


class AsyncQueue:
    def __init__(self, settings: Settings | None = None, client: AsyncClient | None = None,
                 queues: Sequence[tuple[str, int]] | None = None):
        """`queues`: (name, weight) pairs to serve; default WORKER_QUEUES, and when that is
        empty every known queue (looked up again every REFRESH_SECONDS)."""
        self.settings = settings or Settings.from_env()
        self.calls = ScriptCalls(self.settings)  # the default queue's
        self.keys = self.calls.keys
        self.redis = client if client is not None else connect_async(self.settings)
        self._scripts = Scripts(self.redis)
        self._calls: dict[str, ScriptCalls] = {DEFAULT_QUEUE: self.calls}
        fixed = list(queues) if queues is not None else self.settings.served_queues
        self._fixed = bool(fixed)
        self.served: list[tuple[str, int]] = []
        self._credit: dict[str, int] = {}
        self._serve(fixed or [(DEFAULT_QUEUE, 1)])
        self._refreshed = float("-inf")
        self._plans: dict[str, list[str]] = {}  # claim id -> the queues it goes to, in order
        self.prefer: str | None = None  # the queue whose marker woke the waiter: claimed first
        self.waiting_in: set[str] = set()  # the queues where this runner is registered waiting

    def calls_of(self, name: str) -> ScriptCalls:
        calls = self._calls.get(name)
        if calls is None:
            calls = self._calls[name] = ScriptCalls(self.settings, name)
        return calls

    def _serve(self, queues: Sequence[tuple[str, int]]) -> None:
        self.served = list(queues)
        self._credit = {name: self._credit.get(name, 0) for name, _ in self.served}

    async def refresh(self, force: bool = False) -> None:
        """Serving every known queue: pick up queues that are new since the last look."""
        now = time.monotonic()
        if self._fixed or (not force and now - self._refreshed < REFRESH_SECONDS):
            return
        self._refreshed = now
        names = await self.redis.smembers(self.keys.queues)
        known = [DEFAULT_QUEUE, *sorted(set(names) - {DEFAULT_QUEUE})]
        if known != [name for name, _ in self.served]:
            self._serve([(name, 1) for name in known])

    def markers(self) -> dict[str, str]:
        """marker key -> queue, for every queue served."""
        return {self.calls_of(name).keys.marker: name for name, _ in self.served}

    def wake_keys(self, runner: str) -> list[tuple[str, list[str]]]:
        """Per queue served, the keys the waiter pops: the runner's inbox there (first: a
        hand-off beats a marker) and the queue's marker."""
        out = []
        for name, _ in self.served:
            k = self.calls_of(name).keys
            out.append((name, [k.inbox(runner), k.marker] if runner else [k.marker]))
        return out

    def _order(self) -> list[str]:
        """The queues in the order the next claim tries them: smooth weighted round robin
        picks the first (over many claims each queue comes first in proportion to its weight);
        the queue whose marker woke the waiter goes first."""
        total = sum(w for _, w in self.served)
        for name, weight in self.served:
            self._credit[name] += weight
        first = max(self.served, key=lambda qw: self._credit[qw[0]])[0]
        self._credit[first] -= total
        if self.prefer is not None and self.prefer in self._credit:
            first, self.prefer = self.prefer, None
        rest = sorted((n for n, _ in self.served if n != first), key=lambda n: -self._credit[n])
        return [first, *rest]

    async def run(self, call: Call) -> Any:
        return await self._scripts[call.script](keys=call.keys, args=call.args)

    async def claim(
        self, count: int, max_timeout_s: float = 0, lease_s: float | None = None, *,
        held: int = 0, runner: str = "", claim_id: str | None = None,
    ) -> ClaimReply:
        """Claim up to `count` jobs; `claim_id` makes a resend (after a lost reply) safe."""
        _, reply = await self.finish_and_claim((), count, max_timeout_s, held=held,
                                               runner=runner, claim_id=claim_id,
                                               lease_s=lease_s)
        return reply

    async def finish(self, outcomes: Sequence[Outcome]) -> list[str]:
        calls = self._finish_calls(outcomes)
        replies = await self._send([c for c, _ in calls])
        return _in_order(len(outcomes), calls, replies)

    async def finish_and_claim(
        self, outcomes: Sequence[Outcome], count: int, max_timeout_s: float = 0,
        extra: Sequence[Sequence[Any]] = (), *, held: int = 0, runner: str = "",
        claim_id: str | None = None, lease_s: float | None = None, wait_ms: int = 0,
    ) -> tuple[list[str], ClaimReply]:
        """Record outcomes and claim the next batch in one round trip: a pipeline of EVALSHA
        calls (redis-py's Script objects would add a SCRIPT EXISTS round trip to every
        pipeline), one finish per queue the outcomes belong to and the claim, plus the
        `extra` commands (bookkeeping such as metric increments, whose replies nobody needs)
        riding along. A claim that comes back short goes on to the next queue served (a round
        trip each). Cluster clients refuse scripts in pipelines, so there each call is one
        round trip. Every call may be sent again after a lost reply (finish refuses a stale
        attempt, claim answers a repeated claim id with what it leased): a claim id sent again
        goes to the same queues in the same order.

        With `wait_ms` (the runner blocks next when the claim comes back short) each claim
        that comes back short registers the runner as waiting in its queue; the first pipeline
        also takes it off the other queues it waited in (unidle), with the jobs they handed
        it meanwhile, which come first."""
        await self.refresh()
        claim_id = claim_id or uuid.uuid4().hex
        order = self._plans.get(claim_id) or self._plans.setdefault(claim_id, self._order())
        lease = lease_s or self.settings.lease_seconds
        finishing = self._finish_calls(outcomes)
        leaving = [self.calls_of(q).unidle(runner) for q in self.waiting_in if q != order[0]]
        self.waiting_in.clear()
        jobs: list[Claimed] = []
        statuses: list[str] = []
        next_wake, drain = -1, False
        for i, name in enumerate(order):
            call, parse = self.calls_of(name).claim(
                count - len(jobs), lease, max_timeout_s, held=held + len(jobs), runner=runner,
                claim_id=claim_id if i == 0 else f"{claim_id}.{i}", wait_ms=wait_ms)
            if i == 0:
                n = len(finishing)
                replies = await self._send(
                    [*(c for c, _ in finishing), *(c for c, _ in leaving), call], extra)
                statuses = _in_order(len(outcomes), finishing, replies[:n])
                for (_, parse_handed), handed in zip(leaving, replies[n:-1], strict=True):
                    jobs += [Claimed(f) for f in parse_handed(handed)]
                raw = replies[-1]
            else:
                raw = await self.run(call)
            wake, drained, got = parse(raw)
            jobs += [Claimed(f) for f in got]
            if wake >= 0:
                next_wake = wake if next_wake < 0 else min(next_wake, wake)
            drain = drain or drained
            short = len(got) < count - (len(jobs) - len(got))
            if wait_ms and runner and short and not drained:
                self.waiting_in.add(name)
            # a suspect runs alone, a drain claims nothing more: neither goes on
            if len(jobs) >= count or drain or any(j.solo for j in jobs):
                break
        self._plans.pop(claim_id, None)
        return statuses, ClaimReply(next_wake, drain, jobs)

    async def unidle(self, runner: str) -> list[Claimed]:
        """No longer waiting anywhere: the jobs handed to the runner meanwhile (it stops)."""
        leaving = [self.calls_of(q).unidle(runner) for q in self.waiting_in]
        self.waiting_in.clear()
        if not leaving:
            return []
        replies = await self._send([c for c, _ in leaving])
        return [Claimed(f) for (_, parse), r in zip(leaving, replies, strict=True)
                for f in parse(r)]

    def _finish_calls(self, outcomes: Sequence[Outcome]) -> list[tuple[Call, list[int]]]:
        """One finish call per queue the outcomes belong to, with the outcomes' positions."""
        if not outcomes:
            return []
        by_queue: dict[str, list[int]] = {}
        for i, o in enumerate(outcomes):
            by_queue.setdefault(queue_of(o.job_id), []).append(i)
        return [(self.calls_of(name).finish([outcomes[i] for i in idx]), idx)
                for name, idx in by_queue.items()]

    async def _send(self, calls: Sequence[Call], extra: Sequence[Sequence[Any]] = ()) -> list[Any]:
        """The script calls' replies, sent with the extras in one pipeline (one by one on a
        cluster client)."""
        if isinstance(self.redis, AsyncRedisCluster) or (len(calls) == 1 and not extra):
            replies = [await self.run(c) for c in calls]
            if extra:
                await self.send(extra)
            return replies
        await self._scripts.aready()
        pipe = self.redis.pipeline(transaction=False)
        for c in calls:
            self._scripts.queue_in(pipe, c.script, c.keys, c.args)
        for cmd in extra:
            pipe.execute_command(*cmd)
        replies = await pipe.execute(raise_on_error=False)
        for i, c in enumerate(calls):
            if lost(replies[i]):  # the server lost its scripts: run() loads them again
                replies[i] = await self.run(c)
            elif isinstance(replies[i], Exception):
                raise replies[i]
        _log_failed(extra, replies[len(calls):])
        return list(replies[: len(calls)])

    async def send(self, commands: Sequence[Sequence[Any]]) -> None:
        """Send commands whose replies nobody needs, in one pipeline (errors are logged)."""
        if not commands:
            return
        pipe = self.redis.pipeline(transaction=False)
        for cmd in commands:
            pipe.execute_command(*cmd)
        _log_failed(commands, await pipe.execute(raise_on_error=False))

    async def progress(self, job_id: str, attempt: int, value: Any) -> bool:
        call = self.calls_of(queue_of(job_id)).progress(job_id, attempt, value)
        return bool(await self.run(call))

    async def aclose(self) -> None:
        await self.redis.aclose()

    def waiter(self, runner: str = "") -> Waiter:
        return Waiter(self, runner)


def _in_order(n: int, calls: Sequence[tuple[Call, list[int]]], replies: Sequence[Any]) -> list[str]:
    """The statuses of n outcomes, in their order, from one reply per queue's finish."""
    out = [""] * n
    for (_, idx), reply in zip(calls, replies, strict=True):
        for i, status in zip(idx, reply, strict=True):
            out[i] = status
    return out


def _log_failed(commands: Sequence[Sequence[Any]], replies: Sequence[Any]) -> None:
    failed = [(cmd[0], r) for cmd, r in zip(commands, replies, strict=False)
              if isinstance(r, Exception)]
    if failed:
        log.warning("%d bookkeeping commands failed, e.g. %s: %s", len(failed), *failed[0])


# a blocked call ends on the server after this long at the latest (and the runner looks again),
# so a socket that died silently while blocked is noticed within WAIT_CHUNK + the read timeout
WAIT_CHUNK_SECONDS = 5
# how long a runner stays registered as waiting after a short claim: its longest block and a
# margin (a runner that died is handed nothing after that; what it was handed, its leases bring
# back)
WAITING_MS = (WAIT_CHUNK_SECONDS + 1) * 1000
HANDED_MAX = 10_000  # the most jobs one pop takes from an inbox (a hand-off is at most a batch)


class _Blocker:
    """One blocking connection (BZMPOP over `keys`, all on one node) and the connection that
    ends its block (CLIENT UNBLOCK)."""

    def __init__(self, keys: list[str], blocker: aredis.Redis, control: aredis.Redis,
                 client_id: int) -> None:
        self.keys, self.blocker, self.control, self.client_id = (keys, blocker, control,
                                                                 client_id)

    async def aclose(self) -> None:
        for c in (self.blocker, self.control):
            with contextlib.suppress(Exception):
                await c.aclose()


class Waiter:
    """Blocks on the runner's inboxes and the markers of every queue served (BZMPOP) until a
    submit hands it jobs or a submit or a release wakes it, or a deadline passes; handed jobs
    (leased to the runner already) are left in `handed`. On one server a single BZMPOP covers
    every queue; in cluster mode, where a blocking call cannot span slots, one blocked
    connection per queue waits, and the first to return ends the others. Redis checks blocking
    timeouts only every 1/hz s (100 ms by default), so the deadline is kept here and blocked
    calls are ended with CLIENT UNBLOCK. Any trouble (a failover ended the block, a socket
    died) drops every connection: the next wait makes new ones."""

    def __init__(self, queue: AsyncQueue, runner: str = "") -> None:
        self._queue = queue
        self._runner = runner
        self._blockers: list[_Blocker] = []
        self._keys: list[tuple[str, list[str]]] = []
        self._queue_of: dict[str, str] = {}  # marker or inbox key -> its queue
        self._markers: set[str] = set()
        self.handed: list[Claimed] = []

    async def _connect(self, per_queue: list[tuple[str, list[str]]]) -> None:
        client = self._queue.redis
        settings = self._queue.settings
        groups: list[tuple[list[str], tuple[str, int] | None]]
        if isinstance(client, AsyncRedisCluster):
            await client.initialize()
            groups = []
            for _, keys in per_queue:
                found = client.get_node_from_key(keys[-1])
                groups.append((keys, (found.host, found.port)))
        else:  # the inboxes first: a hand-off is taken before a marker
            groups = [([k for _, ks in per_queue for k in ks[:-1]]
                       + [ks[-1] for _, ks in per_queue], None)]
        from boltq_core.store.failover import AsyncStoreRetry

        self._keys = per_queue
        self._queue_of = {k: name for name, ks in per_queue for k in ks}
        self._markers = {ks[-1] for _, ks in per_queue}
        for keys, node in groups:
            # the read timeout must outlast the longest block; no resend: the caller handles it
            blocker = single_client_async(
                settings, node, socket_timeout=WAIT_CHUNK_SECONDS + settings.store_timeout_seconds,
                retry=AsyncStoreRetry(0))
            control = single_client_async(settings, node, retry=AsyncStoreRetry(0))
            self._blockers.append(
                _Blocker(keys, blocker, control, int(await blocker.client_id())))

    async def wait(self, timeout: float | None, stop: asyncio.Event | None = None) -> bool:
        """True when woken by a marker or handed jobs (then in `handed`); False on timeout or
        stop."""
        await self._queue.refresh()
        per_queue = self._queue.wake_keys(self._runner)
        if per_queue != self._keys:
            await self._reset()
        if not self._blockers:
            await self._connect(per_queue)
        blocked = {asyncio.ensure_future(b.blocker.bzmpop(
            WAIT_CHUNK_SECONDS, len(b.keys), b.keys, min=True, count=HANDED_MAX)): b
            for b in self._blockers}
        waits: set[asyncio.Future[Any]] = set(blocked)
        stopper = None
        if stop is not None:
            stopper = asyncio.ensure_future(stop.wait())
            waits.add(stopper)
        try:
            await asyncio.wait(waits, timeout=timeout, return_when="FIRST_COMPLETED")
            woke = False
            for future, b in blocked.items():
                if not future.done() and not await b.control.client_unblock(b.client_id):
                    # it returned just now, or it is not blocked where we think (it reconnected)
                    await asyncio.wait({future}, timeout=0.05)
                    if not future.done():
                        for f in blocked:
                            f.cancel()
                        await self._reset()
                        return woke
                popped = await future
                if popped is not None:
                    woke = True
                    self._popped(popped[0], popped[1])
            return woke
        except BaseException:
            for f in blocked:
                f.cancel()
            await self._reset()
            raise
        finally:
            if stopper is not None:
                stopper.cancel()

    def _popped(self, key: str, members: list[Any]) -> None:
        queue = self._queue_of.get(key)
        if key in self._markers:
            self._queue.prefer = queue
            return
        # an inbox: jobs handed to this runner, leased to it already; it waits there no more
        self._queue.waiting_in.discard(queue or "")
        for member, _score in members:
            self.handed.append(Claimed(pairs(json.loads(member))))

    def take_handed(self) -> list[Claimed]:
        out, self.handed = self.handed, []
        return out

    async def _reset(self) -> None:
        for b in self._blockers:
            await b.aclose()
        self._blockers = []
        self._keys = []
        self._queue_of = {}
        self._markers = set()

    async def aclose(self) -> None:
        await self._reset()
