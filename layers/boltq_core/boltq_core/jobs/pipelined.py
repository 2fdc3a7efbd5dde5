"""A bulk submit of several chunks, pipelined on one connection: the next chunk is built and
sent while the store runs the one before it, so the store never waits for the client between
chunks and the client's work per chunk costs no time of its own.

One chunk waits behind the one running: the store runs them in the order sent, so the jobs of
a bulk are stored in order. Where a call cannot go this way (EVALSHA, a cluster client), or
when the store fails while chunks are unanswered, the chunks left go one at a time through
the queue's own submit path, with its resends: a chunk stored already answers with its jobs'
status and is not stored twice (lua/submit.lua). Any other error reply (a script's own error)
is raised, as with one chunk at a time; the chunk sent behind the failed one may be stored."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import redis

from boltq_core.jobs.calls import Call, Submitted
from boltq_core.jobs.scripts import Scripts, lost
from boltq_core.store import failover, pinned

Parse = Callable[[Any], list[Submitted]]


def submit_chunks(chunks: Iterator[tuple[Call, Parse]], scripts: Scripts, client: Any,
                  store: Callable[[Call], Any]) -> list[Submitted]:
    """Send every chunk's submit (`chunks` builds each when it is asked for the next) and
    return every job's reply, in order; `store` runs one chunk the queue's own way."""
    out: list[Submitted] = []
    unanswered: deque[tuple[Call, Parse]] = deque()
    try:
        scripts.ready()
        if scripts.packs():  # else this store or client takes scripts another way
            with pinned.session(client.connection_pool) as conn:
                for call, parse in chunks:
                    unanswered.append((call, parse))
                    conn.send_packed_command(scripts.packed(call.script, call.keys, call.args))
                    if len(unanswered) > 1:
                        out += _answer(conn, unanswered)
                while unanswered:
                    out += _answer(conn, unanswered)
    except Exception as exc:
        if not (lost(exc) or failover.is_store_trouble(exc)):
            raise
    for call, parse in [*unanswered, *chunks]:
        out += parse(store(call))
    return out


def _answer(conn: Any, unanswered: deque[tuple[Call, Parse]]) -> list[Submitted]:
    """The oldest unanswered chunk's reply; it is answered only once its reply is read."""
    try:
        reply = conn.read_response()
    except redis.ResponseError:
        conn.disconnect()  # the next chunk's reply is still on the socket
        raise
    _, parse = unanswered.popleft()
    return parse(reply)
