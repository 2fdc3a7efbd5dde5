"""Retries, error categories, the dead-letter queue, leases, cancel, retention, events."""

from __future__ import annotations

import asyncio
import time

import pytest

from boltq_core import Conflict, NotFound, PermanentError, Queue, RetryAfter
from boltq_core.errors import JobValidationError
from boltq_core.running.attempt import JobContext, Outcome, OutcomeKind
from tests.conftest import run_worker
from tests.support.queue_calls import claim, complete, events, finish, registry_with


def test_transient_failure_retries_then_dead_letters(queue: Queue) -> None:
    seen: list[int] = []

    def flaky(ctx: JobContext) -> None:
        seen.append(ctx.attempt)
        raise ConnectionError("upstream down")

    sub = queue.submit({"type": "flaky", "max_attempts": 3})
    run_worker(queue, registry_with(flaky=flaky),
               until=lambda: queue.get(sub.job_id).status == "failed")
    job = queue.get(sub.job_id)
    assert seen == [1, 2, 3]
    assert job.attempts == 3
    assert job.last_error.category == "transient"
    assert job.last_error.message == "ConnectionError: upstream down"
    stats = queue.stats()
    assert stats.totals["retried"] == 2 and stats.totals["failed"] == 1
    assert stats.dead_letter == 1


def test_retry_waits_for_the_backoff(make_queue) -> None:
    queue = make_queue(retry_base_seconds=0.4, retry_max_seconds=0.4)
    sub = queue.submit({"type": "fail", "max_attempts": 2})
    (job,) = claim(queue)
    assert finish(queue, Outcome.retry(job.id, 1, "transient", "boom", 400)) == ["retrying"]
    assert queue.get(sub.job_id).status == "retrying"
    assert claim(queue) == []  # not due yet
    time.sleep(0.45)
    (again,) = claim(queue)
    assert again.id == sub.job_id and again.attempt == 2


@pytest.mark.parametrize(
    ("raised", "category"),
    [(PermanentError("bad card"), "permanent"), (JobValidationError("no url"), "validation")],
)
def test_permanent_errors_skip_retries(queue: Queue, raised: Exception, category: str) -> None:
    def proc(ctx: JobContext) -> None:
        raise raised

    sub = queue.submit({"type": "proc", "max_attempts": 5})
    run_worker(queue, registry_with(proc=proc),
               until=lambda: queue.get(sub.job_id).status == "failed")
    job = queue.get(sub.job_id)
    assert job.attempts == 1 and job.last_error.category == category


def test_unknown_job_type_goes_straight_to_the_dead_letter_queue(queue: Queue) -> None:
    sub = queue.submit({"type": "no_such_type", "max_attempts": 5})
    run_worker(queue, until=lambda: queue.get(sub.job_id).status == "failed")
    job = queue.get(sub.job_id)
    assert job.attempts == 1
    assert job.last_error.category == "unknown_type"
    assert "no_such_type" in job.last_error.message


def test_retry_after_is_honoured(queue: Queue) -> None:
    starts: list[float] = []

    async def later(ctx: JobContext) -> str:
        starts.append(time.monotonic())
        if ctx.attempt == 1:
            raise RetryAfter(0.5, "rate limited")
        return "done"

    sub = queue.submit({"type": "later"})
    run_worker(queue, registry_with(later=later),
               until=lambda: queue.get(sub.job_id).status == "completed")
    assert starts[1] - starts[0] >= 0.5
    assert queue.get(sub.job_id).result == "done"


def test_timeout_is_a_retryable_timeout_failure(queue: Queue) -> None:
    async def slow(ctx: JobContext) -> None:
        await asyncio.sleep(5)

    sub = queue.submit({"type": "slow", "timeout_seconds": 1, "max_attempts": 1})
    run_worker(queue, registry_with(slow=slow),
               until=lambda: queue.get(sub.job_id).status == "failed")
    job = queue.get(sub.job_id)
    assert job.last_error.category == "timeout"
    assert (job.finished_at - job.started_at).total_seconds() < 1.5


