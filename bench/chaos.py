"""Chaos drain: N short jobs drained by 2 worker processes while one of them (alternating) is
SIGKILLed every second and restarted at once, as a supervisor (the poller, Lambda) would. Every
job must complete; some run twice (at-least-once: a job that ran but whose outcome was not yet
recorded when its worker died runs again)."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field

from bench.rcommon import (
    WorkerPool,
    close,
    count_by,
    log,
    new_prefix,
    queue_on,
    read_jobs,
    run_counts,
    settled,
)
from boltq_core import Queue
from boltq_local.valkey import ValkeyServer


@dataclass
class ChaosResult:
    jobs: int
    lease: float
    concurrency: int
    kill_every: float
    job_seconds: float  # each job sleeps this long before it records its run
    seconds: float = 0.0  # from the workers' start to the last job ended
    kills: int = 0
    settled: bool = False
    completed: int = 0
    dead_lettered: int = 0  # status failed (the DLQ's members)
    dlq_size: int = 0
    lost: int = 0  # acknowledged, never completed (not completed, not dead-lettered either)
    never_ran: int = 0  # no run recorded at all
    runs_hist: dict[int, int] = field(default_factory=dict)  # runs -> jobs that ran that often
    claimed_again: int = 0  # jobs leased more than once
    # completed jobs by the last error they carry: lease_expired = recovered after a kill
    # beside others (not charged); crashed = killed while it ran alone (charged an attempt)
    recovered: dict[str, int] = field(default_factory=dict)
    worker_deaths: list[str] = field(default_factory=list)  # died without being killed
    restart_seconds: list[float] = field(default_factory=list)  # spawn until "ready"
    dlq_categories: dict[str, int] = field(default_factory=dict)

    @property
    def run_twice(self) -> int:
        return sum(n for runs, n in self.runs_hist.items() if runs > 1)

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds if self.seconds else 0.0


def run_chaos(jobs: int, lease: float = 1.0, concurrency: int = 50, kill_every: float = 1.0,
              job_seconds: float = 0.0, limit: float = 400.0) -> ChaosResult:
    """Submit `jobs` tick jobs, drain them with 2 workers under a SIGKILL every `kill_every`
    seconds; give up (settled=False) after `limit` seconds."""
    res = ChaosResult(jobs, lease, concurrency, kill_every, job_seconds)
    prefix = new_prefix("chaos")
    with ValkeyServer() as server:
        queue = queue_on(server.url, prefix, lease_seconds=lease)
        pool = WorkerPool(server.url, prefix, lease=lease, concurrency=concurrency)
        try:
            spec = {"type": "tick", "data": {"seconds": job_seconds} if job_seconds else {}}
            ids = [s.job_id for s in queue.submit_many(spec for _ in range(jobs))]
            log(f"chaos: {jobs:,} jobs submitted; 2 workers, a SIGKILL every {kill_every:g} s")
            workers = [pool.spawn(), pool.spawn()]
            t0 = time.monotonic()
            next_kill = t0 + kill_every
            victim = 0
            while True:
                if settled(queue):
                    res.settled = True
                    break
                now = time.monotonic()
                if now - t0 > limit:
                    break
                for i, p in enumerate(workers):  # a worker that died by itself is replaced too
                    if p.poll() is not None:
                        workers[i] = _restart(pool, res)
                if now >= next_kill:
                    pool.kill(workers[victim])
                    res.kills += 1
                    workers[victim] = _restart(pool, res)
                    victim = 1 - victim
                    next_kill += kill_every
                time.sleep(0.02)
            res.seconds = time.monotonic() - t0
        finally:
            res.worker_deaths = pool.stop()
        _tally(res, queue, ids)
        close(queue)
    return res


def _restart(pool: WorkerPool, res: ChaosResult) -> subprocess.Popen[str]:
    t = time.monotonic()
    p = pool.spawn()
    res.restart_seconds.append(time.monotonic() - t)
    return p


def _tally(res: ChaosResult, queue: Queue, ids: list[str]) -> None:
    state = read_jobs(queue, ids)
    runs = run_counts(queue)
    statuses = count_by(j.status if j else None for j in state.values())
    res.completed = statuses.get("completed", 0)
    res.dead_lettered = statuses.get("failed", 0)
    res.lost = len(ids) - res.completed - res.dead_lettered
    res.runs_hist = count_by(runs.get(j, 0) for j in ids)
    res.never_ran = res.runs_hist.get(0, 0)
    res.claimed_again = sum(1 for j in state.values() if j and j.attempts > 1)
    res.recovered = count_by(j.last_error.category for j in state.values()
                             if j and j.status == "completed" and j.last_error)
    res.dlq_size = queue.stats().dead_letter
    res.dlq_categories = count_by(j.last_error.category if j.last_error else "-"
                                  for j in state.values() if j and j.status == "failed")
