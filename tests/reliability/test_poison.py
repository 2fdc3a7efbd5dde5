"""Poison jobs: one bad job must not take its batch-mates down with it.

- An async processor that blocks the event loop (time.sleep) stalls every job of its worker;
  the healthy ones must still run once, not be recovered and run again.
- A job that kills its worker process every time must end in the dead-letter queue by itself
  (category `crashed`), never taking healthy jobs there with it.
- A sync processor that ignores its timeout keeps running in its thread: the job must not run
  again while it does."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import pytest

from boltq_core.running.attempt import JobContext
from boltq_core.running.processors import default_registry
from tests.conftest import run_worker, wait_for
from tests.support.store_clients import count_by, statuses
from tests.support.worker_fleet import Workers

pytestmark = pytest.mark.slow

TERMINAL = {"completed", "failed", "cancelled"}


def test_an_event_loop_blocker_does_not_make_its_batch_mates_run_twice(make_queue) -> None:
    queue = make_queue(lease_seconds=2.0)
    runs_key = queue.keys.tag + ":test:runs"

    async def blocker(ctx: JobContext) -> str:
        time.sleep(8)  # the poison: the whole event loop stops for 8 s
        return "woke"

    async def healthy(ctx: JobContext) -> int:
        await asyncio.sleep(0.5)
        await asyncio.to_thread(queue.redis.rpush, runs_key, ctx.job_id)
        return ctx.attempt

    registry = default_registry.copy()
    registry.register("blocker", blocker)
    registry.register("healthy", healthy)
    subs = queue.submit_many([{"type": "blocker", "timeout_seconds": 30}]
                             + [{"type": "healthy"} for _ in range(30)])
    poison, ids = subs[0].job_id, [s.job_id for s in subs[1:]]

    def settled() -> bool:
        return set(statuses(queue, ids).values()) <= TERMINAL

    # one worker, one claim of the whole batch (the blocker first); stopping it waits for the
    # blocker's attempt to end
    run_worker(queue, registry, until=settled, timeout=25, concurrency=40, batch=40)
    runs = count_by(queue.redis.lrange(runs_key, 0, -1))
    st = statuses(queue, ids)
    per_job = count_by(runs.get(j, 0) for j in ids)  # runs -> how many jobs ran that often
    assert per_job == {1: 30}, f"healthy jobs by number of runs: {per_job}"
    assert count_by(st.values()) == {"completed": 30}
    attempts = count_by(queue.get(j).attempts for j in ids)
    assert attempts == {1: 30}, f"healthy jobs by attempts: {attempts}"
    # the blocker too: it stalled its worker but never lost it (max_attempts 3)
    assert queue.stats().dead_letter == 0, queue.get(poison).last_error


def test_a_process_crasher_dead_letters_alone_as_crashed(make_queue, tmp_path: Path) -> None:
    queue = make_queue(lease_seconds=1.0)
    subs = queue.submit_many([{"type": "crash", "max_attempts": 3}]
                             + [{"type": "record", "data": {"seconds": 0.02}, "max_attempts": 3}
                                for _ in range(300)])
    crasher, ids = subs[0].job_id, [s.job_id for s in subs[1:]]
    restarts = 0
    t0 = time.monotonic()
    with Workers(queue.settings.url, queue.settings.key_prefix, tmp_path, lease=1.0) as w:
        w.spawn()
        w.spawn()
        # a supervisor: a worker that died is replaced, as the poller would start another
        end = t0 + 40
        while not set(statuses(queue, [crasher, *ids]).values()) <= TERMINAL:
            assert time.monotonic() < end, (
                f"not settled in 40s: {count_by(statuses(queue, ids).values())}, crasher "
                f"{queue.get(crasher).status}, {restarts} restarts")
            for _ in w.dead()[restarts:]:
                restarts += 1
                w.spawn()
            time.sleep(0.05)
    took = time.monotonic() - t0
    st = statuses(queue, ids)
    job = queue.get(crasher)
    assert count_by(st.values()) == {"completed": 300}, (
        f"healthy jobs: {count_by(st.values())}; by error: "
        f"{count_by(queue.get(j).last_error.category for j, s in st.items() if s == 'failed')}")
    assert job.status == "failed"
    assert job.last_error is not None and job.last_error.category == "crashed", job.last_error
    assert queue.stats().dead_letter == 1
    assert restarts >= 3, "the crasher ran alone until its attempts were used up"
    assert took < 40


def test_a_sync_processor_past_its_timeout_never_runs_twice_at_once(
    make_queue, tmp_path: Path,
) -> None:
    queue = make_queue(lease_seconds=1.0)
    runs_key = queue.keys.tag + ":test:runs"
    sub = queue.submit({"type": "overrun", "data": {"seconds": 3}, "timeout_seconds": 1,
                        "max_attempts": 2})

    def runs() -> dict[str, dict[str, int]]:
        """"<attempt>:<pid>" -> {"start": ms, "end": ms} of each run so far."""
        out: dict[str, dict[str, int]] = {}
        for e in queue.redis.lrange(runs_key, 0, -1):
            _, attempt, pid, kind, ms = e.split(":")
            out.setdefault(f"{attempt}:{pid}", {})[kind] = int(ms)
        return out

    with Workers(queue.settings.url, queue.settings.key_prefix, tmp_path, lease=1.0) as w:
        w.spawn()
        w.spawn()
        wait_for(lambda: queue.get(sub.job_id).status in TERMINAL, timeout=25)
        # every run that started has ended (the threads outlive the attempts)
        wait_for(lambda: all("end" in r for r in runs().values()), timeout=10)
    spans = sorted((r["start"], r["end"], key) for key, r in runs().items())
    assert spans, "the job never ran"
    overlaps = [(a[2], b[2], a[1] - b[0]) for a, b in itertools.pairwise(spans)
                if b[0] < a[1]]
    assert not overlaps, (
        f"runs overlapped: {[f'{x} and {y} for {ms} ms' for x, y, ms in overlaps]}")
