"""Workflows whose steps cross queues, while the promoter that relays between the queues
(jobs.relay) is SIGKILLed again and again in the middle of its deliveries: every workflow
completes and every step runs exactly once (a message delivered before the kill and again
after it changes nothing; none is lost)."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from boltq_core import Queue
from boltq_core.jobs.workflows import Workflows
from boltq_core.running.attempt import JobContext
from tests.conftest import run_worker
from tests.support.queue_calls import registry_with

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

WORKFLOWS = 100


def stop(p: subprocess.Popen[str]) -> None:
    p.kill()
    p.wait()
    assert p.stdout is not None
    p.stdout.close()


def start_promoter(queue: Queue) -> subprocess.Popen[str]:
    p = subprocess.Popen(
        [sys.executable, "-m", "tests.support.promoter_proc", queue.settings.url,
         queue.settings.key_prefix, "120"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    return p


def test_steps_across_queues_run_once_each_through_promoter_kills(queue: Queue) -> None:
    runs: Counter[str] = Counter()

    async def hop(ctx: JobContext) -> dict:
        runs[ctx.job_id] += 1
        await asyncio.sleep(0.005)
        return {"step": ctx.job.step_id, "parents": sorted(ctx.parent_results)}

    wfs = Workflows(queue)
    ids = [wfs.submit({"name": f"hop-{i}", "steps": [
        {"id": "a", "job_type": "hop", "queue": "east"},
        {"id": "b", "job_type": "hop", "queue": "west", "depends_on": ["a"]},
        {"id": "c", "job_type": "hop", "queue": "east", "depends_on": ["a"]},
        {"id": "d", "job_type": "hop", "depends_on": ["b", "c"]},
    ]}) for i in range(WORKFLOWS)]
    kills = 0
    promoter = start_promoter(queue)
    rng = random.Random(7)

    def settled() -> bool:
        nonlocal promoter, kills
        if kills < 12:  # kill it at a random moment of its work, and start another
            time.sleep(rng.uniform(0.0, 0.06))
            stop(promoter)  # SIGKILL
            kills += 1
            promoter = start_promoter(queue)
            return False
        return all(wfs.get(i)["status"] != "running" for i in ids)

    try:
        run_worker(queue, registry_with(hop=hop), until=settled, timeout=90)
    finally:
        stop(promoter)
    assert kills == 12
    got = [wfs.get(i) for i in ids]
    assert [g["status"] for g in got] == ["completed"] * WORKFLOWS
    step_jobs = [s["job_id"] for g in got for s in g["steps"]]
    assert len(step_jobs) == 4 * WORKFLOWS
    assert set(runs) == set(step_jobs) and set(runs.values()) == {1}, runs.most_common(3)
    for g in got:
        d = g["steps"][3]
        assert d["result"] == {"step": "d", "parents": ["b", "c"]}
    for name, per_workflow in (("east", 2), ("west", 1)):
        assert queue.of(name).stats().totals["submitted"] == per_workflow * WORKFLOWS
    for name in queue.known_queues():
        assert queue.redis.llen(queue.of(name).keys.outbox) == 0