def test_dead_letter_list_inspect_requeue_purge(queue: Queue) -> None:
    subs = queue.submit_many([{"type": "fail", "data": {"permanent": True}} for _ in range(4)])
    ids = [s.job_id for s in subs]
    run_worker(queue, until=lambda: queue.stats().dead_letter == 4)
    page = queue.dlq_list(limit=3)
    assert len(page.items) == 3 and page.next_cursor == "3"
    rest = queue.dlq_list(limit=3, cursor=page.next_cursor)
    assert {j.id for j in page.items + rest.items} == set(ids) and rest.next_cursor is None
    assert queue.dlq_get(ids[0]).last_error.message == "PermanentError: failed on purpose"

    assert queue.dlq_requeue([ids[0]]) == [ids[0]]
    job = queue.get(ids[0])
    assert (job.status, job.attempts) == ("pending", 0)
    with pytest.raises(NotFound):
        queue.dlq_requeue([ids[0]])  # no longer a dead letter
    assert queue.dlq_requeue_all() == 3
    assert queue.stats().dead_letter == 0 and queue.stats().pending_total == 4

    run_worker(queue, until=lambda: queue.stats().dead_letter == 4)
    assert queue.dlq_purge() == 4
    assert queue.stats().dead_letter == 0
    with pytest.raises(NotFound):
        queue.get(ids[1])


def test_queue_wait_of_a_requeued_dead_letter_counts_from_the_requeue(queue: Queue) -> None:
    job_id = queue.submit({"type": "fail", "data": {"permanent": True}}).job_id
    run_worker(queue, until=lambda: queue.stats().dead_letter == 1)
    time.sleep(0.3)
    requeued_at = time.time() * 1000
    queue.dlq_requeue([job_id])
    (again,) = claim(queue)
    assert again.attempt == 1
    ready, started = again.queued_ms or (0, 0)
    assert requeued_at - 5 <= ready <= started  # not from the job's creation 0.3 s before
    assert started - ready < 200


def test_dead_letter_queue_is_bounded(make_queue) -> None:
    queue = make_queue(dlq_max_size=3)
    subs = queue.submit_many([{"type": "fail"} for _ in range(5)])
    for job in claim(queue, 5):
        time.sleep(0.003)  # distinct failure times: the bound drops the oldest
        assert finish(queue, Outcome.failed(job.id, 1, "permanent", "no")) == ["failed"]
    assert queue.stats().dead_letter == 3
    kept = {j.id for j in queue.dlq_list().items}
    assert kept == {s.job_id for s in subs[2:]}  # the oldest two were dropped
    with pytest.raises(NotFound):
        queue.get(subs[0].job_id)


def test_cancel_pending_scheduled_and_retrying_removes_them(queue: Queue) -> None:
    pending = queue.submit({"type": "echo"})
    scheduled = queue.submit({"type": "echo", "delay_seconds": 30})
    retrying = queue.submit({"type": "echo"})
    (job,) = [j for j in claim(queue, 10) if j.id == retrying.job_id] or [None]
    # claim took both ready jobs; put the first back by failing-retrying it
    assert job is not None
    finish(queue, Outcome.retry(job.id, 1, "transient", "x", 30000))
    pend_job = queue.get(pending.job_id)
    assert pend_job.status == "running"  # claimed alongside; cancel flags it instead
    for sub in (scheduled, retrying):
        assert queue.cancel(sub.job_id) == "cancelled"
    fresh = queue.submit({"type": "echo"})
    assert queue.cancel(fresh.job_id) == "cancelled"
    stats = queue.stats()
    assert stats.pending_total == 0 and stats.scheduled == 0 and stats.retrying == 0
    assert claim(queue) == []
    with pytest.raises(Conflict, match="already cancelled"):
        queue.cancel(fresh.job_id)
    with pytest.raises(NotFound):
        queue.cancel("no-such-id")


def test_cancel_running_job_ends_cancelled(queue: Queue) -> None:
    sub = queue.submit({"type": "sleep", "data": {"seconds": 30}})
    state: dict[str, str] = {}

    def cancel_when_running() -> bool:
        job = queue.get(sub.job_id)
        if job.status == "running" and "asked" not in state:
            state["asked"] = queue.cancel(sub.job_id)
        return job.status == "cancelled"

    t0 = time.monotonic()
    run_worker(queue, until=cancel_when_running, timeout=10)
    assert state["asked"] == "running"
    assert time.monotonic() - t0 < 5
    job = queue.get(sub.job_id)
    assert job.status == "cancelled" and job.cancel_requested
    assert queue.stats().totals["cancelled"] == 1


def test_expired_lease_runs_the_job_again_and_refuses_the_stale_worker(queue: Queue) -> None:
    sub = queue.submit({"type": "echo"})
    (first,) = claim(queue, lease=0.2)
    time.sleep(0.25)
    (second,) = claim(queue)  # recovery happens inside the claim
    assert second.id == sub.job_id and second.attempt == 2
    assert queue.get(sub.job_id).last_error.category == "lease_expired"
    assert complete(queue, first) == "stale"  # the old holder cannot record
    assert complete(queue, second) == "completed"
    assert queue.stats().totals["completed"] == 1


