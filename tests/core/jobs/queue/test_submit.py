"""Submitting: validation, payload cap, idempotency, bulk, delays."""

from __future__ import annotations

import os
import time
import uuid
import warnings
from datetime import UTC, datetime, timedelta

import pytest

from boltq_core import InvalidInput, PayloadTooLarge, Queue
from boltq_core.jobs.calls import parse_specs
from tests.conftest import run_worker


def test_bulk_submit_stores_every_job(queue: Queue) -> None:
    subs = queue.submit_many([{"type": "echo", "data": {"i": i}} for i in range(1200)], chunk=500)
    assert len({s.job_id for s in subs}) == 1200
    assert queue.stats().pending_total == 1200
    assert queue.get(subs[777].job_id).data == {"i": 777}


def test_bad_entry_in_a_bulk_stores_nothing_and_names_the_field(queue: Queue) -> None:
    kept = queue.submit({"type": "echo", "data": {"a": 1}})
    with pytest.raises(InvalidInput) as err:
        queue.submit_many([{"type": "echo"}, {"type": "echo", "priority": "urgent"}])
    assert err.value.message.startswith("jobs[1].priority:")
    with pytest.raises(InvalidInput) as err:
        queue.submit_many([{"type": "echo"}, {"type": "echo", "dealy_seconds": 3}])
    assert "jobs[1].dealy_seconds" in err.value.message
    with pytest.raises(InvalidInput) as err:
        queue.submit({"type": ""})
    assert err.value.message.startswith("type:")
    with pytest.raises(InvalidInput) as err:
        queue.submit({"type": "echo", "delay_seconds": -1})
    assert err.value.message.startswith("delay_seconds:")
    with pytest.raises(InvalidInput) as err:
        queue.submit({"type": "echo", "data": [1, 2]})
    assert err.value.message.startswith("data:")
    stats = queue.stats()
    assert stats.pending_total == 1 and stats.totals["submitted"] == 1
    assert queue.get(kept.job_id).data == {"a": 1}


def test_payload_cap_gives_413_and_stores_nothing(make_queue) -> None:
    queue = make_queue(max_payload_bytes=100)
    with pytest.raises(PayloadTooLarge) as err:
        queue.submit({"type": "echo", "data": {"blob": "x" * 200}})
    assert err.value.status == 413
    assert "limit is 100 bytes" in err.value.message
    assert queue.stats().totals["submitted"] == 0
    assert queue.submit({"type": "echo", "data": {"blob": "x" * 50}}).status == "pending"


def test_the_caps_count_bytes_and_name_the_job_in_a_bulk(make_queue) -> None:
    queue = make_queue(max_payload_bytes=100, max_timeout_seconds=60, default_timeout_seconds=30)
    fits = {"s": "\u00e9" * 45}  # 53 characters, 98 bytes in UTF-8
    over = {"s": "\u00e9" * 47}  # 55 characters, 102 bytes: over the cap by bytes alone
    cases = [
        ([{"type": "echo", "data": fits}, {"type": "echo", "data": over}],
         PayloadTooLarge, "jobs[1].data is 102 bytes"),
        ([{"type": "echo"}, {"type": "echo", "data": {"s": {1, 2}}}],
         InvalidInput, "jobs[1].data: not JSON-serialisable"),
        ([{"type": "echo"}, {"type": "echo"}, {"type": "echo", "timeout_seconds": 61}],
         InvalidInput, "jobs[2].timeout_seconds: must be at most 60"),
        ([{"type": "echo", "data": over}], PayloadTooLarge, "data is 102 bytes"),
    ]
    for jobs, error, message in cases:
        with pytest.raises(error) as err:
            queue.submit_many(jobs, chunk=1)  # several chunks: none is sent before all pass
        assert err.value.message.startswith(message), err.value.message
    assert queue.stats().totals["submitted"] == 0
    assert queue.get(queue.submit({"type": "echo", "data": fits}).job_id).data == fits


def test_timeout_above_the_maximum_is_rejected(make_queue) -> None:
    queue = make_queue(max_timeout_seconds=60, default_timeout_seconds=30)
    with pytest.raises(InvalidInput, match="timeout_seconds: must be at most 60"):
        queue.submit({"type": "echo", "timeout_seconds": 61})


