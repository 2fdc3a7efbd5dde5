"""Priorities are strict between levels and FIFO inside one; claims come in batches."""

from __future__ import annotations

import pytest

from boltq_core import InvalidInput, Queue
from tests.support.queue_calls import claim


def test_strict_priority_then_fifo(queue: Queue) -> None:
    submitted = []
    for i, prio in enumerate([2, 1, 0, 1, 2, 0, 1, "high", "low", "normal"]):
        submitted.append((queue.submit({"type": "echo", "data": {"i": i}, "priority": prio}), i))
    expected = [0, 0, 0, 1, 1, 1, 1, 2, 2, 2]
    got = claim(queue, count=10)
    assert [int(j.fields["priority"]) for j in got] == expected
    # FIFO inside each level: submission order is kept
    order = [int(j.fields["data"][5:-1]) for j in got]
    assert order == [2, 5, 7, 1, 3, 6, 9, 0, 4, 8]


def test_claim_takes_batches_in_order_and_never_twice(queue: Queue) -> None:
    subs = queue.submit_many([{"type": "echo", "data": {"i": i}} for i in range(25)])
    first, second, third = claim(queue, 10), claim(queue, 10), claim(queue, 10)
    ids = [j.id for j in first + second + third]
    assert ids == [s.job_id for s in subs]
    assert len(third) == 5
    assert all(queue.get(i).status == "running" for i in ids)
    assert claim(queue, 10) == []


def test_status_readable_at_once(queue: Queue) -> None:
    now = queue.submit({"type": "echo"})
    later = queue.submit({"type": "echo", "delay_seconds": 60})
    assert now.status == "pending" and queue.get(now.job_id).status == "pending"
    assert later.status == "scheduled" and queue.get(later.job_id).status == "scheduled"


@pytest.mark.parametrize("bad", [3, -1, "urgent", True, 1.5, None])
def test_bad_priority_is_rejected_by_name(queue: Queue, bad: object) -> None:
    kept = queue.submit({"type": "echo", "data": {"keep": 1}})
    with pytest.raises(InvalidInput) as err:
        queue.submit({"type": "echo", "priority": bad})
    assert err.value.message.startswith("priority:")
    assert queue.stats().pending_total == 1
    assert queue.get(kept.job_id).data == {"keep": 1}


def test_job_with_too_long_timeout_is_not_claimed_by_a_short_deadline(queue: Queue) -> None:
    long = queue.submit({"type": "sleep", "timeout_seconds": 600})
    short = queue.submit({"type": "echo", "timeout_seconds": 5})
    assert claim(queue, 10, max_timeout=60) == []  # the head does not fit: nothing taken
    assert claim(queue, 1, max_timeout=700)[0].id == long.job_id
    assert claim(queue, 10, max_timeout=60)[0].id == short.job_id
