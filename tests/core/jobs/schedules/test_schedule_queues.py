"""Schedules in named queues (SPEC §11, §12), against a real store: a schedule lives in its
job's queue (that queue's hash tag) and its occurrences' jobs are that queue's; calls by name
find it through the deployment's index; saving it into another queue moves it and leaves
exactly one, whose occurrences never repeat one the old copy made."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from boltq_core import Queue
from boltq_core.errors import InvalidInput, NotFound
from boltq_core.jobs.groups import Groups
from boltq_core.jobs.schedules import Schedules, occurrence_id
from tests.support.queue_calls import claim


def spec(name: str = "rep", queue: str | None = "reports", **kw: Any) -> dict[str, Any]:
    job: dict[str, Any] = {"type": "echo", "data": {"n": 1}}
    if queue is not None:
        job["queue"] = queue
    return {"name": name, "job": job, **kw}


def jobs_of(q: Queue, name: str) -> list[dict[str, str]]:
    """The jobs schedule `name` made in queue `q`, by occurrence time."""
    jobs = [q.redis.hgetall(q.keys.job(i)) for i in q.redis.zrange(q.keys.index, 0, -1)]
    return sorted((j for j in jobs if j.get("sched") == name), key=lambda j: j["sfor"])


def stored_in(queue: Queue, name: str) -> list[str]:
    """The queues whose hash tag holds a schedule `name`."""
    return [n for n in ("default", "reports", "other", "a", "b")
            if queue.redis.exists(queue.of(n).keys.schedule(name))]


def test_a_schedule_in_a_named_queue_makes_that_queues_jobs(queue: Queue) -> None:
    s = Schedules(queue)
    _, first = s.save(spec(cron="0 3 * * *"))
    assert stored_in(queue, "rep") == ["reports"]
    assert "reports" in queue.known_queues()  # the promoter looks at its schedules
    reports = queue.of("reports")
    assert reports.redis.zscore(reports.keys.schedules_due, "rep") == first
    assert s.fire_due(now_ms=first).made == 1
    (job,) = jobs_of(reports, "rep")
    assert job["id"] == occurrence_id(queue.keys.prefix, "rep", first, "reports")
    assert job["id"].startswith("reports:")
    got = queue.get(job["id"])
    assert got.queue == "reports" and got.schedule == "rep" and got.status == "pending"
    assert jobs_of(queue, "rep") == []  # none in the default queue
    assert s.fire_due(now_ms=first).made == 0  # once

    detail = s.get("rep")
    assert detail.job.queue == "reports" and detail.runs == 1
    assert detail.recent[0].job_id == job["id"] and not detail.recent[0].triggered
    job_id, status = s.trigger("rep")
    assert job_id.startswith("reports:") and status == "pending"
    assert s.get("rep").recent[0].job_id == job_id and s.get("rep").recent[0].triggered
    s.pause("rep")
    assert s.get("rep").paused and s.fire_due(now_ms=first + 86_400_000).made == 0
    assert s.resume("rep") >= first
    listed = {i.name: i for i in s.list().items}
    assert listed["rep"].job.queue == "reports"

    s.delete("rep")
    assert stored_in(queue, "rep") == [] and s.list().items == []
    assert queue.redis.hlen(queue.keys.schedule_queues) == 0
    for call in (s.get, s.delete, s.pause, s.resume, s.trigger):
        with pytest.raises(NotFound):
            call("rep")
    assert queue.get(job_id).queue == "reports"  # its jobs stay


def test_the_list_has_every_queues_schedules_by_name(queue: Queue) -> None:
    s = Schedules(queue)
    for name, q in (("c", "reports"), ("a", None), ("d", "other"), ("b", "reports")):
        s.save(spec(name, q, every_seconds=60))
    page = s.list(limit=3)
    assert [(i.name, i.job.queue) for i in page.items] == [
        ("a", "default"), ("b", "reports"), ("c", "reports")]
    assert page.next_cursor == "3"
    rest = s.list(limit=3, cursor=page.next_cursor)
    assert [(i.name, i.job.queue) for i in rest.items] == [("d", "other")]
    assert rest.next_cursor is None


@pytest.mark.parametrize("bad", ["no spaces", "", "x" * 65, "a:b", 5])
def test_a_bad_queue_names_job_queue_and_stores_nothing(queue: Queue, bad: Any) -> None:
    s = Schedules(queue)
    with pytest.raises(InvalidInput) as err:
        s.save(spec(queue=bad, every_seconds=5))
    assert err.value.message.startswith("job.queue")
    assert list(queue.redis.scan_iter(match="{" + queue.settings.key_prefix + "*")) == []


def test_moving_a_schedule_between_queues_leaves_exactly_one(queue: Queue) -> None:
    s = Schedules(queue)
    _, first = s.save(spec(queue=None, cron="0 3 * * *", max_runs=10))
    assert s.fire_due(now_ms=first).made == 1
    assert stored_in(queue, "rep") == ["default"]

    _, nxt = s.save(spec(queue="reports", cron="0 3 * * *", max_runs=10))
    assert stored_in(queue, "rep") == ["reports"]
    assert nxt > first
    moved = s.get("rep")
    assert moved.job.queue == "reports" and moved.runs == 1  # its history came along
    assert moved.last_run_at is not None and int(moved.last_run_at.timestamp() * 1000) == first
    assert [(i.name, i.job.queue) for i in s.list().items] == [("rep", "reports")]
    # the old copy is gone from the default queue's due set: a pass there makes nothing
    assert queue.redis.zscore(queue.keys.schedules_due, "rep") is None
    assert s.fire_due(now_ms=nxt).made == 1
    assert len(jobs_of(queue, "rep")) == 1 and len(jobs_of(queue.of("reports"), "rep")) == 1

    s.pause("rep")  # a paused schedule stays paused when it moves
    s.save(spec(queue="other", cron="0 3 * * *", max_runs=10))
    assert stored_in(queue, "rep") == ["other"]
    assert s.get("rep").paused and s.get("rep").runs == 2
    s.save(spec(queue=None, cron="0 3 * * *", max_runs=10))  # and back to the default queue
    assert stored_in(queue, "rep") == ["default"]
    assert queue.redis.hlen(queue.keys.schedule_queues) == 0
    assert [(i.name, i.job.queue, i.paused) for i in s.list().items] == [
        ("rep", "default", True)]
    s.delete("rep")
    assert stored_in(queue, "rep") == [] and s.list().items == []


def test_a_moved_schedule_starts_after_the_old_copys_last_run(
    queue: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The old copy made the occurrence at t while the move was planned just before t: the
    new copy starts after t, so t has one job."""
    s = Schedules(queue)
    _, t = s.save(spec(queue="a", cron="* * * * * *"))
    assert s.fire_due(now_ms=t).made == 1
    import boltq_core.jobs.schedules as schedules

    monkeypatch.setattr(schedules, "time", SimpleNamespace(time=lambda: (t - 1) / 1000))
    _, nxt = s.save(spec(queue="b", cron="* * * * * *"))
    assert nxt == t + 1000
    assert s.fire_due(now_ms=t).made == 0
    assert s.fire_due(now_ms=t + 1000).made == 1
    made = jobs_of(queue.of("a"), "rep") + jobs_of(queue.of("b"), "rep")
    assert [int(j["sfor"]) for j in made] == [t, t + 1000]


