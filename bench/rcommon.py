"""Shared pieces of the reliability benchmark: worker processes that can be started, SIGKILLed
and restarted (bench.rworker), a submitter thread that records every acknowledged submit and
every failure, and bulk readers of job state. Only top-level `boltq_core` exports are used here;
the one place that touches the core's internals is bench/rworker.py."""

from __future__ import annotations

import contextlib
import itertools
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from boltq_core import Job, Queue, Settings

ROOT = Path(__file__).resolve().parent.parent
TERMINAL = frozenset({"completed", "failed", "cancelled"})


def log(msg: str) -> None:
    print(f"[reliability] {msg}", file=sys.stderr, flush=True)


def bench_key(tag: str, name: str) -> str:
    """A key of the benchmark's own inside the namespace whose hash tag is `tag` ("{prefix}")."""
    return f"{tag}:bench:{name}"


def new_prefix(name: str) -> str:
    return f"rel-{name}-{uuid.uuid4().hex[:8]}"


def queue_on(url: str, prefix: str, **settings: Any) -> Queue:
    return Queue(Settings(redis_url=url, key_prefix=prefix, **settings))


def close(queue: Queue) -> None:
    with contextlib.suppress(Exception):
        queue.redis.close()


# --- worker processes -------------------------------------------------------------------------


