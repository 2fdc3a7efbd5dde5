"""Named queues (SPEC §11) at the core: each queue its own hash tag, ids that name their queue,
pause/resume, bulk submits over several queues, weighted claims that never idle while a served
queue has work, and a Waiter that wakes on any queue it serves."""

from __future__ import annotations

import asyncio
import time

import pytest

from boltq_core import InvalidInput, Queue
from boltq_core.jobs.workflows import Workflows
from boltq_core.running.async_queue import AsyncQueue
from tests.conftest import run_worker, wait_for


def test_a_job_names_its_queue_and_is_found_from_the_default_queue(queue: Queue) -> None:
    sub = queue.submit({"type": "echo", "queue": "emails"})
    assert sub.job_id.startswith("emails:")
    emails = queue.of("emails")
    assert emails.keys.tag == "{" + queue.settings.key_prefix + ":emails}"
    assert queue.redis.exists(emails.keys.job(sub.job_id))
    assert not queue.redis.exists(queue.keys.job(sub.job_id))
    job = queue.get(sub.job_id)  # one HGETALL, from the id alone
    assert job.queue == "emails" and job.status == "pending"
    assert queue.known_queues() == ["default", "emails"]
    assert queue.stats().pending_total == 0 and emails.stats().pending_total == 1


@pytest.mark.parametrize("bad", ["", "a b", "x" * 65, "a:b", "ü", 7])
def test_a_bad_queue_name_is_refused_naming_the_field(queue: Queue, bad: object) -> None:
    with pytest.raises(InvalidInput) as err:
        queue.submit({"type": "echo", "queue": bad})
    assert err.value.details[0]["field"] == "queue"
    assert queue.known_queues() == ["default"]
    if isinstance(bad, str):
        with pytest.raises(InvalidInput):
            queue.of(bad)


def test_a_bulk_over_several_queues_keeps_its_order_and_checks_all_first(queue: Queue) -> None:
    subs = queue.submit_many([{"type": "echo", "queue": q, "data": {"i": i}}
                              for i, q in enumerate(["a", "b", "default", "a"])])
    assert [s.job_id.partition(":")[0] for s in subs][:2] == ["a", "b"]
    assert [queue.get(s.job_id).data["i"] for s in subs] == [0, 1, 2, 3]
    with pytest.raises(InvalidInput) as err:
        queue.submit_many([{"type": "echo", "queue": "c"}, {"type": "echo", "priority": 9}])
    assert err.value.details[0]["field"] == "jobs[1].priority"
    assert "c" not in queue.known_queues()


def test_a_paused_queue_keeps_its_jobs_while_another_drains(queue: Queue) -> None:
    held = [queue.submit({"type": "echo", "queue": "held"}).job_id for _ in range(5)]
    free = [queue.submit({"type": "echo", "queue": "free"}).job_id for _ in range(5)]
    queue.of("held").pause()
    assert queue.of("held").paused()
    run_worker(queue, until=lambda: all(queue.get(j).status == "completed" for j in free))
    assert {queue.get(j).status for j in held} == {"pending"}
    queue.of("held").resume()
    run_worker(queue, until=lambda: all(queue.get(j).status == "completed" for j in held))


def test_a_claim_never_takes_a_job_from_a_paused_queue(queue: Queue) -> None:
    q = queue.of("p")
    q.submit({"type": "echo", "queue": "p"})
    q.pause()

    async def claim() -> int:
        aq = AsyncQueue(queue.settings, queues=[("p", 1)])
        try:
            return len((await aq.claim(10)).jobs)
        finally:
            await aq.aclose()

    assert asyncio.run(claim()) == 0
    q.resume()
    assert asyncio.run(claim()) == 1


def test_weighted_claims_take_about_three_to_one(queue: Queue) -> None:
    for name in ("a", "b"):
        queue.submit_many([{"type": "echo", "queue": name}] * 600)

    async def claims() -> dict[str, int]:
        aq = AsyncQueue(queue.settings, queues=[("a", 3), ("b", 1)])
        got = {"a": 0, "b": 0}
        try:
            for _ in range(40):
                for job in (await aq.claim(10)).jobs:
                    got[job.id.partition(":")[0]] += 1
        finally:
            await aq.aclose()
        return got

    got = asyncio.run(claims())
    assert got["a"] + got["b"] == 400
    assert 2.5 <= got["a"] / got["b"] <= 3.5, got


