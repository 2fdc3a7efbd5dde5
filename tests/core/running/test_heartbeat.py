"""The heartbeat (running/heartbeat.py) keeps a running job's lease while the job runs."""

from __future__ import annotations

from tests.conftest import run_worker


def test_heartbeat_keeps_a_long_job_leased(make_queue) -> None:
    queue = make_queue(lease_seconds=0.6)
    sub = queue.submit({"type": "sleep", "data": {"seconds": 2}})
    run_worker(queue, until=lambda: queue.get(sub.job_id).status == "completed", timeout=10)
    job = queue.get(sub.job_id)
    assert job.attempts == 1 and job.result == {"slept": 2}
    assert job.progress == {"percent": 100}
