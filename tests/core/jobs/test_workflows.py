"""Workflows: validation, release of dependants, results handed down, failure, cancel, list."""

from __future__ import annotations

import pytest

from boltq_core import InvalidInput, NotFound, Queue
from boltq_core.errors import PermanentError
from boltq_core.jobs.workflows import Workflows
from boltq_core.running.attempt import JobContext
from boltq_core.running.processors import ProcessorRegistry
from tests.conftest import run_worker
from tests.support.queue_calls import registry_with


def done(wf: Workflows, wf_id: str) -> bool:
    return wf.get(wf_id)["status"] != "running"


def test_seed_payload_uses_step_n_ids(queue: Queue) -> None:
    wf = Workflows(queue)
    wf_id = wf.submit(
        {
            "name": "Data Processing Pipeline",
            "steps": [
                {"job_type": "echo", "params": {"url": "https://example.com/data.csv"}},
                {"job_type": "echo", "params": {"operation": "transform"},
                 "depends_on": ["step-1"]},
            ],
        }
    )
    got = wf.get(wf_id)
    assert [s["id"] for s in got["steps"]] == ["step-1", "step-2"]
    assert [s["status"] for s in got["steps"]] == ["pending", "waiting"]
    run_worker(queue, until=lambda: done(wf, wf_id))
    got = wf.get(wf_id)
    assert got["status"] == "completed" and got["completed_steps"] == 2
    assert got["steps"][1]["result"] == {"operation": "transform"}


def test_diamond_passes_parents_results_down(queue: Queue) -> None:
    seen: dict[str, dict] = {}

    async def step(ctx: JobContext) -> dict:
        seen[ctx.job.step_id] = ctx.parent_results
        return {"from": ctx.job.step_id}

    wf = Workflows(queue)
    wf_id = wf.submit(
        {
            "name": "diamond",
            "steps": [
                {"id": "a", "job_type": "step"},
                {"id": "b", "job_type": "step", "depends_on": ["a"]},
                {"id": "c", "job_type": "step", "depends_on": ["a"]},
                {"id": "d", "job_type": "step", "depends_on": ["b", "c"]},
            ],
        }
    )
    run_worker(queue, registry_with(step=step), until=lambda: done(wf, wf_id))
    got = wf.get(wf_id)
    assert got["status"] == "completed"
    assert seen["a"] == {}
    assert seen["b"] == {"a": {"from": "a"}} == seen["c"]
    assert seen["d"] == {"b": {"from": "b"}, "c": {"from": "c"}}
    steps = {s["id"]: s for s in got["steps"]}
    assert steps["d"]["started_at"] >= max(steps["b"]["finished_at"], steps["c"]["finished_at"])


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([{"id": "a", "job_type": "echo", "depends_on": ["zz"]}],
         "steps[0].depends_on: step 'a' depends on unknown step 'zz'"),
        ([{"id": "a", "job_type": "echo"}, {"id": "a", "job_type": "echo"}],
         "steps[1].id: duplicate step id 'a'"),
        ([{"id": "a", "job_type": "echo", "depends_on": ["c"]},
          {"id": "b", "job_type": "echo", "depends_on": ["a"]},
          {"id": "c", "job_type": "echo", "depends_on": ["b"]}],
         "steps: dependency cycle a -> b -> c -> a"),
        ([{"id": "a", "job_type": "echo", "depends_on": ["a"]}],
         "steps[0].depends_on: step 'a' depends on itself"),
        ([{"job_type": ""}], "steps[0].job_type:"),
        ([], "steps:"),
    ],
)
def test_invalid_workflows_are_rejected_and_nothing_is_stored(
    queue: Queue, steps: list, message: str
) -> None:
    wf = Workflows(queue)
    with pytest.raises(InvalidInput) as err:
        wf.submit({"name": "bad", "steps": steps})
    assert err.value.message.startswith(message), err.value.message
    assert wf.list().items == []
    assert queue.stats().totals["submitted"] == 0


def test_failure_skips_dependants_and_fails_the_workflow(queue: Queue) -> None:
    wf = Workflows(queue)
    wf_id = wf.submit(
        {
            "name": "fails",
            "steps": [
                {"id": "bad", "job_type": "fail", "params": {"permanent": True}},
                {"id": "after", "job_type": "echo", "depends_on": ["bad"]},
                {"id": "later", "job_type": "echo", "depends_on": ["after"]},
                {"id": "solo", "job_type": "echo"},
            ],
        }
    )
    run_worker(queue, until=lambda: wf.get(wf_id)["status"] == "failed"
               and wf.get(wf_id)["steps"][3]["status"] == "completed")
    steps = {s["id"]: s for s in wf.get(wf_id)["steps"]}
    assert steps["bad"]["status"] == "failed"
    assert steps["bad"]["error"]["category"] == "permanent"
    assert steps["after"]["status"] == "skipped" and steps["later"]["status"] == "skipped"
    assert steps["solo"]["status"] == "completed"  # an independent branch still runs


def fails_once() -> tuple[dict[str, int], ProcessorRegistry]:
    """Runs per step, and a registry whose "flaky" type fails permanently on each step's
    first run and succeeds after."""
    runs: dict[str, int] = {}

    async def flaky(ctx: JobContext) -> dict:
        runs[ctx.job.step_id] = runs.get(ctx.job.step_id, 0) + 1
        if runs[ctx.job.step_id] == 1:
            raise PermanentError("broken the first time")
        return {"step": ctx.job.step_id}

    return runs, registry_with(flaky=flaky)


