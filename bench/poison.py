"""Poison jobs with real worker processes: one bad job must not take its batch-mates with it.

- blocker: an async job that blocks its worker's event loop (time.sleep(8), lease 2 s) among
  30 healthy jobs claimed in the same batch by one worker.
- crasher: a job that SIGKILLs its worker every time it runs, among 300 healthy jobs; 2
  workers, each replaced when it dies (as the poller would start another).
- overrun: a sync job that ignores its timeout (sleeps 3 s, timeout 1 s, lease 1 s): its
  runs must never overlap."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

from bench.rcommon import (
    TERMINAL,
    WorkerPool,
    bench_key,
    close,
    count_by,
    log,
    new_prefix,
    queue_on,
    read_jobs,
    run_counts,
)
from boltq_core import Job, Queue
from boltq_local.valkey import ValkeyServer


def _wait_terminal(queue: Queue, ids: list[str], timeout: float, pool: WorkerPool | None = None,
                   keep: int = 0) -> tuple[dict[str, Job | None], bool]:
    """Poll until every job has ended, keeping `keep` workers of `pool` alive meanwhile (a
    supervisor); the jobs and whether they all ended in time."""
    end = time.monotonic() + timeout
    while True:
        jobs = read_jobs(queue, ids)
        if all(j is not None and j.status in TERMINAL for j in jobs.values()):
            return jobs, True
        if time.monotonic() > end:
            return jobs, False
        if pool is not None:
            for _ in range(keep - len(pool.alive())):
                pool.spawn()
        time.sleep(0.05)


@dataclass
class BlockerResult:
    healthy: int
    settled: bool = False
    seconds: float = 0.0
    runs_hist: dict[int, int] = field(default_factory=dict)  # runs -> healthy jobs
    statuses: dict[str | None, int] = field(default_factory=dict)
    attempts_hist: dict[int, int] = field(default_factory=dict)
    dead_lettered: int = 0  # healthy jobs in the DLQ
    blocker: str = ""  # the blocker's final status, attempts, last error
    worker_deaths: list[str] = field(default_factory=list)

    @property
    def run_twice(self) -> int:
        return sum(n for runs, n in self.runs_hist.items() if runs > 1)


def run_blocker(healthy: int = 30, block: float = 8.0, lease: float = 2.0) -> BlockerResult:
    res = BlockerResult(healthy)
    prefix = new_prefix("blocker")
    with ValkeyServer() as server:
        queue = queue_on(server.url, prefix, lease_seconds=lease)
        pool = WorkerPool(server.url, prefix, lease=lease, concurrency=40)
        try:
            # submitted first, so the one worker claims the whole batch at once, blocker first
            subs = queue.submit_many(
                [{"type": "blocker", "data": {"seconds": block}, "timeout_seconds": 30}]
                + [{"type": "healthy", "data": {"seconds": 0.5}} for _ in range(healthy)])
            poison, ids = subs[0].job_id, [s.job_id for s in subs[1:]]
            t0 = time.monotonic()
            pool.spawn()
            jobs, res.settled = _wait_terminal(queue, [poison, *ids], timeout=40)
            res.seconds = time.monotonic() - t0
            res.worker_deaths = [pool.why(p) for p in pool.died()]
        finally:
            pool.stop()
        runs = run_counts(queue)
        res.runs_hist = count_by(runs.get(j, 0) for j in ids)
        res.statuses = count_by(j.status if j else None for j in (jobs[i] for i in ids))
        res.attempts_hist = count_by(j.attempts for j in (jobs[i] for i in ids) if j)
        res.dead_lettered = res.statuses.get("failed", 0)
        res.blocker = _describe(jobs[poison])
        close(queue)
    log(f"poison blocker: {res.run_twice} healthy run twice, {res.dead_lettered} dead-lettered")
    return res


@dataclass
class CrasherResult:
    healthy: int
    settled: bool = False
    seconds: float = 0.0  # until every job had ended
    crasher_seconds: float | None = None  # start -> the crasher dead-lettered (server clock)
    restarts: int = 0
    statuses: dict[str | None, int] = field(default_factory=dict)  # healthy jobs
    dead_lettered: int = 0  # healthy jobs in the DLQ
    dlq_size: int = 0
    run_twice: int = 0  # healthy jobs that ran more than once
    crasher_status: str = ""
    crasher_category: str | None = None
    crasher_attempts: int = 0
    crasher_message: str = ""


def run_crasher(healthy: int = 300, lease: float = 1.0) -> CrasherResult:
    res = CrasherResult(healthy)
    prefix = new_prefix("crasher")
    with ValkeyServer() as server:
        queue = queue_on(server.url, prefix, lease_seconds=lease)
        pool = WorkerPool(server.url, prefix, lease=lease, concurrency=20)
        try:
            subs = queue.submit_many(
                [{"type": "crash", "max_attempts": 3}]
                + [{"type": "tick", "data": {"seconds": 0.02}, "max_attempts": 3}
                   for _ in range(healthy)])
            crasher, ids = subs[0].job_id, [s.job_id for s in subs[1:]]
            t0, wall0 = time.monotonic(), time.time()
            pool.spawn()
            pool.spawn()
            jobs, res.settled = _wait_terminal(queue, [crasher, *ids], timeout=60, pool=pool,
                                               keep=2)
            res.seconds = time.monotonic() - t0
            res.restarts = len(pool.procs) - 2
        finally:
            pool.stop()
        c = jobs[crasher]
        if c is not None:
            res.crasher_status, res.crasher_attempts = c.status, c.attempts
            if c.last_error:
                res.crasher_category = c.last_error.category
                res.crasher_message = c.last_error.message
            if c.status == "failed" and c.finished_at:
                res.crasher_seconds = c.finished_at.timestamp() - wall0
        res.statuses = count_by(j.status if j else None for j in (jobs[i] for i in ids))
        res.dead_lettered = res.statuses.get("failed", 0)
        res.dlq_size = queue.stats().dead_letter
        runs = run_counts(queue)
        res.run_twice = sum(1 for j in ids if runs.get(j, 0) > 1)
        close(queue)
    log(f"poison crasher: {res.dead_lettered} healthy dead-lettered; crasher "
        f"{res.crasher_status}/{res.crasher_category} after {res.restarts} restarts")
    return res


@dataclass
class OverrunResult:
    settled: bool = False
    runs: int = 0  # runs that started
    overlaps: list[str] = field(default_factory=list)  # "<run> and <run> for <ms> ms"
    unfinished: int = 0  # runs whose thread had not ended 10 s after the job ended
    status: str = ""  # the job's final status, attempts, last error
    worker_exits: list[str] = field(default_factory=list)  # workers that ended by themselves


def run_overrun(lease: float = 1.0) -> OverrunResult:
    res = OverrunResult()
    prefix = new_prefix("overrun")
    with ValkeyServer() as server:
        queue = queue_on(server.url, prefix, lease_seconds=lease)
        pool = WorkerPool(server.url, prefix, lease=lease, concurrency=20)
        spans_key = bench_key(queue.keys.tag, "spans")

        def spans() -> dict[str, dict[str, int]]:
            """"<attempt>:<pid>" -> {"start": ms, "end": ms} of each run so far."""
            out: dict[str, dict[str, int]] = {}
            for e in queue.redis.lrange(spans_key, 0, -1):
                _, attempt, pid, kind, ms = e.split(":")
                out.setdefault(f"attempt {attempt} in pid {pid}", {})[kind] = int(ms)
            return out

        try:
            sub = queue.submit({"type": "overrun", "data": {"seconds": 3}, "timeout_seconds": 1,
                                "max_attempts": 2})
            pool.spawn()
            pool.spawn()
            jobs, res.settled = _wait_terminal(queue, [sub.job_id], timeout=30)
            end = time.monotonic() + 10  # the threads outlive the attempts: let them end
            while any("end" not in r for r in spans().values()) and time.monotonic() < end:
                time.sleep(0.05)
            res.worker_exits = [pool.why(p) for p in pool.died()]
        finally:
            pool.stop()
        runs = spans()
        res.runs = len(runs)
        res.unfinished = sum(1 for r in runs.values() if "end" not in r)
        done = sorted((r["start"], r["end"], k) for k, r in runs.items() if "end" in r)
        res.overlaps = [f"{a[2]} and {b[2]} for {a[1] - b[0]} ms"
                        for a, b in itertools.pairwise(done) if b[0] < a[1]]
        res.status = _describe(jobs[sub.job_id])
        close(queue)
    log(f"poison overrun: {res.runs} runs, {len(res.overlaps)} overlapping")
    return res


def _describe(job: Job | None) -> str:
    if job is None:
        return "missing"
    err = f", last error {job.last_error.category}" if job.last_error else ""
    return f"{job.status} after {job.attempts} attempt(s){err}"
