"""The worker fleet follows the load both ways: the poller adds workers only for a backlog that
outlives one check, never more for a queue than its max_workers, and workers with spare
capacity retire until one is left."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from boltq_core import Queue
from boltq_core.duties.fleet import Fleet, Scaler, scale_until, workers_wanted
from boltq_core.jobs.queue import shared_queue
from tests.conftest import wait_for
from tests.functions.conftest import LambdaContext, load_function
from tests.support.queue_calls import claim


def test_poller_adds_workers_only_for_a_lasting_backlog(
    fn_env: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NUM_WORKERS", "4")
    monkeypatch.setenv("JOBS_PER_WORKER", "50")
    q = shared_queue()  # the namespace of fn_env, with the settings above
    invoked: list[dict[str, Any]] = []
    scaler = Scaler(q, lambda **kw: invoked.append(kw), "boltq-worker")
    fleet = Fleet(q.redis, q.keys)
    fleet.join("running-worker", int(time.time() * 1000) + 60_000)

    assert scaler.scale() == 0  # one live worker, nothing ready
    q.submit_many([{"type": "echo"}] * 120)  # a burst: 3 workers' worth
    assert scaler.scale() == 0 and invoked == []  # the live worker may clear it by itself
    assert scaler.scale() == 2  # still there at the next check: 3 needed, 1 runs
    assert len(invoked) == 2 and fleet.live() == 3

    # the workers drain it and end; a new backlog with none alive starts workers at once
    assert len(claim(q, 200)) == 120
    for token in q.redis.zrange(fleet.key, 0, -1):
        fleet.leave(token)
    assert scaler.scale() == 0  # nothing ready
    q.submit_many([{"type": "echo"}] * 60)
    assert scaler.scale() == 2 and fleet.live() == 2


def test_spare_workers_retire_until_one_is_left(
    fn_env: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three workers share a trickle one could run: after WORKER_IDLE_SECONDS of spare
    capacity two retire (one at a time, never the last), the third runs the rest."""
    q = fn_env
    monkeypatch.setenv("WORKER_IDLE_SECONDS", "0.4")
    worker = load_function("worker")
    fleet = Fleet(q.redis, q.keys)
    tokens = fleet.reserve(3, 3)
    results: dict[str, tuple[float, dict[str, Any]]] = {}

    def run(token: str) -> None:
        r = worker.handler({"source": "boltq.poller", "token": token},
                           LambdaContext("boltq-worker", remaining_ms=60_000))
        results[token] = (time.monotonic(), r)

    threads = [threading.Thread(target=run, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    wait_for(lambda: q.redis.zcard(fleet.key) == 3 and all(
        q.redis.zscore(fleet.key, t) > time.time() * 1000 + 20_000 for t in tokens))
    ids = []
    trickle_end = time.monotonic() + 2.0
    while time.monotonic() < trickle_end:
        ids.append(q.submit({"type": "echo", "timeout_seconds": 5}).job_id)
        time.sleep(0.01)
    assert fleet.live() == 1  # two retired while the trickle went on
    for t in threads:
        t.join(10)
    assert all(q.get(i).status == "completed" for i in ids)
    ends = sorted(results.values(), key=lambda x: x[0])
    assert len(ends) == 3
    assert ends[1][0] < trickle_end < ends[2][0]  # the last one outlived the trickle
    assert sum(r["claimed"] for _, r in ends) == len(ids)
    assert fleet.live() == 0


def test_waiting_work_is_looked_at_again_without_new_events(fn_env: Queue) -> None:
    """A job arriving while the only live worker is on its way out (it still counts, it will
    not claim) gets a worker as soon as that one has left, not at the next 1 s re-scan."""
    q = fn_env
    fleet = Fleet(q.redis, q.keys)
    t0 = time.monotonic()
    fleet.join("leaving", int(time.time() * 1000) + 300)  # gone 0.3 s from now
    invoked_at: list[float] = []
    result: dict[str, Any] = {}
    t = threading.Thread(target=lambda: result.update(scale_until(
        q, time.monotonic() + 1.5, lambda **kw: invoked_at.append(time.monotonic()),
        "boltq-worker")))
    t.start()
    time.sleep(0.1)
    q.submit({"type": "echo"})
    t.join()
    assert invoked_at, result
    assert 0.29 < invoked_at[0] - t0 < 0.6, invoked_at[0] - t0
    assert result["invoked"] == 1


def test_a_retiring_worker_never_swallows_a_wake_up(
    fn_env: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers retire only right after a claim found the queue empty: a submit's wake-up that
    reaches a worker about to retire is still answered by a claim, so no job waits for the
    next submit to be noticed. (Jobs 0.15 s apart among 3 workers: each is woken about every
    0.45 s, so none idles out within WORKER_IDLE_SECONDS=1; two retire, one stays.)"""
    q = fn_env
    monkeypatch.setenv("WORKER_IDLE_SECONDS", "1.0")
    worker = load_function("worker")
    fleet = Fleet(q.redis, q.keys)
    threads = [threading.Thread(target=worker.handler, args=(
        {"source": "boltq.poller", "token": t}, LambdaContext("boltq-worker", remaining_ms=60_000)))
        for t in fleet.reserve(3, 3)]
    for t in threads:
        t.start()
    wait_for(lambda: all(s > time.time() * 1000 + 20_000
                         for _, s in q.redis.zrange(fleet.key, 0, -1, withscores=True)))
    ids = []
    for _ in range(18):
        ids.append(q.submit({"type": "echo", "timeout_seconds": 5}).job_id)
        time.sleep(0.15)
    assert fleet.live() == 1
    for t in threads:
        t.join(10)
    jobs = [q.get(i) for i in ids]
    assert all(j.status == "completed" for j in jobs), [j.status for j in jobs]
    waits = [(j.started_at - j.created_at).total_seconds() for j in jobs]
    assert max(waits) < 0.1, waits
    assert fleet.live() == 0


def test_workers_wanted_caps_each_queue_with_a_max_workers() -> None:
    assert workers_wanted({}, 50, 10) == 0
    # no queue capped: the summed backlog, as one queue's (two 1-job queues: one worker)
    assert workers_wanted({"a": (1, None), "b": (1, None)}, 50, 10) == 1
    assert workers_wanted({"a": (120, None), "b": (500, None)}, 50, 10) == 10
    assert workers_wanted({"a": (120, None), "b": (500, 1)}, 50, 10) == 3 + 1
    assert workers_wanted({"a": (0, None), "b": (500, 2)}, 50, 10) == 2
    assert workers_wanted({"a": (0, None), "b": (1, 5)}, 50, 10) == 1
    assert workers_wanted({"a": (900, 7), "b": (900, 7)}, 50, 10) == 10  # NUM_WORKERS in all


def test_a_queues_max_workers_caps_the_workers_the_poller_starts_for_it(
    fn_env: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NUM_WORKERS", "10")
    monkeypatch.setenv("JOBS_PER_WORKER", "50")
    q = shared_queue()
    q.of("reports").configure(max_workers=1)
    q.submit_many([{"type": "echo", "queue": "reports"}] * 500)  # 10 workers' worth
    q.submit_many([{"type": "echo"}] * 120)  # 3 workers' worth
    invoked: list[dict[str, Any]] = []
    scaler = Scaler(q, lambda **kw: invoked.append(kw), "boltq-worker")
    fleet = Fleet(q.redis, q.keys)
    assert scaler.scale() == 4  # 3 for the default queue, one for "reports"
    assert len(invoked) == 4 and fleet.live() == 4
    assert scaler.scale() == 0  # the cap holds on every pass while the backlog lasts

    q.of("reports").configure(max_workers=3)
    assert scaler.scale() == 2
    q.of("reports").configure(max_workers=None)  # no cap of its own: NUM_WORKERS
    assert scaler.scale() == 4 and fleet.live() == 10
