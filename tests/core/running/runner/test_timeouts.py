"""Async job timeouts on shared timers (running/deadlines.py): a job past its timeout is
stopped and retried as `timeout`, the jobs beside it with the same timeout share one loop timer
and run on, a TimeoutError of the job's own is not its timeout, and a cancel is still a cancel."""

from __future__ import annotations

import asyncio

from boltq_core import Queue
from boltq_core.running.attempt import JobContext
from boltq_core.running.deadlines import Deadlines
from boltq_core.running.processors import ProcessorRegistry, default_registry
from tests.conftest import run_worker


def _registry(**procs: object) -> ProcessorRegistry:
    registry = default_registry.copy()
    for name, fn in procs.items():
        registry.register(name, fn)  # type: ignore[arg-type]
    return registry


def test_a_slow_job_times_out_and_its_quick_batch_mates_complete(queue: Queue) -> None:
    async def job(ctx: JobContext) -> str:
        await asyncio.sleep(ctx.data["seconds"])
        return "done"

    subs = queue.submit_many(
        [{"type": "job", "timeout_seconds": 1, "max_attempts": 1,
          "data": {"seconds": 30 if i == 3 else 0.05}} for i in range(10)])
    ids = [s.job_id for s in subs]
    run_worker(queue, _registry(job=job), concurrency=10, batch=10,
               until=lambda: all(queue.get(i).status in ("completed", "failed") for i in ids))
    jobs = [queue.get(i) for i in ids]
    assert [j.status for j in jobs] == ["failed" if i == 3 else "completed" for i in range(10)]
    slow = jobs[3]
    assert slow.last_error.category == "timeout"
    assert slow.last_error.message == "timed out after 1s"
    assert 1.0 <= (slow.finished_at - slow.started_at).total_seconds() < 5


def test_a_timeout_error_of_the_jobs_own_is_transient(queue: Queue) -> None:
    async def job(ctx: JobContext) -> None:
        raise TimeoutError("the partner API did not answer")

    sub = queue.submit({"type": "job", "max_attempts": 1})
    run_worker(queue, _registry(job=job), until=lambda: queue.get(sub.job_id).status == "failed")
    err = queue.get(sub.job_id).last_error
    assert err.category == "transient"
    assert "the partner API did not answer" in err.message


def test_a_job_that_swallows_its_timeout_keeps_its_result(queue: Queue) -> None:
    async def job(ctx: JobContext) -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            return "kept going"
        return "slept"

    sub = queue.submit({"type": "job", "timeout_seconds": 1, "max_attempts": 1})
    run_worker(queue, _registry(job=job),
               until=lambda: queue.get(sub.job_id).status == "completed")
    assert queue.get(sub.job_id).result == "kept going"


def test_jobs_with_one_deadline_share_a_timer() -> None:
    async def body() -> None:
        expired: list[str] = []
        d = Deadlines(expired.append)
        loop = asyncio.get_running_loop()
        now = loop.time()
        slots = {d.arm(f"j{i}", now + 0.05, 0.05) for i in range(50)}
        assert len(slots) == 1 and len(d) == 50
        assert sum(1 for h in loop._scheduled if not h.cancelled()) == 1  # type: ignore[attr-defined]
        when = slots.pop()
        for i in range(0, 50, 2):
            d.disarm(f"j{i}", when)
        await asyncio.sleep(0.2)
        assert sorted(expired) == sorted(f"j{i}" for i in range(1, 50, 2))
        assert len(d) == 0
        # jobs that end at once, one after another, reuse their slot's timer
        for i in range(20):
            d.disarm(f"k{i}", d.arm(f"k{i}", loop.time() + 60, 60))
        assert sum(1 for h in loop._scheduled if not h.cancelled()) == 1  # type: ignore[attr-defined]
        d.close()
        assert not any(not h.cancelled() for h in loop._scheduled)  # type: ignore[attr-defined]

    asyncio.run(body())
