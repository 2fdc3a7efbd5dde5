"""The worker function (functions/worker): runs jobs and logs JSON, never claims a job it cannot
finish before its deadline, and counts in the fleet only while it runs."""

from __future__ import annotations

import io
import json
import threading
import time

import pytest

from boltq_core import Queue
from boltq_core.duties.fleet import WORKER_TTL_MS, Fleet
from tests.functions.conftest import (
    LambdaContext,
    load_function,
)

WORKER_FN = "boltq-worker"


def test_worker_runs_jobs_and_logs_json(fn_env: Queue, monkeypatch: pytest.MonkeyPatch) -> None:
    q = fn_env
    worker = load_function("worker")
    monkeypatch.setenv("WORKER_IDLE_SECONDS", "0.3")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "INFO")
    ids = [q.submit({"type": "echo", "data": {"i": i}, "timeout_seconds": 5}).job_id
           for i in range(5)]
    from boltq_core.jobs.workflows import Workflows

    wf = Workflows(q).submit({"name": "w", "steps": [{"job_type": "echo", "timeout_seconds": 5}]})
    out = io.StringIO()
    handler = worker.logger.registered_handler
    old_stream, old_level = handler.setStream(out), worker.logger.log_level
    worker.logger.setLevel("INFO")
    token = Fleet(q.redis, q.keys).reserve(1, 4)[0]
    r = worker.handler({"source": "boltq.poller", "token": token},
                       LambdaContext("boltq-worker", remaining_ms=20_000))
    assert r["claimed"] == 6 and r["recorded"] == {"completed": 6}
    assert all(q.get(i).status == "completed" for i in ids)
    assert Fleet(q.redis, q.keys).live() == 0  # it left the fleet
    handler.setStream(old_stream)
    worker.logger.setLevel(old_level)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    finished = [x for x in lines if x.get("message") == "job finished"]
    assert {x["job_id"] for x in finished} >= set(ids)
    assert all(x["job_type"] == "echo" and x["attempt"] == 1 and x["outcome"] == "completed"
               and x["level"] == "INFO" and x["service"] == "boltq-worker" for x in finished)
    assert [x["workflow_id"] for x in finished if "workflow_id" in x] == [wf]


def test_worker_never_claims_a_job_it_cannot_finish(fn_env: Queue,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    q = fn_env
    worker = load_function("worker")
    monkeypatch.setenv("WORKER_IDLE_SECONDS", "0.2")
    monkeypatch.setenv("WORKER_STOP_BEFORE_SECONDS", "1")
    short = q.submit({"type": "echo", "timeout_seconds": 2}).job_id
    long_job = q.submit({"type": "sleep", "data": {"seconds": 1}, "timeout_seconds": 60}).job_id
    t0 = time.monotonic()
    r = worker.handler({}, LambdaContext("boltq-worker", remaining_ms=5_000))
    assert time.monotonic() - t0 < 5
    assert r["claimed"] == 1
    assert q.get(short).status == "completed"
    assert q.get(long_job).status == "pending" and q.get(long_job).attempts == 0


def test_a_running_worker_counts_in_the_fleet_only_briefly_ahead(
    fn_env: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that crashes must stop counting soon (not at its 900 s deadline), so the
    poller replaces it: its fleet entry is renewed with a short expiry while it runs."""
    q = fn_env
    worker = load_function("worker")
    monkeypatch.setenv("WORKER_IDLE_SECONDS", "0.2")
    q.submit({"type": "sleep", "data": {"seconds": 1}, "timeout_seconds": 5})
    scores: list[float] = []

    def watch() -> None:
        end = time.monotonic() + 3
        while time.monotonic() < end and not scores:
            got = q.redis.zrange(q.keys.tag + ":fleet", 0, -1, withscores=True)
            if got:
                scores.append(got[0][1] - time.time() * 1000)
            time.sleep(0.02)

    t = threading.Thread(target=watch)
    t.start()
    worker.handler({"token": "w1"}, LambdaContext("boltq-worker", remaining_ms=600_000))
    t.join()
    assert scores and 0 < scores[0] <= WORKER_TTL_MS
    assert Fleet(q.redis, q.keys).live() == 0