class WorkerPool:
    """Worker processes (bench.rworker) on one namespace. kill() is a real SIGKILL; stop() ends
    every process this pool started, so none is left behind. Each one's stderr goes to a file,
    so a report can say why a worker died."""

    def __init__(self, url: str, prefix: str, lease: float, concurrency: int = 50,
                 batch: int | None = None) -> None:
        self.url, self.prefix, self.lease = url, prefix, lease
        self.concurrency, self.batch = concurrency, batch or concurrency
        self.procs: list[subprocess.Popen[str]] = []
        self.killed: set[int] = set()  # pids we SIGKILLed on purpose
        self._logs = Path(tempfile.mkdtemp(prefix="boltq-rel-workers-"))
        self._stderr: dict[int, Path] = {}

    def spawn(self, timeout: float = 20.0) -> subprocess.Popen[str]:
        """Start one worker; returns once it has built its runner ("ready")."""
        args = [sys.executable, "-m", "bench.rworker", self.url, self.prefix,
                "--lease", str(self.lease), "--concurrency", str(self.concurrency),
                "--batch", str(self.batch)]
        err = self._logs / f"worker-{len(self.procs)}.err"
        with err.open("w") as f:
            p = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=f, text=True)
        self.procs.append(p)
        self._stderr[p.pid] = err
        assert p.stdout is not None
        # readline blocks; a worker that hangs before "ready" is killed by the timer
        timer = threading.Timer(timeout, p.kill)
        timer.start()
        try:
            line = p.stdout.readline().strip()
        finally:
            timer.cancel()
        if line != "ready":
            raise RuntimeError(f"worker {p.pid} did not start: {self.why(p)}")
        return p

    def kill(self, p: subprocess.Popen[str]) -> None:
        """SIGKILL, no shutdown: its jobs stay leased until their leases run out."""
        self.killed.add(p.pid)
        p.send_signal(signal.SIGKILL)
        p.wait()

    def alive(self) -> list[subprocess.Popen[str]]:
        return [p for p in self.procs if p.poll() is None]

    def died(self) -> list[subprocess.Popen[str]]:
        """Workers that ended by themselves (not killed by us, not stopped yet)."""
        return [p for p in self.procs if p.poll() is not None and p.pid not in self.killed]

    def why(self, p: subprocess.Popen[str]) -> str:
        """Exit code and the last line of a worker's stderr."""
        path = self._stderr.get(p.pid)
        lines = path.read_text(errors="replace").strip().splitlines() if path else []
        return f"pid {p.pid} exit {p.poll()}: {lines[-1] if lines else '(no output)'}"

    def stop(self, timeout: float = 15.0) -> list[str]:
        """SIGTERM every live worker (it finishes what it holds), SIGKILL what outlives
        `timeout`; returns why each worker that died by itself died."""
        deaths = [self.why(p) for p in self.died()]
        for p in self.alive():
            p.send_signal(signal.SIGTERM)
        end = time.monotonic() + timeout
        for p in self.procs:
            try:
                p.wait(max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            if p.stdout:
                with contextlib.suppress(Exception):
                    p.stdout.close()
        for path in self._stderr.values():
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self._logs.rmdir()
        return deaths

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- submitting -------------------------------------------------------------------------------


@dataclass
class Submitter:
    """Submits one job at a time from a thread until stop(), `pause` s apart. `acked` holds
    (time.monotonic(), job id, i, seconds the call took) of every submit that returned;
    `errors` (time.monotonic(), "Type: message") of every one that raised."""

    queue: Queue
    job_type: str = "nap"
    data: dict[str, Any] = field(default_factory=dict)
    pause: float = 0.01
    error_pause: float = 0.05
    acked: list[tuple[float, str, int, float]] = field(default_factory=list)
    errors: list[tuple[float, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _i: int = 0

    def start(self) -> Submitter:
        self._thread = threading.Thread(target=self._loop, name="submitter", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            i, self._i = self._i, self._i + 1
            t0 = time.perf_counter()
            try:
                sub = self.queue.submit({"type": self.job_type, "data": {**self.data, "i": i}})
            except Exception as exc:  # recorded: the report says what clients saw
                self.errors.append((time.monotonic(), f"{type(exc).__name__}: {exc}"))
                self._stop.wait(self.error_pause)
            else:
                self.acked.append((time.monotonic(), sub.job_id, i, time.perf_counter() - t0))
                if self.pause:
                    self._stop.wait(self.pause)

    def wait_acked(self, n: int, timeout: float) -> None:
        end = time.monotonic() + timeout
        while len(self.acked) < n:
            if time.monotonic() > end:
                last = self.errors[-1][1] if self.errors else None
                raise RuntimeError(f"only {len(self.acked)} of {n} submits acknowledged in "
                                   f"{timeout}s; last error: {last}")
            time.sleep(0.005)

    def first_ack_after(self, t: float, timeout: float) -> float | None:
        """Seconds from `t` to the first submit acknowledged after it, waiting up to `timeout`
        from `t`; None if there was none."""
        while True:
            # acked grows in time order, so the first match is the earliest
            first = next((a[0] for a in self.acked if a[0] >= t), None)
            if first is not None:
                return first - t
            if time.monotonic() > t + timeout:
                return None
            time.sleep(0.005)

    def ids(self) -> list[str]:
        return [a[1] for a in self.acked]

    def stop(self, timeout: float = 15.0) -> bool:
        """Stop the loop; False if the thread was still stuck in a call after `timeout`."""
        self._stop.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()


# --- reading job state in bulk ----------------------------------------------------------------


def read_jobs(queue: Queue, job_ids: Sequence[str], chunk: int = 1000) -> dict[str, Job | None]:
    """job id -> the job as stored (None when its hash is missing), one pipeline per chunk:
    queue.get() one by one would take a round trip per job."""
    out: dict[str, Job | None] = {}
    for i in range(0, len(job_ids), chunk):
        ids = job_ids[i : i + chunk]
        pipe = queue.redis.pipeline(transaction=False)
        for job_id in ids:
            pipe.hgetall(queue.keys.job(job_id))
        for job_id, h in zip(ids, pipe.execute(), strict=True):
            out[job_id] = Job.from_hash(h) if h else None
    return out


def run_counts(queue: Queue) -> dict[str, int]:
    """job id -> how often a `tick` or `healthy` job ran (its HINCRBY counter)."""
    raw = queue.redis.hgetall(bench_key(queue.keys.tag, "runs"))
    return {k: int(v) for k, v in raw.items()}


def error_kind(message: str) -> str:
    """A submit's error without its variable parts, to group them in a report."""
    if "SUBMIT_WAIT_REPLICAS" in message:
        return "503: no replica confirmed it in time (SUBMIT_WAIT_REPLICAS)"
    if "did not accept connections a moment ago" in message:
        return "503 without trying: \"the store did not accept connections a moment ago\""
    if "connect failed" in message or "connect timed out" in message:
        return "503: connect failed"
    if "StoreUnavailable" in message:
        return "503: " + message.rsplit("): ", 1)[-1][:80]
    return message[:100]


def count_by(values: Iterable[Any]) -> dict[Any, int]:
    counts: dict[Any, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return counts


def settled(queue: Queue) -> bool:
    """Nothing of the namespace is waiting, running or due again (all jobs have ended)."""
    s = queue.stats()
    return s.pending_total == 0 and s.running == 0 and s.retrying == 0 and s.scheduled == 0


def longest_gap(times: Sequence[float]) -> float:
    """The longest interval between consecutive times (sorted here); 0 for fewer than two."""
    s = sorted(times)
    return max((b - a for a, b in itertools.pairwise(s)), default=0.0)
