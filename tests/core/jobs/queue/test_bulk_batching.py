"""A bulk submit gathers the writes its jobs share (the index entries, the ungrouped ready
pushes, the stats counts, runs of like events) and sends each as one command
(lua/includes/common.lua batch_begin). What it stores must be exactly what the same jobs
submitted one at a time store (a single submit does not batch), and a batch of outcomes must
count exactly as the outcomes recorded one at a time do. A claim writes its jobs' lease
deadlines and its record once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

from boltq_core import Queue
from boltq_core.jobs.calls import parse_specs
from boltq_core.running.async_queue import AsyncQueue
from boltq_core.running.attempt import Outcome
from boltq_core.running.processors import ProcessorRegistry
from tests.conftest import run_worker
from tests.support.queue_calls import claim, events, finish


def _specs(n: int) -> list[dict[str, Any]]:
    """Every kind of job a bulk can hold: three priorities, delayed ones, grouped ones, more
    types than get their own stats label, an idempotency key repeated inside the bulk."""
    out: list[dict[str, Any]] = []
    for i in range(n):
        spec: dict[str, Any] = {"type": f"t{i % 5}", "priority": i % 3, "data": {"i": i}}
        if i % 7 == 0:
            spec["delay_seconds"] = 60
        if i % 11 == 0:
            spec["group"] = f"g{i % 4}"
        if i % 97 == 0:
            spec["idempotency_key"] = f"k{i % 2}"
        out.append(spec)
    return out


def _i(q: Queue, job_id: str) -> int:
    return int(q.get(job_id).data["i"])


def _state(q: Queue) -> dict[str, Any]:
    """What a submit wrote, with each job named by its data's i (ids differ between queues)."""
    r, k = q.redis, q.keys
    state: dict[str, Any] = {
        "stats": r.hgetall(k.stats),
        "types": sorted(r.smembers(k.types)),
        "index": [_i(q, j) for j in r.zrange(k.index, 0, -1)],
        "scheduled": sorted(_i(q, j) for j in r.zrange(k.scheduled, 0, -1)),
        "events": Counter(f["st"] for f in events(q)),
    }
    for p in range(3):
        state[f"ready{p}"] = [_i(q, j) for j in r.lrange(k.ready(p), 0, -1)]
        state[f"ring{p}"] = sorted(r.zrange(k.group_ring(p), 0, -1))
        for g in ("g0", "g1", "g2", "g3"):
            state[f"{g}:{p}"] = [_i(q, j) for j in r.lrange(k.group_ready(g, p), 0, -1)]
    return state


def test_a_bulk_stores_what_single_submits_of_the_same_jobs_store(
        make_queue: Callable[..., Queue]) -> None:
    # 2,500 in one call: more than one command's slice of index entries and ready pushes
    specs = _specs(2500)
    bulk, single = make_queue(metrics_max_types=3), make_queue(metrics_max_types=3)
    got = bulk.submit_many(specs, chunk=2500)
    want = [single.submit(s) for s in specs]
    assert [s.duplicate for s in got] == [s.duplicate for s in want]
    assert sum(s.duplicate for s in got) > 0  # the repeated idempotency keys were found
    b, s = _state(bulk), _state(single)
    for part in s:
        assert b[part] == s[part], part
    assert len(b["index"]) == 2500 - sum(x.duplicate for x in got)
    assert b["stats"]  # counted at all
    assert "other" in "".join(b["stats"])  # more types than labels: the rest count as other


def test_a_bulk_sends_one_command_a_job(queue: Queue) -> None:
    queue.submit({"type": "echo"})  # the library loaded, the type known
    r = queue.redis
    r.config_resetstat()
    queue.submit_many([{"type": "echo", "data": {"i": i}} for i in range(1000)], chunk=1000)
    inner = {name: s["calls"] for name, s in r.info("commandstats").items()
             if name not in ("cmdstat_fcall", "cmdstat_evalsha", "cmdstat_config|resetstat")}
    # per job: the hash (HSET); the events (one XADD per run of like events, at most
    # EVENT_RUN ids each), the resend check (ZMSCORE), the index, the ready list and the stats
    # once for the whole call
    assert inner.get("cmdstat_hset") == 1000 and inner.get("cmdstat_xadd") == 1000 // 50, inner
    assert inner.get("cmdstat_zmscore") == 1 and "cmdstat_hget" not in inner, inner
    assert sum(inner.values()) <= 1000 + 1000 // 50 + 20, inner


