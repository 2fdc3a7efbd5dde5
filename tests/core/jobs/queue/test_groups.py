"""Groups (SPEC §13) at the core: fair share inside a priority, FIFO within a group, the
limits set on a queue and on a group and changed while jobs wait, RateLimited from a
processor, the list of groups, and the depths and cancels of grouped jobs."""

from __future__ import annotations

import json
import time

import pytest

from boltq_core import InvalidInput, Queue, RateLimited
from boltq_core.jobs.groups import Groups
from boltq_core.jobs.workflows import Workflows
from boltq_core.running.attempt import JobContext
from tests.conftest import run_worker, wait_for
from tests.support.queue_calls import claim, complete, registry_with


def groups_of(jobs) -> list[str | None]:
    return [j.fields.get("group") for j in jobs]


def test_a_newcomer_group_is_served_within_a_turn_of_a_big_backlog(queue: Queue) -> None:
    queue.submit_many([{"type": "echo", "group": "big", "data": {"i": i}} for i in range(1000)])
    small = [s.job_id for s in queue.submit_many(
        [{"type": "echo", "group": "small", "data": {"i": i}} for i in range(20)])]
    order = []
    while len(order) < 40:
        order += claim(queue, count=1)
    # big and small take turns, one job each; each group stays FIFO
    assert groups_of(order) == ["big", "small"] * 20
    assert [j.id for j in order if j.fields.get("group") == "small"] == small
    big = [json.loads(j.fields["data"])["i"] for j in order if j.fields["group"] == "big"]
    assert big == list(range(20))


def test_groups_take_turns_inside_one_batch_and_priority_comes_first(queue: Queue) -> None:
    queue.submit_many([{"type": "echo", "group": "a"} for _ in range(5)]
                      + [{"type": "echo", "group": "b"} for _ in range(5)]
                      + [{"type": "echo"} for _ in range(5)])
    urgent = queue.submit({"type": "echo", "group": "a", "priority": "high"}).job_id
    jobs = claim(queue, count=7)
    assert jobs[0].id == urgent
    # the ungrouped jobs share one group of their own
    assert groups_of(jobs[1:]) == ["a", "b", None, "a", "b", None]
    # alone in its ring, a group gives the rest of a batch at once
    rest = claim(queue, count=50)
    assert len(rest) == 9 and queue.stats().pending_total == 0


def test_grouped_jobs_count_in_the_depths_and_can_be_cancelled(queue: Queue) -> None:
    ids = [queue.submit({"type": "echo", "group": "t1", "priority": p}).job_id
           for p in ("high", "normal", "normal")]
    assert queue.stats().pending == {"high": 1, "normal": 2, "low": 0}
    assert queue.ready_depth() == 3
    assert queue.cancel(ids[1]) == "cancelled"
    assert queue.stats().pending_total == 2
    assert [j.id for j in claim(queue, count=5)] == [ids[0], ids[2]]
    assert queue.get(ids[0]).group == "t1"


def test_concurrency_limit_holds_across_claims_and_frees_on_finish(queue: Queue) -> None:
    groups = Groups(queue)
    groups.set_limits({"group_concurrency": 2})
    queue.submit_many([{"type": "echo", "group": "g"} for _ in range(5)]
                      + [{"type": "echo", "group": "h"} for _ in range(5)])
    first = claim(queue, count=10)
    assert sorted(groups_of(first)) == ["g", "g", "h", "h"]
    assert claim(queue, count=10) == []
    page = {g.name: g for g in groups.list().items}
    assert page["g"].running == 2 and page["g"].ready == 3 and page["g"].limited
    assert page["g"].limited_until is None  # until one of its jobs ends
    complete(queue, next(j for j in first if j.fields["group"] == "g"))
    again = claim(queue, count=10)
    assert groups_of(again) == ["g"]


def test_limits_changed_while_jobs_wait_apply_at_the_next_claim(queue: Queue) -> None:
    groups = Groups(queue)
    groups.set_group_limits("acme", {"group_concurrency": 1})
    queue.submit_many([{"type": "echo", "group": "acme"} for _ in range(6)])
    assert len(claim(queue, count=10)) == 1
    assert claim(queue, count=10) == []
    groups.set_group_limits("acme", {"group_concurrency": 3})
    assert len(claim(queue, count=10)) == 2
    # its own limits replace the default; cleared, the default applies again
    groups.set_limits({"group_concurrency": 10})
    assert claim(queue, count=10) == []
    groups.clear_group_limits("acme")
    assert len(claim(queue, count=10)) == 3
    info = groups.list().items[0]
    assert info.name == "acme" and not info.own_limits
    assert info.limits is not None and info.limits.group_concurrency == 10


