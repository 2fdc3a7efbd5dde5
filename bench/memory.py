"""Memory per pending job: INFO used_memory before and after submitting N small jobs, divided
by N, plus MEMORY USAGE of the structures that grow with the backlog."""

from __future__ import annotations

from dataclasses import dataclass, field

import redis

from bench.common import Server, drop_namespace, reset, settings_for, used_memory
from boltq_core import Queue


@dataclass
class MemoryResult:
    jobs: int
    delta_bytes: int
    parts: dict[str, int] = field(default_factory=dict)  # growing structure -> bytes per job
    fixed: dict[str, int] = field(default_factory=dict)  # bounded structure -> total bytes
    encodings: dict[str, str] = field(default_factory=dict)

    @property
    def per_job(self) -> float:
        return self.delta_bytes / self.jobs


def run_memory(server: Server, jobs: int) -> MemoryResult:
    q = Queue(settings_for(server, "memory"))
    reset(server, q.redis)
    q.redis.ping()
    q.submit({"type": "echo"})  # loads the script and creates the fixed keys first
    before = used_memory(q.redis)
    q.submit_many([{"type": "echo", "data": {}} for _ in range(jobs)], chunk=1000)
    after = used_memory(q.redis)
    result = MemoryResult(jobs, after - before)
    _breakdown(q, jobs, result)
    if server.own:
        q.redis.flushall()
    else:
        drop_namespace(q.redis, q.keys.tag)
    q.redis.close()
    return result


def _breakdown(q: Queue, jobs: int, out: MemoryResult) -> None:
    """Bytes per job of each growing structure (MEMORY USAGE samples every element), and the
    size of the bounded ones."""
    r, k = q.redis, q.keys
    one = r.lindex(k.ready(1), 0)
    growing = {"job hash": (k.job(one), 1), "ready list": (k.ready(1), jobs),
               "jobs index (zset)": (k.index, jobs)}
    for name, (key, per) in growing.items():
        out.parts[name] = round(_usage(r, key) / per)
        out.encodings[name] = str(r.object("encoding", key))
    for name, key in {"events stream (capped)": k.events, "stats hash": k.stats}.items():
        out.fixed[name] = _usage(r, key)
        out.encodings[name] = str(r.object("encoding", key))


def _usage(r: redis.Redis, key: str) -> int:
    return int(r.memory_usage(key, samples=0) or 0)