def test_a_bulks_events_read_one_per_job_in_stream_order(queue: Queue) -> None:
    """Like events in a row share a stream entry; every reader still gets one event per job,
    in the order the jobs changed, with the fields a single job's event has."""
    before = queue.submit({"type": "echo"}).job_id
    specs = [{"type": "a" if i < 700 else "b", "data": {"i": i},
              **({"delay_seconds": 60} if i % 250 == 3 else {})} for i in range(1200)]
    got = queue.submit_many(specs, chunk=1200)
    after = queue.submit({"type": "echo"}).job_id
    read = events(queue)
    assert [f["id"] for f in read] == [before, *(s.job_id for s in got), after]
    want = ["scheduled" if i % 250 == 3 else "pending" for i in range(1200)]
    assert [f["st"] for f in read[1:-1]] == want
    assert [f["ty"] for f in read[1:-1]] == [s["type"] for s in specs]
    single = read[0]
    for f in read:
        assert set(f) == set(single) and f["k"] == "j" and f["wf"] == "", f
    entries = queue.redis.xlen(queue.keys.events)
    # runs of at most 50: 'pending' ones broken by each delayed job and by the change of type
    assert 1200 // 50 <= entries <= 1200 // 50 + 2 * 5 + 1 + 2, entries
    # a reader that starts inside the stream goes on from an entry, never repeating a job
    first = queue.events(count=2)
    rest = queue.events(after=first[-1][0], count=100000)
    assert [f["id"] for _, f in first + rest] == [f["id"] for f in read]


def test_a_batch_of_outcomes_writes_its_events_as_runs(queue: Queue) -> None:
    queue.submit_many([{"type": "echo", "data": {"i": i}} for i in range(100)])
    jobs = claim(queue, 100)
    r = queue.redis
    start = queue.stream_ends([queue.name])[queue.name]
    r.config_resetstat()
    ended = finish(queue, *(Outcome.completed(j.id, j.attempt, '{"ok":true}') for j in jobs))
    assert ended == ["completed"] * 100
    assert r.info("commandstats")["cmdstat_xadd"]["calls"] == 100 // 50
    ended_events = [f for _, f in queue.events(after=start, count=100000)]
    assert [(f["id"], f["st"]) for f in ended_events] == [(j.id, "completed") for j in jobs]


def test_a_call_of_many_jobs_sent_again_stores_none_twice(queue: Queue) -> None:
    # more jobs than one resend question holds (1,000), and idempotency keys among them
    specs = parse_specs([{"type": "echo", "data": {"i": i},
                          **({"idempotency_key": f"k{i}"} if i % 7 == 0 else {})}
                         for i in range(2100)])
    call, parse = queue.calls.submit(queue.calls.prepare(specs))
    first = parse(queue.run(call))
    again = parse(queue.run(call))
    assert again == first and not any(s.duplicate for s in first)
    assert len({s.job_id for s in first}) == 2100
    stats = queue.stats()
    assert stats.pending_total == 2100 and stats.totals["submitted"] == 2100
    assert queue.redis.zcard(queue.keys.named("jobs")) == 2100


def test_a_batch_of_outcomes_counts_each_one(make_queue: Callable[..., Queue]) -> None:
    q = make_queue(max_attempts=1)
    q.submit_many([{"type": "ok" if i % 3 else "bad", "data": {"i": i}} for i in range(300)])
    registry = ProcessorRegistry()
    registry.register("ok", lambda ctx: None)

    def bad(ctx: Any) -> None:
        raise ValueError("no")

    registry.register("bad", bad)
    def ended() -> bool:
        totals = q.stats().totals
        return totals.get("completed", 0) + totals.get("failed", 0) >= 300

    run_worker(q, registry, until=ended, concurrency=50, batch=50)
    stats = q.redis.hgetall(q.keys.stats)
    assert int(stats["processed|ok|completed"]) == 200
    assert int(stats["processed|bad|failed"]) == 100
    assert q.stats().dead_letter == 100


