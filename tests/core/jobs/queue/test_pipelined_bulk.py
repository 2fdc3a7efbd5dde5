"""A bulk of several chunks goes pipelined (jobs.pipelined): the next chunk is on its way while
the store runs the one before it. Every job is still stored once and in order when the
connection is cut between chunks, when the store has lost the function library, and when the
store takes scripts by EVALSHA."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from boltq_core import Queue
from boltq_core.jobs import pipelined
from boltq_core.jobs.calls import Submitted
from boltq_core.jobs.scripts import library
from tests.support.faults import Proxy
from tests.support.store_clients import without_functions


def _bulk(n: int) -> list[dict[str, Any]]:
    return [{"type": "echo", "data": {"i": i}} for i in range(n)]


def _stored_once_in_order(queue: Queue, subs: list[Submitted], n: int) -> None:
    """Every job of _bulk(n) stored once: answered, indexed and counted once, in the order
    sent, each with its own data."""
    assert len(subs) == n and len({s.job_id for s in subs}) == n
    assert all(s.status == "pending" and not s.duplicate for s in subs)
    indexed = queue.redis.zrange(queue.keys.named("jobs"), 0, -1)
    assert indexed == [s.job_id for s in subs]  # submit sequence = the order sent
    stats = queue.stats()
    assert stats.totals["submitted"] == n and stats.pending_total == n
    for i in (0, n // 2, n - 1):
        assert queue.get(subs[i].job_id).data == {"i": i}


def _log_wire(queue: Queue, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """'S' for every command sent and 'R' for every reply read, on any of the client's
    connections."""
    log: list[str] = []
    cls = queue.redis.connection_pool.connection_class
    send, read = cls.send_packed_command, cls.read_response

    def sent(self: Any, *args: Any, **kwargs: Any) -> Any:
        log.append("S")
        return send(self, *args, **kwargs)

    def read_(self: Any, *args: Any, **kwargs: Any) -> Any:
        log.append("R")
        return read(self, *args, **kwargs)

    monkeypatch.setattr(cls, "send_packed_command", sent)
    monkeypatch.setattr(cls, "read_response", read_)
    return log


def test_the_next_chunk_is_sent_before_the_reply_to_the_last(
        queue: Queue, monkeypatch: pytest.MonkeyPatch) -> None:
    queue._scripts.ready()  # the library is there (a FUNCTION LOAD, before the log)
    log = _log_wire(queue, monkeypatch)
    subs = queue.submit_many(_bulk(1000), chunk=250)
    # four chunks, the store never waiting for the client: one behind the one running
    assert "".join(log) == "SSRSRSRR"
    _stored_once_in_order(queue, subs, 1000)


def test_a_connection_cut_between_chunks_stores_every_job_once_in_order(
        make_queue: Callable[..., Queue], redis_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    addr = urlsplit(redis_url)
    with Proxy((addr.hostname or "127.0.0.1", addr.port or 6379)) as proxy:
        direct = make_queue()
        queue = Queue(direct.settings.model_copy(update={
            "redis_url": f"redis://127.0.0.1:{proxy.port}{addr.path}",
            "store_retry_seconds": 10.0}))
        try:
            answer = pipelined._answer
            cuts: list[int] = []

            def then_cut(conn: Any, unanswered: Any) -> Any:
                out = answer(conn, unanswered)
                if not cuts:  # the first reply read; the second chunk is on its way
                    cuts.append(proxy.cut())
                return out

            store, resent = queue._store, []

            def counted(call: Any) -> Any:
                resent.append(call)
                return store(call)

            monkeypatch.setattr(pipelined, "_answer", then_cut)
            monkeypatch.setattr(queue, "_store", counted)
            subs = queue.submit_many(_bulk(1200), chunk=300)
            assert cuts and cuts[0] >= 1  # the connection was cut mid-bulk
        finally:
            queue.redis.close()
    # the chunks not answered before the cut went again the queue's way, in order: the last
    # two (sent after it) always, the second too when its reply had not crossed the proxy yet
    assert len(resent) in (2, 3)
    again = [call.args[5 + 6 * k] for call in resent for k in range(300)]  # each job's id
    assert again == [s.job_id for s in subs[-300 * len(resent):]]
    _stored_once_in_order(direct, subs, 1200)  # the resent chunks were not stored twice


def test_a_store_that_lost_the_library_gets_it_again_and_every_job(queue: Queue) -> None:
    queue._scripts.ready()  # functions known to work: the bulk goes pipelined
    queue.redis.function_delete(library()[0])  # as a store restarted empty would be
    subs = queue.submit_many(_bulk(900), chunk=300)
    _stored_once_in_order(queue, subs, 900)
    assert queue.redis.function_list(library=library()[0])


def test_a_store_that_takes_scripts_by_evalsha_stores_a_bulk_in_order(queue: Queue) -> None:
    with without_functions(queue) as limited:
        subs = limited.submit_many(_bulk(700), chunk=200)
        assert limited._scripts.functions is False
    _stored_once_in_order(queue, subs, 700)


def test_an_idempotency_key_repeated_in_a_later_chunk_answers_with_the_first_job(
        queue: Queue) -> None:
    jobs = _bulk(600)
    for i in (10, 250, 590):  # chunks 0, 1 and 2 (chunk=200) share a key
        jobs[i]["idempotency_key"] = "order-7"
    subs = queue.submit_many(jobs, chunk=200)
    first = subs[10]
    assert not first.duplicate
    for i in (250, 590):
        assert subs[i].job_id == first.job_id and subs[i].duplicate
    assert queue.stats().totals["submitted"] == 598
    assert queue.get(first.job_id).data == {"i": 10}
