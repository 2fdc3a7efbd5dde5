"""Several worker processes on one namespace: exactly-once without crashes, and a job whose
worker is SIGKILLed mid-job still completes exactly once elsewhere."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from boltq_core import Queue
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parents[4]
pytestmark = pytest.mark.slow


@pytest.fixture
def spawn(queue: Queue) -> Iterator:
    procs: list[subprocess.Popen[str]] = []

    def start(lease: float = 1.0) -> subprocess.Popen[str]:
        p = subprocess.Popen(
            [sys.executable, "-m", "tests.support.worker_proc", queue.settings.url,
             queue.settings.key_prefix, str(lease)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        if p.stdout:
            p.stdout.close()


def ran(queue: Queue) -> list[str]:
    return queue.redis.lrange("{" + queue.settings.key_prefix + "}:test:ran", 0, -1)


def test_concurrent_processes_run_every_job_exactly_once(queue: Queue, spawn) -> None:
    workers = [spawn(lease=5.0) for _ in range(4)]  # no lease may lapse under load
    subs = queue.submit_many([{"type": "record", "data": {"i": i}} for i in range(3000)])
    wait_for(lambda: queue.stats().totals["completed"] == 3000, timeout=60)
    entries = ran(queue)
    counts = Counter(e.split(":")[0] for e in entries)
    assert len(entries) == 3000
    assert set(counts) == {s.job_id for s in subs} and max(counts.values()) == 1
    pids = {e.split(":")[1] for e in entries}
    assert len(pids) >= 2, "the work was shared between processes"
    assert {str(w.pid) for w in workers} >= pids
    assert queue.stats().totals["retried"] == 0


def test_sigkilled_worker_job_completes_exactly_once_elsewhere(queue: Queue, spawn) -> None:
    victim = spawn(lease=1.0)
    sub = queue.submit({"type": "record", "data": {"seconds": 2}})
    wait_for(lambda: queue.get(sub.job_id).status == "running", timeout=10)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(5)
    rescuer = spawn(lease=1.0)
    wait_for(lambda: queue.get(sub.job_id).status == "completed", timeout=15)
    job = queue.get(sub.job_id)
    assert job.attempts == 2
    assert job.result == rescuer.pid
    assert ran(queue) == [f"{sub.job_id}:{rescuer.pid}"]
    assert queue.stats().totals["completed"] == 1
    # the dead worker's attempt left a trace of why it ran again
    statuses = [f["st"] for _, f in queue.events() if f["id"] == sub.job_id]
    assert statuses == ["pending", "running", "pending", "running", "completed"]
