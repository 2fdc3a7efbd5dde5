"""Schedules at the core (SPEC §12), against a real store: the plan (cron in a time zone, DST
both ways, periods), exactly one job per occurrence whatever the number of promoters,
catch_up after a downtime, bounds (start_at, end_at, max_runs), pause/resume/trigger and
validation. `fire_due(now_ms=...)` stands in for a promoter pass at a chosen moment."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from boltq_core import Queue
from boltq_core.errors import InvalidInput, NotFound
from boltq_core.jobs.recurrence import Recurrence
from boltq_core.jobs.schedules import Schedules, occurrence_id


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def iso(value: int) -> str:
    return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def spec(name: str = "nightly", **kw: Any) -> dict[str, Any]:
    return {"name": name, "job": {"type": "echo", "data": {"n": 1}}, **kw}


def occurrences(rec: Recurrence, start: str, end: str) -> list[str]:
    out, t, stop = [], ms(start), ms(end)
    while (t := rec.next_after(t)) <= stop:
        out.append(iso(t))
    return out


def schedule_jobs(queue: Queue, name: str) -> list[dict[str, str]]:
    jobs = [queue.redis.hgetall(queue.keys.job(i)) for i in queue.redis.zrange(
        queue.keys.index, 0, -1)]
    return sorted((j for j in jobs if j.get("sched") == name), key=lambda j: j["sfor"])


def reset_next(queue: Queue, name: str, at: int) -> None:
    """Put a schedule's next run at `at`, as if it had been planned then (a downtime since)."""
    queue.redis.hset(queue.keys.schedule(name), "next", at)
    queue.redis.zadd(queue.keys.schedules_due, {name: at})


# --- the plan -------------------------------------------------------------------------------


def test_a_daily_0230_in_berlin_runs_once_on_the_spring_forward_day() -> None:
    # 2026-03-29: 02:00 CET jumps to 03:00 CEST, so 02:30 never happens on the wall clock
    rec = Recurrence("30 2 * * *", "Europe/Berlin")
    assert occurrences(rec, "2026-03-27T12:00:00+00:00", "2026-03-31T12:00:00+00:00") == [
        "2026-03-28T01:30:00",  # 02:30 CET
        "2026-03-29T01:00:00",  # once, at 03:00 CEST: the first moment after the gap
        "2026-03-30T00:30:00",  # 02:30 CEST
        "2026-03-31T00:30:00",
    ]


def test_a_daily_0230_in_berlin_runs_once_on_the_fall_back_day() -> None:
    # 2026-10-25: 03:00 CEST falls back to 02:00 CET, so 02:30 happens twice on the wall clock
    rec = Recurrence("30 2 * * *", "Europe/Berlin")
    assert occurrences(rec, "2026-10-23T12:00:00+00:00", "2026-10-26T12:00:00+00:00") == [
        "2026-10-24T00:30:00",  # 02:30 CEST
        "2026-10-25T00:30:00",  # 02:30 CEST, the first pass; not again at 02:30 CET
        "2026-10-26T01:30:00",  # 02:30 CET
    ]


def test_an_hourly_cron_follows_real_time_through_both_changes() -> None:
    rec = Recurrence("0 * * * *", "Europe/Berlin")
    fall = occurrences(rec, "2026-10-24T22:30:00+00:00", "2026-10-25T02:30:00+00:00")
    assert fall == ["2026-10-24T23:00:00", "2026-10-25T00:00:00", "2026-10-25T01:00:00",
                    "2026-10-25T02:00:00"]  # the repeated 02:00 runs both times: hourly
    spring = occurrences(rec, "2026-03-28T23:30:00+00:00", "2026-03-29T02:30:00+00:00")
    assert spring == ["2026-03-29T00:00:00", "2026-03-29T01:00:00", "2026-03-29T02:00:00"]