def test_a_short_claim_goes_on_to_the_next_queue_at_once(queue: Queue) -> None:
    queue.submit_many([{"type": "echo", "queue": "b"}] * 8)
    queue.submit({"type": "echo", "queue": "a"})

    async def claim() -> list[str]:
        aq = AsyncQueue(queue.settings, queues=[("a", 5), ("b", 1)])
        try:
            return [j.id.partition(":")[0] for j in (await aq.claim(10)).jobs]
        finally:
            await aq.aclose()

    got = asyncio.run(claim())
    assert sorted(got) == ["a"] + ["b"] * 8


def test_the_waiter_wakes_on_any_queue_it_serves(queue: Queue) -> None:
    async def wait_then_submit() -> tuple[bool, float, str | None]:
        aq = AsyncQueue(queue.settings, queues=[("a", 1), ("b", 1), ("c", 1)])
        waiter = aq.waiter()
        try:
            async def later() -> None:
                await asyncio.sleep(0.3)
                await asyncio.to_thread(queue.submit, {"type": "echo", "queue": "b"})

            task = asyncio.create_task(later())
            start = time.monotonic()
            woke = await waiter.wait(10.0)
            took = time.monotonic() - start
            await task
            return woke, took, aq.prefer
        finally:
            await waiter.aclose()
            await aq.aclose()

    woke, took, prefer = asyncio.run(wait_then_submit())
    assert woke and prefer == "b"
    assert took < 5.0  # woken by the submit, long before its block chunk ran out


def test_a_runner_serving_every_known_queue_finds_a_new_one(queue: Queue) -> None:
    first = queue.submit({"type": "echo"}).job_id
    later = queue.submit({"type": "echo", "queue": "late"}).job_id
    run_worker(queue, until=lambda: all(queue.get(j).status == "completed"
                                        for j in (first, later)))


def test_cancel_dead_letters_and_requeue_by_id_in_a_named_queue(queue: Queue) -> None:
    job = queue.submit({"type": "echo", "queue": "x", "delay_seconds": 60}).job_id
    assert queue.cancel(job) == "cancelled"
    dead = queue.submit({"type": "no-such-type", "queue": "x"}).job_id
    run_worker(queue, until=lambda: queue.get(dead).status == "failed")
    assert [j.id for j in queue.of("x").dlq_list().items] == [dead]
    assert queue.dlq_requeue([dead]) == [dead]
    assert queue.get(dead).status == "pending"


def test_a_long_job_in_a_named_queue_keeps_its_lease(make_queue) -> None:
    queue = make_queue(lease_seconds=0.6)
    sub = queue.submit({"type": "sleep", "queue": "slow", "data": {"seconds": 2}})
    run_worker(queue, until=lambda: queue.get(sub.job_id).status == "completed", timeout=10)
    assert queue.get(sub.job_id).attempts == 1


def test_a_workflow_runs_in_its_queue(queue: Queue) -> None:
    wfs = Workflows(queue)
    wf_id = wfs.submit({"name": "w", "queue": "flows", "steps": [
        {"id": "a", "job_type": "echo"}, {"id": "b", "job_type": "echo", "depends_on": ["a"]}]})
    assert wf_id.startswith("flows:")
    run_worker(queue, until=lambda: wfs.get(wf_id)["status"] == "completed")
    got = wfs.get(wf_id)
    assert got["queue"] == "flows"
    assert all(s["job_id"].startswith("flows:") for s in got["steps"])
    assert [w["id"] for w in Workflows(queue.of("flows")).list().items] == [wf_id]
    with pytest.raises(InvalidInput) as err:  # (steps in other queues: test_workflow_queues)
        wfs.submit({"name": "w", "queue": "flows", "steps": [
            {"id": "a", "job_type": "echo", "queue": "no spaces"}]})
    assert err.value.details[0]["field"] == "steps[0].queue"


def test_the_promoter_pass_moves_due_jobs_of_every_queue(queue: Queue) -> None:
    job = queue.submit({"type": "echo", "queue": "later", "delay_seconds": 0.2}).job_id
    time.sleep(0.3)
    assert queue.promote_all().promoted == 1
    wait_for(lambda: queue.get(job).status == "pending")
