"""Jobs whose worker was lost: a lost lease is charged only to a job that ran alone, so a job
that kills its worker ends in the dead-letter queue by itself and the jobs claimed with it run."""

from __future__ import annotations

import time

from boltq_core import Queue
from boltq_core.running.attempt import Claimed, ClaimReply, Outcome
from tests.support.queue_calls import finish


def claim(queue: Queue, count: int = 10, *, held: int = 0, runner: str = "r1",
          lease: float = 0.1, claim_id: str | None = None) -> ClaimReply:
    call, parse = queue.calls.claim(count, lease, held=held, runner=runner, claim_id=claim_id)
    next_wake_ms, drain, jobs = parse(queue.run(call))
    return ClaimReply(next_wake_ms, drain, [Claimed(f) for f in jobs])


def lose_leases(queue: Queue) -> None:
    time.sleep(0.15)
    queue.promote()


def test_jobs_lost_together_are_not_charged_and_become_suspects(queue: Queue) -> None:
    subs = queue.submit_many([{"type": "echo", "max_attempts": 1} for _ in range(3)])
    assert len(claim(queue).jobs) == 3
    lose_leases(queue)
    for s in subs:
        job = queue.get(s.job_id)
        # max_attempts 1 and one attempt used: still not dead, since it was not charged
        assert job.status == "pending" and job.attempts == 1
        assert job.last_error.category == "lease_expired"
    stats = queue.stats()
    assert stats.recovering == 3 and stats.pending_total == 3 and stats.totals["retried"] == 3


def test_a_suspect_is_leased_alone_to_a_runner_that_holds_nothing(queue: Queue) -> None:
    lost = queue.submit_many([{"type": "echo"} for _ in range(2)])
    claim(queue)
    lose_leases(queue)
    queue.submit_many([{"type": "echo", "priority": "high"} for _ in range(3)])
    reply = claim(queue)
    assert len(reply.jobs) == 1  # alone, before the ready high jobs
    assert reply.jobs[0].solo and not reply.drain
    # the next idle claim takes the second suspect, alone too
    second = claim(queue, runner="r2").jobs
    assert len(second) == 1 and second[0].solo
    assert {reply.jobs[0].id, second[0].id} == {s.job_id for s in lost}


def test_one_busy_runner_is_asked_to_drain_while_a_suspect_waits(queue: Queue) -> None:
    queue.submit({"type": "echo"})
    claim(queue)
    lose_leases(queue)
    queue.submit_many([{"type": "echo"} for _ in range(4)])
    drained = claim(queue, held=2, runner="busy-1")
    assert drained.drain and drained.jobs == []  # gets nothing new: it finishes what it has
    other = claim(queue, held=2, runner="busy-2", count=2)
    assert not other.drain and len(other.jobs) == 2  # one drainer is enough
    again = claim(queue, held=1, runner="busy-1")
    assert again.drain and again.jobs == []
    solo = claim(queue, held=0, runner="busy-1")
    assert len(solo.jobs) == 1 and solo.jobs[0].solo
    # the suspect is taken: the drainer is released and claims normally again
    assert not claim(queue, held=1, runner="busy-1").drain


def test_a_suspect_lost_alone_again_is_charged_and_dead_lettered_as_crashed(queue: Queue) -> None:
    sub = queue.submit({"type": "echo", "max_attempts": 2})
    claim(queue)
    lose_leases(queue)  # beside others: free
    for _ in range(2):
        (job,) = claim(queue).jobs
        assert job.solo
        lose_leases(queue)  # alone: charged
    job = queue.get(sub.job_id)
    assert job.status == "failed" and job.attempts == 3
    assert job.last_error.category == "crashed" and "2 times" in job.last_error.message
    assert sub.job_id in {j.id for j in queue.dlq_list().items}


def test_a_suspect_that_fails_on_its_own_retries_beside_others_again(queue: Queue) -> None:
    sub = queue.submit({"type": "echo"})
    claim(queue)
    lose_leases(queue)
    (job,) = claim(queue).jobs
    assert finish(queue, Outcome.retry(job.id, job.attempt, "transient", "boom", 0)) == [
        "retrying"]
    queue.submit({"type": "echo"})
    time.sleep(0.01)
    again = claim(queue).jobs
    assert {j.id for j in again} >= {sub.job_id} and len(again) == 2
    assert not any(j.solo for j in again)


def test_a_claim_sent_again_is_answered_with_the_jobs_it_leased(queue: Queue) -> None:
    queue.submit_many([{"type": "echo"} for _ in range(3)])
    first = claim(queue, count=2, claim_id="c-1", lease=5)
    queue.submit({"type": "echo"})
    again = claim(queue, count=2, claim_id="c-1", lease=5)
    assert [j.id for j in again.jobs] == [j.id for j in first.jobs]
    assert [j.attempt for j in again.jobs] == [1, 1]
    assert queue.stats().running == 2  # nothing more was leased
    fresh = claim(queue, count=5, claim_id="c-2", lease=5)
    assert len(fresh.jobs) == 2