def test_six_fields_have_seconds_first_and_periods_keep_their_grid() -> None:
    rec = Recurrence("15 * * * * *", "UTC")
    assert occurrences(rec, "2030-01-01T00:00:00+00:00", "2030-01-01T00:02:00+00:00") == [
        "2030-01-01T00:00:15", "2030-01-01T00:01:15"]
    period = Recurrence(None, period_ms=1000, anchor_ms=500)
    assert [period.next_after(t) for t in (0, 500, 1499, 1500)] == [500, 1500, 1500, 2500]
    assert period.latest_until(500, 10_000) == 9500


def test_the_latest_missed_cron_occurrence() -> None:
    rec = Recurrence("30 2 * * *", "Europe/Berlin")
    assert iso(rec.latest_until(ms("2026-10-20T00:30:00+00:00"),
                                ms("2026-10-25T03:00:00+00:00"))) == "2026-10-25T00:30:00"


# --- through the store ------------------------------------------------------------------------


def test_an_occurrence_makes_one_pending_job_carrying_schedule_and_time(queue: Queue) -> None:
    s = Schedules(queue)
    name, first = s.save(spec(cron="0 3 * * *", job={"type": "echo", "priority": "high",
                                                      "data": {"x": 1}}))
    assert name == "nightly" and first > 0
    assert iso(first).endswith("T03:00:00")
    assert s.fire_due(now_ms=first - 1).made == 0
    fired = s.fire_due(now_ms=first)
    assert fired.made == 1 and fired.next_wake_ms == first + 86_400_000
    (job,) = schedule_jobs(queue, "nightly")
    assert job["id"] == occurrence_id(queue.keys.prefix, "nightly", first)
    assert job["status"] == "pending" and job["priority"] == "0" and job["sfor"] == str(first)
    public = queue.get(job["id"]).public()
    assert public["schedule"] == "nightly"
    assert public["scheduled_for"] == iso(first) + "Z"
    detail = s.get("nightly")
    assert detail.runs == 1 and detail.recent[0].job_id == job["id"]
    assert detail.last_run_at is not None and int(detail.last_run_at.timestamp() * 1000) == first
    assert s.fire_due(now_ms=first).made == 0  # the same pass again: nothing more


def test_three_promoters_racing_make_each_occurrence_once(make_queue: Any) -> None:
    queues = [make_queue() for _ in range(1)]
    q0 = queues[0]
    others = [Queue(q0.settings) for _ in range(2)]
    s = Schedules(q0)
    _, first = s.save(spec("tick", every_seconds=1))
    start = first
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def promoter(q: Queue) -> None:
        try:
            sched = Schedules(q)
            for step in range(30):
                barrier.wait()
                sched.fire_due(now_ms=start + step * 1000)
        except BaseException as exc:  # reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=promoter, args=(q,)) for q in [q0, *others]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for q in others:
        q.redis.close()
    assert not errors
    jobs = schedule_jobs(q0, "tick")
    assert [int(j["sfor"]) for j in jobs] == [start + i * 1000 for i in range(30)]
    assert s.get("tick").runs == 30


@pytest.mark.parametrize(("catch_up", "expected"), [
    ("skip", []),  # the missed ones pass; the next on time runs
    ("one", ["+9"]),  # one job, for the latest missed
    ("all", ["+0", "+1", "+2", "+3", "+4", "+5", "+6", "+7", "+8", "+9"]),
])
def test_catch_up_after_a_downtime(queue: Queue, catch_up: str, expected: list[str]) -> None:
    s = Schedules(queue.__class__(queue.settings.model_copy(
        update={"schedule_grace_seconds": 0.5})))
    _, first = s.save(spec("minutely", every_seconds=60, catch_up=catch_up))
    # nothing ran for ten periods: the promoter comes back 9 minutes 10 s after the first
    back = first + 9 * 60_000 + 10_000
    fired = s.fire_due(now_ms=back)
    made = [f"+{(int(j['sfor']) - first) // 60_000}" for j in schedule_jobs(queue, "minutely")]
    assert made == expected
    assert fired.next_wake_ms == first + 10 * 60_000  # planned from now, whatever was missed
    assert s.get("minutely").next_run_at.timestamp() * 1000 == first + 10 * 60_000
    s.queue.redis.close()