def test_moves_racing_a_promoter_never_make_an_occurrence_twice(queue: Queue) -> None:
    """A schedule firing every second moves between two queues every 0.15 s while a promoter
    fires it: each occurrence (second) has at most one job across both queues."""
    s = Schedules(queue)
    s.save(spec(queue="a", cron="* * * * * *"))
    stop = time.monotonic() + 3.5
    errors: list[BaseException] = []

    def promote() -> None:
        try:
            while time.monotonic() < stop:
                s.fire_due()
                time.sleep(0.005)
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=promote)
    t.start()
    moves = 0
    while time.monotonic() < stop:
        s.save(spec(queue="ab"[moves % 2], cron="* * * * * *"))
        moves += 1
        time.sleep(0.15)
    t.join()
    assert not errors, errors
    made = jobs_of(queue.of("a"), "rep") + jobs_of(queue.of("b"), "rep")
    times = [j["sfor"] for j in made]
    assert len(times) >= 2, times  # it went on firing through the moves
    assert len(times) == len(set(times)), sorted(times)
    assert len(stored_in(queue, "rep")) == 1


def test_a_left_over_in_a_queue_the_index_does_not_name_never_fires(queue: Queue) -> None:
    """Two saves moving a schedule at once may leave a copy behind: the promoter fires only
    the copy in the queue the index names and takes the other out of its due set."""
    s = Schedules(queue)
    _, first = s.save(spec(queue="a", every_seconds=5))
    queue.redis.hset(queue.keys.schedule_queues, "rep", "b")  # as if moved on meanwhile
    assert s.fire_due(now_ms=first).made == 0
    a = queue.of("a")
    assert a.redis.zscore(a.keys.schedules_due, "rep") is None
    assert jobs_of(a, "rep") == []


def test_a_schedules_jobs_take_its_group_and_the_groups_turn(queue: Queue) -> None:
    s = Schedules(queue)
    body = spec("tenant", queue="reports", every_seconds=60)
    body["job"]["group"] = "tenant:7"
    _, first = s.save(body)
    assert s.get("tenant").job.group == "tenant:7"
    reports = queue.of("reports")
    Groups(reports).set_group_limits("tenant:7", {"group_concurrency": 1})
    assert s.fire_due(now_ms=first).made == 1
    s.trigger("tenant")
    (job,) = claim(reports, count=5)  # its group's limit holds the second back
    assert job.fields["group"] == "tenant:7" and job.fields["sched"] == "tenant"
    with pytest.raises(InvalidInput) as err:
        s.save({**body, "job": {**body["job"], "group": "a b"}})
    assert err.value.details[0]["field"] == "job.group"
