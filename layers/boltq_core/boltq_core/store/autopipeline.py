"""An asyncio Redis client that pipelines on its own: the commands its callers send in the same
turn of the event loop go out together as one pipeline (one write, one read of all the
replies), as ioredis's auto-pipelining does. Fifty jobs that each INCR cost one round trip and
one system call each way, not fifty. Each caller still gets its own reply or its own error.

It is a redis.asyncio.Redis: every command method works. Commands that block, hold the
connection or change its state (BLPOP, WAIT, SUBSCRIBE, WATCH/MULTI/EXEC, SELECT...) and
explicit pipelines and transactions go out alone, as on the plain client. A caller that stops
waiting (cancelled) does not take its command back: it may already be on the wire."""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aredis
from redis.exceptions import ResponseError

# sent alone: they block the connection, or their effect belongs to one connection
_ALONE = frozenset({
    "BLPOP", "BRPOP", "BLMOVE", "BRPOPLPUSH", "BLMPOP", "BZPOPMIN", "BZPOPMAX", "BZMPOP",
    "XREAD", "XREADGROUP", "WAIT", "WAITAOF", "SELECT", "WATCH", "UNWATCH", "MULTI", "EXEC",
    "DISCARD", "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "MONITOR", "RESET", "CLIENT", "AUTH",
    "HELLO", "QUIT",
})

Queued = tuple[tuple[Any, ...], dict[str, Any], "asyncio.Future[Any]"]


class AutoPipelined(aredis.Redis):
    """redis.asyncio.Redis whose commands from one loop turn share a pipeline. Make it as the
    plain client (`AutoPipelined.from_url(url, ...)`); a single-connection client does not
    pipeline."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queued: list[Queued] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        name = args[0]
        word = (name.decode() if isinstance(name, bytes) else str(name)).split(" ", 1)[0]
        if self.single_connection_client or word.upper() in _ALONE:
            return await super().execute_command(*args, **options)
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[Any] = loop.create_future()
        if not self._queued:  # the first of this turn: send them all once the turn is over
            loop.call_soon(self._flush)
        self._queued.append((args, options, reply))
        return await reply

    def _flush(self) -> None:
        batch, self._queued = self._queued, []
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[Queued]) -> None:
        try:
            if len(batch) == 1:  # alone this turn: the plain path costs less than a pipeline
                args, options, _ = batch[0]
                replies = [await self._alone(args, options)]
            else:
                pipe = self.pipeline(transaction=False)
                for args, options, _ in batch:
                    pipe.pipeline_execute_command(*args, **options)
                replies = await pipe.execute(raise_on_error=False)
        except BaseException as exc:  # the connection failed: every caller of the batch hears it
            for _, _, reply in batch:
                if not reply.done():
                    reply.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, _, reply), value in zip(batch, replies, strict=True):
            if reply.done():  # its caller was cancelled
                continue
            if isinstance(value, Exception):
                reply.set_exception(value)
            else:
                reply.set_result(value)

    async def _alone(self, args: tuple[Any, ...], options: dict[str, Any]) -> Any:
        try:
            return await super().execute_command(*args, **options)
        except ResponseError as exc:  # the command's own error, as in a pipeline
            return exc

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        """Close once the commands already queued have their replies."""
        if self._queued:
            self._flush()
        if self._sending:
            await asyncio.wait(list(self._sending))
        await super().aclose(close_connection_pool)
