"""Pickup in one round trip: a submit hands its job to a runner that waits (lua/includes/
lease.lua), whose blocking pop returns the job itself, leased to it already. The hand-off keeps
priorities, pause and group limits, and a runner serving several queues strands nothing."""

from __future__ import annotations

import time

from boltq_core import Queue
from boltq_core.jobs.groups import Groups
from boltq_core.running.runner import RunStats
from tests.conftest import wait_for
from tests.support.waiting_runner import waiting_runner


def created_and_started(queue: Queue, job_id: str) -> tuple[int, int]:
    q = queue.holding(job_id)
    created, started = q.redis.hmget(q.keys.job(job_id), "created", "started")
    return int(created), int(started)


def test_an_idle_runner_gets_the_job_from_the_submit_itself(queue: Queue) -> None:
    with waiting_runner(queue) as run:
        ids = []
        for _ in range(5):
            ids.append(queue.submit({"type": "note"}).job_id)
            wait_for(lambda: queue.get(ids[-1]).status == "completed")
            # registered again once its job is done
            wait_for(lambda: queue.redis.zcard(queue.keys.named("idle")) == 1)
    stats: RunStats = run["stats"]
    assert stats.handed == 5 and stats.claimed == 5
    # leased inside the submit's own script: its start is its creation's millisecond
    for job_id in ids:
        created, started = created_and_started(queue, job_id)
        assert started == created


def test_a_hand_off_takes_the_highest_priority_first(queue: Queue) -> None:
    with waiting_runner(queue, concurrency=1, batch=1) as run:
        low, high = (s.job_id for s in queue.submit_many(
            [{"type": "note", "priority": "low"}, {"type": "note", "priority": "high"}]))
        wait_for(lambda: len(run["started"]) == 2)
    assert run["started"] == [high, low]
    assert run["stats"].handed == 1  # the high one; the low one a claim took after it


def test_a_paused_queue_hands_nothing_off(queue: Queue) -> None:
    with waiting_runner(queue) as run:
        queue.pause()  # while the runner waits, registered
        job = queue.submit({"type": "note"}).job_id
        time.sleep(0.3)
        assert queue.get(job).status == "pending" and run["started"] == []
        queue.resume()
        wait_for(lambda: queue.get(job).status == "completed")
    assert run["stats"].handed == 0


def test_a_hand_off_keeps_a_groups_concurrency_limit(queue: Queue) -> None:
    Groups(queue).set_limits({"group_concurrency": 1})
    with waiting_runner(queue, concurrency=5, batch=5) as run:
        ids = [s.job_id for s in queue.submit_many([{"type": "note", "group": "g"}] * 3)]
        wait_for(lambda: all(queue.get(j).status == "completed" for j in ids))
    handed = [j for j in ids if created_and_started(queue, j)[0] == created_and_started(
        queue, j)[1]]
    assert handed == ids[:1]
    assert run["stats"].handed == 1


def test_a_runner_serving_several_queues_strands_no_handed_job(queue: Queue) -> None:
    with waiting_runner(queue, queues=[("a", 1), ("b", 1)]) as run:
        ids = []
        for i in range(20):
            ids.append(queue.submit({"type": "note", "queue": "ab"[i % 2]}).job_id)
            time.sleep(0.005)
        wait_for(lambda: all(queue.get(j).status == "completed" for j in ids), timeout=15)
    assert run["stats"].handed >= 2
    for name in ("a", "b"):  # nothing left leased in an inbox
        k = queue.of(name).keys
        assert queue.redis.zcard(k.active) == 0
        assert not [key for key in queue.redis.scan_iter(k.named("inbox:") + "*")]


def test_a_runner_that_is_handed_work_does_not_retire(queue: Queue) -> None:
    """Hand-offs gather the work on the runner that waited last: that one is busy, whatever
    its spare capacity, so it does not ask to retire (the others idle out)."""
    asked: list[float] = []

    async def retire() -> bool:
        asked.append(time.monotonic())
        return True

    with waiting_runner(queue, idle_timeout=0.3, retire=retire) as run:
        ids = []
        for _ in range(24):
            ids.append(queue.submit({"type": "note"}).job_id)
            time.sleep(0.05)
        wait_for(lambda: all(queue.get(j).status == "completed" for j in ids))
        assert asked == []
    assert run["stats"].handed >= 20
