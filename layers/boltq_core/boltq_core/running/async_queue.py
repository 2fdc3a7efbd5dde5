"""AsyncQueue: the asyncio client the runner uses (claim, finish, progress) and the
Waiter that blocks on Redis until new work arrives or a precise deadline passes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aredis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.exceptions import NoScriptError

from boltq_core.config import Settings
from boltq_core.jobs.calls import Call, RawClaim, ScriptCalls
from boltq_core.jobs.scripts import Scripts
from boltq_core.running.attempt import Claimed, ClaimReply, Outcome
from boltq_core.store.connect import AsyncClient, connect_async, single_client_async

log = logging.getLogger("boltq.queue")


class AsyncQueue:
    def __init__(self, settings: Settings | None = None, client: AsyncClient | None = None):
        self.settings = settings or Settings.from_env()
        self.calls = ScriptCalls(self.settings)
        self.keys = self.calls.keys
        self.redis = client if client is not None else connect_async(self.settings)
        self._scripts = Scripts(self.redis)

    async def run(self, call: Call) -> Any:
        return await self._scripts[call.script](keys=call.keys, args=call.args)

    async def claim(
        self, count: int, max_timeout_s: float = 0, lease_s: float | None = None, *,
        held: int = 0, runner: str = "", claim_id: str | None = None,
    ) -> ClaimReply:
        """Claim up to `count` jobs; `claim_id` makes a resend (after a lost reply) safe."""
        call, parse = self.calls.claim(count, lease_s or self.settings.lease_seconds, max_timeout_s,
                                    held=held, runner=runner, claim_id=claim_id)
        return _reply(parse(await self.run(call)))

    async def finish(self, outcomes: Sequence[Outcome]) -> list[str]:
        return list(await self.run(self.calls.finish(outcomes)))

    async def finish_and_claim(
        self, outcomes: Sequence[Outcome], count: int, max_timeout_s: float = 0,
        extra: Sequence[Sequence[Any]] = (), *, held: int = 0, runner: str = "",
        claim_id: str | None = None,
    ) -> tuple[list[str], ClaimReply]:
        """Record outcomes and claim the next batch in one round trip: a pipeline of two
        EVALSHA calls (redis-py's Script objects would add a SCRIPT EXISTS round trip to every
        pipeline), plus the `extra` commands (bookkeeping such as metric increments, whose
        replies nobody needs) riding along. Cluster clients refuse scripts in pipelines, so
        there it takes two calls and the extras a third. Both scripts may be sent again after
        a lost reply (finish refuses a stale attempt, claim answers a repeated `claim_id`)."""
        claim_call, parse = self.calls.claim(count, self.settings.lease_seconds, max_timeout_s,
                                          held=held, runner=runner, claim_id=claim_id)
        if not outcomes and not extra:
            return [], _reply(parse(await self.run(claim_call)))
        calls = (self.calls.finish(outcomes), claim_call) if outcomes else (claim_call,)
        if isinstance(self.redis, AsyncRedisCluster):
            replies = [await self.run(c) for c in calls]
            if extra:
                await self.send(extra)
        else:
            pipe = self.redis.pipeline(transaction=False)
            for c in calls:
                pipe.evalsha(self._scripts.sha(c.script), len(c.keys), *c.keys, *c.args)
            for cmd in extra:
                pipe.execute_command(*cmd)
            replies = await pipe.execute(raise_on_error=False)
            for i, c in enumerate(calls):
                if isinstance(replies[i], NoScriptError):  # the server lost its scripts
                    replies[i] = await self.run(c)
                elif isinstance(replies[i], Exception):
                    raise replies[i]
            _log_failed(extra, replies[len(calls):])
        finished = list(replies[0]) if outcomes else []
        return finished, _reply(parse(replies[len(calls) - 1]))

    async def send(self, commands: Sequence[Sequence[Any]]) -> None:
        """Send commands whose replies nobody needs, in one pipeline (errors are logged)."""
        if not commands:
            return
        pipe = self.redis.pipeline(transaction=False)
        for cmd in commands:
            pipe.execute_command(*cmd)
        _log_failed(commands, await pipe.execute(raise_on_error=False))

    async def progress(self, job_id: str, attempt: int, value: Any) -> bool:
        return bool(await self.run(self.calls.progress(job_id, attempt, value)))

    async def aclose(self) -> None:
        await self.redis.aclose()

    def waiter(self) -> Waiter:
        return Waiter(self)


def _reply(raw: RawClaim) -> ClaimReply:
    next_wake_ms, drain, jobs = raw
    return ClaimReply(next_wake_ms, drain, [Claimed(f) for f in jobs])


def _log_failed(commands: Sequence[Sequence[Any]], replies: Sequence[Any]) -> None:
    failed = [(cmd[0], r) for cmd, r in zip(commands, replies, strict=False)
              if isinstance(r, Exception)]
    if failed:
        log.warning("%d bookkeeping commands failed, e.g. %s: %s", len(failed), *failed[0])


# a blocked call ends on the server after this long at the latest (and the runner looks again),
# so a socket that died silently while blocked is noticed within WAIT_CHUNK + the read timeout
WAIT_CHUNK_SECONDS = 5


class Waiter:
    """Blocks on the namespace's marker (BZPOPMIN) until a submit or a release wakes it, or a
    deadline passes. Redis checks blocking timeouts only every 1/hz s (100 ms by default), so
    the deadline is kept here and the blocked call is ended with CLIENT UNBLOCK. Any trouble
    (a failover ended the block, the socket died) drops both connections: the next wait makes
    new ones."""

    def __init__(self, queue: AsyncQueue) -> None:
        self._queue = queue
        self._blocker: aredis.Redis | None = None
        self._control: aredis.Redis | None = None
        self._client_id: int | None = None

    async def _connect(self) -> None:
        client = self._queue.redis
        node = None
        if isinstance(client, AsyncRedisCluster):
            await client.initialize()
            found = client.get_node_from_key(self._queue.keys.marker)
            node = (found.host, found.port)
        settings = self._queue.settings
        from boltq_core.store.failover import AsyncStoreRetry

        # the read timeout must outlast the longest block; no resend: the caller handles it
        self._blocker = single_client_async(
            settings, node, socket_timeout=WAIT_CHUNK_SECONDS + settings.store_timeout_seconds,
            retry=AsyncStoreRetry(0))
        self._control = single_client_async(settings, node, retry=AsyncStoreRetry(0))
        self._client_id = int(await self._blocker.client_id())

    async def wait(self, timeout: float | None, stop: asyncio.Event | None = None) -> bool:
        """True when woken by the marker; False on timeout or stop."""
        if self._blocker is None:
            await self._connect()
        assert self._blocker is not None and self._control is not None
        blocked = asyncio.ensure_future(
            self._blocker.bzpopmin(self._queue.keys.marker, WAIT_CHUNK_SECONDS))
        waits: set[asyncio.Future[Any]] = {blocked}
        stopper = None
        if stop is not None:
            stopper = asyncio.ensure_future(stop.wait())
            waits.add(stopper)
        try:
            done, _ = await asyncio.wait(waits, timeout=timeout, return_when="FIRST_COMPLETED")
            if blocked in done:
                return blocked.result() is not None
            if not await self._control.client_unblock(self._client_id):
                # it returned just now, or it is not blocked where we think (it reconnected)
                await asyncio.wait({blocked}, timeout=0.05)
                if not blocked.done():
                    blocked.cancel()
                    await self._reset()
                    return False
            return (await blocked) is not None
        except BaseException:
            blocked.cancel()
            await self._reset()
            raise
        finally:
            if stopper is not None:
                stopper.cancel()

    async def _reset(self) -> None:
        for c in (self._blocker, self._control):
            if c is not None:
                with contextlib.suppress(Exception):
                    await c.aclose()
        self._blocker = self._control = None

    async def aclose(self) -> None:
        await self._reset()
