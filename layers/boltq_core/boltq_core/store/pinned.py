"""One connection of a standalone client's pool kept out of the pool for the script calls of
that client, so a call skips the pool's checkout and return. In redis-py 8 those cost about as
much as the round trip itself (a readiness poll of the socket and four observability counters
per call): a single submit is a third faster on a held connection.

A thread that finds the held connection busy (another thread is in a call on it) takes a pooled
one, as before. The held connection is left to the pool's bookkeeping as "in use", so closing
the client (or `store.connect.disconnect`) closes it too; its next call reconnects, as a pooled
connection would. Any error inside a call drops the socket, so no half-read reply is left on
it for the next call (the pool's readiness poll guards pooled connections against that)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis


class _Held:
    __slots__ = ("conn", "lock", "pid")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.conn: Any = None
        self.pid = 0


_made = threading.Lock()


def _holder(pool: redis.ConnectionPool) -> _Held:
    # kept on the pool itself: it goes with the pool, and finding it costs one lookup
    held: _Held | None = pool.__dict__.get("_boltq_held")
    if held is None:
        with _made:
            held = pool.__dict__.setdefault("_boltq_held", _Held())
    return held


def exchange(pool: redis.ConnectionPool, packed: list[bytes]) -> Any:
    """Send one packed command and read its reply, on the pool's held connection when no other
    thread is using it, else on a pooled one; under the connection's own retry."""
    held = _holder(pool)
    if not held.lock.acquire(blocking=False):
        return _pooled(pool, packed)
    try:
        return _send(_own(held, pool), packed)
    finally:
        held.lock.release()


def _own(held: _Held, pool: redis.ConnectionPool) -> Any:
    pid = os.getpid()
    if held.conn is None or held.pid != pid:
        # first use, or a forked child: the parent's socket is not this process's to use
        held.conn, held.pid = pool.get_connection(), pid
    return held.conn


@contextmanager
def session(pool: redis.ConnectionPool) -> Iterator[Any]:
    """The held connection (a pooled one while another thread uses it) for the caller alone,
    to send several commands before reading their replies. No retry: the caller resends what
    went unanswered. Any error but an error reply drops the socket; after an error reply the
    caller drops it (`conn.disconnect()`) when replies are still unread."""
    held = _holder(pool)
    mine = held.lock.acquire(blocking=False)
    conn = _own(held, pool) if mine else pool.get_connection()
    try:
        yield conn
    except redis.ResponseError:
        raise
    except BaseException:
        conn.disconnect()
        raise
    finally:
        if mine:
            held.lock.release()
        else:
            pool.release(conn)


def _pooled(pool: redis.ConnectionPool, packed: list[bytes]) -> Any:
    conn = pool.get_connection()
    try:
        return _send(conn, packed)
    finally:
        pool.release(conn)


def _send(conn: Any, packed: list[bytes]) -> Any:
    def once() -> Any:
        conn.send_packed_command(packed)
        return conn.read_response()

    try:
        return conn.retry.call_with_retry(once, lambda _error: conn.disconnect())
    except redis.ResponseError:
        raise  # the reply was read whole: the connection is in step
    except BaseException:
        conn.disconnect()
        raise
