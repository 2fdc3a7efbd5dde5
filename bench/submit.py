"""Bulk submit throughput: Queue.submit_many with no-op echo jobs, split into the time the
client spends building the calls (validation, ids, JSON) and the time the server spends in
the submit script (commandstats usec)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bench.common import (
    Server,
    Stopwatch,
    command_stats,
    drop_namespace,
    preload_scripts,
    reset,
    script_stat,
    settings_for,
    stats_delta,
)
from boltq_core import Queue
from boltq_core.jobs.calls import parse_specs


@dataclass
class SubmitResult:
    jobs: int
    chunk: int
    seconds: float  # submit_many, wall
    build_seconds: float  # the same jobs validated and encoded, no I/O
    script_seconds: float  # server time inside the submit script

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds

    @property
    def client_share(self) -> float:
        return self.build_seconds / self.seconds


def echo_jobs(n: int) -> list[dict[str, object]]:
    return [{"type": "echo", "data": {}} for _ in range(n)]


def build_seconds(q: Queue, jobs: list[dict[str, object]], chunk: int) -> float:
    """What submit_many does before any I/O: validate, make ids, encode, build the calls."""
    with Stopwatch() as sw:
        prepared = q.calls.prepare(parse_specs(jobs))
        for start in range(0, len(prepared), chunk):
            q.calls.submit(prepared[start : start + chunk])
    return sw.seconds


def run_submit(server: Server, jobs: int, chunk: int) -> SubmitResult:
    q = Queue(settings_for(server, "submit"))
    reset(server, q.redis)
    preload_scripts(q.redis, ("submit",))
    payload = echo_jobs(jobs)
    before = command_stats(q.redis)
    with Stopwatch() as sw:
        done = q.submit_many(payload, chunk=chunk)
    delta = stats_delta(command_stats(q.redis), before)
    assert len(done) == jobs and q.stats().pending_total == jobs
    script = script_stat(delta)
    result = SubmitResult(
        jobs=jobs, chunk=chunk, seconds=sw.seconds,
        build_seconds=build_seconds(q, payload, chunk),
        script_seconds=script.usec / 1e6 if script else 0.0,
    )
    _cleanup(server, q)
    return result


def _cleanup(server: Server, q: Queue) -> None:
    if server.own:
        q.redis.flushall()
    else:
        drop_namespace(q.redis, q.keys.tag)
    q.redis.close()
    time.sleep(0.1)  # let the server settle before the next measurement