def test_requeued_dead_step_resumes_its_workflow(queue: Queue) -> None:
    runs, reg = fails_once()
    wf = Workflows(queue)
    wf_id = wf.submit({"name": "resume", "steps": [
        {"id": "a", "job_type": "flaky"},
        {"id": "b", "job_type": "echo", "params": {"n": 1}, "depends_on": ["a"]},
        {"id": "c", "job_type": "echo", "depends_on": ["b"]},
    ]})
    run_worker(queue, reg, until=lambda: wf.get(wf_id)["status"] == "failed")
    steps = {s["id"]: s for s in wf.get(wf_id)["steps"]}
    assert [steps[x]["status"] for x in "abc"] == ["failed", "skipped", "skipped"]

    assert queue.dlq_requeue([steps["a"]["job_id"]]) == [steps["a"]["job_id"]]
    got = wf.get(wf_id)
    assert got["status"] == "running" and got["finished_at"] is None
    assert [s["status"] for s in got["steps"]] == ["pending", "waiting", "waiting"]
    run_worker(queue, reg, until=lambda: done(wf, wf_id))
    got = wf.get(wf_id)
    assert got["status"] == "completed" and got["completed_steps"] == 3
    assert got["steps"][1]["result"] == {"n": 1} and runs == {"a": 2}


def test_a_workflow_resumes_only_when_no_failed_step_is_left(queue: Queue) -> None:
    runs, reg = fails_once()
    wf = Workflows(queue)
    wf_id = wf.submit({"name": "two failures", "steps": [
        {"id": "a", "job_type": "echo"},
        {"id": "b", "job_type": "flaky", "depends_on": ["a"]},
        {"id": "c", "job_type": "flaky", "depends_on": ["a"]},
        {"id": "d", "job_type": "echo", "depends_on": ["b", "c"]},
    ]})
    run_worker(queue, reg, until=lambda: runs == {"b": 1, "c": 1}
               and queue.stats().dead_letter == 2)
    job = {s["id"]: s["job_id"] for s in wf.get(wf_id)["steps"]}

    queue.dlq_requeue([job["b"]])  # c is still dead: the workflow stays failed, d skipped
    run_worker(queue, reg, until=lambda: queue.get(job["b"]).status == "completed")
    got = wf.get(wf_id)
    assert got["status"] == "failed"
    assert {s["id"]: s["status"] for s in got["steps"]} == {
        "a": "completed", "b": "completed", "c": "failed", "d": "skipped"}

    queue.dlq_requeue([job["c"]])
    assert wf.get(wf_id)["status"] == "running"
    run_worker(queue, reg, until=lambda: done(wf, wf_id))
    got = wf.get(wf_id)
    assert got["status"] == "completed" and got["completed_steps"] == 4


def test_cancel_workflow_stops_queued_and_running_steps(queue: Queue) -> None:
    wf = Workflows(queue)
    wf_id = wf.submit(
        {
            "name": "long",
            "steps": [
                {"id": "slow", "job_type": "sleep", "params": {"seconds": 30}},
                {"id": "next", "job_type": "echo", "depends_on": ["slow"]},
            ],
        }
    )
    state: dict[str, str] = {}

    def cancel_once_running() -> bool:
        steps = wf.get(wf_id)["steps"]
        if steps[0]["status"] == "running" and "asked" not in state:
            state["asked"] = wf.cancel(wf_id)
        return steps[0]["status"] == "cancelled"

    run_worker(queue, until=cancel_once_running, timeout=10)
    got = wf.get(wf_id)
    assert state["asked"] == "cancelled" and got["status"] == "cancelled"
    assert [s["status"] for s in got["steps"]] == ["cancelled", "skipped"]


def test_list_pages_and_delete(queue: Queue) -> None:
    wf = Workflows(queue)
    ids = [wf.submit({"name": f"w{i}", "steps": [{"job_type": "echo"}]}) for i in range(5)]
    first = wf.list(limit=2)
    second = wf.list(limit=2, cursor=first.next_cursor)
    third = wf.list(limit=2, cursor=second.next_cursor)
    listed = [w["id"] for w in first.items + second.items + third.items]
    assert listed == list(reversed(ids)) and third.next_cursor is None
    run_worker(queue, until=lambda: all(done(wf, i) for i in ids))
    step_job = wf.get(ids[0])["steps"][0]["job_id"]
    wf.delete(ids[0])
    with pytest.raises(NotFound):
        wf.get(ids[0])
    with pytest.raises(NotFound):
        queue.get(step_job)
    assert len(wf.list(limit=10).items) == 4


def test_a_step_listing_a_dependency_twice_is_refused(queue: Queue) -> None:
    body = {"name": "twice", "steps": [
        {"job_type": "echo"},
        {"job_type": "echo", "depends_on": ["step-1", "step-1"]},
    ]}
    with pytest.raises(InvalidInput, match=r"steps\[1\]\.depends_on: .*'step-1' more than once"):
        Workflows(queue).submit(body)
    assert queue.redis.zcard(queue.keys.workflows) == 0
    assert queue.stats().pending_total == 0
