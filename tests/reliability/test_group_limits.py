"""Group limits (SPEC §13) across worker processes: a concurrency limit never exceeded at any
moment, a rate limit never exceeded over any window, and a SIGKILLed worker's group slots
given back when its leases lapse. Every time here is the store's own (the `started` and
`finished` fields the claim and finish scripts write), so the checks are exact."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from boltq_core import Queue
from boltq_core.jobs.groups import Groups
from tests.conftest import wait_for
from tests.support.worker_fleet import Workers

pytestmark = pytest.mark.slow


def times(queue: Queue, ids: list[str]) -> list[tuple[int, int | None]]:
    """(started, finished) of each job, epoch ms."""
    pipe = queue.redis.pipeline(transaction=False)
    for i in ids:
        pipe.hmget(queue.keys.job(i), "started", "finished")
    return [(int(s), int(f) if f else None) for s, f in pipe.execute() if s]


def peak(spans: list[tuple[int, int | None]]) -> int:
    """The most spans open at once; a span that ends when another starts does not overlap it
    (the finish that frees a slot and the claim that takes it can share a millisecond)."""
    edges = sorted([(s, 1) for s, _ in spans] + [(f, -1) for _, f in spans if f is not None])
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def test_a_group_never_runs_more_than_its_concurrency_across_four_workers(
    make_queue, tmp_path: Path,
) -> None:
    queue = make_queue()
    Groups(queue).set_limits({"group_concurrency": 2})
    # one job at a time per worker: two of the group at once means two workers at once
    with Workers(queue.settings.url, queue.settings.key_prefix, tmp_path, concurrency=1) as w:
        for _ in range(4):
            w.spawn()
        capped = [s.job_id for s in queue.submit_many(
            [{"type": "record", "group": "capped", "data": {"seconds": 0.15}}
             for _ in range(24)])]
        other = [s.job_id for s in queue.submit_many(
            [{"type": "record", "group": f"t{i}", "data": {"seconds": 0.15}} for i in range(12)])]
        wait_for(lambda: all(f for _, f in times(queue, capped + other)), timeout=60,
                 every=0.1)
        assert not w.dead(), [w.why(p) for p in w.dead()]
        ran = queue.redis.lrange(queue.keys.tag + ":test:ran", 0, -1)
    assert peak(times(queue, capped)) == 2
    # the other groups were not held to it: several of them ran at once
    assert peak(times(queue, other)) > 2
    # and the capped group ran on several workers
    assert len({e.split(":")[-1] for e in ran if e.rsplit(":", 1)[0] in capped}) >= 2


def test_a_group_never_starts_more_than_its_rate_in_any_window(
    make_queue, tmp_path: Path,
) -> None:
    queue = make_queue()
    Groups(queue).set_group_limits("api", {"group_rate": {"max": 4, "per_seconds": 1}})
    with Workers(queue.settings.url, queue.settings.key_prefix, tmp_path, concurrency=10) as w:
        for _ in range(3):
            w.spawn()
        ids = [s.job_id for s in queue.submit_many(
            [{"type": "record", "group": "api"} for _ in range(120)])]
        free = [s.job_id for s in queue.submit_many([{"type": "record"} for _ in range(50)])]
        time.sleep(20)
        assert not w.dead(), [w.why(p) for p in w.dead()]
    starts = sorted(s for s, _ in times(queue, ids))
    # 20 s at 4 a second: about 80 starts (the first window starts at once)
    assert 76 <= len(starts) <= 84
    # no window of 1,000 ms holds a fifth start
    assert all(starts[i + 4] - starts[i] >= 1000 for i in range(len(starts) - 4))
    # the ungrouped jobs were never held back by the limited group
    assert all(f for _, f in times(queue, free)) and len(times(queue, free)) == 50


def test_a_killed_workers_group_slots_come_back_after_its_lease(
    make_queue, tmp_path: Path,
) -> None:
    queue = make_queue(lease_seconds=1.0)
    groups = Groups(queue)
    groups.set_limits({"group_concurrency": 2})
    with Workers(queue.settings.url, queue.settings.key_prefix, tmp_path, lease=1.0) as w:
        victim = w.spawn()
        held = [s.job_id for s in queue.submit_many(
            [{"type": "long", "group": "g", "data": {"seconds": 2}} for _ in range(2)])]
        wait_for(lambda: queue.redis.llen(queue.keys.tag + ":test:started") == 2, timeout=10)
        w.spawn()
        waiting = [s.job_id for s in queue.submit_many(
            [{"type": "record", "group": "g"} for _ in range(3)])]
        os.kill(victim.pid, signal.SIGKILL)
        secs, micros = queue.redis.time()
        killed_ms = secs * 1000 + micros // 1000
        victim.wait(5)
        # the group's two slots stay taken by the dead worker's leases
        time.sleep(0.3)
        assert {queue.get(j).status for j in waiting} == {"pending"}
        # then they lapse: the jobs run on the other worker, the lost ones again too
        wait_for(lambda: all(queue.get(j).status == "completed" for j in waiting + held),
                 timeout=30, every=0.1)
    info = groups.list().items
    assert info == [] and queue.redis.hget(queue.keys.group_state, "run:g") is None
    # the slots came back only with the leases' end: renewed at most a third of a lease
    # before the kill, a lease outlives it by two thirds of one at least
    assert min(s for s, _ in times(queue, waiting)) >= killed_ms + 600
    # and the jobs run again after that never made more than two at once
    assert peak(times(queue, waiting + held)) <= 2


def test_a_small_group_is_done_long_before_a_big_groups_backlog(
    make_queue, tmp_path: Path,
) -> None:
    queue = make_queue()
    with Workers(queue.settings.url, queue.settings.key_prefix, tmp_path, concurrency=10) as w:
        w.spawn()
        big = [s.job_id for s in queue.submit_many(
            [{"type": "record", "group": "big", "data": {"seconds": 1}} for _ in range(1000)])]
        time.sleep(0.5)  # big's backlog is under way
        small = [s.job_id for s in queue.submit_many(
            [{"type": "record", "group": "small"} for _ in range(20)])]
        # ten slots: about every other free one goes to small, so it is done within a few
        # of big's one-second jobs; big needs 100 s
        wait_for(lambda: all(queue.get(j).status == "completed" for j in small), timeout=15,
                 every=0.1)
        assert not w.dead(), [w.why(p) for p in w.dead()]
    done_big = sum(f is not None for _, f in times(queue, big))
    assert done_big < 300, done_big
    last_small = max(f for _, f in times(queue, small) if f)
    first_big = min(s for s, _ in times(queue, big))
    assert last_small - first_big < 15_000
