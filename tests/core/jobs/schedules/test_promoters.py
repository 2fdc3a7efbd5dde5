"""Schedules under real promoters (SPEC §12): three promotion loops in processes of their own
racing on one every-second schedule (no lock between them), one SIGKILLed and restarted in
the middle, make exactly one job per occurrence; and an occurrence's job is pending within
1 s of its time (here: within half a second, typically milliseconds), each second."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from boltq_core import Queue
from boltq_core.duties.promotion import Promoter, promote_until
from boltq_core.jobs.schedules import Schedules

ROOT = Path(__file__).resolve().parents[4]
pytestmark = pytest.mark.slow


def occurrence_jobs(queue: Queue, name: str) -> list[dict[str, str]]:
    ids = queue.redis.zrange(queue.keys.index, 0, -1)
    jobs = [queue.redis.hgetall(queue.keys.job(i)) for i in ids]
    return sorted((j for j in jobs if j.get("sched") == name), key=lambda j: int(j["sfor"]))


@pytest.fixture
def spawn(queue: Queue) -> Iterator[Callable[[float], subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []

    def start(seconds: float) -> subprocess.Popen[str]:
        p = subprocess.Popen(
            [sys.executable, "-m", "tests.support.promoter_proc", queue.settings.url,
             queue.settings.key_prefix, str(seconds)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()
        if p.stdout:
            p.stdout.close()


def test_three_racing_promoters_one_killed_make_each_occurrence_once(
        queue: Queue, spawn: Callable[[float], subprocess.Popen[str]]) -> None:
    promoters = [spawn(30) for _ in range(3)]
    _, first = Schedules(queue).save({"name": "tick", "every_seconds": 1,
                                      "job": {"type": "echo"}})
    time.sleep(4.2)
    promoters[0].send_signal(signal.SIGKILL)  # mid-run, wherever it was
    promoters[0].wait()
    time.sleep(1.0)
    spawn(30)  # restarted
    deadline = first + 10_000  # ten occurrences: first .. first + 9 s
    while time.time() * 1000 < deadline - 500:
        time.sleep(0.05)
    for p in promoters[1:]:
        p.send_signal(signal.SIGKILL)
    time.sleep(0.2)
    jobs = occurrence_jobs(queue, "tick")
    times = [int(j["sfor"]) for j in jobs]
    assert not [t for t, n in Counter(times).items() if n > 1]  # no duplicate occurrence
    assert 9 <= len(times) <= 11
    assert times[:9] == [first + i * 1000 for i in range(9)]  # none missed either
    lateness = [int(j["created"]) - int(j["sfor"]) for j in jobs]
    assert max(lateness) < 1000, lateness


def test_an_every_second_schedule_is_pending_within_a_second(queue: Queue) -> None:
    stop_at = time.monotonic() + 6.5
    thread = threading.Thread(target=promote_until, args=(queue, stop_at), daemon=True)
    thread.start()
    time.sleep(0.3)  # the promoter sleeps on the events stream now: the save must wake it
    _, first = Schedules(queue).save({"name": "sec", "every_seconds": 1,
                                      "job": {"type": "echo"}})
    thread.join(10)
    jobs = occurrence_jobs(queue, "sec")
    assert len(jobs) >= 5
    assert [int(j["sfor"]) for j in jobs] == [first + i * 1000 for i in range(len(jobs))]
    lateness = [int(j["created"]) - int(j["sfor"]) for j in jobs]
    assert all(0 <= late < 500 for late in lateness), lateness  # SPEC: < 1 s
    assert sorted(lateness)[len(lateness) // 2] < 50, lateness  # typically milliseconds
    assert all(j["status"] == "pending" for j in jobs)


def test_a_promoter_back_after_a_downtime_follows_catch_up(queue: Queue) -> None:
    s = Schedules(queue)
    _, first = s.save({"name": "one", "every_seconds": 1, "catch_up": "one",
                       "job": {"type": "echo"}})
    _, first_all = s.save({"name": "all", "every_seconds": 1, "catch_up": "all",
                           "job": {"type": "echo"}})
    time.sleep(3.5 + (first_all - first) / 1000)  # no promoter: three occurrences missed
    Promoter(queue).run(time.monotonic() + 0.3)
    ones = [int(j["sfor"]) for j in occurrence_jobs(queue, "one")]
    alls = [int(j["sfor"]) for j in occurrence_jobs(queue, "all")]
    assert ones == [first + 2000] or ones == [first + 2000, first + 3000]  # latest missed
    assert alls[:3] == [first_all, first_all + 1000, first_all + 2000]