def test_skip_still_runs_an_occurrence_inside_the_grace(queue: Queue) -> None:
    s = Schedules(queue)  # SCHEDULE_GRACE_SECONDS 5
    _, first = s.save(spec("minutely", every_seconds=60, catch_up="skip"))
    assert s.fire_due(now_ms=first + 3000).made == 1


def test_max_runs_and_end_at_end_a_schedule(queue: Queue) -> None:
    s = Schedules(queue)
    _, first = s.save(spec("thrice", every_seconds=1, max_runs=3))
    for i in range(5):
        s.fire_due(now_ms=first + i * 1000)
    assert len(schedule_jobs(queue, "thrice")) == 3
    assert s.get("thrice").next_run_at is None
    start = datetime.fromtimestamp((first + 60_000) / 1000, UTC)
    end = datetime.fromtimestamp((first + 62_000) / 1000, UTC)
    _, begin = s.save(spec("window", every_seconds=1, start_at=start.isoformat(),
                           end_at=end.isoformat()))
    assert begin == first + 60_000
    for i in range(6):
        s.fire_due(now_ms=begin + i * 1000)
    assert [int(j["sfor"]) - begin for j in schedule_jobs(queue, "window")] == [0, 1000, 2000]
    assert s.get("window").next_run_at is None


def test_pause_resume_trigger_delete(queue: Queue) -> None:
    s = Schedules(queue)
    _, first = s.save(spec("p", every_seconds=1))
    s.pause("p")
    assert s.fire_due(now_ms=first + 5000).made == 0
    assert s.get("p").paused and s.get("p").next_run_at is None
    job_id, status = s.trigger("p")  # runs once now, paused or not
    assert status == "pending" and queue.get(job_id).public()["schedule"] == "p"
    assert s.get("p").recent[0].triggered and s.get("p").runs == 0
    nxt = s.resume("p")
    assert nxt >= first and not s.get("p").paused
    assert s.fire_due(now_ms=nxt).made == 1
    # a replacement keeps the pause state and history
    s.pause("p")
    s.save(spec("p", every_seconds=5))
    assert s.get("p").paused and len(s.get("p").recent) == 2
    s.delete("p")
    with pytest.raises(NotFound):
        s.get("p")
    for call in (s.delete, s.pause, s.resume, s.trigger):
        with pytest.raises(NotFound):
            call("p")
    assert queue.get(job_id).id == job_id  # its jobs stay


def test_a_stale_plan_is_refused(queue: Queue) -> None:
    s = Schedules(queue)
    _, first = s.save(spec("r", every_seconds=10))
    plan = s._plan(s._hash(queue, "r"))
    s.save(spec("r", every_seconds=10))  # replaced meanwhile: the version moved on
    made, status, _ = s._fire(queue, plan, "due", first, first + 10_000,
                              occurrence_id(queue.keys.prefix, "r", first))
    assert (made, status) == (0, "stale")
    assert schedule_jobs(queue, "r") == []


def test_list_pages_by_name(queue: Queue) -> None:
    s = Schedules(queue)
    for name in ("c", "a", "b"):
        s.save(spec(name, cron="*/5 * * * *", timezone="Europe/Berlin"))
    page = s.list(limit=2)
    assert [i.name for i in page.items] == ["a", "b"] and page.next_cursor == "2"
    rest = s.list(limit=2, cursor="2")
    assert [i.name for i in rest.items] == ["c"] and rest.next_cursor is None
    item = rest.items[0].model_dump(mode="json")
    assert item["timezone"] == "Europe/Berlin" and item["runs"] == 0
    assert item["next_run_at"] is not None and item["paused"] is False


