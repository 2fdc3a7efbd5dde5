"""End-to-end drain: N pre-submitted no-op echo jobs, W worker processes each running a Runner
until the queue is empty. Also yields the Redis commands and round trips per job, the CPU
each side used, and (optionally) a cProfile of one worker."""

from __future__ import annotations

import pstats
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import workers
from bench.common import (
    CLIENT_COMMANDS,
    CommandStat,
    Server,
    busy_seconds,
    command_stats,
    drop_namespace,
    preload_scripts,
    reset,
    server_cpu,
    settings_for,
    spawn,
    stats_delta,
    stop_processes,
)
from boltq_core import Queue


@dataclass
class DrainResult:
    jobs: int
    workers: int
    concurrency: int
    batch: int
    seconds: float  # first claim to last completion (server clock, ms resolution)
    completed: int
    round_trips: int  # requests written by the workers' clients
    commands: dict[str, CommandStat]  # commandstats delta over the run
    server_cpu: float  # CPU seconds the server used
    worker_cpu: float  # CPU seconds all workers used
    other_cpu: float  # CPU seconds anything else on the machine used meanwhile
    profile: list[tuple[str, int, float, float]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds if self.seconds else 0.0

    @property
    def client_calls(self) -> int:
        return sum(s.calls for n, s in self.commands.items() if n in CLIENT_COMMANDS)

    @property
    def all_calls(self) -> int:
        return sum(s.calls for s in self.commands.values())


def submit_jobs(q: Queue, n: int) -> list[str]:
    jobs = [{"type": "echo", "data": {}} for _ in range(n)]
    return [s.job_id for s in q.submit_many(jobs, chunk=1000)]


def span_seconds(q: Queue, ids: list[str]) -> tuple[float, int]:
    """(last 'finished' - first 'started') over the jobs, and how many completed."""
    pipe = q.redis.pipeline(transaction=False)
    for job_id in ids:
        pipe.hmget(q.keys.job(job_id), "started", "finished", "status")
    rows = pipe.execute()
    started = [int(r[0]) for r in rows if r[0]]
    finished = [int(r[1]) for r in rows if r[1]]
    completed = sum(1 for r in rows if r[2] == "completed")
    if not started or not finished:
        return 0.0, completed
    # the server stamps in whole ms: +1 ms so a sub-ms run is never 0
    return (max(finished) - min(started) + 1) / 1000, completed


def run_drain(
    server: Server,
    jobs: int,
    n_workers: int,
    concurrency: int,
    batch: int,
    profile: bool = False,
) -> DrainResult:
    settings = settings_for(server, "drain")
    q = Queue(settings)
    reset(server, q.redis)
    ids = submit_jobs(q, jobs)
    preload_scripts(q.redis, ("claim", "finish", "extend"))
    with tempfile.TemporaryDirectory(prefix="boltq-bench-") as tmp:
        prof_path = str(Path(tmp) / "worker.prof") if profile else None
        outs, commands, cpu, busy = _run_workers(
            q, settings, n_workers, concurrency, batch, prof_path
        )
        top = top_functions(prof_path) if prof_path else []
    seconds, completed = span_seconds(q, ids)
    if not server.own:
        drop_namespace(q.redis, q.keys.tag)
    q.redis.close()
    return DrainResult(
        jobs=jobs, workers=n_workers, concurrency=concurrency, batch=batch,
        seconds=seconds, completed=completed,
        round_trips=sum(o["round_trips"] for o in outs), commands=commands,
        server_cpu=cpu, worker_cpu=sum(o["cpu"] for o in outs),
        other_cpu=max(0.0, busy - cpu - sum(o["cpu"] for o in outs)), profile=top,
    )


def _run_workers(
    q: Queue, settings: object, n: int, concurrency: int, batch: int, prof_path: str | None
) -> tuple[list[dict[str, Any]], dict[str, CommandStat], float, float]:
    """Start n workers, release them together, wait for all; returns their reports, the
    commandstats delta, the server CPU seconds and the whole machine's busy CPU seconds
    over the run (the rest of which is other people's load)."""
    ctx = spawn()
    barrier = ctx.Barrier(n + 1)
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=workers.drain_worker,
            args=(settings, concurrency, batch, barrier, results, prof_path if i == 0 else None),
            daemon=True,
        )
        for i in range(n)
    ]
    try:
        for p in procs:
            p.start()
        before, cpu0 = command_stats(q.redis), server_cpu(q.redis)
        barrier.wait(timeout=60)
        busy0 = busy_seconds()  # after the barrier: the workers' start-up is not "other"
        outs = [results.get(timeout=120) for _ in procs]
        after, cpu1, busy1 = command_stats(q.redis), server_cpu(q.redis), busy_seconds()
    finally:
        stop_processes(procs)
    return outs, stats_delta(after, before), cpu1 - cpu0, busy1 - busy0


def top_functions(path: str, n: int = 15) -> list[tuple[str, int, float, float]]:
    """The n functions with the most own time: (where, calls, tottime s, cumtime s)."""
    st = pstats.Stats(path)
    rows = []
    for (file, line, func), (_cc, ncalls, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        rows.append((_short(file, line, func), ncalls, tt, ct))
    rows.sort(key=lambda r: r[2], reverse=True)
    return rows[:n]


def _short(file: str, line: int, func: str) -> str:
    for marker in ("site-packages/", "boltq_core/", "lib/python3.11/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{file}:{line} {func}" if line else func