def test_a_rate_limit_is_exact_over_a_sliding_window(queue: Queue) -> None:
    groups = Groups(queue)
    groups.set_group_limits("api", {"group_rate": {"max": 3, "per_seconds": 1.0}})
    queue.submit_many([{"type": "echo", "group": "api"} for _ in range(10)]
                      + [{"type": "echo", "group": "other"} for _ in range(4)])
    got = claim(queue, count=20)
    # api stops at 3; the other group is not held back by it
    assert sorted(groups_of(got)) == ["api"] * 3 + ["other"] * 4
    t0 = time.time()
    assert claim(queue, count=20) == []
    info = next(g for g in groups.list().items if g.name == "api")
    assert info.limited and info.limited_until is not None
    # the claim names the moment the group may start again, so an idle worker sleeps until then
    call, parse = queue.calls.claim(20, 30)
    wake_ms, _, jobs = parse(queue.run(call))
    assert jobs == [] and wake_ms == int(info.limited_until.timestamp() * 1000)
    more = wait_for(lambda: claim(queue, count=20), timeout=5)
    assert time.time() - t0 >= 0.5 and len(more) == 3
    starts = sorted(int(queue.redis.hget(queue.keys.job(j.id), "started"))
                    for j in [*got, *more] if j.fields["group"] == "api")
    assert starts[3] - starts[0] >= 1000


def test_rate_limited_puts_the_job_back_uncharged_and_holds_its_group(queue: Queue) -> None:
    calls: list[tuple[str, str, int, float]] = []

    async def downstream(ctx: JobContext) -> str:
        calls.append((ctx.job_id, ctx.job.group or "", ctx.attempt, time.time()))
        if ctx.job.group == "slow" and len([c for c in calls if c[1] == "slow"]) == 1:
            raise RateLimited(1.5, "429 from the API")
        return "ok"

    slow = [queue.submit({"type": "downstream", "group": "slow", "max_attempts": 1}).job_id
            for _ in range(3)]
    fast = [queue.submit({"type": "downstream", "group": "fast"}).job_id for _ in range(3)]
    run_worker(queue, registry_with(downstream=downstream),
               until=lambda: all(queue.get(j).status == "completed" for j in slow + fast),
               timeout=20, concurrency=1, batch=1)
    first = next(c for c in calls if c[0] == slow[0])
    held = [c for c in calls if c[1] == "slow" and c[3] > first[3]]
    # the whole group waited the 1.5 s, then the same job went first again
    assert held[0][0] == slow[0] and held[0][3] - first[3] >= 1.4
    # the other group ran during the hold
    assert all(c[3] < first[3] + 1.4 for c in calls if c[1] == "fast")
    job = queue.get(slow[0])
    # max_attempts 1, and it still completed: the rate-limited attempt was not charged
    assert job.status == "completed" and job.max_attempts == 1
    assert queue.stats().totals["rate_limited"] == 1


def test_a_workflow_step_names_its_group(queue: Queue) -> None:
    wf = Workflows(queue).submit({"name": "w", "steps": [
        {"id": "a", "job_type": "echo", "group": "tenant-7"},
        {"id": "b", "job_type": "echo", "depends_on": ["a"], "group": "tenant-8"}]})
    first = claim(queue)
    assert groups_of(first) == ["tenant-7"]
    complete(queue, first[0])
    second = claim(queue)
    assert groups_of(second) == ["tenant-8"] and second[0].fields["wf"] == wf


@pytest.mark.parametrize("body, field", [
    ({"group_concurrency": 0}, "group_concurrency"),
    ({"group_concurrency": "x"}, "group_concurrency"),
    ({"group_rate": {"max": 0, "per_seconds": 1}}, "group_rate.max"),
    ({"group_rate": {"max": 1, "per_seconds": 0}}, "group_rate.per_seconds"),
    ({"group_rate": {"max": 1}}, "group_rate.per_seconds"),
    ({"group_concurency": 1}, "group_concurency"),
])
def test_bad_limits_are_refused_naming_the_field(queue: Queue, body, field) -> None:
    with pytest.raises(InvalidInput) as err:
        Groups(queue).set_limits(body)
    assert err.value.details[0]["field"] == field
    assert Groups(queue).limits() is None


@pytest.mark.parametrize("bad", ["", "a b", "x" * 129, "ü", "a|b"])
def test_a_bad_group_name_is_refused_naming_the_field(queue: Queue, bad: str) -> None:
    with pytest.raises(InvalidInput) as err:
        queue.submit({"type": "echo", "group": bad})
    assert err.value.details[0]["field"] == "group"
    with pytest.raises(InvalidInput):
        Groups(queue).set_group_limits(bad, {"group_concurrency": 1})
    assert queue.stats().pending_total == 0


def test_the_groups_list_pages_by_name(queue: Queue) -> None:
    names = [f"t{i:02d}" for i in range(7)]
    queue.submit_many([{"type": "echo", "group": n} for n in reversed(names)])
    groups = Groups(queue)
    first = groups.list(limit=3)
    assert [g.name for g in first.items] == names[:3] and first.next_cursor == "t02"
    second = groups.list(limit=3, cursor=first.next_cursor)
    third = groups.list(limit=3, cursor=second.next_cursor)
    assert [g.name for g in second.items + third.items] == names[3:]
    # a group with nothing left leaves the list
    for job in claim(queue, count=10):
        complete(queue, job)
    assert groups.list().items == []


def test_the_pollers_backlog_counts_grouped_jobs_and_not_a_paused_queue(queue: Queue) -> None:
    queue.submit_many([{"type": "echo", "queue": "t", "group": "g"}] * 3
                      + [{"type": "echo", "queue": "t"}])
    queue.submit({"type": "echo", "queue": "held", "group": "g"})
    queue.of("held").pause()
    backlogs = queue.backlogs()
    assert backlogs["t"] == (4, None)
    assert backlogs["held"] == (0, None)  # no worker can claim it while it is paused
    assert queue.of("t").ready_depth() == 4