@pytest.mark.parametrize(("body", "field"), [
    ({"cron": "61 * * * *"}, "cron"),
    ({"cron": "* * *"}, "cron"),
    ({"cron": "0 0 30 2 *"}, "cron"),  # never matches
    ({}, "cron"),  # neither
    ({"cron": "* * * * *", "every_seconds": 5}, "cron"),  # both
    ({"every_seconds": 0}, "every_seconds"),
    ({"cron": "* * * * *", "timezone": "Mars/Olympus"}, "timezone"),
    ({"cron": "* * * * *", "catch_up": "some"}, "catch_up"),
    ({"cron": "* * * * *", "max_runs": 0}, "max_runs"),
    ({"cron": "* * * * *", "job": {"type": "bad type"}}, "job.type"),
    ({"cron": "* * * * *", "job": {"type": "x", "run_at": "2027-01-01T00:00:00Z"}}, "job.run_at"),
    ({"cron": "* * * * *", "job": {"type": "x", "timeout_seconds": 10**6}},
     "job.timeout_seconds"),
    ({"cron": "* * * * *", "start_at": "2030-01-02T00:00:00Z",
      "end_at": "2030-01-01T00:00:00Z"}, "end_at"),
    ({"cron": "* * * * *", "name": "a b"}, "name"),
])
def test_bad_input_names_the_field(queue: Queue, body: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        Schedules(queue).save({**spec(), **body})
    assert err.value.message.startswith(f"{field}:"), err.value.message
    assert queue.redis.zcard(queue.keys.schedules) == 0


def test_dst_both_ways_through_the_store(queue: Queue) -> None:
    """A daily 02:30 Europe/Berlin schedule fired by promoter passes through March and October
    2027 (spring forward on the 28th of March, fall back on the 31st of October): one job a
    day, the DST days included."""
    s = Schedules(queue)
    made: list[str] = []
    for start, days in (("2027-03-26T00:00:00+00:00", 4), ("2027-10-29T00:00:00+00:00", 4)):
        s.save(spec("berlin", cron="30 2 * * *", timezone="Europe/Berlin", start_at=start,
                    catch_up="all"))
        for _ in range(days):
            nxt = int(s._hash(queue, "berlin")["next"])
            assert s.fire_due(now_ms=nxt).made == 1
            # the same moment again and a minute on, as other promoters would: nothing more
            assert s.fire_due(now_ms=nxt).made == 0
            assert s.fire_due(now_ms=nxt + 60_000).made == 0
        made += [iso(int(j["sfor"])) for j in schedule_jobs(queue, "berlin")][-days:]
    assert made == [
        "2027-03-26T01:30:00", "2027-03-27T01:30:00",
        "2027-03-28T01:00:00",  # 03:00 CEST: 02:30 did not exist; once
        "2027-03-29T00:30:00",
        "2027-10-29T00:30:00", "2027-10-30T00:30:00",
        "2027-10-31T00:30:00",  # 02:30 CEST, the first pass; not again an hour later
        "2027-11-01T01:30:00",
    ]


def test_an_unreadable_schedule_leaves_the_due_set(queue: Queue) -> None:
    s = Schedules(queue)
    _, first = s.save(spec("broken", every_seconds=1))
    s.save(spec("fine", every_seconds=1))
    queue.redis.hset(queue.keys.schedule("broken"), "spec", "{not json")
    fired = s.fire_due(now_ms=first + 100)
    assert fired.made == 1  # the other one still ran
    assert queue.redis.zscore(queue.keys.schedules_due, "broken") is None
    assert fired.next_wake_ms > first + 100  # no wake for the broken one again at once


def test_settings_lowered_after_a_save_do_not_stall_the_promoter(queue: Queue) -> None:
    _, first = Schedules(queue).save(spec("long", every_seconds=1,
                                          job={"type": "echo", "timeout_seconds": 800,
                                               "data": {"x": "y" * 1000}}))
    lowered = Queue(queue.settings.model_copy(update={"max_timeout_seconds": 60,
                                                      "max_payload_bytes": 100}))
    try:
        assert Schedules(lowered).fire_due(now_ms=first).made == 1
    finally:
        lowered.redis.close()
    (job,) = schedule_jobs(queue, "long")
    assert job["timeout"] == "60"