def test_idempotency_key_returns_the_first_job(queue: Queue) -> None:
    first = queue.submit({"type": "echo", "data": {"n": 1}, "idempotency_key": "order-42"})
    again = queue.submit({"type": "echo", "data": {"n": 2}, "idempotency_key": "order-42"})
    assert again.job_id == first.job_id and again.duplicate and not first.duplicate
    bulk = queue.submit_many(
        [
            {"type": "echo", "idempotency_key": "k1"},
            {"type": "echo", "idempotency_key": "k1"},
            {"type": "echo", "idempotency_key": "order-42"},
        ]
    )
    assert bulk[0].job_id == bulk[1].job_id and bulk[1].duplicate
    assert bulk[2].job_id == first.job_id
    assert queue.stats().totals["submitted"] == 2
    assert queue.get(first.job_id).data == {"n": 1}
    assert queue.get(first.job_id).idempotency_key == "order-42"


def test_a_blocked_worker_wakes_for_a_delayed_job_when_it_falls_due(queue: Queue) -> None:
    """A 1 s delay starts after 1.0 s and well before 1.5 s (the server's clock): the blocked
    worker's wait ends at the job's due time, not at a later poll (a 1 s wait, begun before
    the submit, would start it at ~1.8 s). A 0.1 s bound failed on a loaded machine."""
    sub = {}

    def submit_then_done() -> bool:
        if not sub:
            time.sleep(0.2)  # let the worker go idle and block first
            sub["id"] = queue.submit({"type": "echo", "delay_seconds": 1}).job_id
        return queue.get(sub["id"]).status == "completed"

    run_worker(queue, until=submit_then_done, timeout=10)
    job = queue.get(sub["id"])
    waited = (job.started_at - job.created_at).total_seconds()
    assert 1.0 <= waited < 1.5, waited


def test_run_at_schedules_an_absolute_time(queue: Queue) -> None:
    when = datetime.now(UTC) + timedelta(seconds=0.5)
    sub = queue.submit({"type": "echo", "run_at": when.isoformat()})
    assert sub.status == "scheduled"
    run_worker(queue, until=lambda: queue.get(sub.job_id).status == "completed", timeout=10)
    started = queue.get(sub.job_id).started_at
    assert started >= when - timedelta(milliseconds=5)


def test_promote_moves_due_jobs_once(queue: Queue) -> None:
    sub = queue.submit({"type": "echo", "delay_seconds": 0.1})
    time.sleep(0.15)
    first = queue.promote()
    second = queue.promote()
    assert (first.promoted, second.promoted) == (1, 0)
    assert queue.get(sub.job_id).status == "pending"
    assert queue.redis.lrange(queue.keys.ready(1), 0, -1) == [sub.job_id]


def test_a_submit_sent_again_stores_nothing_twice(queue: Queue) -> None:
    prepared = queue.calls.prepare(parse_specs([{"type": "echo"}, {"type": "echo"}]))
    call, parse = queue.calls.submit(prepared)
    first = parse(queue.run(call))
    again = parse(queue.run(call))
    assert [s.job_id for s in again] == [s.job_id for s in first]
    assert [s.duplicate for s in again] == [False, False]
    stats = queue.stats()
    assert stats.pending_total == 2 and stats.totals["submitted"] == 2


def test_submit_then_run_echo(queue: Queue) -> None:
    sub = queue.submit({"type": "echo", "data": {"message": "Hello World"}})
    assert queue.get(sub.job_id).status == "pending"
    run_worker(queue, until=lambda: queue.get(sub.job_id).status == "completed")
    job = queue.get(sub.job_id)
    assert job.result == {"message": "Hello World"}
    assert job.attempts == 1


def test_a_forked_child_makes_ids_of_its_own() -> None:
    from boltq_core.jobs.calls import new_ids

    new_ids(1)  # random bytes are buffered in the parent now
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads about
        child = os.fork()
    if child == 0:  # pragma: no cover - the child's outcome is what it writes
        try:
            os.write(write, " ".join(new_ids(1)[0] for _ in range(20)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        theirs = set(pipe.read().split())
    os.waitpid(child, 0)
    mine = {new_ids(1)[0] for _ in range(20)}
    assert len(theirs) == 20 and len(mine) == 20 and not mine & theirs
    assert all(uuid.UUID(i).version == 4 for i in mine | theirs)
