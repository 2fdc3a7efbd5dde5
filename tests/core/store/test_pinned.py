"""store.pinned: a standalone client's script calls go on one held connection (no pool checkout
per call), threads that meet there each get their own reply, a call that timed out leaves no
late reply behind, a forked child does not share the parent's socket, and closing the client
closes the held connection."""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from boltq_core import Queue
from boltq_core.errors import StoreUnavailable
from tests.support.faults import Proxy


def _count_checkouts(queue: Queue, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pool = queue.redis.connection_pool
    taken = [0]
    real = pool.get_connection

    def counted(*args: Any, **kwargs: Any) -> Any:
        taken[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(pool, "get_connection", counted)
    return taken


def test_the_calls_of_one_thread_share_one_held_connection(
        queue: Queue, monkeypatch: pytest.MonkeyPatch) -> None:
    queue.submit({"type": "t"})  # the library is loaded, the held connection made
    taken = _count_checkouts(queue, monkeypatch)
    ids = [queue.submit({"type": "t"}).job_id for _ in range(50)]
    assert taken[0] == 0  # every call went on the held connection
    assert [queue.get(i).status for i in ids] == ["pending"] * 50


def test_threads_that_meet_on_the_held_connection_each_get_their_own_reply(
        queue: Queue, monkeypatch: pytest.MonkeyPatch) -> None:
    taken = _count_checkouts(queue, monkeypatch)
    got: dict[int, list[tuple[str, str]]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def submitter(n: int) -> None:
        try:
            start.wait()
            mine = []
            for i in range(40):
                sub = queue.submit({"type": "t", "data": {"thread": n, "i": i}})
                mine.append((sub.job_id, sub.status))
            got[n] = mine
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=submitter, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert taken[0] > 1  # threads that found it busy took pooled connections
    ids = [job_id for mine in got.values() for job_id, _ in mine]
    assert len(set(ids)) == 8 * 40
    for n, mine in got.items():  # each reply was the one for the job its thread sent
        for i, (job_id, status) in enumerate(mine):
            assert status == "pending"
            assert queue.get(job_id).data == {"thread": n, "i": i}


def test_a_call_that_timed_out_leaves_no_late_reply_for_the_next(
        make_queue: Callable[..., Queue], redis_url: str) -> None:
    store = urlsplit(redis_url)
    with Proxy((store.hostname or "127.0.0.1", store.port or 6379)) as proxy:
        direct = make_queue()  # the test's namespace, dropped after it by a direct client
        queue = Queue(direct.settings.model_copy(update={
            "redis_url": f"redis://127.0.0.1:{proxy.port}{store.path}",
            "store_timeout_seconds": 0.3, "store_retry_seconds": 0.0}))
        try:
            queue.submit({"type": "t"})  # the held connection is made
            proxy.blackhole()  # the next request is held back, then delivered: a late reply
            with pytest.raises(StoreUnavailable):
                queue.submit({"type": "t", "data": {"n": 1}})
            proxy.heal()
            time.sleep(0.2)  # the held request has reached the server and been answered
            second = queue.submit({"type": "t", "data": {"n": 2}})
            assert direct.get(second.job_id).data == {"n": 2}
        finally:
            queue.redis.close()


def test_a_forked_child_does_not_share_the_parents_socket(queue: Queue) -> None:
    queue.submit({"type": "t"})  # the parent's held connection is made
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads about
        child = os.fork()
    if child == 0:  # pragma: no cover - the child's outcome is its exit status
        code = 1
        try:
            subs = [queue.submit({"type": "t", "data": {"who": "child", "i": i}})
                    for i in range(200)]
            code = 0 if all(queue.get(s.job_id).data == {"who": "child", "i": i}
                            for i, s in enumerate(subs)) else 3
        finally:
            os._exit(code)
    mine = [queue.submit({"type": "t", "data": {"who": "parent", "i": i}}) for i in range(200)]
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    for i, sub in enumerate(mine):
        assert queue.get(sub.job_id).data == {"who": "parent", "i": i}


def test_closing_the_client_closes_the_held_connection(queue: Queue) -> None:
    pool = queue.redis.connection_pool
    queue.submit({"type": "t"})
    held = [c for c in pool._in_use_connections if c._sock is not None]
    assert len(held) == 1
    queue.redis.close()
    assert held[0]._sock is None
    assert queue.submit({"type": "t"}).status == "pending"  # the next call reconnects
