"""Durability figures with real servers:

- store_kill: the store process is SIGKILLed in the middle of a submit load and restarted on
  the same data dir (append-only file) with appendfsync always / everysec / no; acknowledged
  submits missing after the restart are counted. A process kill leaves the OS page cache
  intact, so this shows what the server had written (write(2)) before it acknowledged, not
  what an OS crash or a power loss would keep.
- submit_cost: the single-submit rate and latency of durable submit (SUBMIT_WAIT_REPLICAS=1,
  SUBMIT_WAIT_AOF=1) against the default, on the same machine, interleaved."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis

from bench.common import percentile
from bench.rcommon import (
    Submitter,
    close,
    count_by,
    error_kind,
    log,
    new_prefix,
    queue_on,
    read_jobs,
)
from boltq_core import Queue
from boltq_local.valkey import ValkeyServer
from tests.support.faults import ReplicaPair


@contextlib.contextmanager
def data_dir() -> Iterator[Path]:
    """A fresh directory for an append-only file, on the same disk as the system's temp."""
    path = Path(tempfile.mkdtemp(prefix="boltq-rel-aof-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def filesystem(path: Path) -> str:
    """The type and device of the filesystem holding `path` (tmpfs would make fsync free)."""
    done = subprocess.run(["df", "-T", str(path)], capture_output=True, text=True)
    lines = done.stdout.strip().splitlines()
    if len(lines) < 2:
        return "unknown"
    dev, kind = lines[1].split()[:2]
    return f"{kind}, {dev}"


@dataclass
class KillResult:
    fsync: str
    acked_at_kill: int = 0  # acknowledged before the SIGKILL
    lost: int = 0  # acknowledged (before or after), missing after the restart
    not_ready: int = 0  # there, but not pending (should be 0: nothing worked them)
    recovered: float | None = None  # restart -> first acknowledged submit
    load_rate: float = 0.0  # acknowledged submits/s before the kill
    errors: dict[str, int] = field(default_factory=dict)


def run_store_kill(fsync: str, load: float = 1.5, submitters: int = 2) -> KillResult:
    """`submitters` threads submit back to back for `load` s; SIGKILL the server mid-load,
    restart it on the same port and data dir, count acknowledged submits missing."""
    res = KillResult(fsync)
    prefix = new_prefix("aof")
    with data_dir() as path:
        # later arguments win in valkey's config parsing: ours over ValkeyServer's everysec
        server = ValkeyServer(data_dir=path, extra=["--appendfsync", fsync]).start()
        queue = queue_on(server.url, prefix)
        subs = [Submitter(queue, job_type="nap", pause=0) for _ in range(submitters)]
        try:
            with redis.Redis(port=server.port, decode_responses=True) as c:
                assert c.config_get("appendfsync") == {"appendfsync": fsync}
            t0 = time.monotonic()
            for s in subs:
                s.start()
            time.sleep(load)
            assert server.proc is not None
            server.proc.kill()  # mid-submit: each thread has a call in flight
            server.proc.wait()
            killed = time.monotonic()
            time.sleep(0.2)
            server.start()  # same port, same data dir: it loads the append-only file
            restarted = time.monotonic()
            firsts = [s.first_ack_after(restarted, timeout=10) for s in subs]
            if all(f is not None for f in firsts):
                res.recovered = min(f for f in firsts if f is not None)
            for s in subs:
                s.stop()
            # nothing could answer between the kill and the restart: an ack recorded then is
            # the killed server's reply, noted late by its thread
            res.acked_at_kill = sum(1 for s in subs for a in s.acked if a[0] < restarted)
            res.load_rate = res.acked_at_kill / (killed - t0)
            acked = [a[1] for s in subs for a in s.acked]
            res.errors = count_by(error_kind(e[1]) for s in subs for e in s.errors)
            jobs = read_jobs(queue, acked)
            res.lost = sum(1 for j in jobs.values() if j is None)
            res.not_ready = sum(1 for j in jobs.values() if j is not None
                                and j.status != "pending")
        finally:
            for s in subs:
                s.stop()
            close(queue)
            server.stop()
    log(f"store SIGKILL, appendfsync {fsync}: {res.lost} of {res.acked_at_kill} acknowledged "
        f"lost")
    return res


# --- the cost of durable submit ---------------------------------------------------------------


@dataclass
class CostConfig:
    name: str  # what the row says
    setting: str  # the setting under test, as a user writes it
    server: str  # what it runs against
    latencies: list[float] = field(default_factory=list)  # seconds per acknowledged submit
    seconds: float = 0.0  # time spent submitting, all slices together
    errors: int = 0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000


def run_submit_cost(reps: int, slice_seconds: float) -> tuple[list[CostConfig], str]:
    """Single submits, one at a time, `slice_seconds` per configuration, the configurations
    interleaved `reps` times (a shared machine's load then spreads over all of them). Returns
    the rows and the filesystem of the append-only files."""
    with (ReplicaPair() as pair, ValkeyServer() as plain, data_dir() as d1, data_dir() as d2,
          ValkeyServer(data_dir=d1) as aof_everysec,
          ValkeyServer(data_dir=d2, extra=["--appendfsync", "always"]) as aof_always):
        rows: list[tuple[CostConfig, Queue]] = []

        def add(name: str, setting: str, server: str, url: str, **kw: object) -> None:
            rows.append((CostConfig(name, setting, server),
                         queue_on(url, new_prefix("cost"), **kw)))

        add("default", "—", "one node, no persistence", plain.url)
        add("default", "—", "primary with a replica", pair.primary.url)
        add("durable: replica", "SUBMIT_WAIT_REPLICAS=1", "primary with a replica",
            pair.primary.url, submit_wait_replicas=1)
        add("default", "—", "AOF, appendfsync everysec", aof_everysec.url)
        add("durable: AOF", "SUBMIT_WAIT_AOF=1", "AOF, appendfsync everysec",
            aof_everysec.url, submit_wait_aof=True)
        add("default", "—", "AOF, appendfsync always", aof_always.url)
        add("durable: AOF", "SUBMIT_WAIT_AOF=1", "AOF, appendfsync always",
            aof_always.url, submit_wait_aof=True)
        try:
            for _, q in rows:  # connect and load the scripts before anything is timed
                q.submit({"type": "nap"})
            for _ in range(reps):
                for cfg, q in rows:
                    _slice(cfg, q, slice_seconds)
        finally:
            for _, q in rows:
                close(q)
        return [cfg for cfg, _ in rows], filesystem(d1)


def _slice(cfg: CostConfig, queue: Queue, seconds: float) -> None:
    start = time.perf_counter()
    end = start + seconds
    while True:
        t0 = time.perf_counter()
        if t0 >= end:
            break
        try:
            queue.submit({"type": "nap"})
        except Exception:  # counted: a durable submit may be refused (503)
            cfg.errors += 1
            continue
        cfg.latencies.append(time.perf_counter() - t0)
    cfg.seconds += time.perf_counter() - start