def test_a_claim_sends_three_commands_a_job_and_leases_each(queue: Queue) -> None:
    queue.submit_many([{"type": "echo", "data": {"i": i}} for i in range(50)])
    r = queue.redis

    async def claim() -> list[Any]:
        aq = AsyncQueue(queue.settings)
        try:
            await aq.claim(1)  # the library loaded, the call's queues known
            r.config_resetstat()
            return (await aq.claim(49)).jobs
        finally:
            await aq.aclose()

    jobs = asyncio.run(claim())
    inner = {name: s["calls"] for name, s in r.info("commandstats").items()
             if name not in ("cmdstat_fcall", "cmdstat_evalsha", "cmdstat_config|resetstat")}
    # per job: its fields (HMGET), the lease (HSET), the reply (HGETALL); the lease
    # deadlines, the claim's record and the run of 'running' events once for the whole call
    assert len(jobs) == 49
    assert inner.get("cmdstat_xadd") == 1, inner
    assert sum(inner.values()) <= 3 * 49 + 30, inner
    running = [f["id"] for f in events(queue) if f["st"] == "running"]
    assert running[1:] == [j.id for j in jobs]  # the first claim's job, then these in order
    active = dict(r.zrange(queue.keys.active, 0, -1, withscores=True))
    assert len(active) == 50  # the first claim's job and these
    for j in jobs:
        h = r.hgetall(queue.keys.job(j.id))
        assert h["status"] == "running" and h["attempts"] == "1" and j.attempt == 1
        assert j.id in active


def test_a_follower_counts_a_run_as_one_entry_it_read(queue: Queue) -> None:
    """A follower's `count` limits stream entries: a bulk's one run of 300 events is one
    entry, read whole, so the follower has not fallen behind (skipped) and goes on after it."""
    from boltq_core.duties.events import EventFollower

    follower = EventFollower(queue, 10, 0)
    assert follower.next(0.05).events == []  # starts at the stream's end
    got = queue.submit_many([{"type": "echo", "data": {"i": i}} for i in range(300)])
    batch = follower.next(2.0)
    assert not batch.skipped
    assert [f["id"] for _, f in batch.events] == [s.job_id for s in got]
    late = queue.submit({"type": "echo"}).job_id
    assert [f["id"] for _, f in follower.next(2.0).events] == [late]


def _story(q: Queue, after: str) -> list[tuple[str, ...]]:
    """The events after `after`, ids (jobs' and workflows') named by first appearance."""
    names: dict[str, str] = {}

    def name(i: str) -> str:
        return names.setdefault(i, f"#{len(names)}") if i else ""

    return [(f["k"], name(f["id"]), name(f["wf"]), f["st"], f["ty"])
            for _, f in q.events(after=after, count=100000)]


def test_a_batch_of_outcomes_tells_the_story_outcomes_one_at_a_time_tell(
        make_queue: Callable[..., Queue]) -> None:
    """Runs must keep every event, in order, among the workflow events and the retries a batch
    of outcomes writes: the same outcomes, in one call or one call each, read back alike."""
    from boltq_core.jobs.workflows import Workflows

    stories = []
    for batched in (True, False):
        q = make_queue()
        wf = Workflows(q)
        steps = {"name": "w", "steps": [{"id": "a", "job_type": "echo"},
                                        {"id": "b", "job_type": "echo", "depends_on": ["a"]},
                                        {"id": "c", "job_type": "other", "depends_on": ["a"]}]}
        for _ in range(3):
            q.submit_many([{"type": "echo"}] * 3 + [{"type": "other"}] * 2)
            wf.submit(steps)
        jobs = claim(q, 100)
        assert len(jobs) == 18
        start = q.stream_ends([q.name])[q.name]
        outcomes = [Outcome.retry(j.id, j.attempt, "transient", "again", 60_000) if i == 4
                    else Outcome.failed(j.id, j.attempt, "permanent", "no") if i in (7, 11)
                    else Outcome.completed(j.id, j.attempt, '{"ok":true}')
                    for i, j in enumerate(jobs)]
        if batched:
            finish(q, *outcomes)
        else:
            for o in outcomes:
                finish(q, o)
        entries = len(q.redis.xrange(q.keys.events, f"({start}", "+"))
        stories.append((_story(q, start), entries))
    (batched_story, batched_entries), (single_story, single_entries) = stories
    assert single_entries == len(single_story)
    assert batched_entries < single_entries  # the batch did write runs
    assert {e[0] for e in single_story} == {"j", "w"}  # workflows moved too
    assert {"completed", "retrying", "failed"} <= {e[3] for e in single_story}
    assert batched_story == single_story
