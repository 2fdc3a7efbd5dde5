"""store.autopipeline.AutoPipelined: the commands of one loop turn share one pipeline on one
connection, each caller gets its own reply or error, blocking commands go alone, and closing
waits for what was queued. Against the real store."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
import redis.asyncio as aredis

from boltq_core import Settings
from boltq_core.store.autopipeline import AutoPipelined
from boltq_core.store.connect import job_client_async
from tests.support.faults import Proxy


def _connections(client: aredis.Redis) -> int:
    pool = client.connection_pool
    return len(pool._available_connections) + len(pool._in_use_connections)


def _writes(client: aredis.Redis) -> list[int]:
    """Counts the requests written on the client's connections (one per write)."""
    sent: list[int] = []
    base = client.connection_pool.connection_class

    class Counting(base):  # type: ignore[misc, valid-type]
        async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            sent.append(1)
            await super().send_packed_command(command, check_health)

    client.connection_pool.connection_class = Counting
    return sent


def _run(body: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(body())


async def _fifty_incrs(client: aredis.Redis, key: str) -> list[int]:
    return await asyncio.gather(*(client.incr(key) for _ in range(50)))


@pytest.fixture
def key(redis_url: str) -> Iterator[str]:
    yield "boltq-test:autopipeline"
    r = redis.Redis.from_url(redis_url)
    r.delete("boltq-test:autopipeline", "boltq-test:autopipeline:s", "boltq-test:autopipeline:l")
    r.close()


def test_fifty_callers_of_one_turn_share_one_write_and_one_connection(
        redis_url: str, key: str) -> None:
    async def body() -> None:
        client = AutoPipelined.from_url(redis_url)
        writes = _writes(client)
        try:
            await client.ping()  # connected (its own write)
            writes.clear()
            got = await _fifty_incrs(client, key)
            assert sorted(got) == list(range(1, 51))  # every caller its own reply
            assert len(writes) == 1
            assert _connections(client) == 1
        finally:
            await client.aclose()

    _run(body)


def test_the_plain_client_writes_once_per_caller(redis_url: str, key: str) -> None:
    """The comparison that shows the test above measures something."""
    async def body() -> None:
        client = aredis.Redis.from_url(redis_url)
        writes = _writes(client)
        try:
            await client.ping()
            writes.clear()
            await _fifty_incrs(client, key)
            assert len(writes) >= 50  # one per INCR, and the new connections' handshakes
            assert _connections(client) > 1
        finally:
            await client.aclose()

    _run(body)


def test_an_error_reaches_only_its_own_caller(redis_url: str, key: str) -> None:
    async def body() -> None:
        client = AutoPipelined.from_url(redis_url, decode_responses=True)
        try:
            await client.set(f"{key}:s", "text")
            calls = [client.incr(key), client.incr(f"{key}:s"), client.get(f"{key}:s"),
                     client.incr(key)]
            got = await asyncio.gather(*calls, return_exceptions=True)
            assert got[0] == 1 and got[3] == 2
            assert isinstance(got[1], redis.ResponseError) and "not an integer" in str(got[1])
            assert got[2] == "text"
            # alone in its turn, too
            with pytest.raises(redis.ResponseError, match="not an integer"):
                await client.incr(f"{key}:s")
        finally:
            await client.aclose()

    _run(body)


def test_replies_keep_the_clients_decoding_and_callbacks(redis_url: str, key: str) -> None:
    async def body() -> None:
        client = AutoPipelined.from_url(redis_url, decode_responses=True)
        try:
            got = await asyncio.gather(client.set(key, "1"), client.exists(key),
                                       client.hgetall(f"{key}:missing"), client.get(key))
            assert got == [True, 1, {}, "1"]
        finally:
            await client.aclose()

    _run(body)


def test_a_blocking_call_does_not_hold_up_the_others(redis_url: str, key: str) -> None:
    async def body() -> None:
        client = AutoPipelined.from_url(redis_url, decode_responses=True)
        try:
            blocked = asyncio.ensure_future(client.blpop([f"{key}:l"], timeout=5))
            # sent in the same turn as the blocking pop: answered while it still waits
            incr = await asyncio.wait_for(client.incr(key), 3)
            assert incr == 1 and not blocked.done()
            await client.rpush(f"{key}:l", "x")
            assert await asyncio.wait_for(blocked, 5) == (f"{key}:l", "x")
        finally:
            await client.aclose()

    _run(body)


def test_a_cancelled_caller_leaves_the_others_their_replies(redis_url: str,
                                                                   key: str) -> None:
    async def body() -> None:
        client = AutoPipelined.from_url(redis_url)
        try:
            calls = [asyncio.ensure_future(client.incr(key)) for _ in range(5)]
            await asyncio.sleep(0)  # all five queued
            calls[2].cancel()
            done = await asyncio.gather(*calls, return_exceptions=True)
            assert isinstance(done[2], asyncio.CancelledError)
            others = [d for i, d in enumerate(done) if i != 2]
            assert len(set(others)) == 4 and set(others) <= {1, 2, 3, 4, 5}
            assert int(await client.get(key)) == 5  # its command was on its way: it ran
        finally:
            await client.aclose()

    _run(body)


def test_closing_waits_for_the_queued_commands(redis_url: str, key: str) -> None:
    async def body() -> None:
        client = AutoPipelined.from_url(redis_url)
        calls = [asyncio.ensure_future(client.incr(key)) for _ in range(10)]
        await asyncio.sleep(0)
        await client.aclose()
        assert sorted(await asyncio.gather(*calls)) == list(range(1, 11))

    _run(body)


def test_a_cut_connection_fails_every_caller_of_its_pipeline(redis_url: str) -> None:
    async def body() -> None:
        store = urlsplit(redis_url)
        with Proxy((store.hostname or "127.0.0.1", store.port or 6379)) as proxy:
            url = f"redis://127.0.0.1:{proxy.port}{store.path}"
            client = job_client_async(Settings(redis_url=url, store_retry_seconds=0.0))
            try:
                await client.ping()
                proxy.blackhole()
                calls = [client.incr("boltq-test:autopipeline:cut") for _ in range(3)]
                pending = asyncio.gather(*calls, return_exceptions=True)
                await asyncio.sleep(0.2)
                proxy.cut()
                got = await asyncio.wait_for(pending, 30)
                assert all(isinstance(g, redis.ConnectionError | OSError | redis.TimeoutError)
                           for g in got), got
                proxy.heal()
                assert await client.ping() is True  # the client reconnects for what comes next
            finally:
                await client.aclose()
                r = redis.Redis.from_url(redis_url)
                r.delete("boltq-test:autopipeline:cut")
                r.close()

    _run(body)


def test_the_job_client_is_auto_pipelined_on_a_standalone_store(redis_url: str) -> None:
    async def check(make: Callable[[], Any]) -> bool:
        client = make()
        try:
            return isinstance(client, AutoPipelined) and bool(await client.ping())
        finally:
            await client.aclose()

    assert asyncio.run(check(lambda: job_client_async(Settings(redis_url=redis_url))))