@pytest.mark.parametrize(
    "stale",
    [pytest.param(("r", "transient", "stale boom", 50), id="retry"),
     pytest.param(("f", "permanent", "stale bad input", 0), id="fail"),
     pytest.param(("x", "", "", 0), id="cancel")],
)
def test_stale_retry_fail_and_cancel_are_refused_after_recovery(
    queue: Queue, stale: tuple[str, str, str, int],
) -> None:
    kind, category, message, delay_ms = stale
    sub = queue.submit({"type": "echo"})
    (first,) = claim(queue, lease=0.2)
    time.sleep(0.25)
    (second,) = claim(queue)  # recovery happens inside the claim
    assert second.id == sub.job_id
    before = queue.stats().totals
    # the old holder's outcome changes nothing: not the status, the error, the counters or the
    # new holder's lease
    outcome = Outcome(first.id, first.attempt, OutcomeKind(kind), category=category,
                      message=message, delay_ms=delay_ms)
    assert finish(queue, outcome) == ["stale"]
    job = queue.get(sub.job_id)
    assert job.status == "running"
    assert job.last_error is None or not job.last_error.message.startswith("stale")
    assert queue.stats().totals == before
    assert queue.redis.zscore(queue.keys.active, sub.job_id) is not None
    assert complete(queue, second) == "completed"


def test_lease_lost_alone_on_the_last_attempt_dead_letters(queue: Queue) -> None:
    sub = queue.submit({"type": "echo", "max_attempts": 1})
    claim(queue, lease=0.1)
    time.sleep(0.15)
    result = queue.promote()
    assert result.recovered == 1
    # lost beside nothing else it knew of, but claimed in a batch: not charged, run alone next
    job = queue.get(sub.job_id)
    assert job.status == "pending" and job.last_error.category == "lease_expired"
    (again,) = claim(queue, lease=0.1)
    assert again.solo
    time.sleep(0.15)
    assert queue.promote().recovered == 1
    job = queue.get(sub.job_id)
    assert job.status == "failed" and job.last_error.category == "crashed"


def test_retention_expires_finished_jobs(make_queue) -> None:
    queue = make_queue(retention_seconds=1)
    done = queue.submit({"type": "echo"})
    kept = queue.submit({"type": "echo", "delay_seconds": 60})
    run_worker(queue, until=lambda: queue.get(done.job_id).status == "completed")
    assert 0 < queue.redis.pttl(queue.keys.job(done.job_id)) <= 1000
    time.sleep(1.1)
    assert queue.promote().expired == 1
    with pytest.raises(NotFound):
        queue.get(done.job_id)
    assert queue.redis.zcard(queue.keys.completed) == 0
    assert queue.redis.zscore(queue.keys.index, done.job_id) is None
    assert queue.get(kept.job_id).status == "scheduled"


def test_every_transition_is_in_the_bounded_event_stream(make_queue) -> None:
    queue = make_queue(events_max_length=50)
    sub = queue.submit({"type": "echo"})
    run_worker(queue, until=lambda: queue.get(sub.job_id).status == "completed")
    mine = [e["st"] for e in events(queue) if e["id"] == sub.job_id]
    assert mine == ["pending", "running", "completed"]
    queue.submit_many([{"type": "echo"} for _ in range(500)])
    assert queue.redis.xlen(queue.keys.events) < 200  # trimmed (approximately) to 50


def test_progress_is_stored_only_by_the_holder(queue: Queue) -> None:
    sub = queue.submit({"type": "echo"})
    (job,) = claim(queue)
    assert queue.run(queue.calls.progress(job.id, 1, {"percent": 40})) == 1
    assert queue.run(queue.calls.progress(job.id, 2, {"percent": 90})) == 0
    assert queue.get(sub.job_id).progress == {"percent": 40}
    assert any(e.get("p") == '{"percent":40}' for e in events(queue))


def test_list_jobs_filters_and_pages(queue: Queue) -> None:
    subs = queue.submit_many(
        [{"type": "echo" if i % 2 else "sleep", "data": {"i": i}} for i in range(30)]
    )
    claim(queue, 5)  # five oldest are running now
    seen, cursor = [], None
    while True:
        page = queue.list_jobs(limit=7, cursor=cursor)
        seen += [j.id for j in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [s.job_id for s in reversed(subs)]  # newest first, each once
    echo = queue.list_jobs(job_type="echo", limit=100).items
    assert len(echo) == 15 and all(j.type == "echo" for j in echo)
    running = queue.list_jobs(status="running").items
    assert {j.id for j in running} == {s.job_id for s in subs[:5]}
    with pytest.raises(Exception, match="status: must be one of"):
        queue.list_jobs(status="done")
