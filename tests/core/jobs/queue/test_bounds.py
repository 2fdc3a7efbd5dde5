"""Bounds that keep hostile or careless input from growing the store or breaking a reply: how
far ahead a job may be scheduled, page sizes, the size of a result, of an error message and of
a progress report."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from boltq_core import InvalidInput, Queue
from boltq_core.jobs.workflows import Workflows
from boltq_core.running.attempt import JobContext
from boltq_core.running.processors import ProcessorRegistry
from tests.conftest import run_worker


@pytest.mark.parametrize("run_at", ["9999-01-01T00:00:00Z", "2400-01-01T00:00:00+00:00"])
def test_run_at_is_capped_like_delay_seconds(queue: Queue, run_at: str) -> None:
    with pytest.raises(InvalidInput, match=r"run_at: .*366 days"):
        queue.submit({"type": "echo", "run_at": run_at})
    within = datetime.now(UTC) + timedelta(days=365)
    assert queue.submit({"type": "echo", "run_at": within.isoformat()}).status == "scheduled"
    assert queue.stats().scheduled == 1


@pytest.mark.parametrize("limit", [0, 101, 1000])
def test_pages_hold_at_most_100(queue: Queue, limit: int) -> None:
    for list_ in (queue.list_jobs, queue.dlq_list, Workflows(queue).list):
        with pytest.raises(InvalidInput, match="limit: must be between 1 and 100"):
            list_(limit=limit)


@pytest.mark.parametrize("cursor", ["²", "1e3", "-1", "9" * 30])
def test_a_cursor_that_is_not_one_is_refused(queue: Queue, cursor: str) -> None:
    for list_ in (queue.list_jobs, queue.dlq_list, Workflows(queue).list):
        with pytest.raises(InvalidInput, match="cursor"):
            list_(cursor=cursor)


def test_lists_show_summaries_without_data_or_result(make_queue) -> None:
    queue = make_queue(max_payload_bytes=300_000)
    big = "x" * 200_000
    queue.submit({"type": "echo", "data": {"blob": big}})
    queue.submit({"type": "fail", "data": {"permanent": True, "blob": big}})
    run_worker(queue, until=lambda: queue.stats().totals.get("failed", 0) == 1
               and queue.stats().totals.get("completed", 0) == 1)
    for page in (queue.list_jobs(limit=100), queue.dlq_list(limit=100)):
        assert page.items
        for item in page.items:
            public = item.public()
            assert not {"data", "result", "parent_results"} & set(public)
            assert public["status"] in ("completed", "failed") and public["id"]
    done = next(i for i in queue.list_jobs().items if i.status == "completed")
    assert queue.get(done.id).result == {"blob": big}  # the job itself still has it all


def test_a_result_over_the_cap_fails_the_job_permanently(make_queue) -> None:
    queue = make_queue(max_result_bytes=1000)
    registry = ProcessorRegistry()

    async def huge(ctx: JobContext) -> Any:
        return {"text": "é" * 600}  # 1,200 bytes of UTF-8 in 600 characters

    registry.register("huge", huge)
    sub = queue.submit({"type": "huge"})
    run_worker(queue, registry, until=lambda: queue.get(sub.job_id).status == "failed")
    job = queue.get(sub.job_id)
    assert job.attempts == 1 and job.result is None
    assert job.last_error.category == "permanent"
    assert "MAX_RESULT_BYTES" in job.last_error.message and "1000" in job.last_error.message


def test_a_huge_error_message_is_cut(queue: Queue) -> None:
    registry = ProcessorRegistry()

    async def loud(ctx: JobContext) -> Any:
        raise ValueError("e" * 1_000_000)

    registry.register("loud", loud)
    sub = queue.submit({"type": "loud", "max_attempts": 1})
    run_worker(queue, registry, until=lambda: queue.get(sub.job_id).status == "failed")
    message = queue.get(sub.job_id).last_error.message
    assert 4000 < len(message) < 4100 and message.endswith("more characters)")


def test_a_progress_report_over_16_kb_is_dropped_and_the_job_still_completes(
        queue: Queue, caplog: pytest.LogCaptureFixture) -> None:
    registry = ProcessorRegistry()

    async def chatty(ctx: JobContext) -> Any:
        ctx.progress({"percent": 50})
        ctx.progress({"log": "y" * 20_000})
        await asyncio.sleep(0.2)  # progress travels on its own; let it land before the end
        return "done"

    registry.register("chatty", chatty)
    sub = queue.submit({"type": "chatty"})
    run_worker(queue, registry, until=lambda: queue.get(sub.job_id).status == "completed")
    job = queue.get(sub.job_id)
    assert job.result == "done" and job.progress == {"percent": 50}
    assert any("progress is 20" in r.getMessage() for r in caplog.records)
