"""Workflow steps in other queues than their workflow (SPEC §11): released there and heard
back from through the outbox and the promoter's relay (jobs.relay), with results, failures,
dead-letter requeues, cancel and delete crossing queues; a message delivered twice changes
nothing."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

from boltq_core import Queue
from boltq_core.duties.promotion import Promoter
from boltq_core.errors import PermanentError
from boltq_core.jobs.relay import Relay
from boltq_core.jobs.workflows import Workflows
from boltq_core.running.attempt import JobContext
from tests.conftest import run_worker, wait_for
from tests.support.queue_calls import registry_with


@contextlib.contextmanager
def promoting(queue: Queue) -> Iterator[Promoter]:
    """The real promotion loop (the relay among its duties) in a thread, for the block."""
    promoter = Promoter(queue)
    stop = threading.Event()
    t = threading.Thread(target=promoter.run, daemon=True,
                         args=(time.monotonic() + 120, lambda: not stop.is_set()))
    t.start()
    try:
        yield promoter
    finally:
        stop.set()
        t.join(10)


def steps_by_id(got: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in got["steps"]}


def test_a_diamond_over_three_queues_hands_results_down(queue: Queue) -> None:
    seen: dict[str, dict] = {}

    async def step(ctx: JobContext) -> dict:
        seen[ctx.job.step_id] = ctx.parent_results
        return {"from": ctx.job.step_id, "queue": ctx.job.queue}

    wfs = Workflows(queue)
    wf_id = wfs.submit({"name": "spread", "queue": "flows", "steps": [
        {"id": "a", "job_type": "step"},
        {"id": "b", "job_type": "step", "depends_on": ["a"], "queue": "left"},
        {"id": "c", "job_type": "step", "depends_on": ["a"], "queue": "right", "group": "g"},
        {"id": "d", "job_type": "step", "depends_on": ["b", "c"]},
    ]})
    # every step's queue is known at once, so workers serve it before a job of it exists
    assert {"flows", "left", "right"} <= set(queue.known_queues())
    with promoting(queue) as promoter:
        run_worker(queue, registry_with(step=step),
                   until=lambda: wfs.get(wf_id)["status"] != "running")
    got = wfs.get(wf_id)
    assert got["status"] == "completed" and got["completed_steps"] == 4
    by = steps_by_id(got)
    assert {k: s["queue"] for k, s in by.items()} == {
        "a": "flows", "b": "left", "c": "right", "d": "flows"}
    assert by["b"]["job_id"].startswith("left:") and by["c"]["job_id"].startswith("right:")
    assert queue.get(by["c"]["job_id"]).group == "g"
    assert seen["b"] == {"a": {"from": "a", "queue": "flows"}}
    assert seen["d"] == {"b": {"from": "b", "queue": "left"},
                         "c": {"from": "c", "queue": "right"}}
    assert by["d"]["result"] == {"from": "d", "queue": "flows"}
    # b's and c's jobs were released by a message, and each told the workflow how it ended
    assert promoter.totals["relayed"] >= 4
    for name in ("flows", "left", "right"):
        assert queue.redis.llen(queue.of(name).keys.outbox) == 0


def test_a_failed_step_elsewhere_fails_the_workflow_and_its_requeue_resumes_it(
    queue: Queue,
) -> None:
    runs: dict[str, int] = {}

    async def flaky(ctx: JobContext) -> dict:
        runs[ctx.job.step_id] = runs.get(ctx.job.step_id, 0) + 1
        if runs[ctx.job.step_id] == 1:
            raise PermanentError("not yet")
        return {"ok": True}

    async def after(ctx: JobContext) -> dict:
        return {"got": ctx.parent_results}

    reg = registry_with(flaky=flaky, after=after)
    wfs = Workflows(queue)
    wf_id = wfs.submit({"name": "retry-elsewhere", "steps": [
        {"id": "x", "job_type": "flaky", "queue": "edge", "max_attempts": 1},
        {"id": "y", "job_type": "after", "depends_on": ["x"]},
    ]})
    with promoting(queue):
        run_worker(queue, reg, until=lambda: wfs.get(wf_id)["status"] != "running")
        got = wfs.get(wf_id)
        assert got["status"] == "failed"
        assert [s["status"] for s in got["steps"]] == ["failed", "skipped"]
        x_job = got["steps"][0]["job_id"]
        assert queue.get(x_job).status == "failed"
        assert queue.dlq_requeue([x_job]) == [x_job]
        wait_for(lambda: wfs.get(wf_id)["status"] == "running", 10)
        run_worker(queue, reg, until=lambda: wfs.get(wf_id)["status"] != "running")
    got = wfs.get(wf_id)
    assert got["status"] == "completed", got
    assert got["steps"][1]["result"] == {"got": {"x": {"ok": True}}}
    assert runs == {"x": 2}


def test_cancel_and_delete_reach_the_step_jobs_in_other_queues(queue: Queue) -> None:
    queue.of("held").pause()  # its step job stays pending
    wfs = Workflows(queue)
    wf_id = wfs.submit({"name": "stop-me", "steps": [
        {"id": "p", "job_type": "echo", "queue": "held"},
        {"id": "q", "job_type": "echo", "depends_on": ["p"]},
    ]})
    relay = Relay(queue)
    assert relay.deliver_all() == 1  # the release of p
    p_job = wfs.get(wf_id)["steps"][0]["job_id"]
    assert queue.get(p_job).status == "pending"
    assert wfs.cancel(wf_id) == "cancelled"
    # the cancel goes to p's queue; p's end comes back (and changes nothing: cancelled already)
    assert relay.deliver_all() == 2
    assert queue.get(p_job).status == "cancelled"
    got = wfs.get(wf_id)
    assert got["status"] == "cancelled"
    assert [s["status"] for s in got["steps"]] == ["cancelled", "skipped"]
    wfs.delete(wf_id)
    assert relay.deliver_all() == 1
    assert not queue.redis.exists(queue.of("held").keys.job(p_job))
    assert p_job not in queue.redis.zrange(queue.of("held").keys.index, 0, -1)


def test_every_message_delivered_twice_changes_nothing(queue: Queue) -> None:
    """A relay that dies after delivering and before dropping delivers again: each message's
    second delivery is a no-op (no second job, no second advance, no stale failure)."""
    wfs = Workflows(queue)
    wf_id = wfs.submit({"name": "twice", "steps": [
        {"id": "a", "job_type": "echo", "queue": "far", "params": {"n": 1}},
        {"id": "b", "job_type": "echo", "depends_on": ["a"], "queue": "far"},
    ]})
    relay = Relay(queue)
    delivered: list[tuple[Queue, str]] = []

    def deliver_twice() -> None:
        # The worker posts while this runs, so only the messages read here are applied (each
        # twice, as a relay restarted before its LTRIM would) and dropped from the head.
        for name in queue.known_queues():
            q = queue.of(name)
            raws = q.redis.lrange(q.keys.outbox, 0, -1)
            for raw in raws:
                relay.apply(q, raw)
                relay.apply(q, raw)
                delivered.append((q, raw))
            q.redis.ltrim(q.keys.outbox, len(raws), -1)

    def settled() -> bool:
        deliver_twice()
        return wfs.get(wf_id)["status"] != "running"

    run_worker(queue, until=settled)
    got = wfs.get(wf_id)
    assert got["status"] == "completed" and got["completed_steps"] == 2
    far = queue.of("far")
    assert far.stats().totals["submitted"] == 2  # one job per step, never two
    assert queue.stats().totals["submitted"] == 0
    ops = sorted(json.loads(raw)["op"] for _, raw in delivered)
    assert ops == ["release", "release", "step", "step"]  # each applied twice above
    # and a stale failure of an earlier run is ignored once the step ran again
    stale = json.dumps({"op": "step", "to": wf_id, "step": "a", "outcome": "failed", "gen": "0"})
    far.redis.rpush(far.keys.outbox, stale)
    relay.deliver_all()
    assert wfs.get(wf_id)["status"] == "completed"
